using System.Diagnostics;
using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;

namespace Ldrf;

/// <summary>
/// The LDRF layer pruner, a pipeline of three parts run on every layer: an <see cref="IEmbeddingDecomposer"/>
/// builds the layer's embedding, an <see cref="INeuronSelector"/> chooses the survivors, an
/// <see cref="IRecomposer"/> recovers the embedding from them and merges it into the consumer
/// (docs/method.md, "1. Decomposition", "2. Selection", "3. Recomposition").
/// </summary>
/// <remarks>
/// Each part is replaceable: pass your own to the constructor that takes the parts (the built-in ones come from
/// <see cref="LdrfComponents"/>). The pruner itself reads only the energy threshold; the ridge settings, the
/// intercept and the choice between channel and patch statistics belong to the recomposer. When the request gives
/// no keep count, the layer keeps its valid capacity r (<see cref="EstimateCapacity"/>). Keeping fewer than r is
/// allowed (the ridge fit is then the best the survivors can do), but the width allocator never proposes it. The
/// pruner is stateless and may be shared; it never modifies the request's matrices or statistics.
/// </remarks>
public sealed class LdrfLayerPruner : ILayerPruner, ICapacityEstimator
{
    private readonly LdrfOptions _options;

    // For the error curves of the width allocator when the selector is not the greedy one.
    private readonly INumericBackend _backend = MathNetNumericBackend.Instance;

    /// <summary>Creates a pruner with the built-in parts chosen by <paramref name="options"/> (defaults when null), on the managed MathNet linear algebra.</summary>
    /// <param name="options">The options; copied, so later changes do not affect this pruner.</param>
    /// <exception cref="ArgumentException">An option is invalid (the message names every invalid option).</exception>
    public LdrfLayerPruner(LdrfOptions? options = null)
        : this(options ?? new LdrfOptions(), MathNetNumericBackend.Instance)
    {
    }

    /// <summary>Creates a pruner with the built-in parts chosen by <paramref name="options"/> on <paramref name="backend"/>.</summary>
    /// <param name="options">The options; copied.</param>
    /// <param name="backend">The numeric backend for every heavy operation.</param>
    /// <exception cref="ArgumentException">An option is invalid (the message names every invalid option).</exception>
    internal LdrfLayerPruner(LdrfOptions options, INumericBackend backend)
        : this(options, BuiltInParts(options, backend))
    {
        _backend = backend;
    }

    /// <summary>Creates a pruner from explicit parts.</summary>
    /// <param name="options">Supplies the energy threshold; copied.</param>
    /// <param name="decomposer">Builds the embedding.</param>
    /// <param name="selector">Selects the survivors.</param>
    /// <param name="recomposer">Recomposes the consumer and measures the errors (its ridge settings are its own).</param>
    /// <exception cref="ArgumentException">An option is invalid (the message names every invalid option).</exception>
    public LdrfLayerPruner(LdrfOptions options, IEmbeddingDecomposer decomposer, INeuronSelector selector, IRecomposer recomposer)
    {
        _options = LdrfOptionsValidator.Instance.ThrowIfInvalid(options, nameof(options)).Clone();
        Decomposer = decomposer ?? throw new ArgumentNullException(nameof(decomposer));
        Selector = selector ?? throw new ArgumentNullException(nameof(selector));
        Recomposer = recomposer ?? throw new ArgumentNullException(nameof(recomposer));
    }

    private LdrfLayerPruner(LdrfOptions options, (IEmbeddingDecomposer Decomposer, INeuronSelector Selector, IRecomposer Recomposer) parts)
        : this(options, parts.Decomposer, parts.Selector, parts.Recomposer)
    {
    }

    /// <summary>A copy of the options this pruner was built with (changing it has no effect on the pruner).</summary>
    public LdrfOptions Options => _options.Clone();

    /// <summary>The decomposition step.</summary>
    public IEmbeddingDecomposer Decomposer { get; }

    /// <summary>The selection step.</summary>
    public INeuronSelector Selector { get; }

    /// <summary>The recomposition step.</summary>
    public IRecomposer Recomposer { get; }

    /// <inheritdoc />
    /// <remarks>The recomposer's answer.</remarks>
    public bool UsesPatchStatistics => Recomposer.UsesPatchStatistics;

