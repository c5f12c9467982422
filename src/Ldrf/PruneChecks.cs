using System.Globalization;
using Ldrf.Numerics;
using Ldrf.Recomposition;

namespace Ldrf;

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

        Guard.Finite(m, "ConsumerWeights", name, nameof(request));
        stats.EnsureSamples(name, nameof(request));
        if (stats.PrunedGramView.Diagonal().AbsoluteMaximum() == 0 && stats.OriginalGramView.Diagonal().AbsoluteMaximum() == 0)
        {
            // Caught here, by name: later it would surface as a singular ridge system (λ scales with tr(G) = 0).
            throw new ArgumentException(
                Guard.Prefix(name) + string.Create(CultureInfo.InvariantCulture,
                    $"the channel statistics ({stats.Channels} channels, {stats.SampleCount} samples) have zero activation energy: every calibration activation is 0, so there is nothing to select or reconstruct from. Check the calibration data and the layers before this one."),
                nameof(request));
        }

        if (request.ProducerWeights is { } p)
        {
            Guard.Rows(p, stats.Channels, "ProducerWeights", "one row per output channel of the producer", name, nameof(request));
            Guard.Finite(p, "ProducerWeights", name, nameof(request));
        }

        if (request.PatchStatistics is { } patches)
        {
            // The layout every reader of patches relies on (C · P features, M's columns out · P, samples), checked
            // here once so that the message names the caller's argument whichever part reads them.
            PatchLayout.Positions(name, stats.Channels, m, patches, nameof(request));
        }

        if (request.KeepCount is int keep && (keep < 1 || keep > stats.Channels))
        {
            throw new ArgumentOutOfRangeException(nameof(request), keep, Guard.Prefix(name) + string.Create(CultureInfo.InvariantCulture,
                $"'KeepCount' must be between 1 and the layer's {stats.Channels} channels but is {keep}."));
        }

        if (request.Rank is int rank && (rank < 1 || rank > Math.Min(m.RowCount, m.ColumnCount)))
        {
            throw new ArgumentOutOfRangeException(nameof(request), rank, Guard.Prefix(name) + string.Create(CultureInfo.InvariantCulture,
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
