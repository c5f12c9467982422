namespace Ldrf.Selection;

/// <summary>Chooses which neurons (channels) of a layer survive.</summary>
public interface INeuronSelector
{
    /// <summary>Selects <paramref name="keep"/> channels.</summary>
    /// <param name="context">The layer's weights, statistics and embedding.</param>
    /// <param name="keep">How many channels to keep, 1 ≤ keep ≤ C.</param>
    /// <returns>The kept channel indices, distinct and sorted ascending.</returns>
    /// <exception cref="ArgumentException"><paramref name="keep"/> is out of range or the context lacks what the rule needs.</exception>
    int[] Select(SelectionContext context, int keep);

    /// <summary>
    /// Whether <see cref="Select"/> reads <see cref="SelectionContext.ProducerWeights"/> (true unless the selector says
    /// otherwise), so that a layer pruner can tell its callers whether to supply them.
    /// </summary>
    bool UsesProducerWeights => true;
}
