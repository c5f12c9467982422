using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;

namespace Ldrf;

/// <summary>
/// Builds the built-in parts from options; shared by the pruner's constructors and AddLdrf. Use it to replace one
/// part of <see cref="LdrfLayerPruner"/> and keep the built-in others.
/// </summary>
/// <remarks>
/// The public overloads run on the managed MathNet linear algebra; the TorchSharp adapter builds the same parts on
/// libtorch through the internal overloads that take a numeric backend.
/// </remarks>
public static class LdrfComponents
{
    /// <summary>The built-in decomposer for <paramref name="kind"/>.</summary>
    /// <param name="kind">The embedding kind.</param>
    /// <returns>A stateless decomposer that may be shared.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="EmbeddingKind"/>.</exception>
    public static IEmbeddingDecomposer CreateDecomposer(EmbeddingKind kind) => CreateDecomposer(kind, MathNetNumericBackend.Instance);

    /// <summary>The built-in selector for <paramref name="kind"/>.</summary>
    /// <param name="kind">The selection rule.</param>
    /// <param name="seed">The seed of <see cref="SelectionKind.Random"/> (ignored by the other rules).</param>
    /// <returns>A stateless selector that may be shared.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="SelectionKind"/>.</exception>
    public static INeuronSelector CreateSelector(SelectionKind kind, int seed) => CreateSelector(kind, seed, MathNetNumericBackend.Instance);

    /// <summary>
    /// The built-in recomposer for <see cref="LdrfOptions.Recomposition"/>, with the ridge settings
    /// (<see cref="LdrfOptions.RidgeScale"/>, <see cref="LdrfOptions.Lambda"/>) and <see cref="LdrfOptions.FitIntercept"/>:
    /// the channel ridge solve for <see cref="RecompositionKind.Channel"/>; for <see cref="RecompositionKind.Patch"/>,
    /// the patch ridge solve over the same settings, which falls back to the channel solve where patches are missing
    /// or too few.
    /// </summary>
    /// <param name="options">The options; read once.</param>
    /// <returns>A stateless recomposer that may be shared.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid (the message names every invalid option; ParamName options).</exception>
    public static IRecomposer CreateRecomposer(LdrfOptions options) => CreateRecomposer(options, MathNetNumericBackend.Instance);

    /// <summary>The built-in decomposer for <paramref name="kind"/> on <paramref name="backend"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="EmbeddingKind"/>.</exception>
    internal static IEmbeddingDecomposer CreateDecomposer(EmbeddingKind kind, INumericBackend backend) => kind switch
    {
        EmbeddingKind.WeightSvd => new WeightSvdDecomposer(backend),
        EmbeddingKind.ActivationPca => new ActivationPcaDecomposer(backend),
        EmbeddingKind.ResponseAware => new ResponseAwareDecomposer(backend),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"'{nameof(kind)}' is not a defined EmbeddingKind."),
    };

    /// <summary>The built-in selector for <paramref name="kind"/> on <paramref name="backend"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="SelectionKind"/>.</exception>
    internal static INeuronSelector CreateSelector(SelectionKind kind, int seed, INumericBackend backend) => kind switch
    {
        SelectionKind.EmbeddingEnergy => new EmbeddingEnergySelector(backend),
        SelectionKind.L1Norm => new L1NormSelector(),
        SelectionKind.Random => new RandomSelector(seed),
        SelectionKind.GreedyResponse => new GreedyResponseSelector(backend),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"'{nameof(kind)}' is not a defined SelectionKind."),
    };

    /// <summary>
    /// <see cref="CreateRecomposer(LdrfOptions)"/> on <paramref name="backend"/>: a <see cref="RidgeRecomposer"/> for
    /// <see cref="RecompositionKind.Channel"/>; for <see cref="RecompositionKind.Patch"/>, the patch ridge solve over
    /// that same recomposer's settings, which it falls back to where patches are missing or too few.
    /// </summary>
    /// <param name="options">The options; read once.</param>
    /// <param name="backend">The numeric backend.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid (the message names every invalid option; ParamName options).</exception>
    internal static IRecomposer CreateRecomposer(LdrfOptions options, INumericBackend backend)
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
