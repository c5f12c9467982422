using ScottPlot;

namespace Ldrf.Experiments;

/// <summary>Accuracy against the achieved FLOPs reduction, one line per method, the unpruned model as a reference line.</summary>
internal static class ResultPlot
{
    public static void Save(IReadOnlyList<ResultRecord> records, Func<ResultRecord, double?> accuracy, string title, string label, string path)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var lines = records
            .Where(r => r.Method != "unpruned" && r.FlopsRatio is not null && accuracy(r) is not null)
            .GroupBy(r => (r.Decomposition is null || r.Method != "ldrf" ? r.Method : $"{r.Method} ({r.Decomposition})") + (r.Allocation is null ? "" : $", {r.Allocation} widths"))
            .ToList();
        for (var i = 0; i < lines.Count; i++)
        {
            var points = lines[i].OrderBy(r => r.FlopsRatio).ToList();
            var scatter = plot.Add.Scatter(
                points.Select(r => r.FlopsRatio!.Value).ToArray(),
                points.Select(r => accuracy(r)!.Value * 100).ToArray(),
                palette.GetColor(i));
            scatter.LegendText = lines[i].Key;
            scatter.LineWidth = 2;
            scatter.MarkerSize = 7;
        }

        if (records.FirstOrDefault(r => r.Method == "unpruned")?.AccuracyBefore is double unpruned)
        {
            var line = plot.Add.HorizontalLine(unpruned * 100, 1, Colors.Gray, LinePattern.Dashed);
            line.LegendText = "unpruned";
        }

        plot.Title(title);
        plot.XLabel("FLOPs reduction (x)");
        plot.YLabel(label);
        plot.ShowLegend(Alignment.LowerLeft);
        plot.SavePng(path, 900, 600);
    }

    /// <summary>
    /// Test accuracy of the network being trained against the recovery's optimizer steps, one line per row of
    /// <paramref name="records"/> recovered with <paramref name="budget"/>, with the 90% mark.
    /// </summary>
    public static void SaveRecovery(IReadOnlyList<ResultRecord> records, (int Images, int Epochs) budget, string title, string path)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var rows = records
            .Select(r => (Record: r, Recovery: r.Recoveries?.FirstOrDefault(x => x.Images == budget.Images && x.Epochs == budget.Epochs)))
            .Where(x => x.Recovery is { Trajectory.Count: > 0 })
            .OrderByDescending(x => x.Recovery!.Accuracy)
            .ToList();
        for (var i = 0; i < rows.Count; i++)
        {
            var (r, recovery) = rows[i];
            var scatter = plot.Add.Scatter(
                recovery!.Trajectory.Select(p => (double)p.Step).ToArray(),
                recovery.Trajectory.Select(p => p.Accuracy * 100).ToArray(),
                palette.GetColor(i % palette.Colors.Length));
            scatter.LegendText = (r.Decomposition is null || r.Method != "ldrf" ? r.Method : $"{r.Method} ({r.Decomposition})") + (r.Allocation is null ? "" : $", {r.Allocation} widths");
            // Past ten lines the colours repeat, so the later lines are dashed.
            scatter.LinePattern = i < palette.Colors.Length ? LinePattern.Solid : LinePattern.Dashed;
            scatter.LineWidth = 2;
            scatter.MarkerSize = 4;
        }

        var mark = plot.Add.HorizontalLine(90, 1, Colors.Gray, LinePattern.Dotted);
        mark.LegendText = "90%";
        var first = rows.FirstOrDefault().Recovery;
        plot.Title(title + FormattableString.Invariant($": recovery over {budget.Images:N0} images, {budget.Epochs} epoch(s)"));
        plot.XLabel("optimizer steps");
        plot.YLabel(first is null ? "test accuracy (%)" : FormattableString.Invariant($"test accuracy on the first {first.TrajectoryImages:N0} test images (%)"));
        // The interesting range: from a little below 90% up; rows far below it would flatten everything else.
        var high = rows.Count == 0 ? 100 : Math.Max(91, rows.Max(x => x.Recovery!.Trajectory.Max(p => p.Accuracy)) * 100 + 0.5);
        plot.Axes.SetLimitsY(70, high);
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 900, 600);
    }

    /// <summary>
    /// The kept channels of every prunable layer, one line per target and allocation (the uniform widths
    /// from the `ldrf` rows), so that where each allocation spends the FLOPs budget shows at a glance.
    /// </summary>
    public static void SaveWidths(IReadOnlyList<ResultRecord> records, string title, string path)
    {
        var targets = records.Where(r => r.Allocation is not null).Select(r => r.TargetSpeedup).Distinct().Order().ToList();
        var rows = records
            .Where(r => r.Widths is { Count: > 0 } && r.FlopsRatio is not null && targets.Contains(r.TargetSpeedup) && (r.Allocation is not null || r.Method == "ldrf"))
            .GroupBy(r => (r.TargetSpeedup, Allocation: r.Allocation ?? "uniform"))
            .Select(g => g.First())
            .OrderBy(r => r.TargetSpeedup).ThenBy(r => r.Allocation ?? "")
            .ToList();
        var layers = rows.SelectMany(r => r.Widths!.Keys).Distinct().ToList();
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var allocations = rows.Select(r => r.Allocation ?? "uniform").Distinct().ToList();
        foreach (var r in rows)
        {
            // One colour per allocation, one line style per target.
            var scatter = plot.Add.Scatter(
                Enumerable.Range(0, layers.Count).Select(i => (double)i).ToArray(),
                layers.Select(l => r.Widths!.TryGetValue(l, out var w) ? w : double.NaN).ToArray(),
                palette.GetColor(allocations.IndexOf(r.Allocation ?? "uniform")));
            scatter.LegendText = $"{r.TargetSpeedup:0.##}x, {r.Allocation ?? "uniform"}";
            scatter.LinePattern = targets.IndexOf(r.TargetSpeedup) % 2 == 0 ? LinePattern.Solid : LinePattern.Dashed;
            scatter.LineWidth = 2;
            scatter.MarkerSize = 6;
        }

        // Layers by their last path segment when that is unique (conv1, ..., fc1), so the labels fit.
        var shortNames = layers.Select(l => l[(l.LastIndexOf('.') + 1)..]).ToList();
        var labels = shortNames.Distinct().Count() == layers.Count ? shortNames : layers;
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, layers.Count).Select(i => (double)i).ToArray(), [.. labels]);
        plot.Title(title + ": kept channels per layer");
        plot.YLabel("kept channels");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 900, 600);
    }
}
