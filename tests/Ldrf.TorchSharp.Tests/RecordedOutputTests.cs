using System.Text.Json;
using Ldrf.Baselines;
using Ldrf.Decomposition;
using Ldrf.Recomposition;
using Ldrf.Testing;
using Ldrf.TorchSharp.Pruning;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>
/// Refactoring guard: every case below prunes a seeded network with one method and compares the pruned widths
/// and the pruned network's outputs on a fixed batch with recorded-outputs.json, which the code before the
/// architecture refactor (issue 15) wrote (the Channel Pruning case re-recorded when its rebuild gained the samples-per-unknown
/// fallback). A refactor that changes what the library computes fails here.
/// </summary>
/// <remarks>
/// To re-record after an intended change of results: set LDRF_RECORD_OUTPUTS to a file path, run this fixture,
/// review the difference and copy that file over tests/Ldrf.TorchSharp.Tests/recorded-outputs.json.
/// Widths must match exactly; outputs within 1e-5 of the largest recorded output (float32 network; the
/// statistics are float64 sums whose order a refactor may change).
/// </remarks>
[NonParallelizable]
public class RecordedOutputTests
{
    private const double Tolerance = 1e-5;
    private static readonly string RecordedPath = Path.Combine(AppContext.BaseDirectory, "recorded-outputs.json");
    private static readonly Dictionary<string, RecordedCase> Recorded = Load();
    private static readonly Dictionary<string, RecordedCase> Received = [];

    public static IEnumerable<string> Cases => CaseDefinitions.Keys;

    private static readonly Dictionary<string, Func<RecordedCase>> CaseDefinitions = new()
    {
        ["wide-vgg ldrf defaults 2x"] = () => Run(TestNetworks.WideVgg(), new TorchSharpPruner(new LdrfOptions()), Uniform(2.0, 16)),
        ["wide-vgg ldrf activation-pca channel 3x"] = () => Run(TestNetworks.WideVgg(),
            new TorchSharpPruner(new LdrfOptions { Embedding = EmbeddingKind.ActivationPca, Recomposition = RecompositionKind.Channel }), Uniform(3.0, 16)),
        ["wide-vgg ldrf response-aware intercept 2x"] = () => Run(TestNetworks.WideVgg(),
            new TorchSharpPruner(new LdrfOptions { Embedding = EmbeddingKind.ResponseAware, FitIntercept = true }), Uniform(2.0, 16)),
        ["wide-vgg thinet 2x"] = () => Run(TestNetworks.WideVgg(), new TorchSharpPruner(BaselinePruners.Create(BaselineKind.ThiNet)), Uniform(2.0, 16)),
        ["wide-vgg channel-pruning 2x"] = () => Run(TestNetworks.WideVgg(), new TorchSharpPruner(BaselinePruners.Create(BaselineKind.ChannelPruning)), Uniform(2.0, 16)),
        ["wide-vgg l1 2x"] = () => Run(TestNetworks.WideVgg(), new TorchSharpPruner(BaselinePruners.Create(BaselineKind.L1Norm)), Uniform(2.0, 16)),
        ["wide-vgg random least-squares 2x"] = () => Run(TestNetworks.WideVgg(), new TorchSharpPruner(BaselinePruners.Create(BaselineKind.RandomLeastSquares)), Uniform(2.0, 16)),
        ["small-vgg bn ldrf defaults 2x"] = () => Run(TestNetworks.SmallVgg(redundant: true), new TorchSharpPruner(new LdrfOptions()), Uniform(2.0, 1)),
        ["small-resnet ldrf defaults 1.5x"] = () => Run(TestNetworks.SmallResNet(redundant: true), new TorchSharpPruner(new LdrfOptions()), Uniform(1.5, 1)),
    };

    [TestCaseSource(nameof(Cases))]
    public void Pruning_gives_the_recorded_widths_and_outputs(string name)
    {
        var actual = CaseDefinitions[name]();
        var record = Environment.GetEnvironmentVariable("LDRF_RECORD_OUTPUTS");
        if (!string.IsNullOrEmpty(record))
        {
            lock (Received)
            {
                Received[name] = actual;
                File.WriteAllText(record, JsonSerializer.Serialize(Received, new JsonSerializerOptions { WriteIndented = true }));
            }

            Assert.Inconclusive($"Recorded into {record}.");
        }

        Assert.That(Recorded, Does.ContainKey(name), "recorded-outputs.json has no entry for this case.");
        var expected = Recorded[name];
        Assert.That(actual.Widths, Is.EqualTo(expected.Widths), "pruned widths");
        var scale = expected.Outputs.Max(Math.Abs);
        var difference = actual.Outputs.Zip(expected.Outputs, (a, e) => Math.Abs(a - e)).Max() / scale;
        TestContext.Out.WriteLine($"{name}: largest output difference {difference:E2} of the largest recorded output");
        Assert.That(actual.Outputs, Has.Length.EqualTo(expected.Outputs.Length));
        Assert.That(difference, IsFinite.AtMost(Tolerance));
    }

    private static RecordedCase Run(Sequential network, TorchSharpPruner pruner, NetworkPruningOptions options)
    {
        using (network)
        {
            var batches = TestNetworks.Batches(4, 16);
            var probe = TestNetworks.Batches(1, 8, seed: 99);
            try
            {
                using var result = pruner.Prune(network, batches, options);
                using var _ = no_grad();
                using var output = result.Network.forward(probe[0]);
                return new RecordedCase(
                    result.Report.Layers.Select(l => l.ChannelsAfter).ToArray(),
                    output.to_type(ScalarType.Float64).data<double>().ToArray());
            }
            finally
            {
                foreach (var batch in batches.Concat(probe))
                {
                    batch.Dispose();
                }
            }
        }
    }

    private static NetworkPruningOptions Uniform(double target, int multiple) =>
        new() { TargetFlopsReduction = target, UseCapacityBounds = false, MeasureLatency = false, ChannelMultiple = multiple };

    private static Dictionary<string, RecordedCase> Load() =>
        File.Exists(RecordedPath)
            ? JsonSerializer.Deserialize<Dictionary<string, RecordedCase>>(File.ReadAllText(RecordedPath)) ?? []
            : [];

    public sealed record RecordedCase(int[] Widths, double[] Outputs);
}
