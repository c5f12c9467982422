using System.Globalization;
using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Recomposition;

/// <summary>
/// LDRF's channel recomposition (docs/method.md, "3. Recomposition"): ridge regression of the embedding on the
/// survivors' channels, solved through Cholesky, then merged into the consumer. It owns the ridge settings (scale,
/// absolute λ, intercept) of LDRF's recomposition; the patch recomposition reads them from here.
/// </summary>
/// <remarks>
/// <para>
/// Q′ = argmin ‖QᵀA − Q′ᵀA′_S‖² + λ‖Q′‖² = (G + λI)⁻¹ H Q, with G = PrunedGram[S, S] and
/// H = Cross[S, :]. The consumer's new weights are M′ = Q′ R (C′ x K): the pruned network keeps its depth.
/// Because the solve is linear in its right-hand side, M′ = (G + λI)⁻¹ H (Q R); at full rank Q R = M and
/// this is plain least squares of the consumer's input from the same survivors.
/// </para>
/// <para>
/// λ defaults to <see cref="RidgeScale"/> · tr(G) / C′, so it scales with the survivors' mean second
/// moment (G is a sum over N samples) and a given scale means the same relative damping at every layer.
/// </para>
/// <para>
/// With an intercept, the system is augmented with a constant input: the unknowns [Q′; cᵀ] solve
/// [[G + λI, s′], [s′ᵀ, N]] [Q′; cᵀ] = [H Q; sᵀQ] (s′ and s the channel sums; the intercept is not
/// penalized; the matrix is positive definite for λ &gt; 0 and N &gt; 0). The consumer then computes
/// M′ᵀa′ + Rᵀc, so <see cref="Recomposition.BiasCorrection"/> = Rᵀc.
/// </para>
/// <para>It reads channel statistics only: <see cref="IRecomposer.UsesPatchStatistics"/> is false.</para>
/// </remarks>
internal sealed class RidgeRecomposer : IRecomposer
{
    /// <summary>The default ridge scale, 1e-4 (why: <see cref="LdrfOptions.RidgeScale"/>).</summary>
    public const double DefaultRidgeScale = 1e-4;

    private readonly INumericBackend _backend;

    /// <summary>Creates a ridge recomposer.</summary>
    /// <param name="backend">The numeric backend for products and the Cholesky solve.</param>
    /// <param name="ridgeScale">λ relative to tr(G)/C′ (≥ 0); ignored when <paramref name="lambda"/> is given.</param>
    /// <param name="lambda">An absolute λ (≥ 0), or null to scale it.</param>
    /// <param name="fitIntercept">Whether to fit an intercept (a bias correction for the consumer).</param>
    /// <exception cref="ArgumentOutOfRangeException">A negative or non-finite λ or scale.</exception>
    public RidgeRecomposer(INumericBackend backend, double ridgeScale = DefaultRidgeScale, double? lambda = null, bool fitIntercept = false)
    {
        _backend = backend ?? throw new ArgumentNullException(nameof(backend));
        RidgeScale = CheckNonNegative(ridgeScale, nameof(ridgeScale));
        Lambda = lambda is double l ? CheckNonNegative(l, nameof(lambda)) : null;
        FitIntercept = fitIntercept;
    }

    /// <summary>λ relative to tr(G)/C′.</summary>
    public double RidgeScale { get; }

    /// <summary>The absolute λ, or null when it is scaled.</summary>
    public double? Lambda { get; }

    /// <summary>Whether an intercept is fitted.</summary>
    public bool FitIntercept { get; }

    /// <summary>The backend the solve runs on.</summary>
    internal INumericBackend Backend => _backend;

    /// <inheritdoc />
    /// <remarks>The output error is ‖MᵀA − M′ᵀA′_S − b1ᵀ‖² / ‖MᵀA‖² from the channel Grams; <paramref name="patchStatistics"/> is not read.</remarks>
    public Recomposition Recompose(Embedding embedding, Matrix<double> consumerWeights, ChannelStatistics statistics, ChannelStatistics? patchStatistics,
        IReadOnlyList<int> keptChannels, string? layerName = null)
    {
        Guard.NotNull(consumerWeights, nameof(consumerWeights), layerName);
        Guard.NotNull(statistics, nameof(statistics), layerName);
        Guard.Rows(consumerWeights, statistics.Channels, nameof(consumerWeights), "one row per channel of the statistics", layerName);
        var fit = Fit(embedding, statistics, keptChannels, layerName);
        var outputError = fit.ConsumerMap is { } map && ReferenceEquals(embedding.ReaderParts.Weights, consumerWeights)
            ? GramError.RelativeOfMap(_backend, statistics, fit.KeptChannels, consumerWeights, embedding.ReaderParts.WeightsGram, map, fit.BiasCorrection)
            : GramError.Relative(_backend, statistics, fit.KeptChannels, consumerWeights, fit.ConsumerWeights, fit.BiasCorrection);
        return new Recomposition(fit.ConsumerWeights, fit.BiasCorrection, fit.Lambda, fit.RelativeEmbeddingError, outputError);
    }

