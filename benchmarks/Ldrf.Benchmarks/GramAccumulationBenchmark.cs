using BenchmarkDotNet.Attributes;
using MathNet.Numerics.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Benchmarks;

/// <summary>
/// The Gram product X Xᵀ of one calibration batch of channel activations (C channels x n samples),
/// the inner loop of statistics accumulation, in double precision: MathNet (as configured by the
/// application, managed here) against libtorch's MKL-backed matmul.
/// </summary>
[MemoryDiagnoser]
public class GramAccumulationBenchmark
{
    private Matrix<double> _managed = null!;
    private Tensor _torch = null!;

    /// <summary>Channels of the layer: VGG-16-like widths.</summary>
    [Params(64, 256, 512)]
    public int Channels { get; set; }

    /// <summary>Samples (image x pixel positions) in one batch.</summary>
    [Params(4096)]
    public int Samples { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        _managed = Matrix<double>.Build.Dense(Channels, Samples, (_, _) => random.NextDouble());
        _torch = torch.tensor(_managed.ToRowMajorArray(), Channels, Samples, dtype: ScalarType.Float64);
    }

    [GlobalCleanup]
    public void Cleanup() => _torch.Dispose();

    [Benchmark(Baseline = true)]
    public Matrix<double> MathNetManaged() => _managed.TransposeAndMultiply(_managed);

    [Benchmark]
    public double Torch()
    {
        using var gram = _torch.matmul(_torch.t());
        return gram[0, 0].item<double>();
    }
}
