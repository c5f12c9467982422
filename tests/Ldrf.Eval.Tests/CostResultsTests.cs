using Ldrf.Experiments;

namespace Ldrf.Eval.Tests;

/// <summary>The cost run's section of docs/results.md is generated from its records, with the command beside it.</summary>
public class CostResultsTests
{
    [Test]
    public void The_cost_records_become_a_summary_row_and_a_per_layer_table_each()
    {
        var folder = Path.Combine(Path.GetTempPath(), "ldrf-cost-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var settings = ExperimentSettings.Parse(["--cost", "resnet50", "--out", folder, "--markdown", Path.Combine(folder, "results.md"), "--readme", "none"]);
            var info = new RunInfo("the cost command", "2026-12-03 12:00 UTC", "a machine", "some data", 0, "some settings");
            CostRecord record = new()
            {
                Model = "ResNet-50", Weights = "w", TargetSpeedup = 3, FlopsRatio = 3.01, ParametersRatio = 2.5, CalibrationImages = 64, Resolution = 224,
                TotalSeconds = 100, CalibrationSeconds = 50, DecompositionSeconds = 20, SelectionSeconds = 10, RecompositionSeconds = 15,
                ResidentBeforeMegabytes = 512, PeakResidentMegabytes = 2048, FloorSeconds = 40, ImagesGiven = 72,
                Batch1 = new LatencyRecord(80, 30, 75, 85, 28, 33), Batch32 = new LatencyRecord(1600, 640, 1500, 1700, 600, 700),
                Layers = [new CostLayerRecord("layer1.0.conv1", 64, 30, 5, 2, 1, 1.5, 0.25)],
                OrtBatch1 = new LatencyRecord(60, 20, 58, 62, 19, 21), OrtBatch32 = new LatencyRecord(1200, 600, 1100, 1300, 550, 650),
                LayerLatencies =
                [
                    new LayerLatencyRecord("conv1", "Conv2d", 1, 4000, 2000, 10, 4),
                    new LayerLatencyRecord("fc", "Linear", 1, 1000, 1000, 2, 2),
                    new LayerLatencyRecord("conv1", "Conv2d", 32, 4000, 2000, 300, 200),
                    new LayerLatencyRecord("fc", "Linear", 32, 1000, 1000, 20, 20),
                ],
            };

            ResultWriter.WriteCost(settings, info, [record]);

            var markdown = File.ReadAllText(Path.Combine(folder, "results.md"));
            Assert.That(markdown, Does.Contain("    the cost command"));
            Assert.That(markdown, Does.Contain(
                "| ResNet-50 | 3x | 3.01x | 2.50x | 64 | 100 s | 40 s | 2.50x | 50 s | 20 s | 10 s | 15 s | 5.0 s | 2048 MB (512 MB) | 2.67x | 2.50x | 80 ms (75-85), 30 ms (28-33) | 1600 ms (1500-1700), 640 ms (600-700) | 3.00x | 2.00x |"));
            Assert.That(markdown, Does.Contain("| `layer1.0.conv1` | 64 -> 30 | 5.0 s | 2.0 s | 1.0 s | 1.5 s | 0.250 |"));
            Assert.That(markdown, Does.Contain("| `conv1` | Conv2d | 2.00x | 10.00 ms, 4.00 ms | 2.50x | 300.00 ms, 200.00 ms | 1.50x |"));
            Assert.That(markdown, Does.Contain("| `fc` | Linear | 1.00x | 2.00 ms, 2.00 ms | 1.00x | 20.00 ms, 20.00 ms | 1.00x |"));
            // The layers' sums against the whole pass: batch 1 takes 12 of 80 ms and 6 of 30 ms, FLOPs 5000 / 3000.
            Assert.That(markdown, Does.Contain("- batch 1: the layers take 12.0 ms of the original's 80.0 ms and 6.0 ms of the pruned network's 30.0 ms; their summed latency ratio is 2.00x against a FLOPs ratio of 1.67x; rest 68.0 ms -> 24.0 ms."));
            var read = ResultWriter.ReadCost(folder).Single();
            Assert.That(read.LayerLatencies, Is.EqualTo(record.LayerLatencies), "the per-layer latencies read back");
            Assert.That(read.OrtBatch32, Is.EqualTo(record.OrtBatch32), "and the ONNX Runtime latencies");
            Assert.That(read.Layers.Single().Path, Is.EqualTo("layer1.0.conv1"), "the JSON reads back");
            Assert.That(read.Batch32, Is.EqualTo(record.Batch32), "with its latencies");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
