using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Decomposition;

/// <summary>Builds the embedding space of a layer from its consumer's weights and its calibration statistics.</summary>
public interface IEmbeddingDecomposer
{
    /// <summary>The kind of embedding this decomposer builds.</summary>
    EmbeddingKind Kind { get; }

    /// <summary>Decomposes a layer.</summary>
    /// <param name="consumerWeights">M: the consumer's weights matricized by input channel, C x K.</param>
    /// <param name="statistics">The layer's calibration statistics (C channels).</param>
    /// <param name="rank">How many directions to keep.</param>
    /// <param name="layerName">The layer's name, used in error messages.</param>
    /// <returns>The embedding, with Q R = M at full rank.</returns>
    /// <exception cref="ArgumentException">Sizes disagree, an entry is not finite, or the statistics are empty where needed.</exception>
    Embedding Decompose(Matrix<double> consumerWeights, ChannelStatistics statistics, RankRule rank, string? layerName = null);
}
