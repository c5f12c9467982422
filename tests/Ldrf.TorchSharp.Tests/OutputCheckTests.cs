using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Runtime;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>The pruner checks its own output on held-out calibration images, and reports what the CPU probe found.</summary>
public class OutputCheckTests
{
    private static NetworkPruningOptions Uniform(int? heldOut = null) =>
        new() { ChannelMultiple = 1, TargetFlopsReduction = 1.5, UseCapacityBounds = false, MeasureLatency = false, HeldOutImages = heldOut };

    [Test]
    public void The_report_gives_a_finite_output_error_on_one_image_in_eight_held_out()
    {
        using var network = TestNetworks.SmallVgg(redundant: true);
        var batches = TestNetworks.Batches(6, 16);
        using var result = new TorchSharpPruner().Prune(network, batches, Uniform());
        var report = result.Report;
        Assert.That(report.HeldOutImages, Is.EqualTo(96 / 8));
        Assert.That(report.CalibrationImages, Is.EqualTo(96 - 12), "the held-out images are not in the statistics");

        // The same error, measured here on the same last 12 images.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var heldOut = batches[^1].narrow(0, 4, 12);
        var expected = TestNetworks.RelativeError(result.Network.forward(heldOut), network.forward(heldOut));
        Assert.That(report.HeldOutOutputError, IsFinite.EqualTo(expected, 1e-5));
        Assert.That(report.ToString(), Does.Contain("Output check on 12 held-out calibration images"));
    }

    [Test]
    public void Holding_out_nothing_checks_on_calibration_images_and_holding_out_everything_is_refused()
    {
        using var network = TestNetworks.SmallVgg();
        var batches = TestNetworks.Batches(2, 8);
        using (var result = new TorchSharpPruner().Prune(network, batches, Uniform(0)))
        {
            Assert.That(result.Report.HeldOutImages, Is.Zero);
            Assert.That(result.Report.CalibrationImages, Is.EqualTo(16));
            Assert.That(result.Report.HeldOutOutputError, IsFinite.AtLeast(0));
        }

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TorchSharpPruner().Prune(network, batches, Uniform(16)));
        Assert.That(e!.ParamName, Is.EqualTo("options"));
        Assert.That(e.Message, Does.Contain("HeldOutImages").And.Contain("16 calibration images"));
    }

    [Test]
    [Category("BadInput")]
    public void A_pruned_network_with_a_non_finite_output_is_an_exception_that_says_what_to_do()
    {
        using var original = nn.Linear(4, 3);
        using var broken = nn.Linear(4, 3);
        using (no_grad())
        {
            broken.bias!.fill_(double.NaN);
        }

        var batches = new List<Tensor> { randn(5, 4) };
        var e = Assert.Throws<InvalidOperationException>(() => OutputCheck.RelativeError(original, broken, batches, true, CPU, ScalarType.Float32, null, default));
        Assert.That(e!.Message, Does.Contain("pruned network's output is not finite").And.Contain("5 held-out").And.Contain("ChannelMultiple"));
        e = Assert.Throws<InvalidOperationException>(() => OutputCheck.RelativeError(broken, original, batches, true, CPU, ScalarType.Float32, null, default));
        Assert.That(e!.Message, Does.Contain("original network's output is not finite"));
        Assert.That(OutputCheck.RelativeError(original, original, batches, true, CPU, ScalarType.Float32, null, default), IsFinite.EqualTo(0.0));
        batches[0].Dispose();
    }

    [Test]
    public void Default_widths_are_multiples_of_16_and_match_a_float64_forward_pass()
    {
        // A network whose uniform 2x widths (about 70%) are off the 16-channel block: 64 -> 45, 96 -> 68.
        manual_seed(3);
        using var network = nn.Sequential(
            ("0", nn.Conv2d(3, 64, 3, padding: 1)), ("1", nn.ReLU()),
            ("2", nn.Conv2d(64, 96, 3, padding: 1)), ("3", nn.ReLU()),
            ("4", nn.Conv2d(96, 64, 3, padding: 1)), ("5", nn.ReLU()),
            ("6", nn.AdaptiveAvgPool2d(1)), ("7", nn.Flatten()), ("8", nn.Linear(64, 5)));
        network.eval();
        var batches = TestNetworks.Batches(4, 8);
        var options = new NetworkPruningOptions { TargetFlopsReduction = 2, UseCapacityBounds = false, MeasureLatency = false };
        using var result = new TorchSharpPruner().Prune(network, batches, options);
        foreach (var layer in result.Report.Layers.Where(l => l.ChannelsAfter != l.ChannelsBefore))
        {
            Assert.That(layer.ChannelsAfter % 16, Is.Zero, $"{layer.Path}: {layer.ChannelsAfter} channels");
        }

        using var x = TestNetworks.Batches(1, 4, seed: 5)[0];
        Assert.That(TestNetworks.Float64RelativeError(result.Network, x), IsFinite.LessThan(1e-4),
            "the pruned network's float32 output under libtorch's defaults is its float64 output");
    }

    [Test]
    public void The_cpu_probe_names_the_widths_it_found_wrong_and_the_remedy()
    {
        // Whether this CPU has the defect varies; what the probe says when it does is fixed.
        var defect = CpuConvolutionProbe.Defect;
        TestContext.Out.WriteLine(defect ?? "no defect found on this CPU");
        if (defect is not null)
        {
            Assert.That(defect, Does.Contain("input widths").And.Contain("ChannelMultiple").And.Contain("troubleshooting"));
        }

        Assert.That(CpuConvolutionProbe.Defect, Is.SameAs(defect), "probed once per process");
    }
}
