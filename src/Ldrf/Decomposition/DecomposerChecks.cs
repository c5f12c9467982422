using Ldrf.Numerics;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Decomposition;

/// <summary>Shared argument checks and helpers of the built-in decomposers.</summary>
internal static class DecomposerChecks
{
    public static void Check(Matrix<double> consumerWeights, ChannelStatistics statistics, RankRule rank, string? layer, bool needsSamples)
    {
        Guard.NotNull(consumerWeights, nameof(consumerWeights), layer);
        Guard.NotNull(statistics, nameof(statistics), layer);
        Guard.NotNull(rank, nameof(rank), layer);
        if (consumerWeights.ColumnCount < 1)
        {
            throw new ArgumentException(Guard.Prefix(layer) + $"'consumerWeights' is {Guard.Shape(consumerWeights)}; it needs at least one column.", nameof(consumerWeights));
        }

        Guard.Rows(consumerWeights, statistics.Channels, nameof(consumerWeights), "one row per channel of the statistics", layer);
        Guard.Finite(consumerWeights, nameof(consumerWeights), layer);
        if (needsSamples)
        {
            statistics.EnsureSamples(layer, nameof(statistics));
        }
    }

    /// <summary>The second-moment matrix Σ = A Aᵀ / N of the original network's activations.</summary>
    public static Matrix<double> Covariance(ChannelStatistics statistics) =>
        statistics.OriginalGramView / statistics.SampleCount;

    public static Matrix<double> Columns(Matrix<double> m, int count) => m.SubMatrix(0, m.RowCount, 0, count);

    public static Matrix<double> Rows(Matrix<double> m, int count) => m.SubMatrix(0, count, 0, m.ColumnCount);
}
