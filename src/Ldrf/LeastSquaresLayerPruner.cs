using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf;

/// <summary>
/// The "selection + least squares" baseline: keep the selected channels and refit the consumer's whole
/// input from them, M′ = (G + λI)⁻¹ H M. This is LDRF's pipeline with the identity embedding (Q = I, R = M) in place
/// of a decomposition, which is how it is computed: the selector and the recomposer are the same parts.
/// </summary>
/// <remarks>
/// Without a keep count the layer keeps all its channels (there is no capacity estimate). The result has no
/// embedding kind and no valid capacity; its embedding error is the error of recovering the activations themselves.
/// </remarks>
internal sealed class LeastSquaresLayerPruner : ILayerPruner
{
    private readonly INeuronSelector _selector;
    private readonly IRecomposer _recomposer;

    /// <summary>Creates the baseline.</summary>
    /// <param name="selector">Selects the survivors (for example <see cref="L1NormSelector"/> or <see cref="RandomSelector"/>).</param>
    /// <param name="recomposer">Refits the consumer and measures the errors; default a <see cref="RidgeRecomposer"/> with the default ridge scale.</param>
    /// <param name="backend">The numeric backend of the default recomposer; default <see cref="MathNetNumericBackend"/>.</param>
    public LeastSquaresLayerPruner(INeuronSelector selector, IRecomposer? recomposer = null, INumericBackend? backend = null)
    {
        _selector = selector ?? throw new ArgumentNullException(nameof(selector));
        _recomposer = recomposer ?? new RidgeRecomposer(backend ?? MathNetNumericBackend.Instance);
    }

    /// <inheritdoc />
    /// <remarks>The recomposer's answer.</remarks>
    public bool UsesPatchStatistics => _recomposer.UsesPatchStatistics;

    /// <inheritdoc />
    /// <remarks>The recomposer's answer.</remarks>
    public bool UsesPatchStatisticsFor(int channels, int patchFeatures, long patchSamples, int keepCount) =>
        _recomposer.UsesPatchStatisticsFor(channels, patchFeatures, patchSamples, keepCount);

    /// <inheritdoc />
    /// <remarks>The selector's answer.</remarks>
    public bool UsesProducerWeights => _selector.UsesProducerWeights;

    /// <inheritdoc />
    public LayerPruningResult Prune(LayerPruningRequest request, CancellationToken cancellationToken = default)
    {
        PruneChecks.Check(request);
        cancellationToken.ThrowIfCancellationRequested();
        var name = request.LayerName;
        var c = request.Statistics.Channels;
        var m = request.ConsumerWeights;
        var identity = Embedding.Identity(m, sparse: false);
        var keep = request.KeepCount ?? c;
        var context = new SelectionContext(name, m, request.Statistics, identity, request.ProducerWeights);
        var kept = PruneChecks.CheckSelection(_selector.Select(context, keep), keep, c, name);
        cancellationToken.ThrowIfCancellationRequested();
        var recomposition = _recomposer.Recompose(identity, m, request.Statistics, request.PatchStatistics, kept, name);
        return new LayerPruningResult
        {
            LayerName = name,
            KeptChannels = kept,
            ConsumerWeights = recomposition.ConsumerWeights,
            BiasCorrection = recomposition.BiasCorrection,
            RelativeOutputError = recomposition.RelativeOutputError,
            Lambda = recomposition.Lambda,
            RelativeEmbeddingError = recomposition.RelativeEmbeddingError,
        };
    }
}
