using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using Ldrf.Numerics;
using Ldrf.TorchSharp.Numerics;
using MathNet.Numerics.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Benchmarks;

/// <summary>
/// Thin singular value decomposition of a general n x n matrix, the kernel of the weight-SVD embedding:
/// MathNet managed (baseline), the libtorch backend, and raw torch.linalg.svd as the reference for the
/// backend's wrapping overhead.
/// </summary>
/// <remarks>
/// <c>RawTorchSvd</c> does what any caller holding a managed matrix must do, with plain torch calls: read the
/// column-major array in place, call svd, copy U, S and Vᵀ once into managed arrays. The backend adds its
/// checks, the sign convention and the MathNet wrapping.
/// MathNet's managed SVD is measured only up to n = <see cref="ManagedLimit"/>: one managed SVD at n = 2304
/// takes minutes on a 2-core machine (see benchmarks/README.md), too long for the repeated invocations
/// of a run, so at n = 2304 only the backend and raw torch are measured (no baseline, no Ratio). CI's quick
/// dry run keeps it at n = 256 only (one cold managed SVD at 1152 takes about half a minute).
/// </remarks>
[MemoryDiagnoser]
[Config(typeof(ManagedLimitConfig))]
public class SvdBenchmark
{
    /// <summary>The largest n at which the managed baseline runs (256 in the quick mode of CI's dry run).</summary>
    public static int ManagedLimit => BenchmarkSizes.Quick ? 256 : 1152;

    private readonly TorchNumericBackend _torchBackend = new();
    private Matrix<double> _matrix = null!;
    private double[] _storage = null!;

    /// <summary>Matrix size.</summary>
    [ParamsSource(typeof(BenchmarkSizes), nameof(BenchmarkSizes.Decomposition))]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(19);
        _matrix = Matrix<double>.Build.Dense(N, N, (_, _) => random.NextDouble() - 0.5);
        _storage = _matrix.AsColumnMajorArray();
    }

    [Benchmark(Baseline = true)]
    public Vector<double> MathNetManaged() => MathNetNumericBackend.Instance.Svd(_matrix).S;

    [Benchmark]
    public Vector<double> LibTorchBackend() => _torchBackend.Svd(_matrix).S;

    [Benchmark]
    public (double[] U, double[] S, double[] VT) RawTorchSvd()
    {
        using var scope = torch.NewDisposeScope();
        var (u, s, vh) = torch.linalg.svd(torch.frombuffer(_storage, ScalarType.Float64).view(N, N).t(), fullMatrices: false);
        return (RawTorch.ToColumnMajor(u), s.data<double>().ToArray(), RawTorch.ToColumnMajor(vh));
    }

    /// <summary>Leaves out the managed baseline above <see cref="ManagedLimit"/>.</summary>
    private sealed class ManagedLimitConfig : ManualConfig
    {
        public ManagedLimitConfig() =>
            AddFilter(new SimpleFilter(c => c.Descriptor.WorkloadMethod.Name != nameof(MathNetManaged)
                || (int)c.Parameters["N"] <= ManagedLimit));
    }
}
