using BenchmarkDotNet.Attributes;
using Ldrf.Numerics;
using Ldrf.TorchSharp.Numerics;
using MathNet.Numerics.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Benchmarks;

/// <summary>
/// The ridge solve of recomposition, (G + λI) X = B through Cholesky, with n right-hand sides: MathNet managed
/// (baseline), the libtorch backend, and raw torch cholesky + cholesky_solve as the overhead reference.
/// </summary>
/// <remarks>
/// <c>RawTorchCholeskySolve</c> does the work any caller holding managed matrices must do, with plain torch
/// calls and nothing else: read the two column-major arrays in place, factor, solve, and copy the solution
/// once into a managed column-major array. The backend adds its argument checks (shapes, finiteness,
/// definiteness) and the MathNet wrapping; <c>LibTorchBackend / RawTorchCholeskySolve</c> is that overhead.
/// <c>RawTorchOnTensors</c> (factor and solve of tensors made in the setup, nothing copied out) shows what
/// moving the data costs at all.
/// </remarks>
[MemoryDiagnoser]
public class RidgeSolveBenchmark
{
    private readonly TorchNumericBackend _torchBackend = new();
    private Matrix<double> _gram = null!;
    private Matrix<double> _rhs = null!;
    private double[] _gramStorage = null!;
    private double[] _rhsStorage = null!;
    private Tensor _gramTensor = null!;
    private Tensor _rhsTensor = null!;

    /// <summary>Matrix size (and number of right-hand sides).</summary>
    [ParamsSource(typeof(BenchmarkSizes), nameof(BenchmarkSizes.Decomposition))]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _gram = Matrix<double>.Build.DenseOfArray(BenchmarkSizes.SymmetricPositiveDefinite(N, seed: 13));
        var random = new Random(17);
        _rhs = Matrix<double>.Build.Dense(N, N, (_, _) => random.NextDouble());
        _gramStorage = _gram.AsColumnMajorArray();
        _rhsStorage = _rhs.AsColumnMajorArray();
        _gramTensor = torch.tensor(_gram.ToRowMajorArray(), N, N, dtype: ScalarType.Float64);
        _rhsTensor = torch.tensor(_rhs.ToRowMajorArray(), N, N, dtype: ScalarType.Float64);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _gramTensor.Dispose();
        _rhsTensor.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Matrix<double> MathNetManaged() => MathNetNumericBackend.Instance.SolvePositiveDefinite(_gram, _rhs);

    [Benchmark]
    public Matrix<double> LibTorchBackend() => _torchBackend.SolvePositiveDefinite(_gram, _rhs);

    [Benchmark]
    public double[] RawTorchCholeskySolve()
    {
        using var scope = torch.NewDisposeScope();
        var gram = torch.frombuffer(_gramStorage, ScalarType.Float64).view(N, N).t();
        var rhs = torch.frombuffer(_rhsStorage, ScalarType.Float64).view(N, N).t();
        var solution = torch.cholesky_solve(rhs, torch.linalg.cholesky(gram));
        return RawTorch.ToColumnMajor(solution);
    }

    [Benchmark]
    public double RawTorchOnTensors()
    {
        using var scope = torch.NewDisposeScope();
        var factor = torch.linalg.cholesky(_gramTensor);
        return torch.cholesky_solve(_rhsTensor, factor)[0, 0].item<double>();
    }
}
