using System.Diagnostics;
using System.Globalization;
using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf;

/// <summary>
/// The LDRF layer pruner: decompose the layer into its embedding, select the survivors, recompose the
/// embedding from them by ridge regression and merge it into the consumer (docs/method.md §1–3).
/// </summary>
/// <remarks>
/// Each part is replaceable: pass your own <see cref="IEmbeddingDecomposer"/>, <see cref="INeuronSelector"/>,
/// <see cref="IRecomposer"/> or <see cref="INumericBackend"/>. When the request gives no keep count, the
/// layer keeps its valid capacity r. Keeping fewer than r is allowed (the ridge fit is then the best
/// the survivors can do), but the width allocator never proposes it. The pruner is stateless and may be
/// shared; it never modifies the request's matrices or statistics.
/// </remarks>
public sealed class LdrfLayerPruner : ILayerPruner
{
    private readonly INumericBackend _backend;
    private readonly LdrfOptions _options;

    /// <summary>Creates a pruner with the built-in parts chosen by <paramref name="options"/> (defaults when null) on <see cref="MathNetNumericBackend"/>.</summary>
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
    public LdrfLayerPruner(LdrfOptions options, INumericBackend backend)
        : this(options, BuiltInParts(options, backend))
    {
    }

    /// <summary>Creates a pruner from explicit parts.</summary>
    /// <param name="options">Supplies the energy threshold; copied.</param>
    /// <param name="decomposer">Builds the embedding.</param>
    /// <param name="selector">Selects the survivors.</param>
    /// <param name="recomposer">Recomposes the consumer.</param>
    /// <param name="backend">Used for the output-error diagnostic.</param>
    /// <exception cref="ArgumentException">An option is invalid (the message names every invalid option).</exception>
    public LdrfLayerPruner(LdrfOptions options, IEmbeddingDecomposer decomposer, INeuronSelector selector, IRecomposer recomposer, INumericBackend backend)
    {
        _options = LdrfOptionsValidator.Instance.ThrowIfInvalid(options, nameof(options)).Clone();
        Decomposer = decomposer ?? throw new ArgumentNullException(nameof(decomposer));
        Selector = selector ?? throw new ArgumentNullException(nameof(selector));
        Recomposer = recomposer ?? throw new ArgumentNullException(nameof(recomposer));
        _backend = backend ?? throw new ArgumentNullException(nameof(backend));
    }

    private LdrfLayerPruner(LdrfOptions options, (IEmbeddingDecomposer Decomposer, INeuronSelector Selector, IRecomposer Recomposer, INumericBackend Backend) parts)
        : this(options, parts.Decomposer, parts.Selector, parts.Recomposer, parts.Backend)
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
    public LayerPruningResult Prune(LayerPruningRequest request, CancellationToken cancellationToken = default)
    {
        PruneChecks.Check(request);
        var name = request.LayerName;
        cancellationToken.ThrowIfCancellationRequested();
        var rule = request.Rank is int rank ? RankRule.Fixed(rank) : RankRule.Energy(_options.EnergyThreshold);
        var clock = Stopwatch.StartNew();
        var embedding = Decomposer.Decompose(request.ConsumerWeights, request.Statistics, rule, name);
        var decomposition = clock.Elapsed;
        cancellationToken.ThrowIfCancellationRequested();

        var keep = request.KeepCount ?? embedding.Rank;
        var context = new SelectionContext(name, request.ConsumerWeights, request.Statistics, embedding, request.ProducerWeights);
        clock.Restart();
        var kept = PruneChecks.CheckSelection(Selector.Select(context, keep), keep, request.Statistics.Channels, name);
        var selection = clock.Elapsed;
        cancellationToken.ThrowIfCancellationRequested();
        clock.Restart();
        return Recompose(request, embedding, kept, () => new LayerPruningTimes(decomposition, selection, clock.Elapsed));
    }

