using Ldrf.Decomposition;
using Ldrf.Statistics;

namespace Ldrf.Recomposition;

/// <summary>Recovers a layer's embedding from its surviving neurons and folds it into the consumer.</summary>
public interface IRecomposer
{
    /// <summary>Recomposes a layer.</summary>
    /// <param name="embedding">The layer's embedding (Q, R).</param>
    /// <param name="statistics">The layer's calibration statistics.</param>
    /// <param name="keptChannels">The survivors: distinct channel indices in [0, C).</param>
    /// <param name="layerName">The layer's name, used in error messages.</param>
    /// <returns>The consumer's new weights and diagnostics.</returns>
    /// <exception cref="ArgumentException">Sizes disagree, indices are invalid, or the statistics are empty.</exception>
    Recomposition Recompose(Embedding embedding, ChannelStatistics statistics, IReadOnlyList<int> keptChannels, string? layerName = null);
}
