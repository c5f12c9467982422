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
/// <remarks>
/// <c>RawTorchEigh</c> does what any caller holding a managed matrix must do, with plain torch calls: read the
/// column-major array in place, call eigh, copy the eigenvalues and eigenvectors once into managed arrays.
/// The backend adds its checks, the descending order, the sign convention and the MathNet wrapping.
/// </remarks>
[MemoryDiagnoser]
public class SymmetricEigenBenchmark
{
    private readonly TorchNumericBackend _torchBackend = new();
    private Matrix<double> _matrix = null!;
    private double[] _storage = null!;

    /// <summary>Matrix size.</summary>
    [ParamsSource(typeof(BenchmarkSizes), nameof(BenchmarkSizes.Decomposition))]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var values = BenchmarkSizes.SymmetricPositiveDefinite(N, seed: 11);
        _matrix = Matrix<double>.Build.DenseOfArray(values);
        _storage = _matrix.AsColumnMajorArray();
    }

    [Benchmark(Baseline = true)]
    public Vector<double> MathNetManaged() => MathNetNumericBackend.Instance.SymmetricEigen(_matrix).Values;

    [Benchmark]
    public Vector<double> LibTorchBackend() => _torchBackend.SymmetricEigen(_matrix).Values;

    [Benchmark]
    public (double[] Values, double[] Vectors) RawTorchEigh()
    {
        using var scope = torch.NewDisposeScope();
        var (values, vectors) = torch.linalg.eigh(torch.frombuffer(_storage, ScalarType.Float64).view(N, N).t());
        return (values.data<double>().ToArray(), RawTorch.ToColumnMajor(vectors));
    }
}
