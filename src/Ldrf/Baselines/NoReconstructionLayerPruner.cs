using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Baselines;

/// <summary>
/// Selection without reconstruction: keep the selected channels and slice the consumer's weights to their
/// rows, M′ = M[S, :]. With <see cref="L1NormSelector"/> this is filter L1-norm pruning (Li et al. 2016,
/// "Pruning Filters for Efficient ConvNets", arXiv 1608.08710) before fine-tuning.
/// </summary>
/// <remarks>
/// <para>Without a keep count the layer keeps all its channels. The result has no embedding kind, no valid capacity and no λ.</para>
/// <para>
/// Diagnostics, from the channel statistics (O = Σ a aᵀ, H = Σ a′aᵀ, G = Σ a′a′ᵀ):
/// <see cref="LayerPruningResult.RelativeOutputError"/> = ‖MᵀA − M_SᵀA′_S‖² / ‖MᵀA‖², as for
/// <see cref="LeastSquaresLayerPruner"/>; <see cref="LayerPruningResult.RelativeEmbeddingError"/> is the
/// identity embedding's error ‖A − I_{S,:}ᵀA′_S‖² / ‖A‖² = (tr O − 2 Σ_{i∈S} H_ii + Σ_{i∈S} G_ii) / tr O,
/// the share of the layer's activation energy that the slicing loses.
/// </para>
/// </remarks>
internal sealed class NoReconstructionLayerPruner : ILayerPruner
{
    private readonly INumericBackend _backend;

    /// <summary>Creates the baseline.</summary>
    /// <param name="selector">Selects the survivors; <see cref="L1NormSelector"/> gives Li et al.'s baseline.</param>
    /// <param name="backend">Used for the output-error diagnostic; default <see cref="MathNetNumericBackend"/>.</param>
    public NoReconstructionLayerPruner(INeuronSelector selector, INumericBackend? backend = null)
    {
        Selector = selector ?? throw new ArgumentNullException(nameof(selector));
        _backend = backend ?? MathNetNumericBackend.Instance;
    }

    /// <summary>The selection rule.</summary>
    public INeuronSelector Selector { get; }

    /// <inheritdoc />
    /// <remarks>The selector's answer.</remarks>
    public bool UsesProducerWeights => Selector.UsesProducerWeights;

    /// <inheritdoc />
    public LayerPruningResult Prune(LayerPruningRequest request, CancellationToken cancellationToken = default)
    {
        PruneChecks.Check(request);
        cancellationToken.ThrowIfCancellationRequested();
        var name = request.LayerName;
        var stats = request.Statistics;
        var c = stats.Channels;
        var m = request.ConsumerWeights;

        // The identity embedding (sparse, so wide layers cost nothing): selectors see Q = I, R = M.
        var identity = Embedding.Identity(m, sparse: true);
        var keep = request.KeepCount ?? c;
        var context = new SelectionContext(name, m, stats, identity, request.ProducerWeights);
        var kept = PruneChecks.CheckSelection(Selector.Select(context, keep), keep, c, name);
        cancellationToken.ThrowIfCancellationRequested();

        var sliced = GramError.Rows(m, kept);
        return new LayerPruningResult
        {
            LayerName = name,
            KeptChannels = kept,
            ConsumerWeights = sliced,
            RelativeOutputError = GramError.Relative(_backend, stats, kept, m, sliced, null),
            RelativeEmbeddingError = SlicingError(stats.OriginalGramView, stats.CrossView, stats.PrunedGramView, kept),
        };
    }

    private static double SlicingError(Matrix<double> original, Matrix<double> cross, Matrix<double> pruned, int[] kept)
    {
        var total = original.Trace();
        if (!(total > 0))
        {
            return 0;
        }

        var numerator = total;
        foreach (var i in kept)
        {
            numerator += pruned.At(i, i) - (2 * cross.At(i, i));
        }

        return Math.Max(0, numerator / total);
    }
}
