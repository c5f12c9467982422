using Ldrf.Statistics;
using Ldrf.TorchSharp.Numerics;
using MathNet.Numerics.LinearAlgebra;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// Accumulates Σ a′a′ᵀ, Σ a′aᵀ, Σ aaᵀ, Σ a′ and Σ a of one layer's C channels in float64 on the network's
/// device, so that only the C x C sums ever leave it. Each (image, spatial position) is one sample.
/// </summary>
/// <remarks>
/// A batch is processed in chunks of whole images: each chunk is converted to float64 and laid out as C x n
/// columns by one copy into a staging buffer that lives as long as this object (grown only when a chunk
/// needs more room). Fresh batch-sized float64 tensors per call cost more than the products themselves:
/// allocations that large are not reused by the allocator and are first touched page by page. The chunk
/// size bounds that buffer (about <see cref="DefaultChunkEntries"/> entries, but at least
/// <see cref="MinimumChunkSamples"/> columns so each product stays a large matrix product).
/// </remarks>
internal sealed class ActivationStatistics : IDisposable
{
    /// <summary>The staging budget per network, in float64 entries (8 MiB).</summary>
    internal const long DefaultChunkEntries = 1L << 20;

    /// <summary>The fewest columns per chunk (fewer images only if the batch has fewer).</summary>
    internal const long MinimumChunkSamples = 2048;

    private readonly Device _device;
    private readonly long _chunkEntries;
    private readonly Tensor _prunedGram;
    private readonly Tensor _cross;
    private readonly Tensor _originalGram;
    private readonly Tensor _prunedSum;
    private readonly Tensor _originalSum;
    private Tensor? _prunedStaging;
    private Tensor? _originalStaging;
    private long _samples;

    public ActivationStatistics(int channels, Device device, long chunkEntries = DefaultChunkEntries)
    {
        Channels = channels;
        _device = device;
        _chunkEntries = chunkEntries;
        _prunedGram = zeros([channels, channels], ScalarType.Float64, device).DetachFromDisposeScope();
        _cross = zeros([channels, channels], ScalarType.Float64, device).DetachFromDisposeScope();
        _originalGram = zeros([channels, channels], ScalarType.Float64, device).DetachFromDisposeScope();
        _prunedSum = zeros([channels], ScalarType.Float64, device).DetachFromDisposeScope();
        _originalSum = zeros([channels], ScalarType.Float64, device).DetachFromDisposeScope();
    }

    public int Channels { get; }

    public long Samples => _samples;

    /// <summary>Adds a batch: activations N x C x ... (or N x C·S after Flatten) of both networks at the same inputs.</summary>
    public void Add(Tensor pruned, Tensor original)
    {
        using var scope = NewDisposeScope();
        var same = ReferenceEquals(pruned, original);
        var p1 = PerImage(pruned);
        var p0 = same ? p1 : PerImage(original);
        if (!same && !p0.shape.SequenceEqual(p1.shape))
        {
            throw new ArgumentException(
                $"'original' ({string.Join(" x ", original.shape)}) must have the shape of 'pruned' ({string.Join(" x ", pruned.shape)}).", nameof(original));
        }

        var (images, perImage) = (p1.shape[0], p1.shape[2]);
        var chunkSamples = Math.Max(_chunkEntries / Channels, MinimumChunkSamples);
        var imagesPerChunk = Math.Max(1, chunkSamples / Math.Max(1, perImage));
        for (var first = 0L; first < images; first += imagesPerChunk)
        {
            using var chunkScope = NewDisposeScope();
            var count = Math.Min(imagesPerChunk, images - first);
            var a1 = Stage(p1.narrow(0, first, count), ref _prunedStaging);
            if (same)
            {
                // Both networks saw the same tensor: one product serves all three sums.
                var gram = a1.matmul(a1.t());
                _prunedGram.add_(gram);
                _cross.add_(gram);
                _originalGram.add_(gram);
                var sum = a1.sum(1);
                _prunedSum.add_(sum);
                _originalSum.add_(sum);
                continue;
            }

            var a0 = Stage(p0.narrow(0, first, count), ref _originalStaging);
            _prunedGram.addmm_(a1, a1.t());
            _cross.addmm_(a1, a0.t());
            _originalGram.addmm_(a0, a0.t());
            _prunedSum.add_(a1.sum(1));
            _originalSum.add_(a0.sum(1));
        }

        _samples += images * perImage;
    }

    /// <summary>Whether the original network's sums (Σ aaᵀ, Σ a) are finite: none of its activations was NaN or infinite.</summary>
    public bool OriginalIsFinite => AllFinite(_originalGram, _originalSum);

    /// <summary>Whether every sum is finite: no activation of either network was NaN or infinite.</summary>
    public bool IsFinite => AllFinite(_prunedGram, _cross, _originalGram, _prunedSum, _originalSum);

    /// <summary>
    /// Copies the sums to the core's statistics. Call only when <see cref="IsFinite"/>: the core takes them as they
    /// are, without checking them again.
    /// </summary>
    public ChannelStatistics ToChannelStatistics() =>
        new(Matrix(_prunedGram), Matrix(_cross), Matrix(_originalGram), Vector(_prunedSum), Vector(_originalSum), _samples);

    public void Dispose()
    {
        _prunedGram.Dispose();
        _cross.Dispose();
        _originalGram.Dispose();
        _prunedSum.Dispose();
        _originalSum.Dispose();
        _prunedStaging?.Dispose();
        _originalStaging?.Dispose();
    }

    private static bool AllFinite(params Tensor[] sums)
    {
        using var scope = NewDisposeScope();
        return sums.All(t => isfinite(t).all().item<bool>());
    }

    // N x C x (anything) -> N x C x (positions), a view.
    private Tensor PerImage(Tensor activations) => activations.detach().reshape(activations.shape[0], Channels, -1);

    // n x C x P images -> C x (n · P) float64 columns, one per (image, position), in the reused staging buffer.
    private Tensor Stage(Tensor images, ref Tensor? staging)
    {
        var (n, positions) = (images.shape[0], images.shape[2]);
        var entries = n * Channels * positions;
        if (staging is null || staging.numel() < entries)
        {
            staging?.Dispose();
            staging = empty([entries], ScalarType.Float64, _device).DetachFromDisposeScope();
        }

        var columns = staging.narrow(0, 0, entries).view(Channels, n, positions);
        columns.copy_(images.permute(1, 0, 2));
        return columns.view(Channels, n * positions);
    }

    private Matrix<double> Matrix(Tensor t)
    {
        // The copy's transposed view is a temporary: the scope frees it.
        using var scope = NewDisposeScope();
        return TorchNumericBackend.ToMatrix(t);
    }

    private static Vector<double> Vector(Tensor t)
    {
        using var scope = NewDisposeScope();
        return Vector<double>.Build.DenseOfArray(t.cpu().data<double>().ToArray());
    }
}