    // times() is read when the result is built, so the recomposition's time includes its error measurements.
    private LayerPruningResult Recompose(LayerPruningRequest request, Embedding embedding, int[] kept, Func<LayerPruningTimes> times)
    {
        var name = request.LayerName;

        // Patches only where they are well determined: a linear layer after a flatten has one patch per image,
        // and fewer samples than unknowns would fit the calibration images rather than the layer.
        if (_options.Recomposition == RecompositionKind.Patch && request.PatchStatistics is { } patches
            && EnoughPatchSamples(request.Statistics.Channels, patches.Channels, patches.SampleCount, kept.Length))
        {
            return RecomposePatches(request, embedding, kept, times);
        }

        var recomposition = Recomposer.Recompose(embedding, request.Statistics, kept, name);
        var outputError = GramError.Relative(_backend, request.Statistics, kept, request.ConsumerWeights,
            recomposition.ConsumerWeights, recomposition.BiasCorrection);
        return new LayerPruningResult
        {
            LayerName = name,
            KeptChannels = kept,
            ConsumerWeights = recomposition.ConsumerWeights,
            BiasCorrection = recomposition.BiasCorrection,
            ValidCapacity = embedding.Rank,
            Embedding = embedding.Kind,
            RelativeEmbeddingError = recomposition.RelativeEmbeddingError,
            RelativeOutputError = outputError,
            Lambda = recomposition.Lambda,
            Times = times(),
        };
    }

    /// <summary>
    /// The patch recomposition needs at least this many patch samples per unknown (kept channels x kernel
    /// positions); with fewer it falls back to the channel recomposition.
    /// </summary>
    public const int MinimumSamplesPerUnknown = 2;

    /// <inheritdoc />
    public bool UsesPatchStatistics => _options.Recomposition == RecompositionKind.Patch;

    /// <inheritdoc />
    /// <remarks>False when there would be fewer than <see cref="MinimumSamplesPerUnknown"/> samples per unknown, where <see cref="Prune"/> falls back to the channel recomposition anyway.</remarks>
    public bool UsesPatchStatisticsFor(int channels, int patchFeatures, long patchSamples, int keepCount) =>
        UsesPatchStatistics && channels > 0 && EnoughPatchSamples(channels, patchFeatures, patchSamples, keepCount);

    // Unknowns: the kept channels' P positions each.
    private static bool EnoughPatchSamples(int channels, int patchFeatures, long patchSamples, int keepCount) =>
        patchSamples >= MinimumSamplesPerUnknown * (long)patchFeatures / channels * keepCount;

    // The consumer's response read through the embedding, (Q R)ᵀp, regressed on the survivors' pruned patches.
    private LayerPruningResult RecomposePatches(LayerPruningRequest request, Embedding embedding, int[] kept, Func<LayerPruningTimes> times)
    {
        var (patches, positions) = PatchProblem.Validate(request, "LDRF's patch recomposition");
        var target = PatchProblem.ToPatchWeights(_backend.Multiply(embedding.Basis, embedding.Reader), positions);
        var original = PatchProblem.ToPatchWeights(request.ConsumerWeights, positions);
        var block = new KeptPatches(patches, PatchProblem.Features(kept, positions));
        var rhs = block.CrossWith(target, _backend);
        var (solution, lambda) = block.Solve(request.LayerName, kept.Length, rhs, _options.RidgeScale, _options.Lambda, _backend);
        var embeddingError = block.RelativeError(solution, rhs, KeptPatches.Energy(patches, target, _backend), _backend);
        var outputError = block.RelativeError(solution, block.CrossWith(original, _backend), KeptPatches.Energy(patches, original, _backend), _backend);
        return new LayerPruningResult
        {
            LayerName = request.LayerName,
            KeptChannels = kept,
            ConsumerWeights = PatchProblem.FromPatchWeights(solution, positions),
            BiasCorrection = null,
            ValidCapacity = embedding.Rank,
            Embedding = embedding.Kind,
            RelativeEmbeddingError = embeddingError,
            RelativeOutputError = outputError,
            Lambda = lambda,
            Times = times(),
        };
    }

    private static (IEmbeddingDecomposer, INeuronSelector, IRecomposer, INumericBackend) BuiltInParts(LdrfOptions options, INumericBackend backend)
    {
        LdrfOptionsValidator.Instance.ThrowIfInvalid(options, nameof(options));
        ArgumentNullException.ThrowIfNull(backend);
        return (LdrfComponents.CreateDecomposer(options.Embedding, backend),
            LdrfComponents.CreateSelector(options.Selection, options.Seed, backend),
            new RidgeRecomposer(options, backend),
            backend);
    }
}
