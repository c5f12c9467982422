using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Selection;

namespace Ldrf;

/// <summary>Builds the built-in parts from options; shared by the pruner's constructors and AddLdrf.</summary>
public static class LdrfComponents
{
    /// <summary>The built-in decomposer for <paramref name="kind"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="EmbeddingKind"/>.</exception>
    public static IEmbeddingDecomposer CreateDecomposer(EmbeddingKind kind, INumericBackend backend) => kind switch
    {
        EmbeddingKind.WeightSvd => new WeightSvdDecomposer(backend),
        EmbeddingKind.ActivationPca => new ActivationPcaDecomposer(backend),
        EmbeddingKind.ResponseAware => new ResponseAwareDecomposer(backend),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"'{nameof(kind)}' is not a defined EmbeddingKind."),
    };

    /// <summary>The built-in selector for <paramref name="kind"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="SelectionKind"/>.</exception>
    public static INeuronSelector CreateSelector(SelectionKind kind, int seed, INumericBackend backend) => kind switch
    {
        SelectionKind.EmbeddingEnergy => new EmbeddingEnergySelector(backend),
        SelectionKind.L1Norm => new L1NormSelector(),
        SelectionKind.Random => new RandomSelector(seed),
        SelectionKind.GreedyResponse => new GreedyResponseSelector(backend),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"'{nameof(kind)}' is not a defined SelectionKind."),
    };
}
