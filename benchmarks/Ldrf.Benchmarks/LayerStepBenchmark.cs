using BenchmarkDotNet.Attributes;
using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Statistics;
using Ldrf.TorchSharp.Numerics;
using MathNet.Numerics.Distributions;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Benchmarks;

/// <summary>
/// One whole-layer LDRF step (<see cref="LdrfLayerPruner.Prune"/>: decomposition, selection, ridge
/// recomposition, output-error diagnostic) for a VGG-16-shaped layer: 512 channels read by a 3 x 3
/// convolution with 512 outputs (consumer matrix 512 x 4608), keeping 256 channels. MathNet managed
/// (baseline) against the libtorch backend, for each embedding kind.
/// </summary>
[MemoryDiagnoser]
public class LayerStepBenchmark
{
    private const int Channels = 512;
    private const int ConsumerColumns = 512 * 3 * 3;
    private const int Samples = 8192;
    private const int LatentFactors = 96;

    private LayerPruningRequest _request = null!;
    private LdrfLayerPruner _managed = null!;
    private LdrfLayerPruner _libTorch = null!;

    /// <summary>
    /// The embedding: the paper's weight SVD (the default), activation PCA and the response-aware embedding.
    /// LDRF_BENCH_QUICK=1 (CI's dry run) keeps only the default.
    /// </summary>
    public static IEnumerable<EmbeddingKind> Embeddings =>
        Environment.GetEnvironmentVariable("LDRF_BENCH_QUICK") == "1"
            ? [EmbeddingKind.WeightSvd]
            : [EmbeddingKind.WeightSvd, EmbeddingKind.ActivationPca, EmbeddingKind.ResponseAware];

    /// <summary>The embedding space of the step.</summary>
    [ParamsSource(nameof(Embeddings))]
    public EmbeddingKind Embedding { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(23);

        // Correlated, non-negative activations: a ReLU of a few latent factors mixed into 512 channels,
        // plus independent noise, so the channel Gram matrix is full rank with a decaying spectrum.
        var mixing = Matrix<double>.Build.Random(Channels, LatentFactors, new Normal(0, 1, random));
        var latent = Matrix<double>.Build.Random(LatentFactors, Samples, new Normal(0, 1, random));
        var noise = Matrix<double>.Build.Random(Channels, Samples, new Normal(0, 0.3, random));
        var activations = (mixing * latent / Math.Sqrt(LatentFactors) + noise).PointwiseMaximum(0.0);

        // Setup is not measured: accumulate on libtorch to keep it short. Nothing pruned yet, so a′ = a.
        var accumulator = new ChannelStatisticsAccumulator(Channels, new TorchNumericBackend());
        accumulator.Accumulate(activations, activations);
        var statistics = accumulator.ToStatistics();

        // He-initialized 3 x 3 x 512 -> 512 consumer, matricized by input channel.
        var consumer = Matrix<double>.Build.Random(Channels, ConsumerColumns, new Normal(0, Math.Sqrt(2.0 / ConsumerColumns), random));
        _request = new LayerPruningRequest("features.28", consumer, statistics) { KeepCount = 256 };

        var options = new LdrfOptions { Embedding = Embedding };
        _managed = new LdrfLayerPruner(options, MathNetNumericBackend.Instance);
        _libTorch = new LdrfLayerPruner(options, new TorchNumericBackend());
    }

    [Benchmark(Baseline = true)]
    public LayerPruningResult MathNetManaged() => _managed.Prune(_request);

    [Benchmark]
    public LayerPruningResult LibTorchBackend() => _libTorch.Prune(_request);
}
