using Ldrf.Decomposition;
using Ldrf.Recomposition;
using Ldrf.Selection;

namespace Ldrf;

/// <summary>
/// Options of <see cref="LdrfLayerPruner"/>. Setters accept any value; the pruner checks them all when it is built
/// (an <see cref="ArgumentException"/> naming every invalid option), and <c>AddLdrf</c> registers a validator that
/// reports every invalid option at once (<c>ValidateOnStart</c>, configuration binding).
/// </summary>
public sealed class LdrfOptions
{
    /// <summary>
    /// The embedding space. Default <see cref="EmbeddingKind.WeightSvd"/>, the paper's choice. At a given
    /// width every kind recomposes to nearly the same weights (the solve is linear in Q R ≈ M), so the kinds
    /// differ through the selection score and the valid capacity; the response-aware spectrum counts only the
    /// directions the data excites, so it tends to give the smallest capacity. Choose
    /// <see cref="EmbeddingKind.ResponseAware"/> when the capacity bounds the width allocation. The three kinds at
    /// equal widths: docs/results.md (docs/method.md, section 1).
    /// </summary>
    public EmbeddingKind Embedding { get; set; } = EmbeddingKind.WeightSvd;

    /// <summary>
    /// The energy fraction of the spectrum that defines a layer's valid capacity r, in (0, 1]; default 0.999.
    /// </summary>
    public double EnergyThreshold { get; set; } = ValidCapacity.DefaultEnergyThreshold;

    /// <summary>
    /// λ relative to tr(G)/C′ (≥ 0); default 1e-4. Ignored when <see cref="Lambda"/> is set.
    /// </summary>
    /// <remarks>
    /// The default, λ = 1e-4 · tr(G)/C′, bounds the condition number of G + λI by about 1e4 · C′, so the Cholesky
    /// solve stays accurate when survivors are nearly collinear (duplicated or dead channels are common), while on
    /// well-conditioned survivors it moves the solution by about 1e-4 relative, far below the error that pruning
    /// itself causes (docs/method.md, "3. Recomposition").
    /// </remarks>
    public double RidgeScale { get; set; } = RidgeRecomposer.DefaultRidgeScale;

    /// <summary>An absolute ridge λ (≥ 0) that overrides <see cref="RidgeScale"/>; default null.</summary>
    public double? Lambda { get; set; }

    /// <summary>
    /// Whether to fit an intercept that the adapter folds into the consumer's bias; default false. The fold
    /// is exact for linear consumers and convolutions without zero padding, approximate at padded borders.
    /// </summary>
    public bool FitIntercept { get; set; }

    /// <summary>
    /// The neuron selection rule; default <see cref="SelectionKind.GreedyResponse"/>, which measured clearly more
    /// accurate than the per-neuron <see cref="SelectionKind.EmbeddingEnergy"/> score on a trained VGG (docs/results.md).
    /// </summary>
    public SelectionKind Selection { get; set; } = SelectionKind.GreedyResponse;

    /// <summary>
    /// What the recomposition regresses on: the survivors' channels or their whole patches; default
    /// <see cref="RecompositionKind.Patch"/>, which measured clearly more accurate on a trained VGG (docs/results.md)
    /// at the cost of collecting patch statistics (<see cref="ILayerPruner.UsesPatchStatistics"/>).
    /// </summary>
    public RecompositionKind Recomposition { get; set; } = RecompositionKind.Patch;

    /// <summary>The seed of <see cref="SelectionKind.Random"/>; default 0.</summary>
    public int Seed { get; set; }

    /// <summary>Returns an independent copy.</summary>
    public LdrfOptions Clone() => (LdrfOptions)MemberwiseClone();
}