    /// <summary>The channel ridge fit of the embedding on the survivors, with Q′ (which a patch solve has no counterpart of).</summary>
    internal ChannelFit Fit(Embedding embedding, ChannelStatistics statistics, IReadOnlyList<int> keptChannels, string? layerName = null)
    {
        Guard.NotNull(embedding, nameof(embedding), layerName);
        Guard.NotNull(statistics, nameof(statistics), layerName);
        var kept = CheckKept(keptChannels, statistics.Channels, layerName);
        if (embedding.Channels != statistics.Channels)
        {
            throw new ArgumentException(
                Guard.Prefix(layerName) + $"the embedding has {embedding.Channels} rows but the statistics have {statistics.Channels} channels.",
                nameof(embedding));
        }

        statistics.EnsureSamples(layerName, nameof(statistics));
        var c = kept.Length;
        var g = GramError.Select(statistics.PrunedGramView, kept);
        var h = GramError.Rows(statistics.CrossView, kept);
        var q = embedding.Basis;
        var lambda = RidgeSystem.Lambda(g, RidgeScale, Lambda);
        var rhs = _backend.Multiply(h, q);
        Exception Singular(ArgumentException ex) => new ArgumentException(
            Guard.Prefix(layerName) + string.Create(CultureInfo.InvariantCulture,
                $"the ridge system of the {c} survivors is singular with lambda = {lambda} (tr(G) = {g.Trace()}); the survivors are linearly dependent or never active. Use a positive ridge scale."),
            nameof(statistics),
            ex);

        Matrix<double> solution;
        Vector<double>? embeddingIntercept = null;
        if (FitIntercept)
        {
            var sPrime = Vector<double>.Build.Dense(c, i => statistics.PrunedSumView[kept[i]]);
            (solution, embeddingIntercept) = RidgeSystem.SolveWithIntercept(g, lambda, sPrime, statistics.SampleCount, rhs,
                q.TransposeThisAndMultiply(statistics.OriginalSumView), _backend, Singular);
        }
        else
        {
            solution = RidgeSystem.Solve(g, lambda, rhs, _backend, Singular);
        }

        var reader = embedding.ReaderParts;
        var consumerMap = reader.MapThrough(_backend, solution);
        var weights = reader.LeftMultiply(_backend, solution, consumerMap);
        var bias = embeddingIntercept is null ? null : reader.TransposeMultiply(embeddingIntercept);
        var error = GramError.Relative(_backend, statistics, kept, q, solution, embeddingIntercept);
        return new ChannelFit(kept, solution, weights, bias, lambda, error) { ConsumerMap = consumerMap };
    }

    internal static int[] CheckKept(IReadOnlyList<int> keptChannels, int channels, string? layerName)
    {
        Guard.NotNull(keptChannels, nameof(keptChannels), layerName);
        if (keptChannels.Count == 0)
        {
            throw new ArgumentException(Guard.Prefix(layerName) + $"'keptChannels' is empty; keep at least one of the {channels} channels.", nameof(keptChannels));
        }

        var seen = new bool[channels];
        var kept = new int[keptChannels.Count];
        for (var i = 0; i < kept.Length; i++)
        {
            var index = keptChannels[i];
            if (index < 0 || index >= channels || seen[index])
            {
                throw new ArgumentException(
                    Guard.Prefix(layerName) + string.Create(CultureInfo.InvariantCulture,
                        $"'keptChannels'[{i}] = {index} is out of range [0, {channels}) or repeated; {keptChannels.Count} indices were given."),
                    nameof(keptChannels));
            }

            seen[index] = true;
            kept[i] = index;
        }

        return kept;
    }

    private static double CheckNonNegative(double value, string name)
    {
        if (!(value >= 0) || double.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(name, value, string.Create(CultureInfo.InvariantCulture, $"'{name}' must be finite and non-negative but is {value}."));
        }

        return value;
    }
}

/// <summary>The channel ridge fit: Q′ (C′ x r), M′ = Q′ R, the bias correction Rᵀc or null, λ and the embedding error.</summary>
internal sealed record ChannelFit(int[] KeptChannels, Matrix<double> EmbeddingMap, Matrix<double> ConsumerWeights, Vector<double>? BiasCorrection,
    double Lambda, double RelativeEmbeddingError)
{
    /// <summary>S (C′ x C) with M′ = S M when the embedding's reader is factored (a huge consumer), else null.</summary>
    public Matrix<double>? ConsumerMap { get; init; }
}
