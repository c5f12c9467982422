namespace Ldrf.Baselines;

/// <summary>The layer-by-layer baselines the library ships for comparison with LDRF (docs/method.md, "Baselines").</summary>
public enum BaselineKind
{
    /// <summary>
    /// Filter L1-norm pruning (Li et al. 2016, "Pruning Filters for Efficient ConvNets"): keep the producer's
    /// filters with the largest L1 norm, no reconstruction (<see cref="NoReconstructionLayerPruner"/>).
    /// Needs <see cref="LayerPruningRequest.ProducerWeights"/>.
    /// </summary>
    L1Norm,

    /// <summary>
    /// Random selection with least-squares reconstruction (Mittal et al. 2018, "Recovering from Random
    /// Pruning"): a seeded random subset, then the consumer refitted from the survivors' channel statistics
    /// (<see cref="LeastSquaresLayerPruner"/> with a <see cref="Selection.RandomSelector"/>).
    /// </summary>
    RandomLeastSquares,

    /// <summary>
    /// ThiNet (Luo et al. 2017): greedy removal of the channels whose removal adds the least error to the
    /// consumer's output, then least-squares rescaling of the survivors (<see cref="ThiNetLayerPruner"/>).
    /// Needs <see cref="LayerPruningRequest.PatchStatistics"/>.
    /// </summary>
    ThiNet,

    /// <summary>
    /// Channel Pruning (He et al. 2017): LASSO selection over per-channel coefficients of the consumer's output,
    /// then least squares over the kept channels' patches (<see cref="ChannelPruningLayerPruner"/>).
    /// Needs <see cref="LayerPruningRequest.PatchStatistics"/>.
    /// </summary>
    ChannelPruning,
}
