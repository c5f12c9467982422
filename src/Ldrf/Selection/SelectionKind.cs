namespace Ldrf.Selection;

/// <summary>The built-in neuron selection rules.</summary>
public enum SelectionKind
{
    /// <summary>Top-k by the energy the consumer reads through each neuron (<see cref="EmbeddingEnergySelector"/>).</summary>
    EmbeddingEnergy,

    /// <summary>Top-k by the L1 norm of each neuron's filter in the producer (<see cref="L1NormSelector"/>).</summary>
    L1Norm,

    /// <summary>A seeded uniform random subset (<see cref="RandomSelector"/>).</summary>
    Random,

    /// <summary>Greedy forward selection of the neurons that recover the most of the consumer's response (<see cref="GreedyResponseSelector"/>).</summary>
    GreedyResponse,
}
