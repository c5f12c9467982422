using Ldrf.Baselines;
using Ldrf.Selection;
using Ldrf.TorchSharp.Numerics;
using Ldrf.TorchSharp.Pruning;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests.Reliability;

/// <summary>Repeated runs leave no tensor behind, and the same seed and inputs give bit-identical networks.</summary>
[Category("Reliability")]
public class LeakAndDeterminismTests
{
    // A lower energy threshold than the default leaves room under the valid capacities for the target.
    private static readonly LdrfOptions Ldrf = new() { EnergyThreshold = 0.8 };

    private static NetworkPruningOptions Target() =>
        // Every width allowed (the test network's layers are narrower than the default channel multiple); one whole
        // batch held out, so the same tensors are alive whatever the batch count.
        new() { TargetFlopsReduction = 1.5, UseCapacityBounds = true, MeasureLatency = false, ChannelMultiple = 1, HeldOutImages = 8 };

    [Test]
    public void Pruning_twenty_times_returns_the_live_tensor_count_to_its_start()
    {
        using var network = TestNetworks.SmallVgg(redundant: true);
        var batches = TestNetworks.Batches(2);
        using var x = TestNetworks.Batches(1, 4, seed: 5)[0];
        var pruner = new TorchSharpPruner(Ldrf);

        // A first run pays for one-time native and managed initialization.
        pruner.Prune(network, batches, Target()).Dispose();
        var start = Expect.LiveTensors();
        var totals = new List<long> { Expect.SettledTensorCount() };
        var peak = 0L;
        for (var i = 0; i < 20; i++)
        {
            using (var result = pruner.Prune(network, batches, Target()))
            {
                Assert.That(Expect.Output(result.Network, x), Has.Length.EqualTo(4 * 5), "the result is usable");
                peak = Math.Max(peak, Expect.LiveTensors() - start);
            }

            Assert.That(Expect.LiveTensors() - start, Is.Zero, $"tensors left alive after run {i + 1}");
            totals.Add(Expect.SettledTensorCount());
        }

        Assert.That(peak, Is.GreaterThan(0), "the count does move while a result is alive (the probe works)");

        // TorchSharp's own TotalCount drifts by a fixed amount per run (see Expect.LiveTensors); a leak would make
        // the drift grow or vary, so every run must drift the same.
        var drifts = totals.Zip(totals.Skip(1), (a, b) => b - a).ToList();
        TestContext.Out.WriteLine($"TotalCount drift per run (TorchSharp's Parameter bookkeeping): {string.Join(", ", drifts.Distinct())}");
        Assert.That(drifts.Distinct().Count(), Is.EqualTo(1), string.Join(", ", drifts));
        foreach (var b in batches)
        {
            b.Dispose();
        }
    }

    [Test]
    public void Pruning_a_residual_network_leaves_no_tensor_alive()
    {
        using var network = TestNetworks.SmallResNet(redundant: true);
        var batches = TestNetworks.Batches(2);
        using var x = TestNetworks.Batches(1, 4, seed: 5)[0];
        var pruner = new TorchSharpPruner();
        var options = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 1.5, UseCapacityBounds = false, MeasureLatency = false };
        pruner.Prune(network, batches, options).Dispose();
        var start = Expect.LiveTensors();
        for (var i = 0; i < 5; i++)
        {
            using (var result = pruner.Prune(network, batches, options))
            {
                Assert.That(Expect.Output(result.Network, x), Has.Length.EqualTo(4 * 5), "the result is usable");
            }

            Assert.That(Expect.LiveTensors() - start, Is.Zero, $"tensors left alive after run {i + 1}");
        }

        batches.ForEach(b => b.Dispose());
    }

    [Test]
    public void A_result_left_undisposed_is_visible_to_the_leak_probe()
    {
        // Guards the probe itself: forgetting to dispose a result must show up as live tensors.
        using var network = TestNetworks.SmallVgg();
        var batches = TestNetworks.Batches(1);
        var start = Expect.LiveTensors();
        var result = new TorchSharpPruner().Prune(network, batches, new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 1.2, UseCapacityBounds = false, MeasureLatency = false });
        Assert.That(Expect.LiveTensors() - start, Is.GreaterThanOrEqualTo(result.Network.parameters().Count()));
        result.Dispose();
        Assert.That(Expect.LiveTensors() - start, Is.Zero);
        batches[0].Dispose();
    }

    [Test]
    public void Calibration_memory_does_not_grow_with_the_number_of_batches()
    {
        // Statistics are streamed: at every progress point the same tensors are alive whether 2 or 8 batches are
        // used (C x C sums, not activations, are kept).
        long Peak(int batchCount)
        {
            using var network = TestNetworks.SmallVgg(redundant: true);
            var batches = TestNetworks.Batches(batchCount);
            var start = Expect.LiveTensors();
            var peak = 0L;
            var progress = new Expect.SyncProgress<PruningProgress>(_ => peak = Math.Max(peak, Expect.LiveTensors() - start));
            new TorchSharpPruner(Ldrf).Prune(network, batches, Target(), progress).Dispose();
            foreach (var b in batches)
            {
                b.Dispose();
            }

            return peak;
        }

        var few = Peak(2);
        var many = Peak(8);
        Assert.That(few, Is.GreaterThan(0), "the probe sees the working tensors");
        Assert.That(many, Is.EqualTo(few), "live tensors at the progress points, 8 batches vs 2");
    }

    private static Dictionary<string, byte[]> PrunedBits(Func<TorchSharpPruner> pruner, NetworkPruningOptions options)
    {
        // Fresh network and data each time, from the same seeds, as two separate runs of a program would have.
        using var network = TestNetworks.SmallVgg(seed: 11, redundant: true);
        var batches = TestNetworks.Batches(3, seed: 12);
        using var result = pruner().Prune(network, batches, options);
        foreach (var b in batches)
        {
            b.Dispose();
        }

        return Expect.Bits(result.Network);
    }

    [Test]
    public void Ldrf_with_the_same_inputs_gives_bit_identical_weights()
    {
        var first = PrunedBits(() => new TorchSharpPruner(Ldrf), Target());
        var second = PrunedBits(() => new TorchSharpPruner(Ldrf), Target());
        Expect.SameBits(second, first, "the second run");
    }

    [Test]
    public void Random_selection_with_the_same_seed_gives_bit_identical_weights_and_another_seed_differs()
    {
        static TorchSharpPruner Seeded(int seed) => new(new LdrfOptions { Selection = SelectionKind.Random, Seed = seed });
        var options = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 2, UseCapacityBounds = false, MeasureLatency = false };
        var first = PrunedBits(() => Seeded(3), options);
        var second = PrunedBits(() => Seeded(3), options);
        Expect.SameBits(second, first, "the same seed");
        var other = PrunedBits(() => Seeded(4), options);
        Assert.That(other.Any(kv => !first[kv.Key].AsSpan().SequenceEqual(kv.Value)), Is.True, "another seed picks other channels (the comparison can fail)");
    }

    [TestCase(BaselineKind.RandomLeastSquares)]
    [TestCase(BaselineKind.L1Norm)]
    public void Baselines_with_the_same_seed_give_bit_identical_weights(BaselineKind kind)
    {
        TorchSharpPruner Create() => new(BaselinePruners.Create(kind, new BaselineOptions { Seed = 9 }, new TorchNumericBackend()));
        var options = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 1.5, UseCapacityBounds = false, MeasureLatency = false };
        Expect.SameBits(PrunedBits(Create, options), PrunedBits(Create, options), $"{kind}, second run");
    }
}
