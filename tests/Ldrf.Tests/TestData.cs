using Ldrf.Statistics;
using MathNet.Numerics.Distributions;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests;

/// <summary>Seeded random matrices and explicit reference computations.</summary>
internal static class TestData
{
    public static Matrix<double> Gaussian(int rows, int columns, int seed) =>
        Matrix<double>.Build.Random(rows, columns, new Normal(0, 1, new Random(seed)));

    /// <summary>ReLU-like non-negative activations with a little sparsity.</summary>
    public static Matrix<double> Activations(int channels, int samples, int seed) =>
        Gaussian(channels, samples, seed).Map(v => Math.Max(v + 0.3, 0));

    public static ChannelStatistics Stats(Matrix<double> pruned, Matrix<double> original)
    {
        var accumulator = new ChannelStatisticsAccumulator(pruned.RowCount);
        accumulator.Accumulate(pruned, original);
        return accumulator.ToStatistics();
    }

    /// <summary>The statistics of no samples (what an accumulator holds before its first batch).</summary>
    public static ChannelStatistics Empty(int channels) => new ChannelStatisticsAccumulator(channels).ToStatistics();

    public static Matrix<double> Rows(Matrix<double> m, IReadOnlyList<int> rows) =>
        Matrix<double>.Build.Dense(rows.Count, m.ColumnCount, (i, j) => m[rows[i], j]);

    public static double RelativeError(Matrix<double> actual, Matrix<double> expected) =>
        (actual - expected).FrobeniusNorm() / expected.FrobeniusNorm();

    public static double SquaredNorm(Matrix<double> m) => m.Enumerate().Sum(v => v * v);
}
