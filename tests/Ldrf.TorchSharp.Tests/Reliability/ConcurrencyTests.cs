using Ldrf.TorchSharp.Pruning;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests.Reliability;

/// <summary>Overlapping <see cref="TorchSharpPruner.Prune"/> calls give what serial calls give.</summary>
[Category("Reliability")]
public class ConcurrencyTests
{
    private static readonly NetworkPruningOptions Options = new() { ChannelMultiple = 1, TargetFlopsReduction = 1.5, UseCapacityBounds = false, MeasureLatency = false };

    [Test]
    public void Overlapping_calls_on_the_same_and_different_networks_match_serial_calls_bit_for_bit()
    {
        using var first = TestNetworks.SmallVgg(seed: 1, redundant: true);
        using var second = TestNetworks.SmallResNet(seed: 2, redundant: true);
        var batches = TestNetworks.Batches(4, 8);
        var pruner = new TorchSharpPruner();
        var jobs = new (nn.Module<Tensor, Tensor> Network, TorchSharpPruner Pruner)[]
        {
            (first, pruner), (first, pruner), (second, pruner), (first, new TorchSharpPruner()),
        };

        // Each call on a thread of its own in both runs, so every call sees the same per-thread libtorch settings.
        Dictionary<string, float[]> RunOne(int i)
        {
            using var result = jobs[i].Pruner.Prune(jobs[i].Network, batches, Options);
            return TestNetworks.Snapshot(result.Network);
        }

        var serial = new List<Dictionary<string, float[]>>();
        for (var i = 0; i < jobs.Length; i++)
        {
            var index = i;
            serial.Add(Task.Factory.StartNew(() => RunOne(index), TaskCreationOptions.LongRunning).Result);
        }

        using var start = new Barrier(jobs.Length);
        var overlapping = Enumerable.Range(0, jobs.Length)
            .Select(i => Task.Factory.StartNew(() =>
            {
                start.SignalAndWait();
                return RunOne(i);
            }, TaskCreationOptions.LongRunning))
            .ToArray();
        Task.WaitAll(overlapping);

        for (var i = 0; i < jobs.Length; i++)
        {
            var expected = serial[i];
            var actual = overlapping[i].Result;
            Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys), $"call {i}");
            foreach (var (name, values) in expected)
            {
                Assert.That(actual[name], Is.EqualTo(values), $"call {i}: '{name}' must match the serial run bit for bit");
            }
        }

        foreach (var b in batches)
        {
            b.Dispose();
        }
    }
}
