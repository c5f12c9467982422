using Ldrf.Baselines;
using Ldrf.Decomposition;
using Ldrf.Recomposition;
using Ldrf.Selection;
using Ldrf.TorchSharp.Numerics;
using Ldrf.TorchSharp.Pruning;

namespace Ldrf.Experiments;

/// <summary>One pruning method of the comparison.</summary>
/// <param name="Id">Command-line id.</param>
/// <param name="Name">The <c>method</c> field of the results.</param>
/// <param name="Decomposition">LDRF's embedding, null for baselines.</param>
/// <param name="CapacityBounded">Whether widths come from LDRF's own capacity-bounded allocation (else: the shared uniform widths).</param>
/// <param name="Create">A fresh layer pruner.</param>
/// <param name="Allocation">How the widths are chosen: the shared uniform widths, or another allocation (issue 19's comparison).</param>
/// <param name="ReviseCurves">With error curves: recompute each layer's curve on the pruned-so-far network when its turn comes (propagation).</param>
/// <param name="CurveScale">With error curves: the layers' own scale, or the output's, measured by pruning each layer alone.</param>
/// <param name="ResidualStreams">Whether the residual streams are pruned too (<c>NetworkPruningOptions.PruneResidualStreams</c>).</param>
internal sealed record Method(
    string Id, string Name, string? Decomposition, bool CapacityBounded, Func<ILayerPruner> Create,
    WidthAllocationKind Allocation = WidthAllocationKind.Uniform, bool ReviseCurves = false, ErrorCurveScale CurveScale = ErrorCurveScale.Layer,
    bool ResidualStreams = false)
{
    /// <summary>The allocation's name in the results, null for the shared uniform widths.</summary>
    public string? AllocationName => Allocation switch
    {
        WidthAllocationKind.ErrorCurves when ReviseCurves => "error-curves-propagated",
        WidthAllocationKind.ErrorCurves when CurveScale == ErrorCurveScale.OutputAtOneWidth => "output-scaled-curves",
        WidthAllocationKind.ErrorCurves when CurveScale == ErrorCurveScale.OutputAtEveryWidth => "output-curves",
        WidthAllocationKind.ErrorCurves => "error-curves",
        WidthAllocationKind.GlobalMagnitude => "global-magnitude",
        _ => null,
    };
}

/// <summary>The methods of the comparison, all on the same libtorch numeric backend.</summary>
internal static class Methods
{
    public const string LdrfWeightSvd = "ldrf-weight-svd";
    public const string ThiNet = "thinet";
    public const string LdrfChannel = "ldrf-channel";

    /// <summary>LDRF (weight SVD) with the residual streams pruned too; its results' method name is the same.</summary>
    public const string LdrfResidualStreams = "ldrf-residual-streams";

    private static readonly string[] s_ids =
        [LdrfWeightSvd, "ldrf-activation-pca", "ldrf-response-aware", "l1-norm", "random-least-squares", ThiNet, "channel-pruning", "ldrf-capacity"];

    // Ablations, run only when named: LDRF (weight SVD) with the paper's channel recomposition or another selection rule;
    // and the width allocations: LDRF's error curves (with LDRF and with Channel Pruning reconstructing, so that
    // allocation and reconstruction are measured apart), a global magnitude ranking with LDRF reconstructing, and the
    // error curves on the output's scale; and LDRF with the residual streams pruned too (for networks read one way, such
    // as the imported ResNet-18; the Fashion-MNIST ResNet has its own model id for it).
    private static readonly string[] s_ablations =
        [LdrfChannel, "ldrf-energy-selection", "ldrf-random-selection", "ldrf-l1-selection", "ldrf-error-curves", "ldrf-error-curves-propagated", "ldrf-response-aware-error-curves", "channel-pruning-error-curves", "ldrf-global-magnitude",
         "ldrf-output-scaled-curves", "ldrf-output-curves", LdrfResidualStreams];

    public static string Check(string id) => s_ids.Contains(id) || s_ablations.Contains(id)
        ? id
        : throw new ArgumentException($"Unknown method '{id}'; known: {string.Join(", ", s_ids.Concat(s_ablations))}.", nameof(id));

