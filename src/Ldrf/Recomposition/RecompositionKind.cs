namespace Ldrf.Recomposition;

/// <summary>What the ridge regression of LDRF's recomposition reads from the survivors.</summary>
public enum RecompositionKind
{
    /// <summary>
    /// The survivors' channels, pixel by pixel: recover the embedding Qᵀa from a′_S with the channel Grams
    /// (docs/method.md, "3. Recomposition"). Needs only the channel statistics.
    /// </summary>
    Channel,

    /// <summary>
    /// The survivors' whole k x k patches: recover the consumer's response read through the embedding,
    /// (Q R)ᵀ p, from the pruned patches p′_S, so that a survivor at one kernel position can stand in for a
    /// discarded neighbour at another. Uses the consumer's patch statistics when given with enough samples (at
    /// least 2 per unknown: kept channels x kernel positions) and falls back to <see cref="Channel"/> otherwise,
    /// with the same ridge settings and intercept. With the full rank it rebuilds the consumer as Channel
    /// Pruning's least squares does; the selection and the embedding are LDRF's.
    /// </summary>
    Patch,
}
