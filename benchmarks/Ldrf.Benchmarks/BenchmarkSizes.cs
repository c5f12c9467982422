namespace Ldrf.Benchmarks;

/// <summary>Matrix sizes of the decomposition and solve suites.</summary>
internal static class BenchmarkSizes
{
    /// <summary>
    /// n in {256, 1152, 2304}: 1152 = 128 x 3 x 3 and 2304 = 256 x 3 x 3 are the unfolded widths of VGG layers.
    /// With LDRF_BENCH_QUICK=1 (CI's dry run) 2304 is left out: one managed eigendecomposition at 2304 takes
    /// most of a minute on a 2-core machine.
    /// </summary>
    public static IEnumerable<int> Decomposition => Quick ? [256, 1152] : [256, 1152, 2304];

    /// <summary>LDRF_BENCH_QUICK=1: the quick mode of CI's dry run, which only proves that the suites run.</summary>
    public static bool Quick => Environment.GetEnvironmentVariable("LDRF_BENCH_QUICK") == "1";

    /// <summary>A symmetric positive-definite test matrix: the Gram matrix of a 4n x n random matrix, plus n on the diagonal.</summary>
    public static double[,] SymmetricPositiveDefinite(int n, int seed)
    {
        var random = new Random(seed);
        var a = new double[4 * n, n];
        for (var i = 0; i < 4 * n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                a[i, j] = random.NextDouble() - 0.5;
            }
        }

        var m = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(a);
        var gram = m.TransposeThisAndMultiply(m);
        for (var i = 0; i < n; i++)
        {
            gram[i, i] += n;
        }

        return gram.ToArray();
    }
}