    /// <inheritdoc />
    /// <remarks>The recomposer's answer.</remarks>
    public bool UsesPatchStatisticsFor(int channels, int patchFeatures, long patchSamples, int keepCount) =>
        Recomposer.UsesPatchStatisticsFor(channels, patchFeatures, patchSamples, keepCount);

    /// <inheritdoc />
    /// <remarks>The selector's answer: only L1-norm selection reads them among the built-in selectors.</remarks>
    public bool UsesProducerWeights => Selector.UsesProducerWeights;

    /// <inheritdoc />
    /// <remarks>The rank of the decomposer's embedding under the energy threshold (or the request's rank): the first step of <see cref="Prune"/> alone.</remarks>
    public int EstimateCapacity(LayerPruningRequest request, CancellationToken cancellationToken = default)
    {
        PruneChecks.Check(request);
        cancellationToken.ThrowIfCancellationRequested();
        return Decompose(request).Rank;
    }

    /// <inheritdoc />
    public LayerPruningResult Prune(LayerPruningRequest request, CancellationToken cancellationToken = default)
    {
        PruneChecks.Check(request);
        var name = request.LayerName;
        cancellationToken.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        var embedding = Decompose(request);
        var decomposition = clock.Elapsed;
        cancellationToken.ThrowIfCancellationRequested();

        var keep = request.KeepCount ?? embedding.Rank;
        var context = new SelectionContext(name, request.ConsumerWeights, request.Statistics, embedding, request.ProducerWeights);
        clock.Restart();
        var kept = PruneChecks.CheckSelection(Selector.Select(context, keep), keep, request.Statistics.Channels, name);
        var selection = clock.Elapsed;
        cancellationToken.ThrowIfCancellationRequested();

        // The recomposition's time includes its error measurements.
        clock.Restart();
        var recomposition = Recomposer.Recompose(embedding, request.ConsumerWeights, request.Statistics, request.PatchStatistics, kept, name);
        var recompositionTime = clock.Elapsed;
        return new LayerPruningResult
        {
            LayerName = name,
            KeptChannels = kept,
            ConsumerWeights = recomposition.ConsumerWeights,
            BiasCorrection = recomposition.BiasCorrection,
            RelativeOutputError = recomposition.RelativeOutputError,
            Lambda = recomposition.Lambda,
            DecompositionTime = decomposition,
            SelectionTime = selection,
            RecompositionTime = recompositionTime,
            ValidCapacity = embedding.Rank,
            Embedding = embedding.Kind,
            RelativeEmbeddingError = recomposition.RelativeEmbeddingError,
        };
    }

    /// <summary>
    /// The layer's error at every width, for the width allocator: <c>curve[k]</c> is the fraction of the embedded
    /// response (the decomposer's embedding under the energy threshold) that the first k neurons of one greedy
    /// response selection cannot recover (docs/method.md, "Width allocation and channel multiples"). Greedy
    /// response selection defines the curve whatever selector this pruner runs.
    /// </summary>
    internal double[] EstimateErrorCurve(LayerPruningRequest request, CancellationToken cancellationToken = default)
    {
        PruneChecks.Check(request);
        cancellationToken.ThrowIfCancellationRequested();
        var embedding = Decompose(request);
        cancellationToken.ThrowIfCancellationRequested();
        var greedy = Selector as GreedyResponseSelector ?? new GreedyResponseSelector(_backend);
        return greedy.ErrorCurve(new SelectionContext(request.LayerName, request.ConsumerWeights, request.Statistics, embedding, request.ProducerWeights));
    }

    private Embedding Decompose(LayerPruningRequest request)
    {
        var rule = request.Rank is int rank ? RankRule.Fixed(rank) : RankRule.Energy(_options.EnergyThreshold);
        return Decomposer.Decompose(request.ConsumerWeights, request.Statistics, rule, request.LayerName);
    }

    private static (IEmbeddingDecomposer, INeuronSelector, IRecomposer) BuiltInParts(LdrfOptions options, INumericBackend backend)
    {
        LdrfOptionsValidator.Instance.ThrowIfInvalid(options, nameof(options));
        ArgumentNullException.ThrowIfNull(backend);
        return (LdrfComponents.CreateDecomposer(options.Embedding, backend),
            LdrfComponents.CreateSelector(options.Selection, options.Seed, backend),
            LdrfComponents.CreateRecomposer(options, backend));
    }
}
