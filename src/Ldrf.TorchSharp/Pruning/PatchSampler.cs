using Ldrf.TorchSharp.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// Collects the patch statistics of one consumer's input (see <see cref="LayerPruningRequest.PatchStatistics"/>)
/// for the pruners that reason about the consumer's output: for a Conv2d consumer, the unfolded kh·kw patches at
/// <c>samplesPerImage</c> random output locations per image (the same locations in both networks); for a Linear
/// consumer, its whole input (one sample per image, the features already channel-major after a Flatten).
/// </summary>
internal sealed class PatchSampler : IDisposable
{
    private readonly Conv2dSpec? _conv;
    private readonly int _samplesPerImage;
    private readonly Random _random;
    private readonly ActivationStatistics _statistics;

    /// <param name="features">C·P: the channels read times the consumer's weights per channel and output (its group).</param>
    /// <param name="consumer">The consumer whose window is sampled.</param>
    /// <param name="samplesPerImage">Output locations sampled per image (a Conv2d consumer).</param>
    /// <param name="seed">The location sampler's seed.</param>
    /// <param name="device">The networks' device.</param>
    public PatchSampler(int features, LayerSpec consumer, int samplesPerImage, int seed, Device device)
    {
        _conv = consumer as Conv2dSpec;
        _samplesPerImage = samplesPerImage;
        _random = new Random(seed);
        _statistics = new ActivationStatistics(features, device);
    }

    /// <summary>How many patch samples <paramref name="images"/> calibration images give (what the sampler will collect) for a consumer with <paramref name="locations"/> output positions per image.</summary>
    public static long SampleCount(long locations, LayerSpec consumer, long images, int samplesPerImage) =>
        consumer is Conv2dSpec ? images * Math.Min(samplesPerImage, locations) : images;

    /// <summary>Adds one batch: what the consumer reads in the pruned-so-far and in the original network.</summary>
    public void Add(Tensor pruned, Tensor original)
    {
        if (_conv is null)
        {
            _statistics.Add(pruned, original);
            return;
        }

        using var scope = NewDisposeScope();
        var p1 = Unfold(pruned, _conv);
        var p0 = ReferenceEquals(pruned, original) ? p1 : Unfold(original, _conv);
        var (n, features, locations) = (p1.shape[0], p1.shape[1], p1.shape[2]);
        var s = (int)Math.Min(_samplesPerImage, locations);
        var picks = new long[n * s];
        for (var i = 0; i < picks.Length; i++)
        {
            picks[i] = _random.NextInt64(locations);
        }

        var index = tensor(picks, [n, 1, s], ScalarType.Int64, p1.device).expand(n, features, s);
        var sampled = p1.gather(2, index);
        // The same tensor for both networks lets the accumulator skip the duplicate products (capacity pass).
        _statistics.Add(sampled, ReferenceEquals(p0, p1) ? sampled : p0.gather(2, index));
    }

    /// <summary>Whether the original network's patch sums are finite.</summary>
    public bool OriginalIsFinite => _statistics.OriginalIsFinite;

    /// <summary>Whether every patch sum is finite.</summary>
    public bool IsFinite => _statistics.IsFinite;

    /// <summary>Copies the patch sums to the core's statistics; call only when <see cref="IsFinite"/>.</summary>
    public Ldrf.Statistics.ChannelStatistics ToChannelStatistics() => _statistics.ToChannelStatistics();

    public void Dispose() => _statistics.Dispose();

    // N x C x H x W -> N x (C·kh·kw) x L, channel-major features: the consumer's view of its input.
    private static Tensor Unfold(Tensor x, Conv2dSpec conv)
    {
        var padding = (conv.Padding[0], conv.Padding[1]);
        if (conv.PaddingMode != PaddingModes.Zeros && (padding.Item1 > 0 || padding.Item2 > 0))
        {
            x = nn.functional.pad(x, [padding.Item2, padding.Item2, padding.Item1, padding.Item1], conv.PaddingMode);
            padding = (0, 0);
        }

        return nn.functional.unfold(
            x.detach(),
            (conv.Kernel[0], conv.Kernel[1]),
            (conv.Dilation[0], conv.Dilation[1]),
            (padding.Item1, padding.Item2),
            (conv.Stride[0], conv.Stride[1]));
    }
}
