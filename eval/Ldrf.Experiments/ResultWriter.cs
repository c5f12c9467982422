using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ldrf.Experiments;

/// <summary>
/// Writes the harness's results: the JSON records, the plots, and docs/results.md generated from whatever result
/// files the output folder holds (so the markdown is never edited by hand).
/// </summary>
internal static class ResultWriter
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static void Write(ExperimentSettings settings, RunInfo info, IReadOnlyList<ResultRecord> records)
    {
        var folder = settings.OutputFolder;
        var name = settings.Model.ResultsName;
        info = WithEarlierCommands(settings, folder, name, info);
        File.WriteAllText(Path.Combine(folder, name + ".json"), JsonSerializer.Serialize(records, s_json));
        File.WriteAllText(Path.Combine(folder, name + ".meta.json"), JsonSerializer.Serialize(info, s_json));
        SavePlots(settings.Model, records, folder);
        WriteMarkdown(settings);
    }

    /// <summary>--regenerate: every model's plots from its records, then the markdown.</summary>
    public static void Regenerate(ExperimentSettings settings)
    {
        foreach (var model in ExperimentModel.All)
        {
            if (Read<List<ResultRecord>>(settings.OutputFolder, model.ResultsName + ".json") is { } records)
            {
                SavePlots(model, records, settings.OutputFolder);
            }
        }

        ImageNetResNet18Results.SavePlots(settings.OutputFolder);
        WriteMarkdown(settings);
    }

    private static void SavePlots(ExperimentModel model, IReadOnlyList<ResultRecord> records, string folder)
    {
        var name = model.ResultsName;
        var title = model.Title + " on Fashion-MNIST";
        ResultPlot.Save(records, r => r.AccuracyBefore, title, "test accuracy before fine-tuning (%)", Path.Combine(folder, name + ".png"));
        ResultPlot.Save(records, r => r.AccuracyAfter, title, "test accuracy after the short fine-tune (%)", Path.Combine(folder, name + "-fine-tuned.png"));
        if (records.Any(r => r.Allocation is not null))
        {
            ResultPlot.SaveWidths(records, title, Path.Combine(folder, name + "-widths.png"));
        }

        if (RecoveryBudgets(records) is [var budget, ..])
        {
            foreach (var target in records.Where(r => r.Recoveries is { Count: > 0 }).Select(r => r.TargetSpeedup).Distinct())
            {
                ResultPlot.SaveRecovery(records.Where(r => r.TargetSpeedup == target).ToList(), budget, string.Create(CultureInfo.InvariantCulture, $"{title}, {target:0.##}x"),
                    Path.Combine(folder, RecoveryPlotName(model, target)));
            }
        }
    }

    public static void WriteMemory(ExperimentSettings settings, RunInfo info, IReadOnlyList<MemoryRecord> records)
    {
        var folder = settings.OutputFolder;
        File.WriteAllText(Path.Combine(folder, ExperimentRunner.MemoryName + ".json"), JsonSerializer.Serialize(records, s_json));
        File.WriteAllText(Path.Combine(folder, ExperimentRunner.MemoryName + ".meta.json"), JsonSerializer.Serialize(info, s_json));
        WriteMarkdown(settings);
    }

    public static void WriteCost(ExperimentSettings settings, RunInfo info, IReadOnlyList<CostRecord> records)
    {
        var folder = settings.OutputFolder;
        info = WithEarlierCommands(settings, folder, CostRunner.ResultsName, info);
        File.WriteAllText(Path.Combine(folder, CostRunner.ResultsName + ".json"), JsonSerializer.Serialize(records, s_json));
        File.WriteAllText(Path.Combine(folder, CostRunner.ResultsName + ".meta.json"), JsonSerializer.Serialize(info, s_json));
        WriteMarkdown(settings);
    }

    public static void WriteConvolutionWidths(ExperimentSettings settings, RunInfo info, IReadOnlyList<ConvolutionWidthRecord> records)
    {
        var folder = settings.OutputFolder;
        var name = ConvolutionWidthRunner.ResultsName;
        info = WithEarlierCommands(settings, folder, name, info);
        var kept = settings.Append ? (Read<List<ConvolutionWidthRecord>>(folder, name + ".json") ?? []).Where(r => records.All(n => n.Isa != r.Isa)) : [];
        File.WriteAllText(Path.Combine(folder, name + ".json"), JsonSerializer.Serialize(kept.Concat(records).ToList(), s_json));
        File.WriteAllText(Path.Combine(folder, name + ".meta.json"), JsonSerializer.Serialize(info, s_json));
        WriteMarkdown(settings);
    }

    public static IReadOnlyList<CostRecord> ReadCost(string folder) => Read<List<CostRecord>>(folder, CostRunner.ResultsName + ".json") ?? [];

    public static IReadOnlyList<ResultRecord> ReadResults(string folder, ExperimentModel? model = null) =>
        JsonSerializer.Deserialize<List<ResultRecord>>(File.ReadAllText(Path.Combine(folder, (model ?? ExperimentModel.Vgg).ResultsName + ".json")), s_json) ?? [];

    // With --append the records come from several runs: keep every command that produced some of them (once each,
    // since this is written after every record). Records from other data are refused: a machine without the full
    // Fashion-MNIST falls back to the shipped subset, and one table must not mix the two.
    private static RunInfo WithEarlierCommands(ExperimentSettings settings, string folder, string name, RunInfo info)
    {
        if (!settings.Append || Read<RunInfo>(folder, name + ".meta.json") is not { } earlier)
        {
            return info;
        }

        if (earlier.Data != info.Data)
        {
            throw new InvalidOperationException(
                $"--append would add records measured on '{info.Data}' to {Path.Combine(folder, name + ".json")}, whose records were measured on '{earlier.Data}'. " +
                "Run on the same data (the full Fashion-MNIST: apt-get install dataset-fashion-mnist, or --data DIR) or without --append.");
        }

        return info with
        {
            Command = earlier.Command.Contains(info.Command, StringComparison.Ordinal) ? earlier.Command : earlier.Command + "\n    " + info.Command,
        };
    }

    private static T? Read<T>(string folder, string name)
        where T : class
    {
        var path = Path.Combine(folder, name);
        return File.Exists(path) ? JsonSerializer.Deserialize<T>(File.ReadAllText(path), s_json) : null;
    }

    public static void WriteMarkdown(ExperimentSettings settings)
    {
        if (settings.MarkdownPath is not string markdownPath)
        {
            return;
        }

        var folder = settings.OutputFolder;
        var relative = Path.GetRelativePath(Path.GetDirectoryName(Path.GetFullPath(markdownPath))!, Path.GetFullPath(folder)).Replace('\\', '/');
        var md = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        md.AppendLine("# Results on Fashion-MNIST");
        md.AppendLine();
        md.AppendLine("Generated by the experiment harness (`eval/Ldrf.Experiments`) from the JSON files beside it; do not edit by hand.");
        AppendModel(md, settings, ExperimentModel.Vgg, relative, markdownPath);
        var memory = Read<List<MemoryRecord>>(folder, ExperimentRunner.MemoryName + ".json");
        var memoryInfo = Read<RunInfo>(folder, ExperimentRunner.MemoryName + ".meta.json");
        if (memory is not null && memoryInfo is not null)
        {
            md.AppendLine();
            md.AppendLine("## Calibration memory");
            md.AppendLine();
            AppendInfo(md, memoryInfo, relative + "/" + ExperimentRunner.MemoryName + ".json");
            md.AppendLine("LDRF (weight SVD, channel recomposition) prunes the model with more and more calibration images. The statistics are streamed, so the");
            md.AppendLine("peak resident memory (native libtorch buffers included; Linux VmHWM, reset before each run) should not grow with the count.");
            md.AppendLine();
            md.AppendLine("| calibration images | resident at start | peak while pruning | growth | time |");
            md.AppendLine("|---|---|---|---|---|");
            foreach (var m in memory)
            {
                md.AppendLine(c, $"| {m.CalibrationImages:N0} | {m.ResidentBeforeMegabytes:F0} MB | {m.PeakResidentMegabytes:F0} MB | {m.PeakGrowthMegabytes:F0} MB | {m.Seconds:F0} s |");
            }
        }

        // Further models come after the VGG's sections, so those stay as they were.
        foreach (var model in ExperimentModel.All.Where(m => m != ExperimentModel.Vgg))
        {
            AppendModel(md, settings, model, relative, markdownPath);
        }

        ImageNetResNet18Results.Append(md, folder, relative, settings.ReadmePath, markdownPath);
        AppendCost(md, folder, relative);
        AppendConvolutionWidths(md, folder, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(markdownPath))!);
        File.WriteAllText(markdownPath, md.ToString());
    }

    private static void AppendModel(StringBuilder md, ExperimentSettings settings, ExperimentModel model, string relative, string markdownPath)
    {
        var folder = settings.OutputFolder;
        var c = CultureInfo.InvariantCulture;
        var name = model.ResultsName;
        var records = Read<List<ResultRecord>>(folder, name + ".json");
        var info = Read<RunInfo>(folder, name + ".meta.json");
        if (records is not null && info is not null)
        {
            var isVgg = model == ExperimentModel.Vgg;
            md.AppendLine();
            // The VGG's heading predates the other models and is linked to; it stays as it was.
            md.AppendLine(isVgg ? "## Accuracy, FLOPs and latency by method" : $"## {model.Title}: accuracy, FLOPs and latency by method");
            md.AppendLine();
            if (!isVgg)
            {
                AppendPrunedLayers(md, model, records);
            }

            AppendInfo(md, info, relative + "/" + name + ".json");
            md.AppendLine(c, $"Test set: {info.TestImages} images. Accuracies are top-1 on the test images; ratios are original / pruned.");
            md.AppendLine("FLOPs and parameter ratios are exact counts; latency ratios come from timings of a batch of calibration images on a");
            md.AppendLine("shared, often fully loaded machine and are only indicative (the benchmarks, not this table, are where speed is measured).");
            md.AppendLine("The output error is the pruner's own check: the relative error of the pruned network's logits against the original's");
            md.AppendLine("on the calibration images it held out of the statistics (before fine-tuning).");
            md.AppendLine("Rows named `ldrf-…` other than `ldrf` are ablations (another recomposition or selection rule), and");
            md.AppendLine("`ldrf-capacity-bounded` uses LDRF's own capacity-bounded widths instead of the shared ones.");
            md.AppendLine("Kept widths are multiples of 16 channels, the library's default since libtorch's oneDNN was found to compute other");
            md.AppendLine("widths wrong on this CPU (see libtorch's CPU convolutions by input width, below). Against the unrounded widths of the runs");
            md.AppendLine("before that change (this file's history), LDRF's margins before fine-tuning shrank; targets the rounded widths cannot");
            md.AppendLine("reach are note rows.");
            var recovery = records.Any(r => r.Recoveries is { Count: > 0 });
            if (recovery)
            {
                md.AppendLine("Accuracy after recovery (the library's `RecoveryTrainer` on the network as pruned) is in its own section below.");
            }

            md.AppendLine();
            var summary = new StringBuilder();
            AppendSummary(summary, records);
            md.Append(summary);
            if (isVgg)
            {
                // The README headline quotes the VGG.
                UpdateReadmeRegion(settings.ReadmePath, "results-headline", summary.ToString(),
                    "Accuracy of the pruned FashionMnistVgg on the Fashion-MNIST test set before any fine-tuning, same widths for every method", markdownPath);
            }

            // A widths column only for results with allocation rows (--methods ldrf-error-curves,...), likewise.
            var allocation = records.Any(r => r.Allocation is not null);
            if (allocation)
            {
                md.AppendLine("The widths column says how each row's per-layer widths were chosen: `uniform` (the shared widths: the same fraction");
                md.AppendLine("of every layer), `error-curves` (LDRF's width allocation from each layer's error curve, `WidthAllocationKind.ErrorCurves`;");
                md.AppendLine("the `channel-pruning` row with these widths measures the allocation apart from LDRF's reconstruction) or");
                md.AppendLine("`global-magnitude` (one global ranking of all channels by filter magnitude, as global magnitude pruning chooses them);");
                md.AppendLine("`error-curves-propagated` recomputes each layer's curve on the pruned-so-far network when its turn comes and");
                md.AppendLine("re-allocates the rest (the one-pass curves see only the original network); `output-curves` replaces each layer's");
                md.AppendLine("curve by the squared relative output error of the network with that layer alone pruned, measured at every allowed");
                md.AppendLine("width, and `output-scaled-curves` scales each layer's own curve to the output error measured at its uniform width");
                md.AppendLine("(both put the layers on the output's scale instead of weighing them alike).");
                md.AppendLine("The headline compares uniform rows only; the widths each allocation chose are plotted below the table.");
                md.AppendLine();
            }

            md.AppendLine(c, $"| target | method | decomposition |{(allocation ? " widths |" : "")} FLOPs ratio | params ratio | output error | accuracy before fine-tune | accuracy after fine-tune | latency ratio | pruning time | note |");
            md.AppendLine(c, $"|---|---|---|{(allocation ? "---|" : "")}---|---|---|---|---|---|---|---|");
            foreach (var r in records.OrderBy(r => r.TargetSpeedup).ThenByDescending(r => r.AccuracyBefore ?? -1))
            {
                var widthsCell = !allocation ? "" : $" {WidthsName(r)} |";
                md.AppendLine(c,
                    $"| {r.TargetSpeedup:0.##}x | {r.Method} | {r.Decomposition ?? "-"} |{widthsCell} {Ratio(r.FlopsRatio)} | {Ratio(r.ParametersRatio)} | {(r.HeldOutOutputError is double e ? e.ToString("F3", c) : "-")} | {Percent(r.AccuracyBefore)} | {Percent(r.AccuracyAfter)} | {Ratio(r.LatencyRatio)} | {(r.PruneSeconds is double s ? s.ToString("F0", c) + " s" : "-")} | {Escape(r.Note)} |");
            }

            md.AppendLine();
            md.AppendLine(c, $"![accuracy before fine-tuning against FLOPs reduction]({relative}/{name}.png)");
            md.AppendLine();
            md.AppendLine(c, $"![accuracy after the short fine-tune against FLOPs reduction]({relative}/{name}-fine-tuned.png)");
            if (allocation)
            {
                md.AppendLine();
                md.AppendLine(c, $"![kept channels of each prunable layer under each width allocation]({relative}/{name}-widths.png)");
                AppendAllocationGoals(md, model, records);
            }

            if (recovery)
            {
                AppendRecovery(md, model, records, relative);
            }
        }
    }

    private static string WidthsName(ResultRecord r) => r.Method == "unpruned" ? "-" : r.Method == "ldrf-capacity-bounded" ? "capacity-bounded" : r.Allocation ?? "uniform";

    /// <summary>The recovery budgets of <paramref name="records"/>, most images first.</summary>
    public static IReadOnlyList<(int Images, int Epochs)> RecoveryBudgets(IEnumerable<ResultRecord> records) =>
        [.. records.SelectMany(r => r.Recoveries ?? []).Select(b => (b.Images, b.Epochs)).Distinct().OrderByDescending(b => b.Images).ThenByDescending(b => b.Epochs)];

    // A budget by its size, so that a table with one budget cannot be read as another's.
    private static string BudgetName((int Images, int Epochs) budget) =>
        string.Create(CultureInfo.InvariantCulture, $"{budget.Images:N0} images{(budget.Epochs == 1 ? "" : $" x {budget.Epochs} epochs")}");

    /// <summary>The file name of the plot of the accuracy along recovery at <paramref name="target"/>.</summary>
    public static string RecoveryPlotName(ExperimentModel model, double? target) => string.Create(CultureInfo.InvariantCulture, $"{model.ResultsName}-recovery-{target:0.##}x.png");

    // Recovery from the network as pruned, one set of columns per budget, then the goals against the records.
    private static void AppendRecovery(StringBuilder md, ExperimentModel model, IReadOnlyList<ResultRecord> records, string relative)
    {
        var c = CultureInfo.InvariantCulture;
        var budgets = RecoveryBudgets(records);
        var recovered = records.Where(r => r.Recoveries is { Count: > 0 }).ToList();
        var sample = recovered.SelectMany(r => r.Recoveries!).First();
        md.AppendLine();
        md.AppendLine(c, $"## {model.Title}: accuracy after recovery");
        md.AppendLine();
        md.AppendLine("The library's `RecoveryTrainer` distills the original into the pruned network without labels (its defaults but the");
        md.AppendLine("epochs below: Adam, lr 1e-4, cosine schedule, temperature 4, batch 64; a tenth of the images held out, the weights");
        md.AppendLine("with the best held-out distillation loss kept), from the network as pruned (not after the fine-tune), with the same");
        md.AppendLine(c, $"budget for every method. The budgets: {string.Join(" and ", budgets.Select(b => string.Create(c, $"{b.Epochs} epoch(s) over {b.Images:N0} images")))} (the first of the training set).");
        md.AppendLine();
        md.AppendLine("Accuracy after recovery is on all the test images of the run. Time is the recovery's wall-clock time on this machine");
        md.AppendLine("(the original's outputs, training and held-out evaluations; one run at a time on a shared machine), without the");
        md.AppendLine(c, $"measurements of the steps column. Steps to 90%: the first optimizer step at which the network being trained scored");
        md.AppendLine(c, $"at least 90% on the first {sample.TrajectoryImages:N0} test images, measured before the first step, every {sample.TrajectoryEvery} steps and after the last");
        md.AppendLine("(0: already there as pruned; \"not reached\": not within the budget); \"-\": the budget was not run for that row.");
        // The first test images are not a uniform sample of the set: how far the step-0 measurement sits from the
        // accuracy as pruned on every test image says how far the steps column can be trusted.
        var offsets = recovered.SelectMany(r => r.Recoveries!.Where(x => x.Trajectory is [{ Step: 0 }, ..]).Select(x => (x.Trajectory[0].Accuracy - r.AccuracyBefore!.Value) * 100))
            .Order().ToList();
        if (offsets.Count > 0)
        {
            md.AppendLine(c, $"Before the first step the networks scored {offsets[0]:+0.00;-0.00} to {offsets[^1]:+0.00;-0.00} points (median {offsets[offsets.Count / 2]:+0.00;-0.00}) on these");
            md.AppendLine("test images against their accuracy as pruned on all of them, so a network counted at 90% here may be below it on the whole set.");
        }

        md.AppendLine();
        // Targets at which every method's row is a note (an unreachable target): said here, since they have no recovery rows.
        var unreachable = records.Where(r => r.Method != "unpruned").GroupBy(r => r.TargetSpeedup)
            .Where(g => g.All(r => r.AccuracyBefore is null && r.Note is not null)).Select(g => g.Key).Order().ToList();
        if (unreachable.Count > 0)
        {
            var reached = recovered.Select(r => r.TargetSpeedup).Distinct().Order().Select(t => string.Create(c, $"{t:0.##}x"));
            md.AppendLine(c, $"No method reaches {string.Join(", ", unreachable.Select(t => string.Create(c, $"{t:0.##}x")))} on this network (the main table's note rows give the pruner's reason),");
            md.AppendLine(c, $"so the recovery rows are at the targets reached: {string.Join(", ", reached)}.");
            md.AppendLine();
        }

        AppendGoals(md, model, records, budgets);
        md.AppendLine("| target | method | decomposition | widths | accuracy as pruned |" + string.Concat(Enumerable.Range(0, budgets.Count).Select(i =>
            $" after recovery, {BudgetName(budgets[i])} | steps to 90%, {BudgetName(budgets[i])} | steps and time, {BudgetName(budgets[i])} |")));
        md.AppendLine("|---|---|---|---|---|" + string.Concat(budgets.Select(_ => "---|---|---|")));
        foreach (var r in recovered.OrderBy(r => r.TargetSpeedup).ThenByDescending(r => Recovery(r, budgets[0])?.Accuracy ?? -1).ThenByDescending(r => r.AccuracyBefore))
        {
            var cells = budgets.Select(b => Recovery(r, b) is { } x
                ? string.Create(c, $" {Percent(x.Accuracy)} | {(x.StepsTo(0.9) is int n ? n.ToString(c) : "not reached")} | {x.Steps} in {Seconds(x.Seconds)} |")
                : " - | - | - |");
            md.AppendLine(c, $"| {r.TargetSpeedup:0.##}x | {r.Method} | {r.Decomposition ?? "-"} | {WidthsName(r)} | {Percent(r.AccuracyBefore)} |{string.Concat(cells)}");
        }

        foreach (var target in recovered.Select(r => r.TargetSpeedup).Distinct().Order())
        {
            md.AppendLine();
            md.AppendLine(c, $"![test accuracy along recovery over {BudgetName(budgets[0])} at {target:0.##}x]({relative}/{RecoveryPlotName(model, target)})");
        }
    }

    private static RecoveryRecord? Recovery(ResultRecord r, (int Images, int Epochs) budget) =>
        r.Recoveries?.FirstOrDefault(x => x.Images == budget.Images && x.Epochs == budget.Epochs);

    // The goals of the recovery issue, against the records after the largest budget: the best LDRF row (any embedding and widths)
    // and, for comparison, the best baseline; a target no method reached is reported with the pruner's reason.
    private static void AppendGoals(StringBuilder md, ExperimentModel model, IReadOnlyList<ResultRecord> records, IReadOnlyList<(int Images, int Epochs)> budgets)
    {
        if (model.RecoveryGoals.Count == 0 || records.FirstOrDefault(r => r.Method == "unpruned")?.AccuracyBefore is not double unpruned)
        {
            return;
        }

        var c = CultureInfo.InvariantCulture;
        md.AppendLine(c, $"Goals after recovery over {BudgetName(budgets[0])}, against the unpruned {Percent(unpruned)} (computed from the records):");
        md.AppendLine();
        foreach (var (target, points) in model.RecoveryGoals)
        {
            var goal = string.Create(c, $"**{target:0.##}x within {points:0.0#} points of the unpruned {Percent(unpruned)}**");
            var atTarget = records.Where(r => r.TargetSpeedup == target).ToList();
            string Row(ResultRecord r) => string.Create(c, $"{(r.Method == "ldrf" ? r.Decomposition : r.Method)}, {WidthsName(r)} widths");
            var ldrf = atTarget.Where(r => r.Method == "ldrf" && Recovery(r, budgets[0]) is not null).MaxBy(r => Recovery(r, budgets[0])!.Accuracy);
            if (ldrf is null)
            {
                // The shared uniform widths' reason first: the allocation rows' notes speak of their own allocation.
                var reason = atTarget.Where(r => r.Method == "ldrf" && r.Note is not null).OrderBy(r => r.Allocation is not null).FirstOrDefault()?.Note;
                md.AppendLine(c, $"- {goal}: {(reason is null ? "not run" : "unreachable on this network: " + Escape(reason))}");
                continue;
            }

            var accuracy = Recovery(ldrf, budgets[0])!.Accuracy;
            var gap = (unpruned - accuracy) * 100;
            var baseline = atTarget.Where(r => !r.Method.StartsWith("ldrf", StringComparison.Ordinal) && Recovery(r, budgets[0]) is not null)
                .MaxBy(r => Recovery(r, budgets[0])!.Accuracy);
            md.AppendLine(c,
                $"- {goal}: best LDRF ({Row(ldrf)}) {Percent(accuracy)}, {Math.Abs(gap):F2} points {(gap >= 0 ? "below" : "above")}: **{(gap <= points ? "met" : "not met")}**{(baseline is null ? "" : $"; best baseline ({Row(baseline)}) {Percent(Recovery(baseline, budgets[0])!.Accuracy)}")}.");
        }

        md.AppendLine();
    }

    // The width-allocation goals (before fine-tuning): at each target, the best LDRF row with allocated widths against
    // the goal and against LDRF's uniform widths; a target no allocation reached is reported with the pruner's reason.
    private static void AppendAllocationGoals(StringBuilder md, ExperimentModel model, IReadOnlyList<ResultRecord> records)
    {
        if (model.AllocationGoals.Count == 0)
        {
            return;
        }

        var c = CultureInfo.InvariantCulture;
        md.AppendLine();
        md.AppendLine("Goals of the width allocation, accuracy before fine-tuning (computed from the records):");
        md.AppendLine();
        foreach (var (target, goal) in model.AllocationGoals)
        {
            var line = string.Create(c, $"**{target:0.##}x at {Percent(goal)} or more**");
            var atTarget = records.Where(r => r.TargetSpeedup == target && r.Method == "ldrf").ToList();
            var allocated = atTarget.Where(r => r.Allocation is not null && r.AccuracyBefore is not null).MaxBy(r => r.AccuracyBefore!.Value);
            var uniform = atTarget.Where(r => r.Allocation is null && r.AccuracyBefore is not null).MaxBy(r => r.AccuracyBefore!.Value);
            if (allocated is null)
            {
                // An allocation row's own reason first, else the uniform widths' (a target no widths reach is not run again).
                var reason = atTarget.Where(r => r.Note is not null).OrderBy(r => r.Allocation is null).FirstOrDefault()?.Note;
                md.AppendLine(c, $"- {line}: {(reason is null ? "not run" : "unreachable on this network: " + Escape(reason))}");
                continue;
            }

            var accuracy = allocated.AccuracyBefore!.Value;
            md.AppendLine(c,
                $"- {line}: best allocation ({allocated.Decomposition}, {WidthsName(allocated)} widths) {Percent(accuracy)}: **{(accuracy >= goal ? "met" : "not met")}**{(uniform is null ? "" : $"; LDRF with uniform widths ({uniform.Decomposition}) {Percent(uniform.AccuracyBefore)}, {(accuracy - uniform.AccuracyBefore!.Value) * 100:+0.00;-0.00} points for the allocation")}.");
        }
    }

    // The ImageNet-scale cost run: one summary row per network and target, then each network's layers.
    private static void AppendCost(StringBuilder md, string folder, string relative)
    {
        var records = Read<List<CostRecord>>(folder, CostRunner.ResultsName + ".json");
        var info = Read<RunInfo>(folder, CostRunner.ResultsName + ".meta.json");
        if (records is null || info is null)
        {
            return;
        }

        var c = CultureInfo.InvariantCulture;
        md.AppendLine();
        md.AppendLine(c, $"## Pruning cost at ImageNet scale: VGG-16 and ResNet-50 at {ImageNetScaleModel.Resolution} x {ImageNetScaleModel.Resolution}");
        md.AppendLine();
        AppendInfo(md, info, relative + "/" + CostRunner.ResultsName + ".json");
        md.AppendLine("What one LDRF run costs on this machine for torchvision's architectures (`TorchVisionModels`). Times are wall-clock seconds");
        md.AppendLine("of one run on a shared machine. Calibration runs the images through the original and the pruned-so-far network and");
        md.AppendLine("accumulates the layer statistics; decomposition, selection and recomposition are the core's, per layer; `other` is the");
        md.AppendLine("rest of the `Prune` call (reading and folding the network, building the pruned-so-far network before each layer,");
        md.AppendLine("FLOPs counts). The floor is one forward pass of the original and one of the pruned network over the same calibration");
        md.AppendLine("batches, timed right after pruning in the same process without a warm-up pass (each network's first batch includes");
        md.AppendLine("libtorch's kernel set-up, so the floor is a little high); the goal is a total of at most 3x the floor. Peak memory is the");
        md.AppendLine("process's peak resident set during the `Prune` call (Linux VmHWM, reset before the network is built; the latencies");
        md.AppendLine("are measured afterwards), with the caller's network, the calibration cache and the statistics; in brackets the");
        md.AppendLine("resident set when the network was about to be built (data loaded, memory of earlier runs not returned). Latency: the");
        md.AppendLine("original over the pruned network's median time, the two timed alternately, with the quartiles of each in the last");
        md.AppendLine("columns; the goal is a ratio of at least 0.9x the FLOPs ratio. ONNX Runtime: both networks written with `OnnxModel.Save`");
        md.AppendLine("and run in ONNX Runtime with default session options, timed the same way (\"-\": not measured in that run).");
        md.AppendLine();
        md.AppendLine("| network | target | FLOPs ratio | params ratio | calibration images | total | floor | total / floor | calibration | decomposition | selection | recomposition | other | peak memory (at start) | latency ratio, batch 1 | latency ratio, batch 32 | batch 1: original, pruned (quartiles) | batch 32: original, pruned (quartiles) | ONNX Runtime latency ratio, batch 1 | ONNX Runtime latency ratio, batch 32 |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in records)
        {
            md.AppendLine(c,
                $"| {r.Model} | {r.TargetSpeedup:0.##}x | {Ratio(r.FlopsRatio)} | {Ratio(r.ParametersRatio)} | {r.CalibrationImages} | {Seconds(r.TotalSeconds)} | {Seconds(r.FloorSeconds)} | {(r.FloorSeconds > 0 ? Ratio(r.TotalSeconds / r.FloorSeconds) : "-")} | {Seconds(r.CalibrationSeconds)} | {Seconds(r.DecompositionSeconds)} | {Seconds(r.SelectionSeconds)} | {Seconds(r.RecompositionSeconds)} | {Seconds(r.OtherSeconds)} | {r.PeakResidentMegabytes:F0} MB ({r.ResidentBeforeMegabytes:F0} MB) | {Ratio(r.Batch1?.Ratio)} | {Ratio(r.Batch32?.Ratio)} | {Quartiles(r.Batch1)} | {Quartiles(r.Batch32)} | {Ratio(r.OrtBatch1?.Ratio)} | {Ratio(r.OrtBatch32?.Ratio)} |");
        }

        static string Quartiles(LatencyRecord? l) => l is null ? "-" : string.Create(CultureInfo.InvariantCulture,
            $"{l.BeforeMilliseconds:F0} ms ({l.BeforeLower:F0}-{l.BeforeUpper:F0}), {l.AfterMilliseconds:F0} ms ({l.AfterLower:F0}-{l.AfterUpper:F0})");

        foreach (var r in records)
        {
            md.AppendLine();
            md.AppendLine(c, $"### {r.Model} to {r.TargetSpeedup:0.##}x, per pruned layer");
            md.AppendLine();
            md.AppendLine("| layer | channels | calibration | decomposition | selection | recomposition | embedding error |");
            md.AppendLine("|---|---|---|---|---|---|---|");
            foreach (var l in r.Layers)
            {
                md.AppendLine(c,
                    $"| `{l.Path}` | {l.ChannelsBefore} -> {l.ChannelsAfter} | {Seconds(l.CalibrationSeconds)} | {Seconds(l.DecompositionSeconds)} | {Seconds(l.SelectionSeconds)} | {Seconds(l.RecompositionSeconds)} | {(l.RelativeEmbeddingError is double e ? e.ToString("F3", c) : "-")} |");
            }

            AppendLayerLatencies(md, r);
        }
    }

    // Where the realized speed-up goes: each Conv2d and Linear timed alone, beside its FLOPs ratio, and the rest of the pass.
    private static void AppendLayerLatencies(StringBuilder md, CostRecord r)
    {
        if (r.LayerLatencies is not { Count: > 0 } layers)
        {
            return;
        }

        var c = CultureInfo.InvariantCulture;
        var batches = layers.Select(l => l.Batch).Distinct().Order().ToList();
        md.AppendLine();
        md.AppendLine(c, $"### {r.Model} to {r.TargetSpeedup:0.##}x, latency per layer");
        md.AppendLine();
        md.AppendLine("Each Conv2d and Linear of the original and of the pruned network timed alone on its own input (captured from one pass");
        md.AppendLine("over the same images), the two alternately, median of the timed rounds; milliseconds per batch. `rest` is the whole");
        md.AppendLine("pass's median (the table above) minus the layers' sum: activations, pooling, batch norms (the pruned network has them");
        md.AppendLine("folded into its convolutions), additions and the memory traffic between layers; negative when the layers timed alone");
        md.AppendLine("add up to more than the whole pass, which is the timings' noise (the layers' and the whole pass's are separate runs).");
        md.AppendLine();
        foreach (var batch in batches)
        {
            var rows = layers.Where(l => l.Batch == batch).ToList();
            var whole = batch == 1 ? r.Batch1 : r.Batch32;
            var (before, after) = (rows.Sum(l => l.BeforeMilliseconds), rows.Sum(l => l.AfterMilliseconds));
            var flops = (double)rows.Sum(l => l.FlopsBefore) / rows.Sum(l => l.FlopsAfter);
            md.AppendLine(c, $"- batch {batch}: the layers take {before:F1} ms of the original's {Milliseconds(whole?.BeforeMilliseconds)} and {after:F1} ms of the pruned network's {Milliseconds(whole?.AfterMilliseconds)}; their summed latency ratio is {Ratio(before / after)} against a FLOPs ratio of {Ratio(flops)}{(whole is null ? "" : string.Create(c, $"; rest {whole.BeforeMilliseconds - before:F1} ms -> {whole.AfterMilliseconds - after:F1} ms"))}.");
        }

        md.AppendLine();
        md.AppendLine("| layer | type | FLOPs ratio | " + string.Join(" | ", batches.Select(b => $"batch {b}: original, pruned | latency ratio, batch {b}")) + " |");
        md.AppendLine("|---|---|---|" + string.Concat(batches.Select(_ => "---|---|")));
        foreach (var path in layers.Select(l => l.Path).Distinct())
        {
            var first = layers.First(l => l.Path == path);
            var cells = batches.Select(b => layers.FirstOrDefault(l => l.Path == path && l.Batch == b) is { } l
                ? string.Create(c, $"{l.BeforeMilliseconds:F2} ms, {l.AfterMilliseconds:F2} ms | {Ratio(l.Ratio)}")
                : "- | -");
            md.AppendLine(c, $"| `{path}` | {first.Kind} | {Ratio(first.FlopsRatio)} | {string.Join(" | ", cells)} |");
        }

        static string Milliseconds(double? ms) => ms is double v ? string.Create(CultureInfo.InvariantCulture, $"{v:F1} ms") : "-";
    }

    // libtorch's float32 CPU convolution by input width: one column per ONEDNN_MAX_CPU_ISA the harness ran with.
    private static void AppendConvolutionWidths(StringBuilder md, string folder, string relative)
    {
        var name = ConvolutionWidthRunner.ResultsName;
        var records = Read<List<ConvolutionWidthRecord>>(folder, name + ".json");
        var info = Read<RunInfo>(folder, name + ".meta.json");
        if (records is null || info is null)
        {
            return;
        }

        var c = CultureInfo.InvariantCulture;
        var isas = records.Select(r => r.Isa).Distinct().ToList();
        md.AppendLine();
        md.AppendLine("## libtorch's CPU convolutions by input width");
        md.AppendLine();
        AppendInfo(md, info, relative + "/" + name + ".json");
        md.AppendLine("Whether libtorch computes a float32 convolution right depends, on some CPUs, on its widths: its oneDNN kernels work on");
        md.AppendLine("blocks of 16 (AVX-512) or 8 (AVX2) channels. For each width C: the forward pass of a convolution with C input channels,");
        md.AppendLine("and the input gradient (training) of a convolution with C output channels. Each cell is the worst relative error over");
        md.AppendLine("the runs (about 1e-7 is float32 round-off), NaN when a run returned NaN. This is why `NetworkPruningOptions.ChannelMultiple`");
        md.AppendLine("defaults to 16, and what the pruner's one-time CPU probe checks (docs/troubleshooting.md).");
        md.AppendLine();
        md.AppendLine("| width C | " + string.Join(" | ", isas.Select(i => i == "default" ? "default ISA" : "ONEDNN_MAX_CPU_ISA=" + i).SelectMany(i => new[] { $"forward, {i}", $"input gradient, {i}" })) + " |");
        md.AppendLine("|---|" + string.Concat(isas.Select(_ => "---|---|")));
        static string Cell(double? error, int nan, int runs) => nan > 0
            ? string.Create(CultureInfo.InvariantCulture, $"NaN ({nan} of {runs})")
            : error is double e ? string.Create(CultureInfo.InvariantCulture, $"{e:0.0e0}{(e > 1e-4 ? " **wrong**" : "")}") : "-";
        foreach (var width in records.Select(r => r.InputWidth).Distinct().Order())
        {
            var cells = isas.SelectMany(i => records.FirstOrDefault(r => r.Isa == i && r.InputWidth == width) is { } r
                ? new[] { Cell(r.WorstRelativeError, r.NaNRuns, r.Runs), Cell(r.GradientWorstRelativeError, r.GradientNaNRuns, r.Runs) }
                : ["-", "-"]);
            md.AppendLine(c, $"| {width} | {string.Join(" | ", cells)} |");
        }
    }

    private static string Seconds(double seconds) => seconds.ToString(seconds < 10 ? "F1" : "F0", CultureInfo.InvariantCulture) + " s";

    // Which layers the pruners pruned, read from the records (every method but the capacity-bounded row shares them).
    private static void AppendPrunedLayers(StringBuilder md, ExperimentModel model, IReadOnlyList<ResultRecord> records)
    {
        var layers = records.Where(r => r.Widths is not null).SelectMany(r => r.Widths!.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        md.AppendLine(CultureInfo.InvariantCulture, $"The network is `{model.Title}` (`samples/data/{model.CheckpointName}` unless the command names another `--checkpoint`). Every method prunes the same layers, whose");
        md.AppendLine(model.PrunedLayers + ":");
        md.AppendLine(layers.Count == 0 ? "none yet." : string.Join(", ", layers.Select(l => $"`{l}`")) + ".");
        md.AppendLine();
    }

    // README.md quotes a summary between two markers ("<!-- name:start -->", "<!-- name:end -->"); the harness rewrites that
    // region so the headline cannot drift. `caption` says what the lines are; the link to the results file is added.
    internal static void UpdateReadmeRegion(string? readmePath, string name, string summary, string caption, string markdownPath)
    {
        var start = $"<!-- {name}:start -->";
        var end = $"<!-- {name}:end -->";
        if (readmePath is null || !File.Exists(readmePath))
        {
            return;
        }

        var readme = File.ReadAllText(readmePath);
        var i = readme.IndexOf(start, StringComparison.Ordinal);
        var j = readme.IndexOf(end, StringComparison.Ordinal);
        if (i < 0 || j < i)
        {
            return;
        }

        var link = Path.GetRelativePath(Path.GetDirectoryName(Path.GetFullPath(readmePath))!, Path.GetFullPath(markdownPath)).Replace('\\', '/');
        var region = start + "\n" + summary.TrimEnd() + "\n\n(" + caption + "; written by the harness, details in [" + link + "](" + link + ").)\n" + end;
        File.WriteAllText(readmePath, readme[..i] + region + readme[(j + end.Length)..]);
    }

    private static void AppendInfo(StringBuilder md, RunInfo info, string json)
    {
        md.AppendLine("Produced by (in this order):");
        md.AppendLine();
        md.AppendLine("    " + info.Command);
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"on {info.Date}, {info.Machine}. Data: {info.Data}. Raw records: [{Path.GetFileName(json)}]({json}).");
        md.AppendLine();
        md.AppendLine("Settings: " + info.Settings + ".");
        md.AppendLine();
    }

    // The headline, computed: at each target, the best LDRF row with the shared widths against the best baseline.
    private static void AppendSummary(StringBuilder md, IReadOnlyList<ResultRecord> records)
    {
        var c = CultureInfo.InvariantCulture;
        foreach (var group in records.Where(r => r.Method != "unpruned" && r.AccuracyBefore is not null).GroupBy(r => r.TargetSpeedup).OrderBy(g => g.Key))
        {
            // The shared uniform widths only: the allocation rows are compared in their own section.
            var ldrf = group.Where(r => r.Method == "ldrf" && r.Allocation is null).MaxBy(r => r.AccuracyBefore);
            var baseline = group.Where(r => !r.Method.StartsWith("ldrf", StringComparison.Ordinal) && r.Allocation is null).MaxBy(r => r.AccuracyBefore);
            if (ldrf is null || baseline is null)
            {
                continue;
            }

            var gap = (ldrf.AccuracyBefore!.Value - baseline.AccuracyBefore!.Value) * 100;
            md.AppendLine(c,
                $"- **{group.Key:0.##}x** before fine-tuning: best LDRF ({ldrf.Decomposition}) {Percent(ldrf.AccuracyBefore)} against the best baseline ({baseline.Method}) {Percent(baseline.AccuracyBefore)}: {(gap >= 0 ? "+" : "")}{gap:F2} points.");
        }

        md.AppendLine();
    }

    internal static string Percent(double? value) => value is double v ? (v * 100).ToString("F2", CultureInfo.InvariantCulture) + "%" : "-";

    internal static string Ratio(double? value) => value is double v ? v.ToString("F2", CultureInfo.InvariantCulture) + "x" : "-";

    private static string Escape(string? note) => note is null ? "" : note.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
}