    public static IReadOnlyList<Method> Create(ExperimentSettings settings)
    {
        var backend = new TorchNumericBackend();
        var baseline = new BaselineOptions { Seed = settings.Seed };
        ILayerPruner Ldrf(EmbeddingKind kind, double? threshold = null, RecompositionKind recomposition = RecompositionKind.Patch, SelectionKind selection = SelectionKind.GreedyResponse) =>
            new LdrfLayerPruner(new LdrfOptions
            {
                Embedding = kind,
                EnergyThreshold = threshold ?? new LdrfOptions().EnergyThreshold,
                Recomposition = recomposition,
                Selection = selection,
                Seed = settings.Seed,
            }, backend);
        var all = new Method[]
        {
            new(LdrfWeightSvd, "ldrf", "weight-svd", false, () => Ldrf(EmbeddingKind.WeightSvd)),
            new("ldrf-activation-pca", "ldrf", "activation-pca", false, () => Ldrf(EmbeddingKind.ActivationPca)),
            new("ldrf-response-aware", "ldrf", "response-aware", false, () => Ldrf(EmbeddingKind.ResponseAware)),
            new(LdrfChannel, "ldrf-channel-recomposition", "weight-svd", false, () => Ldrf(EmbeddingKind.WeightSvd, recomposition: RecompositionKind.Channel, selection: SelectionKind.EmbeddingEnergy)),
            new("ldrf-random-selection", "ldrf-random-selection", "weight-svd", false, () => Ldrf(EmbeddingKind.WeightSvd, selection: SelectionKind.Random)),
            new("ldrf-energy-selection", "ldrf-embedding-energy-selection", "weight-svd", false, () => Ldrf(EmbeddingKind.WeightSvd, selection: SelectionKind.EmbeddingEnergy)),
            new("ldrf-l1-selection", "ldrf-l1-selection", "weight-svd", false, () => Ldrf(EmbeddingKind.WeightSvd, selection: SelectionKind.L1Norm)),
            new("l1-norm", "l1-norm", null, false, () => BaselinePruners.Create(BaselineKind.L1Norm, baseline, backend)),
            new("random-least-squares", "random-least-squares", null, false, () => BaselinePruners.Create(BaselineKind.RandomLeastSquares, baseline, backend)),
            new(ThiNet, "thinet", null, false, () => BaselinePruners.Create(BaselineKind.ThiNet, baseline, backend)),
            new("channel-pruning", "channel-pruning", null, false, () => BaselinePruners.Create(BaselineKind.ChannelPruning, baseline, backend)),
            new("ldrf-capacity", "ldrf-capacity-bounded", "weight-svd", true, () => Ldrf(EmbeddingKind.WeightSvd, settings.CapacityEnergyThreshold)),
            new("ldrf-error-curves", "ldrf", "weight-svd", false, () => Ldrf(EmbeddingKind.WeightSvd), WidthAllocationKind.ErrorCurves),
            new("ldrf-error-curves-propagated", "ldrf", "weight-svd", false, () => Ldrf(EmbeddingKind.WeightSvd), WidthAllocationKind.ErrorCurves, ReviseCurves: true),
            new("ldrf-response-aware-error-curves", "ldrf", "response-aware", false, () => Ldrf(EmbeddingKind.ResponseAware), WidthAllocationKind.ErrorCurves),
            new("channel-pruning-error-curves", "channel-pruning", null, false, () => BaselinePruners.Create(BaselineKind.ChannelPruning, baseline, backend), WidthAllocationKind.ErrorCurves),
            new("ldrf-global-magnitude", "ldrf", "weight-svd", false, () => Ldrf(EmbeddingKind.WeightSvd), WidthAllocationKind.GlobalMagnitude),
            new("ldrf-output-scaled-curves", "ldrf", "weight-svd", false, () => Ldrf(EmbeddingKind.WeightSvd), WidthAllocationKind.ErrorCurves, CurveScale: ErrorCurveScale.OutputAtOneWidth),
            new("ldrf-output-curves", "ldrf", "weight-svd", false, () => Ldrf(EmbeddingKind.WeightSvd), WidthAllocationKind.ErrorCurves, CurveScale: ErrorCurveScale.OutputAtEveryWidth),
            new(LdrfResidualStreams, LdrfResidualStreams, "weight-svd", false, () => Ldrf(EmbeddingKind.WeightSvd), ResidualStreams: true),
        };
        return settings.Methods is null ? [.. all.Where(m => s_ids.Contains(m.Id))] : [.. all.Where(m => settings.Methods.Contains(m.Id))];
    }
}
