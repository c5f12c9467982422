using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ldrf.Baselines;
using Ldrf.Onnx;
using Ldrf.TorchSharp.Pruning;
using ScottPlot;
using Spectre.Console;
using static TorchSharp.torch;

namespace Ldrf.Cli;

/// <summary>What <c>ldrf prune</c> was asked to do.</summary>
internal sealed record PruneSettings(
    string Model, double Target, string Calibration, string Out, string Method = "ldrf", int? Images = null, string Allocation = "uniform",
    int ChannelMultiple = NetworkPruningOptions.DefaultChannelMultiple, string? Report = null, string? Plot = null, string? PreprocessingFile = null,
    string? Size = null, int? Channels = null, string? Mean = null, string? Std = null, int BatchSize = 32, int Seed = 0, bool ResidualStreams = false);

/// <summary><c>ldrf prune</c>: imports the model, prunes it to the FLOPs target on the calibration images, writes the pruned ONNX file and optionally the report and the plot.</summary>
internal static class PruneCommand
{
    /// <summary>The methods, as the command line names them.</summary>
    public static readonly string[] Methods = ["ldrf", "channel-pruning", "thinet", "l1", "random"];

    /// <summary>The width allocations, as the command line names them.</summary>
    public static readonly string[] Allocations = ["uniform", "error-curves", "global-magnitude"];

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    public static int Run(PruneSettings s, IAnsiConsole console, bool live, CancellationToken cancellationToken)
    {
        using var outputs = new OutputFiles();
        var onnxTemp = outputs.Add(s.Out, "--out");
        var reportTemp = s.Report is null ? null : outputs.Add(s.Report, "--report");
        var plotTemp = s.Plot is null ? null : outputs.Add(s.Plot, "--plot");

        using var network = OnnxModel.Load(s.Model);
        var preprocessing = Calibration.IsTensorFile(s.Calibration) ? null
            : Preprocessing.Resolve(s.PreprocessingFile, s.Size, s.Channels, s.Mean, s.Std, OnnxRunner.TryImageShape(s.Model));
        using var images = Calibration.Load(s.Calibration, preprocessing, s.Images, cancellationToken);
        console.WriteLine($"{s.Model}: {images.shape[0]} calibration images {string.Join("x", images.shape.Skip(1))}" +
            (preprocessing is null ? " from the tensor file" : $" ({preprocessing})") +
            $", method {s.Method}, target {s.Target.ToString(CultureInfo.InvariantCulture)}x FLOPs, {s.Allocation} widths, multiples of {s.ChannelMultiple}{(s.ResidualStreams ? ", residual streams pruned" : "")}");

        var pruner = s.Method switch
        {
            "ldrf" => new TorchSharpPruner(),
            "channel-pruning" => new TorchSharpPruner(BaselinePruners.Create(BaselineKind.ChannelPruning)),
            "thinet" => new TorchSharpPruner(BaselinePruners.Create(BaselineKind.ThiNet)),
            "l1" => new TorchSharpPruner(BaselinePruners.Create(BaselineKind.L1Norm)),
            "random" => new TorchSharpPruner(BaselinePruners.Create(BaselineKind.RandomLeastSquares, new BaselineOptions { Seed = s.Seed })),
            _ => throw new UsageException($"--method must be one of {string.Join(", ", Methods)} but is '{s.Method}'."),
        };
        var options = new NetworkPruningOptions
        {
            TargetFlopsReduction = s.Target,
            ChannelMultiple = s.ChannelMultiple,
            Allocation = s.Allocation switch
            {
                "uniform" => WidthAllocationKind.Uniform,
                "error-curves" => WidthAllocationKind.ErrorCurves,
                "global-magnitude" => WidthAllocationKind.GlobalMagnitude,
                _ => throw new UsageException($"--allocation must be one of {string.Join(", ", Allocations)} but is '{s.Allocation}'."),
            },
            Seed = s.Seed,
            PruneResidualStreams = s.ResidualStreams,
            // ldrf compare measures latency in ONNX Runtime, where the pruned file will run.
            MeasureLatency = false,
        };

        var batches = Calibration.Batches(images, s.BatchSize);
        using var result = new ProgressDisplay(console, live).Run(progress => pruner.Prune(network, batches, options, progress, cancellationToken));
        var report = result.Report;

        // Everything is written under temporary names first; the files move into place together at the end.
        OnnxModel.Save(result.Network, onnxTemp, [.. images.shape.Skip(1)]);
        if (reportTemp is not null)
        {
            File.WriteAllText(reportTemp, JsonSerializer.Serialize(new ReportFile(s.Model, s.Method, s.Allocation, s.ChannelMultiple, s.ResidualStreams, preprocessing?.ToString(), report), Json));
        }

        if (plotTemp is not null)
        {
            SavePlot(report, Path.GetFileName(s.Model), plotTemp);
        }

        cancellationToken.ThrowIfCancellationRequested();
        outputs.Commit();

        WriteSummary(report, console);
        console.WriteLine($"wrote {s.Out}" + (s.Report is null ? "" : $", {s.Report}") + (s.Plot is null ? "" : $", {s.Plot}"));
        return ExitCodes.Success;
    }

