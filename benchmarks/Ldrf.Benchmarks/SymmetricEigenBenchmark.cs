using BenchmarkDotNet.Attributes;
using Ldrf.Numerics;
using Ldrf.TorchSharp.Numerics;
using MathNet.Numerics.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Benchmarks;

/// <summary>
/// Symmetric eigendecomposition of an n x n Gram matrix, the kernel of activation PCA and of the
/// response-aware embedding: MathNet managed (baseline), the libtorch backend, and raw torch.linalg.eigh
/// as the reference for the backend's wrapping overhead.
/// </summary>
[MemoryDiagnoser]
public class SymmetricEigenBenchmark
{
    private readonly TorchNumericBackend _torchBackend = new();
    private Matrix<double> _matrix = null!;
    private Tensor _tensor = null!;

    /// <summary>Matrix size.</summary>
    [ParamsSource(typeof(BenchmarkSizes), nameof(BenchmarkSizes.Decomposition))]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var values = BenchmarkSizes.SymmetricPositiveDefinite(N, seed: 11);
        _matrix = Matrix<double>.Build.DenseOfArray(values);
        _tensor = torch.tensor(_matrix.ToRowMajorArray(), N, N, dtype: ScalarType.Float64);
    }

    [GlobalCleanup]
    public void Cleanup() => _tensor.Dispose();

    [Benchmark(Baseline = true)]
    public Vector<double> MathNetManaged() => MathNetNumericBackend.Instance.SymmetricEigen(_matrix).Values;

    [Benchmark]
    public Vector<double> LibTorchBackend() => _torchBackend.SymmetricEigen(_matrix).Values;

    [Benchmark]
    public double RawTorchEigh()
    {
        var (values, vectors) = torch.linalg.eigh(_tensor);
        using (values)
        using (vectors)
        {
            return values[0].item<double>();
        }
    }
}
