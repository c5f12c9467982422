namespace Ldrf.Baselines;

/// <summary>The layer-by-layer baselines the library ships for comparison with LDRF (docs/method.md, "Baselines").</summary>
public enum BaselineKind
{
    /// <summary>
    /// Filter L1-norm pruning (Li et al. 2016, "Pruning Filters for Efficient ConvNets"): keep the producer's
    /// filters with the largest L1 norm, no reconstruction: the consumer's weights are sliced to the survivors' rows.
    /// Needs <see cref="LayerPruningRequest.ProducerWeights"/>.
    /// </summary>
    L1Norm,

    /// <summary>
    /// Random selection with least-squares reconstruction (Mittal et al. 2018, "Recovering from Random
    /// Pruning"): a seeded random subset, then the consumer refitted from the survivors' channel statistics
    /// (LDRF's ridge recomposition with the identity embedding); the subset of each layer comes from the seed mixed with the layer's name.
    /// </summary>
    RandomLeastSquares,

    /// <summary>
    /// ThiNet (Luo et al. 2017): greedy removal of the channels whose removal adds the least error to the
    /// consumer's output, then least-squares rescaling of the survivors.
    /// Needs <see cref="LayerPruningRequest.PatchStatistics"/>.
    /// </summary>
    ThiNet,

    /// <summary>
    /// Channel Pruning (He et al. 2017): LASSO selection over per-channel coefficients of the consumer's output,
    /// then least squares over the kept channels' patches.
    /// Needs <see cref="LayerPruningRequest.PatchStatistics"/>.
    /// </summary>
    ChannelPruning,
}
