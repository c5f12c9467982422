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
            .GroupBy(r => r.Decomposition is null || r.Method != "ldrf" ? r.Method : $"{r.Method} ({r.Decomposition})")
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
}
