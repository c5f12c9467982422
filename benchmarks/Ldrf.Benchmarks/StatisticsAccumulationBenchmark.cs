using BenchmarkDotNet.Attributes;
using Ldrf.Numerics;
using Ldrf.Statistics;
using Ldrf.TorchSharp.Numerics;
using Ldrf.TorchSharp.Pruning;
using MathNet.Numerics.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Benchmarks;

/// <summary>
/// Statistics accumulation for one calibration batch of a VGG layer: Σ a′a′ᵀ, Σ a′aᵀ, Σ aaᵀ and the channel
/// sums of the pruned-so-far (a′) and original (a) activations, N x C x H x W each, so C x (N·H·W) samples.
/// </summary>
/// <remarks>
/// The variants:
/// <list type="bullet">
/// <item><c>RawTorchMatmul</c> (baseline): the throughput reference, one float64 (C x 3n)·(3n x C) matmul of
/// contiguous data: the same 6·C²·n floating-point operations as the three Gram products.</item>
/// <item><c>RawTorchThreeGrams</c>: the three raw float64 products a′a′ᵀ, a′aᵀ, aaᵀ of ready C x n
/// tensors: what the adapter's path costs without its reshape, conversion, sums and accumulation.</item>
/// <item><c>MathNetManaged</c>: the core's <see cref="ChannelStatisticsAccumulator.Accumulate"/> on the managed
/// MathNet backend, handed the activations already as C x n matrices.</item>
/// <item><c>LibTorchBackend</c>: the same core call on <see cref="TorchNumericBackend"/>.</item>
/// <item><c>AdapterActivationStatistics</c>: the adapter's real path, <c>ActivationStatistics.Add</c> on the
/// float32 N x C x H x W activations (reshape, float64 conversion, three Gram products, sums).</item>
/// </list>
/// Every variant does the baseline's FLOPs (plus the O(C·n) sums and copies), so 1 / Ratio is the variant's
/// fraction of the machine's float64 matmul throughput measured in the same run (see benchmarks/README.md).
/// </remarks>
[MemoryDiagnoser]
public class StatisticsAccumulationBenchmark
{
    private readonly TorchNumericBackend _torchBackend = new();
    private Matrix<double> _prunedMatrix = null!;
    private Matrix<double> _originalMatrix = null!;
    private ChannelStatisticsAccumulator _managedStatistics = null!;
    private ChannelStatisticsAccumulator _torchBackendStatistics = null!;
    private ActivationStatistics _adapterStatistics = null!;
    private Tensor _pruned = null!;
    private Tensor _original = null!;
    private Tensor _reference = null!;
    private Tensor _prunedColumns = null!;
    private Tensor _originalColumns = null!;

    /// <summary>
    /// Activation shapes N x C x H x W of VGG layers at a batch of 64 images (conv3 at 28², conv5 at 14²
    /// and a 256-channel layer at 7²). LDRF_BENCH_QUICK=1 (CI's dry run) uses batches of 4 images.
    /// </summary>
    public static IEnumerable<string> Shapes
    {
        get
        {
            var batch = Environment.GetEnvironmentVariable("LDRF_BENCH_QUICK") == "1" ? 4 : 64;
            return [$"{batch}x64x28x28", $"{batch}x256x7x7", $"{batch}x512x14x14"];
        }
    }

    /// <summary>N x C x H x W of the batch.</summary>
    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var dims = Shape.Split('x').Select(int.Parse).ToArray();
        var (batch, channels, pixels) = (dims[0], dims[1], dims[2] * dims[3]);
        var samples = batch * pixels;

        // Post-ReLU-like activations; the original network's differ from the pruned one's by a perturbation.
        var random = new Random(7);
        var original = new float[batch * channels * pixels];
        var pruned = new float[original.Length];
        for (var i = 0; i < original.Length; i++)
        {
            original[i] = (float)Math.Max(0.0, random.NextDouble() - 0.3);
            pruned[i] = (float)Math.Max(0.0, original[i] + (0.1 * (random.NextDouble() - 0.5)));
        }

        _original = torch.tensor(original, [batch, channels, dims[2], dims[3]], ScalarType.Float32);
        _pruned = torch.tensor(pruned, [batch, channels, dims[2], dims[3]], ScalarType.Float32);

        // Column (image, pixel) of the C x n matrices, as ActivationStatistics lays the samples out.
        _originalMatrix = Matrix<double>.Build.Dense(channels, samples, (c, s) => original[Index(c, s)]);
        _prunedMatrix = Matrix<double>.Build.Dense(channels, samples, (c, s) => pruned[Index(c, s)]);
        _reference = torch.rand([channels, 3L * samples], ScalarType.Float64);
        _prunedColumns = torch.tensor(_prunedMatrix.ToRowMajorArray(), channels, samples, ScalarType.Float64);
        _originalColumns = torch.tensor(_originalMatrix.ToRowMajorArray(), channels, samples, ScalarType.Float64);

        _managedStatistics = new ChannelStatisticsAccumulator(channels, MathNetNumericBackend.Instance);
        _torchBackendStatistics = new ChannelStatisticsAccumulator(channels, _torchBackend);
        _adapterStatistics = new ActivationStatistics(channels, torch.CPU);

        int Index(int c, int s) => ((s / pixels) * channels * pixels) + (c * pixels) + (s % pixels);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _adapterStatistics.Dispose();
        _pruned.Dispose();
        _original.Dispose();
        _reference.Dispose();
        _prunedColumns.Dispose();
        _originalColumns.Dispose();
    }

    [Benchmark]
    public double RawTorchThreeGrams()
    {
        using var scope = torch.NewDisposeScope();
        var prunedGram = _prunedColumns.matmul(_prunedColumns.t());
        var cross = _prunedColumns.matmul(_originalColumns.t());
        var originalGram = _originalColumns.matmul(_originalColumns.t());
        return prunedGram[0, 0].item<double>() + cross[0, 0].item<double>() + originalGram[0, 0].item<double>();
    }

    [Benchmark]
    public long MathNetManaged()
    {
        _managedStatistics.Accumulate(_prunedMatrix, _originalMatrix);
        return _managedStatistics.SampleCount;
    }

    [Benchmark]
    public long LibTorchBackend()
    {
        _torchBackendStatistics.Accumulate(_prunedMatrix, _originalMatrix);
        return _torchBackendStatistics.SampleCount;
    }

    [Benchmark]
    public long AdapterActivationStatistics()
    {
        _adapterStatistics.Add(_pruned, _original);
        return _adapterStatistics.Samples;
    }

    [Benchmark(Baseline = true)]
    public double RawTorchMatmul()
    {
        using var product = _reference.matmul(_reference.t());
        using var corner = product[0, 0];
        return corner.item<double>();
    }
}
