using Ldrf.Experiments;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Eval.Tests;

/// <summary>The cost run times each Conv2d and Linear of two networks alone, on what each reads in its own network.</summary>
public class LayerLatencyTests
{
    [Test]
    public void Every_conv_and_linear_of_both_networks_is_timed_on_its_own_input_with_its_flops()
    {
        torch.random.manual_seed(1);
        using var original = nn.Sequential(("conv", nn.Conv2d(3, 16, 3, padding: 1)), ("relu", nn.ReLU()), ("pool", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()), ("fc", nn.Linear(16, 10)));
        using var pruned = nn.Sequential(("conv", nn.Conv2d(3, 8, 3, padding: 1)), ("relu", nn.ReLU()), ("pool", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()), ("fc", nn.Linear(8, 10)));
        original.eval();
        pruned.eval();
        using var images = torch.randn(2, 3, 8, 8);

        var records = LayerLatency.Measure(original, pruned, images, runs: 3);

        Assert.That(records.Select(r => (r.Path, r.Kind, r.Batch)), Is.EqualTo(new[] { ("conv", "Conv2d", 2), ("fc", "Linear", 2) }));
        Assert.That(records.Select(r => r.FlopsRatio), Is.EqualTo(new[] { 2.0, 2.0 }), "16 -> 8 output channels, then 16 -> 8 inputs");
        foreach (var r in records)
        {
            Assert.That(r.BeforeMilliseconds, IsFinite.GreaterThan(0), r.Path);
            Assert.That(r.AfterMilliseconds, IsFinite.GreaterThan(0), r.Path);
        }

        Assert.That(images.IsInvalid, Is.False, "the caller's images are left alone");
    }
}
