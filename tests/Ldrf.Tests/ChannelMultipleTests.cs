using Ldrf.Allocation;

namespace Ldrf.Tests;

/// <summary>The width allocator's channel multiple: which widths it allows and that FLOPs targets still hold.</summary>
public class ChannelMultipleTests
{
    private static readonly int[] Widths = [32, 32, 64, 64, 128, 128, 256, 256];
    private static readonly int[] Sizes = [28, 28, 14, 14, 7, 7, 3, 3];

    /// <summary>The shipped Fashion-MNIST VGG's shape: 8 convolutions on 1 x 28 x 28 images and a Linear(256 → 128) → Linear(128 → 10).</summary>
    private static WidthAllocator FashionMnistVgg(int channelMultiple)
    {
        var layers = Widths.Select((c, i) => new PrunableLayer($"conv{i}", c, 1)).Append(new PrunableLayer("fc1", 128, 1)).ToList();
        var compute = new List<ComputeLayer>();
        for (var i = 0; i < Widths.Length; i++)
        {
            compute.Add(new ComputeLayer($"conv{i}", 9.0 * Sizes[i] * Sizes[i], i == 0 ? null : $"conv{i - 1}", i == 0 ? 1 : Widths[i - 1], $"conv{i}", Widths[i]));
        }

        compute.Add(new ComputeLayer("fc1", 1, "conv7", 256, "fc1", 128));
        compute.Add(new ComputeLayer("fc2", 1, "fc1", 128, null, 10));
        return new WidthAllocator(layers, compute, channelMultiple: channelMultiple);
    }

    private static bool Allowed(int width, int channels, int multiple) => width == channels || width % multiple == 0;

    [TestCase(2.0)]
    [TestCase(3.0)]
    [TestCase(5.0)]
    [TestCase(8.0)]
    public void Widths_are_multiples_of_16_and_the_target_holds_within_5_percent(double target)
    {
        var allocator = FashionMnistVgg(16);
        var allocation = allocator.Allocate(target);
        Assert.Multiple(() =>
        {
            Assert.That(allocation.Reduction, IsFinite.InRange(target * 0.95, target * 1.05));
            foreach (var layer in allocator.Layers)
            {
                var width = allocation.KeepCounts[layer.Name];
                Assert.That(Allowed(width, layer.Channels, 16), Is.True, $"{layer.Name}: {width} of {layer.Channels}");
            }
        });
    }

    [TestCase(2.0)]
    [TestCase(5.0)]
    public void A_multiple_of_one_allows_every_width_and_lands_within_one_channel_of_the_target(double target)
    {
        var allocation = FashionMnistVgg(1).Allocate(target);
        Assert.That(allocation.Reduction, IsFinite.AtLeast(target * (1 - 1e-12)).And.LessThan(target * 1.01));
        Assert.That(allocation.KeepCounts.Values.Any(w => w % 16 != 0), Is.True, "uniform fractions of these widths are not all multiples of 16");
    }

    [Test]
    public void Capacities_round_up_to_an_allowed_width()
    {
        var allocator = new WidthAllocator([new PrunableLayer("a", 64, 17), new PrunableLayer("b", 64, 1)],
            [new ComputeLayer("a", 1, null, 3, "a", 64), new ComputeLayer("b", 1, "a", 64, "b", 64), new ComputeLayer("c", 1, "b", 64, null, 10)],
            channelMultiple: 16);
        var allocation = allocator.Allocate(4);
        Assert.That(allocation.KeepCounts["a"], Is.EqualTo(32).Or.EqualTo(48).Or.EqualTo(64), "capacity 17 rounds up to 32 at least");
        // Every capacity rounds up: 17 to 32, 1 to 16.
        Assert.That(allocator.MaxReduction, IsFinite.EqualTo(allocator.FlopsBefore / allocator.Flops(new Dictionary<string, int> { ["a"] = 32, ["b"] = 16 }), 1e-9));
    }

    [TestCase(0.5, 64, 32)]
    [TestCase(0.4, 64, 32)]   // 25.6 -> 26: 32 is nearer than 16
    [TestCase(0.3, 64, 16)]   // 19.2 -> 19: 16 is nearer than 32
    [TestCase(0.1, 64, 16)]   // 6.4 -> 6: no allowed width below 16
    [TestCase(0.9, 100, 96)]  // 90: 96 is nearer than 100 (the full width, always allowed)
    [TestCase(0.5, 12, 12)]   // a layer narrower than the multiple keeps its width
    public void Keep_ratios_round_to_the_nearest_allowed_width(double ratio, int channels, int expected)
    {
        var allocator = new WidthAllocator([new PrunableLayer("a", channels, 1)],
            [new ComputeLayer("a", 1, null, 3, "a", channels), new ComputeLayer("c", 1, "a", channels, null, 10)], channelMultiple: 16);
        var width = allocator.FromRatios(new Dictionary<string, double> { ["a"] = ratio }).KeepCounts["a"];
        Assert.That(width, Is.EqualTo(expected));
    }

    [Test]
    public void A_multiple_below_one_is_refused_with_the_callers_argument()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _ = new WidthAllocator([new PrunableLayer("a", 4, 1)], [], channelMultiple: 0));
        Assert.That(e!.ParamName, Is.EqualTo("channelMultiple"));
    }
}
