using Ldrf.Numerics;
using Ldrf.Recomposition;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Baselines;

/// <summary>
/// Channel Pruning (Y. He, X. Zhang, J. Sun, "Channel Pruning for Accelerating Very Deep Neural Networks",
/// ICCV 2017, arXiv 1707.06168): LASSO channel selection on the consumer's output over sampled k x k patches,
/// then least squares over the kept channels' patches. Needs <see cref="LayerPruningRequest.PatchStatistics"/>.
/// </summary>
/// <remarks>
/// <para>
/// Selection (the paper's eq. 3 with ‖W_c‖_F = 1): min_β ‖y − Σ_c β_c x̃′_c‖² / 2 + α‖β‖₁ over per-channel
/// coefficients, x̃′_c being channel c's contribution to the consumer's output in the pruned-so-far network with
/// its filter normalized and y the original network's output on the same sampled locations (the paper's
/// whole-model mode, which takes inputs from the pruned network to stop errors accumulating). α is raised
/// until exactly the requested count of coefficients is non-zero. Everything is computed from the patch
/// Grams (C x C contribution Gram K and cross b), by coordinate descent.
/// </para>
/// <para>
/// Reconstruction (the paper's second step): W′_S = argmin ‖y − W′ᵀp′_S‖² + λ‖W′‖² = (G′_SS + λI)⁻¹ H_S,: W_p
/// over the kept channels' patch features S (|S|·P of them), with G′ = Σ p′p′ᵀ, H = Σ p′pᵀ and
/// λ = ridgeScale · tr(G′_SS)/(|S|·P), solved through Cholesky and returned as M′ (C′ x out·P). With fewer than
/// <see cref="PatchRidgeRecomposer.MinimumSamplesPerUnknown"/> patch samples per unknown (|S|·P) that fit would
/// interpolate the calibration patches, so the kept channels are refitted by ridge on the channel statistics instead
/// (the least-squares baselines' recomposition, LDRF's fallback too).
/// The paper alternates the two steps optionally; it reports one pass as sufficient, and one pass is done here.
/// </para>
/// <para>
/// <see cref="LayerPruningResult.RelativeOutputError"/> is the consumer's true output error on the sampled
/// patches; there is no embedding, so the LDRF diagnostics (<see cref="LayerPruningResult.ValidCapacity"/>,
/// <see cref="LayerPruningResult.RelativeEmbeddingError"/>) are null.
/// Without a keep count every channel is kept (and refitted).
/// </para>
/// </remarks>
internal sealed class ChannelPruningLayerPruner : ILayerPruner
{
    private readonly INumericBackend _backend;

    /// <summary>Creates the baseline.</summary>
    /// <param name="ridgeScale">λ relative to the mean diagonal of G′_SS (≥ 0); default <see cref="RidgeRecomposer.DefaultRidgeScale"/>.</param>
    /// <param name="backend">The numeric backend; default <see cref="MathNetNumericBackend"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ridgeScale"/> is negative or not finite.</exception>
    public ChannelPruningLayerPruner(double ridgeScale = RidgeRecomposer.DefaultRidgeScale, INumericBackend? backend = null)
    {
        RidgeScale = BaselineOptions.CheckRidgeScale(ridgeScale, nameof(ridgeScale));
        _backend = backend ?? MathNetNumericBackend.Instance;
    }

    /// <summary>λ relative to the mean diagonal of G′_SS.</summary>
    public double RidgeScale { get; }

    /// <inheritdoc />
    public bool UsesPatchStatistics => true;

    /// <inheritdoc />
    /// <remarks>False: the selection reads the patch statistics.</remarks>
    public bool UsesProducerWeights => false;

    /// <inheritdoc />
    public LayerPruningResult Prune(LayerPruningRequest request, CancellationToken cancellationToken = default)
    {
        PruneChecks.Check(request);
        cancellationToken.ThrowIfCancellationRequested();
        var problem = PatchContributions.Create(request, _backend, "Channel Pruning");
        cancellationToken.ThrowIfCancellationRequested();
        var m = request.ConsumerWeights;
        var norms = Vector<double>.Build.Dense(problem.Channels, i => m.Row(i).L2Norm());
        var keep = request.KeepCount ?? problem.Channels;
        var (kept, _, _) = LassoChannelSelection.Select(problem.ContributionGram, problem.ContributionCross, problem.OutputEnergy, norms, keep, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        var (weights, lambda, error) = problem.Rebuild(kept, RidgeScale, _backend);
        return new LayerPruningResult
        {
            LayerName = request.LayerName,
            KeptChannels = kept,
            ConsumerWeights = weights,
            RelativeOutputError = error,
            Lambda = lambda,
        };
    }
}
