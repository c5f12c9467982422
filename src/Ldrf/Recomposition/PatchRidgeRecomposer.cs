using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Recomposition;

/// <summary>
/// LDRF's patch recomposition (docs/method.md, "3. Recomposition"): the consumer's response read through the
/// embedding, (Q R)ᵀp, regressed by ridge on the survivors' pruned k x k patches p′_S, so that a survivor at one
/// kernel position can stand in for a discarded neighbour at another. Where the patches are missing or too few,
/// it is the channel recomposition it was built from.
/// </summary>
/// <remarks>
/// <para>
/// With T = W_p(Q R) (F x out, the embedded consumer arranged by patch feature), G′_SS and H_S,: the kept
/// features' blocks of the patch statistics: W′ = (G′_SS + λI)⁻¹ H_S,: T with λ = scale · tr(G′_SS) / (|S|·P)
/// unless an absolute λ is set, returned as M′ (C′ x out·P). With an intercept the system is augmented as in the
/// channel recomposition, [[G′_SS + λI, s′_S], [s′_Sᵀ, N]] [W′; cᵀ] = [H_S,: T; (Tᵀs)ᵀ], and c (one value per
/// output) is returned in the bias correction's first position of each output (the consumer's bias sums them).
/// </para>
/// <para>
/// The ridge settings and the intercept are the channel recomposer's, so the two paths share one owner.
/// Unknowns are the kept channels' P positions each; with fewer than <see cref="MinimumSamplesPerUnknown"/> patch
/// samples per unknown (a linear layer after a flatten has one patch per image) the fit would follow the
/// calibration images rather than the layer, so the channel recomposition runs instead.
/// </para>
/// </remarks>
internal sealed class PatchRidgeRecomposer : IRecomposer
{
    /// <summary>The fewest patch samples per unknown (kept channels x kernel positions) for the patch solve.</summary>
    public const int MinimumSamplesPerUnknown = 2;

    /// <summary>Creates the patch recomposition over <paramref name="channel"/>'s ridge settings, falling back to it.</summary>
    /// <param name="channel">The channel recomposition: the ridge settings, the intercept, the backend and the fallback.</param>
    public PatchRidgeRecomposer(RidgeRecomposer channel)
    {
        Channel = channel ?? throw new ArgumentNullException(nameof(channel));
    }

    /// <summary>The channel recomposition that owns the ridge settings and runs where patches are missing or too few.</summary>
    public RidgeRecomposer Channel { get; }

    /// <inheritdoc />
    public bool UsesPatchStatistics => true;

    /// <inheritdoc />
    /// <remarks>False when there would be fewer than <see cref="MinimumSamplesPerUnknown"/> samples per unknown, where the channel recomposition runs anyway.</remarks>
    public bool UsesPatchStatisticsFor(int channels, int patchFeatures, long patchSamples, int keepCount) =>
        channels > 0 && EnoughSamples(channels, patchFeatures, patchSamples, keepCount);

    /// <inheritdoc />
    public Recomposition Recompose(Embedding embedding, Matrix<double> consumerWeights, ChannelStatistics statistics, ChannelStatistics? patchStatistics,
        IReadOnlyList<int> keptChannels, string? layerName = null)
    {
        Guard.NotNull(embedding, nameof(embedding), layerName);
        Guard.NotNull(consumerWeights, nameof(consumerWeights), layerName);
        Guard.NotNull(statistics, nameof(statistics), layerName);
        var kept = RidgeRecomposer.CheckKept(keptChannels, statistics.Channels, layerName);
        if (patchStatistics is not { } patches || !EnoughSamples(statistics.Channels, patches.Channels, patches.SampleCount, kept.Length))
        {
            return Channel.Recompose(embedding, consumerWeights, statistics, null, kept, layerName);
        }

        var backend = Channel.Backend;
        var name = layerName ?? string.Empty;
        var positions = PatchLayout.Positions(layerName, statistics.Channels, consumerWeights, patches, nameof(patchStatistics));
        var target = PatchLayout.ToPatchWeights(backend.Multiply(embedding.Basis, embedding.Reader), positions);
        var original = PatchLayout.ToPatchWeights(consumerWeights, positions);
        var block = new KeptPatches(patches, PatchLayout.Features(kept, positions));
        var rhs = block.CrossWith(target, backend);
        var outputRhs = block.CrossWith(original, backend);
        if (!Channel.FitIntercept)
        {
            var (solution, lambda) = block.Solve(name, kept.Length, rhs, Channel.RidgeScale, Channel.Lambda, backend);
            var embeddingError = block.RelativeError(solution, rhs, KeptPatches.Energy(patches, target, backend), backend);
            var outputError = block.RelativeError(solution, outputRhs, KeptPatches.Energy(patches, original, backend), backend);
            return new Recomposition(PatchLayout.FromPatchWeights(solution, positions), null, lambda, embeddingError, outputError);
        }

        var targetSums = KeptPatches.TargetSums(patches, target);
        var (w, intercept, l) = block.SolveWithIntercept(name, kept.Length, rhs, targetSums, Channel.RidgeScale, Channel.Lambda, backend);
        var interceptEmbeddingError = block.RelativeError(w, rhs, KeptPatches.Energy(patches, target, backend), backend, intercept, targetSums);
        var interceptOutputError = block.RelativeError(w, outputRhs, KeptPatches.Energy(patches, original, backend), backend,
            intercept, KeptPatches.TargetSums(patches, original));
        var bias = Vector<double>.Build.Dense(consumerWeights.ColumnCount);
        for (var o = 0; o < intercept.Count; o++)
        {
            bias[o * positions] = intercept[o];
        }

        return new Recomposition(PatchLayout.FromPatchWeights(w, positions), bias, l, interceptEmbeddingError, interceptOutputError);
    }

    // Unknowns: the kept channels' P positions each.
    /// <summary>Whether <paramref name="patchSamples"/> give at least <see cref="MinimumSamplesPerUnknown"/> per unknown of a patch fit of <paramref name="keepCount"/> channels.</summary>
    internal static bool EnoughSamples(int channels, int patchFeatures, long patchSamples, int keepCount) =>
        patchSamples >= MinimumSamplesPerUnknown * (long)patchFeatures / channels * keepCount;
}
