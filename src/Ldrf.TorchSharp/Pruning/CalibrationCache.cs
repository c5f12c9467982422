using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// Both networks' activations, for every calibration batch, at one point of the graph (the <see cref="Position"/>:
/// the output of node <see cref="Position"/> − 1), so that calibrating a group runs the networks from there instead of
/// from the images. <see cref="GraphStatistics"/> chooses the points (cuts of the graph) and moves it forward.
/// </summary>
/// <remarks>
/// Position 0 holds nothing: the inputs are the calibration batches themselves.
/// </remarks>
internal sealed class CalibrationCache : IDisposable
{
    private readonly List<Tensor> _batches;
    private readonly long _limitBytes;
    private readonly Func<int, long> _bytesAt;
    private readonly Device _device;
    private readonly ScalarType _dtype;
    private Tensor?[]? _original;
    private Tensor?[]? _pruned;

    /// <param name="batches">The calibration batches (the caller's; never disposed here).</param>
    /// <param name="limitBytes">The most both networks' cached activations may take together.</param>
    /// <param name="bytesAt">An upper bound of both networks' activations at a position (the output of node position − 1), over all batches.</param>
    /// <param name="device">The networks' device.</param>
    /// <param name="dtype">The networks' parameter type.</param>
    public CalibrationCache(List<Tensor> batches, long limitBytes, Func<int, long> bytesAt, Device device, ScalarType dtype)
    {
        _batches = batches;
        _limitBytes = limitBytes;
        _bytesAt = bytesAt;
        _device = device;
        _dtype = dtype;
    }

    /// <summary>How many calibration batches there are.</summary>
    public int BatchCount => _batches.Count;

    /// <summary>One more than the node whose outputs are cached (0: the calibration batches).</summary>
    public int Position { get; private set; }

    /// <summary>Whether both networks' activations at <paramref name="position"/> (the output of node <paramref name="position"/> − 1) fit the limit.</summary>
    public bool Fits(int position) => _bytesAt(position) <= _limitBytes;

    /// <summary>The inputs of batch <paramref name="b"/> at <see cref="Position"/> for the original and the pruned network (the same tensor at position 0).</summary>
    /// <remarks>Call inside a dispose scope: at position 0 the batch is converted to the networks' type and device there.</remarks>
    public (Tensor Original, Tensor Pruned) Inputs(int b)
    {
        if (Position == int.MaxValue)
        {
            throw new InvalidOperationException("The calibration cache was left part-way through a move that failed.");
        }

        if (_original is null || _pruned is null)
        {
            var x = _batches[b].to(_dtype, _device);
            return (x, x);
        }

        return (_original[b]!, _pruned[b]!);
    }

    /// <summary>
    /// Moves the cache to <paramref name="position"/>: <paramref name="advance"/> computes batch b's activations there
    /// (both networks', now owned here) from <see cref="Inputs"/>(b), and each batch's activations at the old position are
    /// released as soon as its new ones exist, so the move holds one position's activations and one batch of the other,
    /// never both positions whole (VGG-16's first activations alone take 1.4 GB for 56 images).
    /// </summary>
    /// <remarks>When <paramref name="advance"/> throws (cancellation, say), the cache is emptied and unusable: pruning stops.</remarks>
    public void MoveTo(int position, Func<int, (Tensor Original, Tensor Pruned)> advance)
    {
        if (position <= Position)
        {
            throw new InvalidOperationException($"The calibration cache is at position {Position} and cannot move back to {position}.");
        }

        var original = new Tensor?[_batches.Count];
        var pruned = new Tensor?[_batches.Count];
        try
        {
            for (var b = 0; b < _batches.Count; b++)
            {
                (original[b], pruned[b]) = advance(b);
                if (_original is not null && _pruned is not null)
                {
                    _original[b]?.Dispose();
                    _pruned[b]?.Dispose();
                    (_original[b], _pruned[b]) = (null, null);
                }
            }
        }
        catch
        {
            Dispose(original);
            Dispose(pruned);
            Dispose();
            Position = int.MaxValue;
            throw;
        }

        (_original, _pruned, Position) = (original, pruned, position);
    }

    public void Dispose()
    {
        Dispose(_original);
        Dispose(_pruned);
        (_original, _pruned) = (null, null);
    }

    /// <summary>Disposes every tensor of <paramref name="tensors"/> (entries may be null).</summary>
    public static void Dispose(Tensor?[]? tensors)
    {
        foreach (var t in tensors ?? [])
        {
            t?.Dispose();
        }
    }
}
