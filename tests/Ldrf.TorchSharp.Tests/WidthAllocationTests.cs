using Ldrf.Baselines;
using Ldrf.Testing;
using Ldrf.TorchSharp.Pruning;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>The adapter's width allocations (issue 19): error curves and a global magnitude ranking, against the uniform widths.</summary>
public class WidthAllocationTests
{
    private static NetworkPruningOptions Options(WidthAllocationKind allocation, double target = 2.0, ErrorCurveScale scale = ErrorCurveScale.Layer) =>
        new() { TargetFlopsReduction = target, UseCapacityBounds = false, MeasureLatency = false, Allocation = allocation, CurveScale = scale };

    private static Dictionary<string, int> Widths(PruningResult result) =>
        result.Report.Layers.Where(l => l.RelativeOutputError is not null).ToDictionary(l => l.Path, l => l.ChannelsAfter);

    // WideVgg whose features.2 (96 channels) holds only 16 channels' information: every channel is a positive
    // multiple of one of 16 filters, so 16 of them recover its response exactly (ReLU keeps positive multiples).
    private static Sequential OneRedundantLayer()
    {
        var network = TestNetworks.WideVgg();
        using (no_grad())
        {
            var state = network.state_dict();
            var w = state["features.2.weight"];
            var b = state["features.2.bias"];
            var scale = torch.rand(96, generator: new Generator(5)) + 0.5;
            for (var c = 16; c < 96; c++)
            {
                w[c].copy_(w[c % 16] * scale[c]);
                b[c].copy_(b[c % 16] * scale[c]);
            }
        }

        return network;
    }

    // The curves on each layer's own scale, and on the output's (measured by pruning each layer alone); the internal
    // scale is passed by name.
    [TestCase(nameof(ErrorCurveScale.Layer))]
    [TestCase(nameof(ErrorCurveScale.OutputAtOneWidth))]
    [TestCase(nameof(ErrorCurveScale.OutputAtEveryWidth))]
    public void Error_curves_spend_the_cut_where_it_is_free(string scale)
    {
        using var network = OneRedundantLayer();
        var batches = TestNetworks.Batches(4, 16);
        using var uniform = new TorchSharpPruner().Prune(network, batches, Options(WidthAllocationKind.Uniform));
        using var allocated = new TorchSharpPruner().Prune(network, batches, Options(WidthAllocationKind.ErrorCurves, scale: Enum.Parse<ErrorCurveScale>(scale)));
        var widths = Widths(allocated);
        TestContext.Out.WriteLine($"error curves ({scale}): {string.Join(", ", widths)}; uniform: {string.Join(", ", Widths(uniform))}; output error {allocated.Report.HeldOutOutputError:G4} vs {uniform.Report.HeldOutOutputError:G4}");
        Assert.Multiple(() =>
        {
            // Any width of at least 16 costs features.2 nothing, so how far below uniform it goes is a tie; what it
            // saves goes to the layers whose information it costs.
            Assert.That(widths["features.2"], Is.LessThan(Widths(uniform)["features.2"]), "the redundant layer is cut deeper than uniform");
            Assert.That(widths["features.5"], Is.GreaterThan(Widths(uniform)["features.5"]), "a layer without redundancy keeps more");
            Assert.That(allocated.Report.HeldOutOutputError, IsFinite.LessThan(uniform.Report.HeldOutOutputError));
        });
    }

    [TestCase(WidthAllocationKind.ErrorCurves, nameof(ErrorCurveScale.Layer))]
    [TestCase(WidthAllocationKind.ErrorCurves, nameof(ErrorCurveScale.OutputAtOneWidth))]
    [TestCase(WidthAllocationKind.ErrorCurves, nameof(ErrorCurveScale.OutputAtEveryWidth))]
    [TestCase(WidthAllocationKind.GlobalMagnitude, nameof(ErrorCurveScale.Layer))]
    public void An_allocation_reaches_the_target_within_five_percent_with_allowed_widths(WidthAllocationKind allocation, string scale)
    {
        using var network = OneRedundantLayer();
        var before = network.state_dict().ToDictionary(p => p.Key, p => p.Value.clone());
        var batches = TestNetworks.Batches(4, 16);
        using var uniform = new TorchSharpPruner().Prune(network, batches, Options(WidthAllocationKind.Uniform));
        using var allocated = new TorchSharpPruner().Prune(network, batches, Options(allocation, scale: Enum.Parse<ErrorCurveScale>(scale)));
        var widths = Widths(allocated);
        TestContext.Out.WriteLine($"{allocation} ({scale}): {string.Join(", ", widths)}; uniform: {string.Join(", ", Widths(uniform))}; output error {allocated.Report.HeldOutOutputError:G4} vs {uniform.Report.HeldOutOutputError:G4}");
        Assert.Multiple(() =>
        {
            Assert.That(allocated.Report.FlopsReduction, IsFinite.InRange(2.0, 2.0 * 1.05));
            Assert.That(widths.Values, Has.All.Matches<int>(w => w % 16 == 0));
            Assert.That(allocated.Report.HeldOutOutputError, IsFinite.LessThan(1.0));

            // The output-scaled curves prune copies of the network: the caller's is left as it was.
            Assert.That(network.state_dict().All(p => TestNetworks.Same(p.Value, before[p.Key])), "the caller's network is unchanged");
        });
    }

    [Test]
    public void Error_curves_come_from_LDRF_whichever_pruner_reconstructs()
    {
        // Channel Pruning with error-curve widths gets LDRF's widths: allocation and reconstruction are measured apart.
        using var network = TestNetworks.WideVgg();
        var batches = TestNetworks.Batches(4, 16);
        using var ldrf = new TorchSharpPruner().Prune(network, batches, Options(WidthAllocationKind.ErrorCurves));
        using var cp = new TorchSharpPruner(BaselinePruners.Create(BaselineKind.ChannelPruning)).Prune(network, batches, Options(WidthAllocationKind.ErrorCurves));
        Assert.That(Widths(cp), Is.EqualTo(Widths(ldrf)));
    }

    [Test]
    public void An_undefined_allocation_is_refused_naming_the_option()
    {
        using var network = TestNetworks.WideVgg();
        var batches = TestNetworks.Batches(1, 4);
        var e = Assert.Throws<ArgumentException>(() => new TorchSharpPruner().Prune(network, batches, Options((WidthAllocationKind)42)).Dispose())!;
        Assert.Multiple(() =>
        {
            Assert.That(e.ParamName, Is.EqualTo("options"));
            Assert.That(e.Message, Does.Contain("'Allocation'").And.Contain("ErrorCurves"));
        });
    }
}
