using BenchmarkDotNet.Attributes;
using Ldrf.Allocation;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Benchmarks;

/// <summary>
/// Forward pass of a pruned network under libtorch's default CPU settings, with its widths rounded to multiples of
/// 16 channels (the pruner's default <c>ChannelMultiple</c>) against the unrounded widths of the same 5x FLOPs
/// target (baseline). The network has the shape of the shipped Fashion-MNIST VGG (8 convolutions 3x3 on 1 x 28 x 28
/// images, widths 32..256, a max-pool after every second, a Linear 256 → 128 → 10), random weights, a batch of
/// 32 images. The unrounded network's outputs are wrong on CPUs with the oneDNN defect (docs/troubleshooting.md);
/// only its time is measured here.
/// </summary>
[MemoryDiagnoser]
public class PrunedWidthsBenchmark
{
    private static readonly int[] Widths = [32, 32, 64, 64, 128, 128, 256, 256];
    private static readonly int[] Sizes = [28, 28, 14, 14, 7, 7, 3, 3];
    private nn.Module<Tensor, Tensor> _unrounded = null!;
    private nn.Module<Tensor, Tensor> _rounded = null!;
    private Tensor _images = null!;

    /// <summary>The widths the allocator gives at 5x, FLOPs counted as the pruner counts them.</summary>
    public static int[] PrunedWidths(int channelMultiple)
    {
        var layers = Widths.Select((c, i) => new PrunableLayer($"conv{i}", c, 1)).Append(new PrunableLayer("fc1", 128, 1)).ToList();
        var compute = Widths.Select((c, i) => new ComputeLayer($"conv{i}", 9.0 * Sizes[i] * Sizes[i], i == 0 ? null : $"conv{i - 1}", i == 0 ? 1 : Widths[i - 1], $"conv{i}", c))
            .Append(new ComputeLayer("fc1", 1, "conv7", 256, "fc1", 128))
            .Append(new ComputeLayer("fc2", 1, "fc1", 128, null, 10));
        var allocation = new WidthAllocator(layers, compute, channelMultiple: channelMultiple).Allocate(5);
        return [.. layers.Select(l => allocation.KeepCounts[l.Name])];
    }

    [GlobalSetup]
    public void Setup()
    {
        _unrounded = Network(PrunedWidths(1));
        _rounded = Network(PrunedWidths(16));
        using var generator = new Generator(5);
        _images = randn([32, 1, 28, 28], generator: generator);
    }

    private static nn.Module<Tensor, Tensor> Network(int[] widths)
    {
        Console.WriteLine($"// widths: {string.Join(", ", widths)}");
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        var input = 1;
        for (var i = 0; i < 8; i++)
        {
            layers.Add(($"conv{i}", nn.Conv2d(input, widths[i], 3, padding: 1)));
            layers.Add(($"relu{i}", nn.ReLU()));
            if (i % 2 == 1)
            {
                layers.Add(($"pool{i}", nn.MaxPool2d(2)));
            }

            input = widths[i];
        }

        layers.Add(("flatten", nn.Flatten()));
        layers.Add(("fc1", nn.Linear(input, widths[8])));
        layers.Add(("relu", nn.ReLU()));
        layers.Add(("fc2", nn.Linear(widths[8], 10)));
        var network = nn.Sequential(layers);
        network.eval();
        return network;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _unrounded.Dispose();
        _rounded.Dispose();
        _images.Dispose();
    }

    /// <summary>The unrounded widths (every width allowed).</summary>
    [Benchmark(Baseline = true)]
    public void Unrounded() => Forward(_unrounded);

    /// <summary>The widths rounded to multiples of 16.</summary>
    [Benchmark]
    public void RoundedTo16() => Forward(_rounded);

    private void Forward(nn.Module<Tensor, Tensor> network)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        network.forward(_images);
    }
}
