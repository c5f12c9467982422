using Ldrf.TorchSharp.Pruning;

namespace Ldrf.TorchSharp.Tests;

/// <summary>The report doubts a latency ratio that the measurement cannot support.</summary>
public class LatencyResultTests
{
    private static LatencyResult Latency(double before, (double, double) beforeQuartiles, double after, (double, double) afterQuartiles) => new(
        TimeSpan.FromMilliseconds(before), TimeSpan.FromMilliseconds(after), 32,
        (TimeSpan.FromMilliseconds(beforeQuartiles.Item1), TimeSpan.FromMilliseconds(beforeQuartiles.Item2)),
        (TimeSpan.FromMilliseconds(afterQuartiles.Item1), TimeSpan.FromMilliseconds(afterQuartiles.Item2)));

    [Test]
    public void Separate_quartiles_are_trusted()
    {
        Assert.That(Latency(300, (290, 310), 100, (95, 110)).Doubt(3), Is.Null);
    }

    [Test]
    public void A_slower_pruned_network_with_fewer_flops_is_called_noise()
    {
        // One ResNet-18 report on a loaded machine read 143.6 -> 815.4 ms for a third of the FLOPs.
        var doubt = Latency(143.6, (120, 400), 815.4, (500, 900)).Doubt(3);
        Assert.That(doubt, Does.Contain("no faster").And.Contain("noise").And.Contain("3.00x fewer FLOPs"));
    }

    [Test]
    public void Overlapping_quartiles_are_called_noise()
    {
        var doubt = Latency(300, (200, 420), 150, (100, 260)).Doubt(3);
        Assert.That(doubt, Does.Contain("cannot tell the two networks apart").And.Contain("2.00x"));
    }
}
