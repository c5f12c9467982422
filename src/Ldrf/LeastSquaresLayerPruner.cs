using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf;

/// <summary>
/// The "selection + least squares" baseline: keep the selected channels and refit the consumer's whole
/// input from them, M′ = (G + λI)⁻¹ H M. This is LDRF with the identity embedding (Q = I, R = M), which is
/// how it is computed, so it shares the ridge recomposer and the selectors.
/// </summary>
/// <remarks>Without a keep count the layer keeps all its channels (there is no capacity estimate).</remarks>
public sealed class LeastSquaresLayerPruner : ILayerPruner
{
    private readonly INumericBackend _backend;
    private readonly INeuronSelector _selector;
    private readonly IRecomposer _recomposer;

    /// <summary>Creates the baseline.</summary>
    /// <param name="selector">Selects the survivors (for example <see cref="L1NormSelector"/> or <see cref="RandomSelector"/>).</param>
    /// <param name="recomposer">Solves the ridge system; default a <see cref="RidgeRecomposer"/> with default options.</param>
    /// <param name="backend">The numeric backend; default <see cref="MathNetNumericBackend"/>.</param>
    public LeastSquaresLayerPruner(INeuronSelector selector, IRecomposer? recomposer = null, INumericBackend? backend = null)
    {
        _selector = selector ?? throw new ArgumentNullException(nameof(selector));
        _backend = backend ?? MathNetNumericBackend.Instance;
        _recomposer = recomposer ?? new RidgeRecomposer(_backend);
    }

    /// <inheritdoc />
    public LayerPruningResult Prune(LayerPruningRequest request, CancellationToken cancellationToken = default)
    {
        PruneChecks.Check(request);
        cancellationToken.ThrowIfCancellationRequested();
        var name = request.LayerName;
        var c = request.Statistics.Channels;
        var m = request.ConsumerWeights;
        // The identity embedding: Q = I, R = M. Its kind label is irrelevant; the result reports none.
        var identity = new Embedding(EmbeddingKind.WeightSvd, Matrix<double>.Build.DenseIdentity(c), m, Vector<double>.Build.Dense(c, 1.0));
        var keep = request.KeepCount ?? c;
        var context = new SelectionContext(name, m, request.Statistics, identity, request.ProducerWeights);
        var kept = PruneChecks.CheckSelection(_selector.Select(context, keep), keep, c, name);
        cancellationToken.ThrowIfCancellationRequested();
        var recomposition = _recomposer.Recompose(identity, request.Statistics, kept, name);
        var outputError = GramError.Relative(_backend, request.Statistics, kept, m, recomposition.ConsumerWeights, recomposition.BiasCorrection);
        return new LayerPruningResult
        {
            LayerName = name,
            KeptChannels = kept,
            ConsumerWeights = recomposition.ConsumerWeights,
            BiasCorrection = recomposition.BiasCorrection,
            ValidCapacity = c,
            Embedding = null,
            RelativeEmbeddingError = recomposition.RelativeEmbeddingError,
            RelativeOutputError = outputError,
            Lambda = recomposition.Lambda,
        };
    }
}
