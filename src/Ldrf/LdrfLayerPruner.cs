using System.Globalization;
using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf;

/// <summary>
/// The LDRF layer pruner: decompose the layer into its embedding, select the survivors, recompose the
/// embedding from them by ridge regression and merge it into the consumer (ldrf-method.md §1–3).
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

    /// <summary>Creates a pruner with the built-in parts chosen by <paramref name="options"/> (defaults when null) on <see cref="MathNetNumericBackend"/>.</summary>
    /// <param name="options">The options; copied, so later changes do not affect this pruner.</param>
    public LdrfLayerPruner(LdrfOptions? options = null)
        : this(options ?? new LdrfOptions(), MathNetNumericBackend.Instance)
    {
    }

    /// <summary>Creates a pruner with the built-in parts chosen by <paramref name="options"/> on <paramref name="backend"/>.</summary>
    /// <param name="options">The options; copied.</param>
    /// <param name="backend">The numeric backend for every heavy operation.</param>
    public LdrfLayerPruner(LdrfOptions options, INumericBackend backend)
        : this(
            Require(options),
            LdrfComponents.CreateDecomposer(options.Embedding, Require(backend)),
            LdrfComponents.CreateSelector(options.Selection, options.Seed, backend),
            new RidgeRecomposer(options, backend),
            backend)
    {
    }

    /// <summary>Creates a pruner from explicit parts.</summary>
    /// <param name="options">Supplies the energy threshold; copied.</param>
    /// <param name="decomposer">Builds the embedding.</param>
    /// <param name="selector">Selects the survivors.</param>
    /// <param name="recomposer">Recomposes the consumer.</param>
    /// <param name="backend">Used for the output-error diagnostic.</param>
    public LdrfLayerPruner(LdrfOptions options, IEmbeddingDecomposer decomposer, INeuronSelector selector, IRecomposer recomposer, INumericBackend backend)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Clone();
        Decomposer = decomposer ?? throw new ArgumentNullException(nameof(decomposer));
        Selector = selector ?? throw new ArgumentNullException(nameof(selector));
        Recomposer = recomposer ?? throw new ArgumentNullException(nameof(recomposer));
        _backend = backend ?? throw new ArgumentNullException(nameof(backend));
    }

    /// <summary>A copy of the options this pruner was built with.</summary>
    public LdrfOptions Options { get; }

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
        var rule = request.Rank is int rank ? RankRule.Fixed(rank) : RankRule.Energy(Options.EnergyThreshold);
        var embedding = Decomposer.Decompose(request.ConsumerWeights, request.Statistics, rule, name);
        cancellationToken.ThrowIfCancellationRequested();

        var keep = request.KeepCount ?? embedding.Rank;
        var context = new SelectionContext(name, request.ConsumerWeights, request.Statistics, embedding, request.ProducerWeights);
        var kept = PruneChecks.CheckSelection(Selector.Select(context, keep), keep, request.Statistics.Channels, name);
        cancellationToken.ThrowIfCancellationRequested();

        var recomposition = Recomposer.Recompose(embedding, request.Statistics, kept, name);
        var outputError = GramError.Relative(_backend.Multiply, request.Statistics, kept, request.ConsumerWeights,
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
        };
    }

    private static T Require<T>(T value)
        where T : class => value ?? throw new ArgumentNullException(typeof(T) == typeof(LdrfOptions) ? "options" : "backend");
}

/// <summary>Request checks shared by the built-in pruners.</summary>
internal static class PruneChecks
{
    public static void Check(LayerPruningRequest request)
    {
        Guard.NotNull(request, nameof(request));
        var name = request.LayerName;
        var m = request.ConsumerWeights;
        var stats = request.Statistics;
        if (m.ColumnCount < 1)
        {
            throw new ArgumentException(Guard.Prefix(name) + $"'ConsumerWeights' is {Guard.Shape(m)}; it needs at least one column.", nameof(request));
        }

        if (m.RowCount != stats.Channels)
        {
            throw new ArgumentException(
                Guard.Prefix(name) + $"'ConsumerWeights' is {Guard.Shape(m)} but the statistics have {stats.Channels} channels; M must have one row per channel (C x K).",
                nameof(request));
        }

        Guard.Finite(m, "ConsumerWeights", name);
        stats.EnsureSamples(name);
        if (request.ProducerWeights is { } p)
        {
            Guard.Rows(p, stats.Channels, "ProducerWeights", "one row per output channel of the producer", name);
            Guard.Finite(p, "ProducerWeights", name);
        }

        if (request.KeepCount is int keep && (keep < 1 || keep > stats.Channels))
        {
            throw new ArgumentOutOfRangeException("KeepCount", keep, Guard.Prefix(name) + string.Create(CultureInfo.InvariantCulture,
                $"'KeepCount' must be between 1 and the layer's {stats.Channels} channels but is {keep}."));
        }

        if (request.Rank is int rank && (rank < 1 || rank > Math.Min(m.RowCount, m.ColumnCount)))
        {
            throw new ArgumentOutOfRangeException("Rank", rank, Guard.Prefix(name) + string.Create(CultureInfo.InvariantCulture,
                $"'Rank' must be between 1 and min(C, K) = {Math.Min(m.RowCount, m.ColumnCount)} for 'ConsumerWeights' {Guard.Shape(m)}, but is {rank}."));
        }
    }

    /// <summary>Validates what a (possibly user-supplied) selector returned.</summary>
    public static int[] CheckSelection(int[] selected, int keep, int channels, string name)
    {
        if (selected is null || selected.Length != keep)
        {
            throw new InvalidOperationException(Guard.Prefix(name) + $"the selector returned {selected?.Length.ToString(CultureInfo.InvariantCulture) ?? "null"} indices but {keep} were requested.");
        }

        var sorted = (int[])selected.Clone();
        Array.Sort(sorted);
        for (var i = 0; i < sorted.Length; i++)
        {
            if (sorted[i] < 0 || sorted[i] >= channels || (i > 0 && sorted[i] == sorted[i - 1]))
            {
                throw new InvalidOperationException(Guard.Prefix(name) + $"the selector returned an invalid or repeated index {sorted[i]} (C = {channels}).");
            }
        }

        return sorted;
    }

}
