using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Runtime;

namespace Ldrf.TorchSharp.Tests;

public class LibTorchSettingsTests
{
    [Test]
    public void Mkldnn_switch_round_trips_on_linux_x64()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            Assert.That(LibTorchSettings.TryGetMkldnnEnabled(out _), Is.False, "the switch is only reachable on Linux x64");
            return;
        }

        Assert.That(LibTorchSettings.TryGetMkldnnEnabled(out var original), Is.True);
        try
        {
            Assert.That(LibTorchSettings.TrySetMkldnnEnabled(!original), Is.True);
            Assert.That(LibTorchSettings.TryGetMkldnnEnabled(out var flipped) && flipped == !original, Is.True);
        }
        finally
        {
            LibTorchSettings.TrySetMkldnnEnabled(original);
        }

        Assert.That(LibTorchSettings.TryGetMkldnnEnabled(out var restored) && restored == original, Is.True);
    }

    [Test]
    public void Pruning_leaves_the_callers_mkldnn_setting_as_it_found_it([Values] bool enabledBefore)
    {
        if (!LibTorchSettings.TryGetMkldnnEnabled(out var original))
        {
            Assert.Ignore("the oneDNN switch is not reachable on this platform");
        }

        using var network = TestNetworks.SmallVgg();
        var batches = TestNetworks.Batches(2);
        try
        {
            LibTorchSettings.TrySetMkldnnEnabled(enabledBefore);
            var options = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 2, UseCapacityBounds = false, MeasureLatency = false };
            using var result = new TorchSharpPruner(new LdrfOptions(), null).Prune(network, batches, options);
            Assert.That(LibTorchSettings.TryGetMkldnnEnabled(out var after) && after == enabledBefore, Is.True);
        }
        finally
        {
            LibTorchSettings.TrySetMkldnnEnabled(original);
            batches.ForEach(b => b.Dispose());
        }
    }
}
