using Ldrf.Baselines;
using Ldrf.TorchSharp.Pruning;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>ThiNet and Channel Pruning through the adapter: the patch statistics it collects for them.</summary>
public class PatchBaselineTests
{
    private static readonly string[] Prunable = ["features.0", "features.3", "features.7", "classifier.0"];

    // Every width allowed: the test network's layers (8 to 20 channels) are narrower than the default channel multiple.
    private static NetworkPruningOptions Uniform(double target) =>
        new() { TargetFlopsReduction = target, UseCapacityBounds = false, MeasureLatency = false, ChannelMultiple = 1 };

    [Test]
    public void Channel_pruning_keeping_every_channel_refits_each_consumer_to_the_original_output()
    {
        using var network = TestNetworks.SmallVgg();
        var options = new NetworkPruningOptions { ChannelMultiple = 1, PerLayerKeepRatios = Prunable.ToDictionary(p => p, _ => 1.0), MeasureLatency = false };
        var pruner = new TorchSharpPruner(BaselinePruners.Create(BaselineKind.ChannelPruning, new BaselineOptions { RidgeScale = 1e-9 }));

        // 12 x 16 = 192 images: more samples than the 144 features of the classifier's flattened input.
        using var result = pruner.Prune(network, TestNetworks.Batches(12, 16), options);
        using var x = TestNetworks.Batches(1, 32, seed: 99)[0];
        using var expected = network.forward(x);
        using var actual = result.Network.forward(x);

        // Every consumer is refitted by least squares over its sampled patches, and the original weights fit them
        // exactly: a patch unfolded or sampled in a different order than the weights read it would give a
        // different, wrong fit.
        Assert.That(TestNetworks.RelativeToSpread(actual, expected), IsFinite.LessThan(1e-3));
    }

    [TestCase(BaselineKind.ThiNet)]
    [TestCase(BaselineKind.ChannelPruning)]
    public void Patch_baselines_at_2x_reconstruct_better_than_dropping_channels(BaselineKind kind)
    {
        using var network = TestNetworks.SmallVgg(redundant: true);
        var batches = TestNetworks.Batches(6, 16);
        using var x = TestNetworks.Batches(1, 64, seed: 99)[0];
        using var expected = network.forward(x);
        using var baseline = new TorchSharpPruner(BaselinePruners.Create(kind)).Prune(network, batches, Uniform(2.0));
        using var dropped = new TorchSharpPruner(BaselinePruners.Create(BaselineKind.L1Norm)).Prune(network, batches, Uniform(2.0));
        using var baselineOut = baseline.Network.forward(x);
        using var droppedOut = dropped.Network.forward(x);

        var error = TestNetworks.RelativeToSpread(baselineOut, expected);
        var droppedError = TestNetworks.RelativeToSpread(droppedOut, expected);
        Assert.That(error, IsFinite.LessThan(droppedError * 0.6), $"{kind} {error:0.000} vs. L1 without reconstruction {droppedError:0.000}");
        Assert.That(baseline.Report.FlopsReduction, IsFinite.EqualTo(dropped.Report.FlopsReduction), "same widths for every method");
    }

    [Test]
    public void The_same_seed_gives_bit_identical_weights_and_the_sampling_follows_the_seed()
    {
        using var network = TestNetworks.SmallVgg(redundant: true);
        var batches = TestNetworks.Batches(3, 16);
        var pruner = new TorchSharpPruner(BaselinePruners.Create(BaselineKind.ChannelPruning));
        using var first = pruner.Prune(network, batches, Uniform(2.0));
        using var second = pruner.Prune(network, batches, Uniform(2.0));
        var other = Uniform(2.0);
        other.Seed = 5;
        using var third = pruner.Prune(network, batches, other);

        var a = TestNetworks.Snapshot(first.Network);
        var b = TestNetworks.Snapshot(second.Network);
        var c = TestNetworks.Snapshot(third.Network);
        foreach (var (name, values) in a)
        {
            Assert.That(b[name], Is.EqualTo(values), name);
        }

        Assert.That(a.Any(kv => !c.TryGetValue(kv.Key, out var v) || !v.SequenceEqual(kv.Value)), Is.True, "another seed samples other locations");
    }

    [Test]
    public void Capacity_bounds_with_a_patch_baseline_are_refused_by_name()
    {
        using var network = TestNetworks.SmallVgg();
        var options = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 2, UseCapacityBounds = true, MeasureLatency = false };
        var pruner = new TorchSharpPruner(BaselinePruners.Create(BaselineKind.ThiNet));
        var e = Assert.Throws<ArgumentException>(() => pruner.Prune(network, TestNetworks.Batches(1, 8), options));
        Assert.That(e!.Message, Does.Contain("UseCapacityBounds").And.Contain("ThiNet"));
    }
}
