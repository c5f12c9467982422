using Ldrf.Experiments;

namespace Ldrf.Eval.Tests;

/// <summary>The recovery section of docs/results.md: budgets side by side, steps to 90% and the goals, all computed from the records.</summary>
public class RecoveryResultsTests
{
    private static RecoveryRecord Recovered(int images, double accuracy, params (int Step, double Accuracy)[] trajectory) => new()
    {
        Images = images, Epochs = 1, Accuracy = accuracy, Seconds = 12, Steps = trajectory[^1].Step, TrajectoryImages = 2000, TrajectoryEvery = 25,
        Trajectory = [.. trajectory.Select(p => new TrajectoryPoint(p.Step, p.Accuracy))],
    };

    private static ResultRecord Row(string method, string? decomposition, double target, double before, params RecoveryRecord[] recoveries) => new()
    {
        Method = method, Decomposition = decomposition, TargetSpeedup = target, FlopsRatio = target, ParametersRatio = target, AccuracyBefore = before,
        Recoveries = recoveries,
    };

    [Test]
    public void Steps_to_90_percent_is_the_first_measured_step_at_or_above_it_and_null_when_never()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Recovered(60000, 0.92, (0, 0.91), (25, 0.93)).StepsTo(0.9), Is.EqualTo(0), "already there as pruned");
            Assert.That(Recovered(60000, 0.92, (0, 0.5), (25, 0.89), (50, 0.90), (75, 0.88), (80, 0.95)).StepsTo(0.9), Is.EqualTo(50));
            Assert.That(Recovered(2000, 0.85, (0, 0.5), (28, 0.85)).StepsTo(0.9), Is.Null);
        });
    }

    [Test]
    public void The_recovery_table_shows_every_budget_and_the_goals_are_judged_from_the_records()
    {
        var folder = Path.Combine(Path.GetTempPath(), "ldrf-recovery-results-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var settings = new ExperimentSettings { OutputFolder = folder, MarkdownPath = Path.Combine(folder, "results.md"), ReadmePath = null };
            var info = new RunInfo("the recovery command", "2026-12-06 06:00 UTC", "a machine", "some data", 10000, "some settings");
            ResultRecord[] records =
            [
                new() { Method = "unpruned", TargetSpeedup = 1, FlopsRatio = 1, AccuracyBefore = 0.9313 },
                // 3x: LDRF 0.25 points below the unpruned accuracy (met), the baseline needs 50 steps to reach 90%.
                Row("ldrf", "weight-svd", 3, 0.921, Recovered(60000, 0.9288, (0, 0.92), (844, 0.93)), Recovered(2000, 0.9220, (0, 0.92), (29, 0.922))),
                Row("thinet", null, 3, 0.87, Recovered(60000, 0.9206, (0, 0.87), (25, 0.89), (50, 0.905), (844, 0.92)), Recovered(2000, 0.8900, (0, 0.87), (29, 0.89))),
                // 5x: 1.2 points below (not met).
                Row("ldrf", "weight-svd", 5, 0.915, Recovered(60000, 0.9193, (0, 0.915), (844, 0.92)), Recovered(2000, 0.9160, (0, 0.915), (29, 0.916))),
            ];

            ResultWriter.Write(settings, info, records);

            var markdown = File.ReadAllText(Path.Combine(folder, "results.md"));
            Assert.That(markdown, Does.Contain("## FashionMnistVgg: accuracy after recovery"));
            Assert.That(markdown, Does.Contain("The budgets: 1 epoch(s) over 60,000 images and 1 epoch(s) over 2,000 images").And.Contain("steps to 90%, 2,000 images |"));
            Assert.That(markdown, Does.Contain("Goals after recovery over 60,000 images, against the unpruned 93.13%"));
            Assert.That(markdown, Does.Contain("| 3x | ldrf | weight-svd | uniform | 92.10% | 92.88% | 0 | 844 in 12 s | 92.20% | 0 | 29 in 12 s |"));
            Assert.That(markdown, Does.Contain("| 3x | thinet | - | uniform | 87.00% | 92.06% | 50 | 844 in 12 s | 89.00% | not reached | 29 in 12 s |"));
            Assert.That(markdown, Does.Contain(
                "- **3x within 0.3 points of the unpruned 93.13%**: best LDRF (weight-svd, uniform widths) 92.88%, 0.25 points below: **met**; best baseline (thinet, uniform widths) 92.06%."));
            Assert.That(markdown, Does.Contain("- **5x within 0.8 points of the unpruned 93.13%**: best LDRF (weight-svd, uniform widths) 91.93%, 1.20 points below: **not met**."));
            Assert.That(markdown, Does.Contain("scored -0.10 to +0.00 points (median +0.00) on these"), "step 0 on the trajectory's images against the accuracy as pruned");
            foreach (var png in new[] { "fashion-mnist-recovery-3x.png", "fashion-mnist-recovery-5x.png" })
            {
                Assert.That(File.ReadAllBytes(Path.Combine(folder, png)).Take(4), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }), png);
            }

            Assert.That(ResultWriter.ReadResults(folder)[1].Recoveries![0].Trajectory[^1], Is.EqualTo(new TrajectoryPoint(844, 0.93)), "the trajectory reads back");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void Append_keeps_the_earlier_budgets_of_the_same_pruned_network_only()
    {
        var widths = new Dictionary<string, int> { ["conv1"] = 16, ["conv2"] = 32 };
        var earlier = Row("ldrf", "weight-svd", 3, 0.921, Recovered(2000, 0.922, (0, 0.92), (29, 0.922))) with { Widths = widths };
        var rerun = Row("ldrf", "weight-svd", 3, 0.921, Recovered(60000, 0.9288, (0, 0.92), (844, 0.93))) with { Widths = new Dictionary<string, int>(widths) };

        var merged = ExperimentRunner.WithEarlierRecoveries(rerun, earlier);
        Assert.That(merged.Recoveries!.Select(r => r.Images), Is.EqualTo(new[] { 60000, 2000 }));
        Assert.That(ExperimentRunner.WithEarlierRecoveries(rerun, rerun with { Recoveries = [Recovered(60000, 0.5, (0, 0.5), (844, 0.5))] }).Recoveries!.Single().Accuracy,
            Is.EqualTo(0.9288), "a budget measured again replaces the earlier one");
        Assert.That(ExperimentRunner.WithEarlierRecoveries(rerun, earlier with { Widths = new Dictionary<string, int> { ["conv1"] = 16, ["conv2"] = 16 } }).Recoveries!.Count,
            Is.EqualTo(1), "another pruned network's recoveries are dropped");
        Assert.That(ExperimentRunner.WithEarlierRecoveries(rerun, earlier with { AccuracyBefore = 0.9 }).Recoveries!.Count, Is.EqualTo(1));
    }

    [Test]
    public void A_goal_at_a_target_no_method_reaches_is_reported_unreachable_with_the_pruners_reason()
    {
        var folder = Path.Combine(Path.GetTempPath(), "ldrf-recovery-goals-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var settings = new ExperimentSettings { Model = ExperimentModel.ResNet, OutputFolder = folder, MarkdownPath = Path.Combine(folder, "results.md"), ReadmePath = null };
            var info = new RunInfo("the resnet command", "2026-12-06 06:00 UTC", "a machine", "some data", 10000, "some settings");
            ResultRecord[] records =
            [
                new() { Method = "unpruned", TargetSpeedup = 1, FlopsRatio = 1, AccuracyBefore = 0.9244 },
                Row("ldrf", "weight-svd", 1.5, 0.9133, Recovered(60000, 0.92, (0, 0.9133), (844, 0.92))),
                new() { Method = "ldrf", Decomposition = "weight-svd", TargetSpeedup = 3, Allocation = "error-curves", Note = "A 3x FLOPs reduction is unreachable by error-curve allocation." },
                new() { Method = "ldrf", Decomposition = "weight-svd", TargetSpeedup = 3, Note = "A 3x FLOPs reduction is unreachable: the best reachable reduction is 1.643x." },
            ];

            ResultWriter.Write(settings, info, records);

            var markdown = File.ReadAllText(Path.Combine(folder, "results.md"));
            Assert.That(markdown, Does.Contain(
                "- **3x within 0.8 points of the unpruned 92.44%**: unreachable on this network: A 3x FLOPs reduction is unreachable: the best reachable reduction is 1.643x."));
            Assert.That(markdown, Does.Contain("| 1.5x | ldrf | weight-svd | uniform | 91.33% | 92.00% | 0 | 844 in 12 s |"));
            Assert.That(markdown, Does.Contain("No method reaches 3x on this network").And.Contain("the recovery rows are at the targets reached: 1.5x."));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
