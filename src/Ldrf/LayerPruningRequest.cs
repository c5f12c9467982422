using Ldrf.Numerics;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf;

/// <summary>What a <see cref="ILayerPruner"/> needs to prune one layer's channels.</summary>
/// <remarks>
/// Matricization: the consumer's weights are arranged by input channel, M[c, k] with k running over
/// outChannels · kh · kw of the consumer in any order the caller likes; the new weights come back in
/// the same order. The producer's weights are arranged by output channel, P[c, j] with j over
/// inChannels · kh · kw.
/// </remarks>
public sealed class LayerPruningRequest
{
    /// <summary>Creates a request.</summary>
    /// <param name="layerName">The layer's name or path, quoted in every error message.</param>
    /// <param name="consumerWeights">M: the consumer's weights matricized by input channel, C x K.</param>
    /// <param name="statistics">The layer's calibration statistics (C channels).</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public LayerPruningRequest(string layerName, Matrix<double> consumerWeights, ChannelStatistics statistics)
    {
        Guard.NotNull(layerName, nameof(layerName));
        Guard.NotNull(consumerWeights, nameof(consumerWeights), layerName);
        Guard.NotNull(statistics, nameof(statistics), layerName);
        LayerName = layerName;
        ConsumerWeights = consumerWeights;
        Statistics = statistics;
    }

    /// <summary>The layer's name or path.</summary>
    public string LayerName { get; }

    /// <summary>M: C x K.</summary>
    public Matrix<double> ConsumerWeights { get; }

    /// <summary>The layer's calibration statistics.</summary>
    public ChannelStatistics Statistics { get; }

    /// <summary>P: the producer's weights matricized by output channel, C x (inChannels · kh · kw); needed by L1-norm selection only.</summary>
    public Matrix<double>? ProducerWeights { get; init; }

    /// <summary>How many channels to keep (1 ≤ C′ ≤ C), or null to keep the layer's valid capacity r.</summary>
    public int? KeepCount { get; init; }

    /// <summary>An explicit embedding rank, or null to choose it by the options' energy threshold.</summary>
    public int? Rank { get; init; }

    /// <summary>
    /// Optional patch statistics of the consumer's input: read by LDRF's default patch recomposition (where there
    /// are enough samples; without them it recomposes from <see cref="Statistics"/>), needed by the baselines that
    /// reason about the consumer's output (ThiNet, Channel Pruning; see <see cref="Baselines.BaselinePruners"/>),
    /// and ignored by the other pruners. <see cref="ILayerPruner.UsesPatchStatisticsFor"/> tells which.
    /// </summary>
    /// <remarks>
    /// A <see cref="ChannelStatistics"/> with F = C · P features, P being the consumer's kernel positions
    /// (kh · kw for a convolution, H · W for a linear layer after a flatten, 1 for a 1 x 1 convolution or a
    /// plain linear layer, where <see cref="Statistics"/> itself may be passed). Feature f = c · P + j is
    /// channel c at kernel position j (channel-major, the order of an unfold of the consumer's input and of
    /// its weight reshaped to out x (C · P)); each sample is one sampled output location of the consumer,
    /// its patch taken from the pruned-so-far network (pruned) and from the original network (original).
    /// The patch baselines read the columns of <see cref="ConsumerWeights"/> as o · P + j, so
    /// M[c, o · P + j] = W[o, c, j].
    /// </remarks>
    public ChannelStatistics? PatchStatistics { get; init; }
}
