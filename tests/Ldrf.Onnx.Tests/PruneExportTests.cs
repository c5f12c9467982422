using Ldrf.TorchSharp.Pruning;
using TorchSharp;
using static Ldrf.Onnx.Tests.OnnxRuntimeReference;
using static TorchSharp.torch;

namespace Ldrf.Onnx.Tests;

/// <summary>
/// The whole path a user takes: an ONNX file imported, pruned by LDRF, exported; the pruned file computes in ONNX
/// Runtime what the pruned TorchSharp network computes (1e-4 relative).
/// </summary>
public class PruneExportTests
{
    // Targets these narrow models can reach with 16-channel widths (the pruner names the reachable maximum otherwise).
    [TestCase("plain-opset17.onnx", 1.2)]
    [TestCase("plain-opset9.onnx", 1.2)]
    [TestCase("dense-opset13.onnx", 1.1)]
    [TestCase("mobile-opset13.onnx", 1.3)]
    [TestCase("foreign-opset7.onnx", 1.1)]
    public void An_imported_model_pruned_and_exported_runs_in_onnx_runtime_as_the_pruned_network(string file, double target) =>
        PruneAndExport(file, new NetworkPruningOptions { TargetFlopsReduction = target });

    // The residual stream (the stem and the projection the Add ties it to) pruned too, to 8 channels of 16.
    [Test]
    public void A_model_with_its_residual_stream_pruned_exports_and_runs_in_onnx_runtime_as_the_pruned_network()
    {
        var report = PruneAndExport("mobile-opset17.onnx", new NetworkPruningOptions
        {
            PerLayerKeepRatios = new Dictionary<string, double> { ["stem_stem_0_Conv"] = 0.5, ["expand_expand_0_Conv"] = 0.5 },
            ChannelMultiple = 8,
            PruneResidualStreams = true,
        });
        Assert.That(report.Layers.Single(l => l.Path == "stem_stem_0_Conv").ChannelsAfter, Is.EqualTo(8), "the stream's first source is pruned");
        Assert.That(report.Layers.Single(l => l.Path == "project_project_0_Conv").ChannelsAfter,
            Is.EqualTo(report.Layers.Single(l => l.Path == "stem_stem_0_Conv").ChannelsAfter), "the Add's other source keeps the same channels");
    }

    private static PruningReport PruneAndExport(string file, NetworkPruningOptions options)
    {
        using var network = OnnxModel.Load(Path.Combine(Models, file));
        torch.random.manual_seed(1);
        var batches = Enumerable.Range(0, 6).Select(_ => torch.randn(16, 3, 16, 16)).ToList();

        using var result = new TorchSharpPruner().Prune(network, batches, options);
        var path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "pruned-" + file);
        OnnxModel.Save(result.Network, path);
        long[] shape = [2, 3, 16, 16];
        var input = RandomInput(shape, seed: 9);
        var expected = OnnxModelTests.Forward(result.Network, input, shape);
        var (actual, _) = Run(File.ReadAllBytes(path), input, shape);
        var error = RelativeError(actual, expected);
        TestContext.Out.WriteLine($"{file}: FLOPs {result.Report.FlopsBefore} -> {result.Report.FlopsAfter}, pruned export {error:E2} (max relative error against ONNX Runtime)");

        Assert.That(result.Report.FlopsAfter, Is.LessThan(result.Report.FlopsBefore));
        Assert.That(Input(File.ReadAllBytes(path), batch: 2).Name, Is.EqualTo(network.InputName));
        Assert.That(error, IsFinite.LessThan(1e-4));
        foreach (var batch in batches)
        {
            batch.Dispose();
        }

        return result.Report;
    }
}
