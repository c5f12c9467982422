using Ldrf.TorchSharp.Pruning;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

public class PruningTests
{
    [Test]
    public void Probe()
    {
        using var network = TestNetworks.SmallVgg();
        var batches = TestNetworks.Batches(8, 16);
        var pruner = new TorchSharpPruner();
        using var result = pruner.Prune(network, batches, new NetworkPruningOptions { TargetFlopsReduction = 2.0, UseCapacityBounds = false });
        TestContext.Out.WriteLine(result.Report.ToString());
        using var x = TestNetworks.Batches(1, 64, seed: 99)[0];
        using var expected = network.forward(x);
        using var actual = result.Network.forward(x);
        TestContext.Out.WriteLine("rel err " + TestNetworks.RelativeError(actual, expected));
    }
}
