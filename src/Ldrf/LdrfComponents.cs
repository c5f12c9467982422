using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
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

    /// <summary>
    /// The built-in recomposer for <see cref="LdrfOptions.Recomposition"/>, with the ridge settings
    /// (<see cref="LdrfOptions.RidgeScale"/>, <see cref="LdrfOptions.Lambda"/>) and <see cref="LdrfOptions.FitIntercept"/>:
    /// a <see cref="RidgeRecomposer"/> for <see cref="RecompositionKind.Channel"/>; for <see cref="RecompositionKind.Patch"/>,
    /// the patch ridge solve over that same recomposer's settings, which it falls back to where patches are missing or too few.
    /// </summary>
    /// <param name="options">The options; read once.</param>
    /// <param name="backend">The numeric backend.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid (the message names every invalid option; ParamName options).</exception>
    public static IRecomposer CreateRecomposer(LdrfOptions options, INumericBackend backend)
    {
        LdrfOptionsValidator.Instance.ThrowIfInvalid(options, nameof(options));
        ArgumentNullException.ThrowIfNull(backend);
        var channel = new RidgeRecomposer(backend, options.RidgeScale, options.Lambda, options.FitIntercept);
        return options.Recomposition switch
        {
            RecompositionKind.Channel => channel,
            RecompositionKind.Patch => new PatchRidgeRecomposer(channel),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Recomposition, $"'{nameof(options)}.{nameof(LdrfOptions.Recomposition)}' is not a defined RecompositionKind."),
        };
    }
}