    private static void WriteSummary(PruningReport report, IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("layer", "channels", "output error", "FLOPs", "parameters");
        foreach (var layer in report.Layers)
        {
            table.AddRow(
                Markup.Escape(layer.Path),
                $"{layer.ChannelsBefore} -> {layer.ChannelsAfter}",
                layer.RelativeOutputError is { } e ? e.ToString("F4", CultureInfo.InvariantCulture) : "-",
                $"{InspectCommand.Count(layer.FlopsBefore)} -> {InspectCommand.Count(layer.FlopsAfter)}",
                $"{InspectCommand.Count(layer.ParametersBefore)} -> {InspectCommand.Count(layer.ParametersAfter)}");
        }

        console.Write(table);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"FLOPs {InspectCommand.Count(report.FlopsBefore)} -> {InspectCommand.Count(report.FlopsAfter)} ({report.FlopsReduction:F2}x), parameters {InspectCommand.Count(report.ParametersBefore)} -> {InspectCommand.Count(report.ParametersAfter)}, held-out relative output error {report.HeldOutOutputError:F4} on {report.HeldOutImages} images"));
        foreach (var warning in report.Warnings)
        {
            console.WriteLine("warning: " + warning);
        }
    }

    /// <summary>Channels before and after per pruned layer (bars) and each layer's relative output error (points, right axis).</summary>
    internal static void SavePlot(PruningReport report, string title, string path)
    {
        var layers = report.Layers;
        var positions = Enumerable.Range(0, layers.Count).Select(i => (double)i).ToArray();
        var plot = new Plot();
        var before = plot.Add.Bars(positions, [.. layers.Select(l => (double)l.ChannelsBefore)]);
        before.Color = Colors.LightGray;
        before.LegendText = "channels before";
        var after = plot.Add.Bars(positions, [.. layers.Select(l => (double)l.ChannelsAfter)]);
        after.Color = Colors.SteelBlue;
        after.LegendText = "channels after";
        var errors = layers.Select((l, i) => (i, l.RelativeOutputError)).Where(p => p.RelativeOutputError is not null).ToList();
        if (errors.Count > 0)
        {
            var scatter = plot.Add.Scatter(errors.Select(p => (double)p.i).ToArray(), errors.Select(p => p.RelativeOutputError!.Value).ToArray(), Colors.OrangeRed);
            scatter.Axes.YAxis = plot.Axes.Right;
            scatter.LegendText = "relative output error";
            scatter.MarkerSize = 8;
            scatter.LineWidth = 0;
            plot.Axes.Right.Label.Text = "relative output error";
        }

        plot.Axes.Bottom.SetTicks(positions, [.. layers.Select(l => l.Path)]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 120;
        plot.Axes.Margins(bottom: 0);
        plot.Title(string.Create(CultureInfo.InvariantCulture, $"{title}: {report.FlopsReduction:F2}x fewer FLOPs"));
        plot.YLabel("channels");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, Math.Max(800, 40 * layers.Count), 600);
    }

    /// <summary>The report file: what was run and the library's report.</summary>
    private sealed record ReportFile(string Model, string Method, string Allocation, int ChannelMultiple, bool ResidualStreams, string? Preprocessing, PruningReport Report);
}
