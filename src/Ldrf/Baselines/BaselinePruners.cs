using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;

namespace Ldrf.Baselines;

/// <summary>
/// Builds the comparison baselines by name, all as <see cref="ILayerPruner"/>s over the same calibration
/// statistics as LDRF, so that a harness can swap them in the same front-to-back pruning loop.
/// </summary>
/// <example>
/// <code>
/// foreach (var kind in Enum.GetValues&lt;BaselineKind&gt;())
/// {
///     var pruner = BaselinePruners.Create(kind, new BaselineOptions { Seed = 1 });
///     // collect patch statistics only when BaselinePruners.NeedsPatchStatistics(kind)
/// }
/// </code>
/// </example>
public static class BaselinePruners
{
    /// <summary>Creates the baseline <paramref name="kind"/>.</summary>
    /// <param name="kind">The baseline.</param>
    /// <param name="options">The options (defaults when null); read once, later changes have no effect.</param>
    /// <returns>A stateless pruner that may be shared.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="BaselineKind"/>.</exception>
    /// <exception cref="ArgumentException">An option is invalid (the message names every invalid option).</exception>
    public static ILayerPruner Create(BaselineKind kind, BaselineOptions? options = null) => Create(kind, options, null);

    /// <summary>Creates the baseline <paramref name="kind"/> on <paramref name="backend"/> (<see cref="MathNetNumericBackend"/> when null).</summary>
    /// <param name="kind">The baseline.</param>
    /// <param name="options">The options (defaults when null); read once, later changes have no effect.</param>
    /// <param name="backend">The numeric backend; default <see cref="MathNetNumericBackend"/>.</param>
    /// <returns>A stateless pruner that may be shared.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="BaselineKind"/>.</exception>
    /// <exception cref="ArgumentException">An option is invalid (the message names every invalid option).</exception>
    internal static ILayerPruner Create(BaselineKind kind, BaselineOptions? options, INumericBackend? backend)
    {
        var o = options is null ? new BaselineOptions() : BaselineOptionsValidator.Instance.ThrowIfInvalid(options, nameof(options));
        var b = backend ?? MathNetNumericBackend.Instance;
        return kind switch
        {
            BaselineKind.L1Norm => new NoReconstructionLayerPruner(new L1NormSelector(), b),
            BaselineKind.RandomLeastSquares => new LeastSquaresLayerPruner(new RandomSelector(o.Seed), new RidgeRecomposer(b, o.RidgeScale), b),
            BaselineKind.ThiNet => new ThiNetLayerPruner(o.RidgeScale, o.ThiNetRebuildFilters, b),
            BaselineKind.ChannelPruning => new ChannelPruningLayerPruner(o.RidgeScale, b),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"'{nameof(kind)}' must be one of {string.Join(", ", Enum.GetNames<BaselineKind>())}."),
        };
    }

    /// <summary>
    /// Whether <paramref name="kind"/> needs <see cref="LayerPruningRequest.PatchStatistics"/>: ThiNet and
    /// Channel Pruning reason about the consumer's output, which for a k x k convolution depends on whole
    /// patches, not only on the channel Gram.
    /// </summary>
    /// <param name="kind">The baseline.</param>
    /// <returns>True for <see cref="BaselineKind.ThiNet"/> and <see cref="BaselineKind.ChannelPruning"/>.</returns>
    public static bool NeedsPatchStatistics(BaselineKind kind) => kind is BaselineKind.ThiNet or BaselineKind.ChannelPruning;

    /// <summary>Whether <paramref name="kind"/> needs <see cref="LayerPruningRequest.ProducerWeights"/> (true for <see cref="BaselineKind.L1Norm"/>).</summary>
    /// <param name="kind">The baseline.</param>
    /// <returns>True when the selection reads the producer's filters.</returns>
    public static bool NeedsProducerWeights(BaselineKind kind) => kind is BaselineKind.L1Norm;
}
