using System.Globalization;
using Ldrf.Decomposition;
using Ldrf.Recomposition;
using Ldrf.Selection;

namespace Ldrf;

/// <summary>Options of <see cref="LdrfLayerPruner"/>. Every setter validates its value.</summary>
public sealed class LdrfOptions
{
    private EmbeddingKind _embedding = EmbeddingKind.WeightSvd;
    private double _energyThreshold = ValidCapacity.DefaultEnergyThreshold;
    private double _ridgeScale = RidgeRecomposer.DefaultRidgeScale;
    private double? _lambda;
    private SelectionKind _selection = SelectionKind.GreedyResponse;
    private RecompositionKind _recomposition = RecompositionKind.Patch;

    /// <summary>
    /// The embedding space. Default <see cref="EmbeddingKind.WeightSvd"/>, the paper's choice. At a given
    /// width every kind recomposes to nearly the same weights (the solve is linear in Q R ≈ M), so the kinds
    /// differ through the selection score and the valid capacity; the response-aware spectrum counts only the
    /// directions the data excites, so it tends to give the smallest capacity. Choose
    /// <see cref="EmbeddingKind.ResponseAware"/> when the capacity bounds the width allocation. The three kinds at
    /// equal widths: docs/results.md (docs/method.md, section 1).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="EmbeddingKind"/>.</exception>
    public EmbeddingKind Embedding
    {
        get => _embedding;
        set => _embedding = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(Embedding), value, $"'{nameof(Embedding)}' must be one of {string.Join(", ", Enum.GetNames<EmbeddingKind>())}.");
    }

    /// <summary>
    /// The energy fraction of the spectrum that defines a layer's valid capacity r, in (0, 1]; default
    /// <see cref="ValidCapacity.DefaultEnergyThreshold"/> (0.999).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not in (0, 1].</exception>
    public double EnergyThreshold
    {
        get => _energyThreshold;
        set
        {
            ValidCapacity.CheckThreshold(value, nameof(EnergyThreshold));
            _energyThreshold = value;
        }
    }

    /// <summary>
    /// λ relative to tr(G)/C′ (≥ 0); default <see cref="RidgeRecomposer.DefaultRidgeScale"/> (1e-4).
    /// Ignored when <see cref="Lambda"/> is set.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative or not finite.</exception>
    public double RidgeScale
    {
        get => _ridgeScale;
        set => _ridgeScale = CheckNonNegative(value, nameof(RidgeScale));
    }

    /// <summary>An absolute ridge λ (≥ 0) that overrides <see cref="RidgeScale"/>; default null.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative or not finite.</exception>
    public double? Lambda
    {
        get => _lambda;
        set => _lambda = value is double v ? CheckNonNegative(v, nameof(Lambda)) : null;
    }

    /// <summary>
    /// Whether to fit an intercept that the adapter folds into the consumer's bias; default false. The fold
    /// is exact for linear consumers and convolutions without zero padding, approximate at padded borders.
    /// </summary>
    public bool FitIntercept { get; set; }

    /// <summary>
    /// The neuron selection rule; default <see cref="SelectionKind.GreedyResponse"/>, which measured clearly more
    /// accurate than the per-neuron <see cref="SelectionKind.EmbeddingEnergy"/> score on a trained VGG (docs/results.md).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="SelectionKind"/>.</exception>
    public SelectionKind Selection
    {
        get => _selection;
        set => _selection = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(Selection), value, $"'{nameof(Selection)}' must be one of {string.Join(", ", Enum.GetNames<SelectionKind>())}.");
    }

    /// <summary>
    /// What the recomposition regresses on: the survivors' channels or their whole patches; default
    /// <see cref="RecompositionKind.Patch"/>, which measured clearly more accurate on a trained VGG (docs/results.md)
    /// at the cost of collecting patch statistics (<see cref="ILayerPruner.UsesPatchStatistics"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="RecompositionKind"/>.</exception>
    public RecompositionKind Recomposition
    {
        get => _recomposition;
        set => _recomposition = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(Recomposition), value, $"'{nameof(Recomposition)}' must be one of {string.Join(", ", Enum.GetNames<RecompositionKind>())}.");
    }

    /// <summary>The seed of <see cref="SelectionKind.Random"/>; default 0.</summary>
    public int Seed { get; set; }

    /// <summary>Returns an independent copy.</summary>
    public LdrfOptions Clone() => (LdrfOptions)MemberwiseClone();

    private static double CheckNonNegative(double value, string name)
    {
        if (!(value >= 0) || double.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(name, value, string.Create(CultureInfo.InvariantCulture, $"'{name}' must be finite and non-negative but is {value}."));
        }

        return value;
    }
}
