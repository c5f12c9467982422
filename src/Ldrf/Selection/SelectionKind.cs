namespace Ldrf.Selection;

/// <summary>The built-in neuron selection rules.</summary>
public enum SelectionKind
{
    /// <summary>
    /// The paper's rule: top-k by the energy the consumer reads through each neuron, its activity times the norm of its
    /// row of the rank-r weights Q R (docs/method.md, "2. Selection").
    /// </summary>
    EmbeddingEnergy,

    /// <summary>Top-k by the L1 norm of each neuron's filter in the producer (Li et al. 2016); needs <see cref="SelectionContext.ProducerWeights"/>.</summary>
    L1Norm,

    /// <summary>A seeded uniform random subset, its seed mixed with the layer's name so that each layer gets its own subset (<see cref="LdrfOptions.Seed"/>).</summary>
    Random,

    /// <summary>
    /// Greedy forward selection of the neurons that let least squares recover the most of the consumer's response,
    /// given those already kept; unlike a per-neuron score it passes over a neuron that a kept one already explains.
    /// </summary>
    GreedyResponse,
}
