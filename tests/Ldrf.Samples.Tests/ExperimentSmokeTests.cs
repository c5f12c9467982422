using System.Text.Json;
using Ldrf.Experiments;

namespace Ldrf.Samples.Tests;

/// <summary>The harness's smoke mode, as CI runs it: one speed-up, LDRF and one baseline, a few hundred images.</summary>
public class ExperimentSmokeTests
{
    [Test]
    public void Smoke_run_writes_records_plots_and_a_generated_table()
    {
        var folder = Path.Combine(Path.GetTempPath(), "ldrf-smoke-" + Guid.NewGuid().ToString("N"));
        try
        {
            var settings = ExperimentSettings.SmokeIn(folder) with { Threads = 1 };
            var log = new StringWriter();
            new ExperimentRunner(settings, "smoke test", log).Run();

            var records = ResultWriter.ReadResults(folder);
            Assert.That(records.Select(r => r.Method), Is.EqualTo(new[] { "unpruned", "ldrf", "thinet" }), log.ToString());
            foreach (var r in records)
            {
                // Ten classes: a broken pruning lands near 10%; the model is at 93% unpruned.
                Assert.That(r.AccuracyBefore, Is.InRange(0.5, 1.0), $"{r.Method}: {log}");
            }

            foreach (var r in records.Skip(1))
            {
                Assert.That(r.FlopsRatio, Is.InRange(2.0, 2.0 * 1.05), r.Method);
                Assert.That(r.AccuracyAfter, Is.InRange(0.5, 1.0), r.Method);
                Assert.That(r.LatencyRatio, Is.GreaterThan(0), r.Method);
            }

            Assert.That(records[1].Widths, Is.EqualTo(records[2].Widths), "every method gets the same per-layer widths");
            foreach (var png in new[] { "fashion-mnist.png", "fashion-mnist-fine-tuned.png" })
            {
                var bytes = File.ReadAllBytes(Path.Combine(folder, png));
                Assert.That(bytes.Take(4), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }), png);
            }

            var markdown = File.ReadAllText(Path.Combine(folder, "results.md"));
            Assert.That(markdown, Does.Contain("    smoke test").And.Contain("| 2x | thinet |"));
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "fashion-mnist.json")));
            var first = json.RootElement[0];
            foreach (var field in new[] { "method", "decomposition", "targetSpeedup", "flopsRatio", "accuracyBefore", "accuracyAfter", "latencyRatio" })
            {
                Assert.That(first.TryGetProperty(field, out _), Is.True, $"'{field}' in every record");
            }
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}
