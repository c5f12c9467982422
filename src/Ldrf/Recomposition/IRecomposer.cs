using Ldrf.Decomposition;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Recomposition;

/// <summary>
/// Recovers a layer's embedding from its surviving neurons, folds it into the consumer and measures the result:
/// the third step of LDRF's pipeline (docs/method.md, "3. Recomposition"), run on every layer.
/// </summary>
public interface IRecomposer
{
    /// <summary>
    /// Whether <see cref="Recompose"/> may read patch statistics (false unless the implementation says otherwise).
    /// Callers collect those larger statistics only when it may.
    /// </summary>
    bool UsesPatchStatistics => false;

    /// <summary>
    /// Whether <see cref="Recompose"/> would read patch statistics of this size for one layer (by default, whenever
    /// <see cref="UsesPatchStatistics"/> is true); callers skip collecting them when this is false.
    /// </summary>
    /// <param name="channels">C: the layer's channels.</param>
    /// <param name="patchFeatures">C·P: the features of one patch (P positions per channel).</param>
    /// <param name="patchSamples">How many patch samples the caller would collect.</param>
    /// <param name="keepCount">C′: how many channels will be kept.</param>
    bool UsesPatchStatisticsFor(int channels, int patchFeatures, long patchSamples, int keepCount) => UsesPatchStatistics;

    /// <summary>Recomposes a layer.</summary>
    /// <param name="embedding">The layer's embedding (Q, R).</param>
    /// <param name="consumerWeights">M: the consumer's original weights, C x K; the output error is measured against them.</param>
    /// <param name="statistics">The layer's calibration statistics (C channels).</param>
    /// <param name="patchStatistics">The statistics of the consumer's input patches (C·P features), or null when the caller collected none.</param>
    /// <param name="keptChannels">The survivors: distinct channel indices in [0, C).</param>
    /// <param name="layerName">The layer's name, used in error messages.</param>
    /// <returns>The consumer's new weights and diagnostics.</returns>
    /// <exception cref="ArgumentException">Sizes disagree, indices are invalid, the statistics are empty, or the system is singular.</exception>
    Recomposition Recompose(Embedding embedding, Matrix<double> consumerWeights, ChannelStatistics statistics, ChannelStatistics? patchStatistics,
        IReadOnlyList<int> keptChannels, string? layerName = null);
}
