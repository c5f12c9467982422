using System.Globalization;
using Ldrf.Allocation;

namespace Ldrf.Tests;

public class WidthAllocatorTests
{
    private static readonly int[] Widths = [64, 64, 128, 128, 256, 256, 512, 512];
    private static readonly int[] Sizes = [32, 32, 16, 16, 8, 8, 4, 4];

    /// <summary>An 8-conv VGG chain on 32x32 RGB inputs with a Linear(512·2·2 → 10) classifier.</summary>
    private static WidthAllocator Vgg(double capacityFraction)
    {
        var layers = Widths.Select((c, i) => new PrunableLayer($"conv{i}", c, Math.Max(1, (int)(capacityFraction * c)))).ToList();
        var compute = new List<ComputeLayer>();
        for (var i = 0; i < Widths.Length; i++)
        {
            compute.Add(new ComputeLayer($"conv{i}", 9.0 * Sizes[i] * Sizes[i],
                i == 0 ? null : $"conv{i - 1}", i == 0 ? 3 : Widths[i - 1], $"conv{i}", Widths[i]));
        }

        compute.Add(new ComputeLayer("fc", 2 * 2, "conv7", 512, null, 10));
        return new WidthAllocator(layers, compute, fixedFlops: 1000);
    }

    [Test]
    public void Flops_follow_the_chain_formula()
    {
        var allocator = new WidthAllocator(
            [new PrunableLayer("a", 4, 1), new PrunableLayer("b", 6, 2)],
            [new ComputeLayer("a", 10, null, 3, "a", 4), new ComputeLayer("b", 2, "a", 4, "b", 6), new ComputeLayer("fc", 5, "b", 6, null, 7)],
            fixedFlops: 11);
        Assert.Multiple(() =>
        {
            Assert.That(allocator.FlopsBefore, Is.EqualTo((10 * 3 * 4) + (2 * 4 * 6) + (5 * 6 * 7) + 11));
            Assert.That(allocator.Flops(new Dictionary<string, int> { ["a"] = 2, ["b"] = 3 }), Is.EqualTo((10 * 3 * 2) + (2 * 2 * 3) + (5 * 3 * 7) + 11));
            Assert.That(allocator.MaxReduction, IsFinite.EqualTo(allocator.FlopsBefore / ((10 * 3 * 1) + (2 * 1 * 2) + (5 * 2 * 7) + 11)));
        });
    }

    [TestCase(2.0)]
    [TestCase(5.0)]
    [TestCase(8.0)]
    public void Allocate_hits_the_target_within_one_percent_and_respects_capacity(double target)
    {
        var allocator = Vgg(capacityFraction: 0.25);
        var allocation = allocator.Allocate(target);
        Assert.Multiple(() =>
        {
            Assert.That(allocation.Reduction, IsFinite.AtLeast(target * (1 - 1e-12)));
            Assert.That(allocation.Reduction, IsFinite.LessThan(target * 1.01));
            Assert.That(allocation.FlopsBefore, Is.EqualTo(allocator.FlopsBefore));
            Assert.That(allocation.FlopsAfter, Is.EqualTo(allocator.Flops(allocation.KeepCounts)));
            foreach (var layer in allocator.Layers)
            {
                Assert.That(allocation.KeepCounts[layer.Name], Is.InRange(layer.Capacity, layer.Channels), layer.Name);
            }
        });
    }

    [Test]
    public void Capacity_bound_shifts_the_cut_to_layers_that_can_afford_it()
    {
        var layers = new[] { new PrunableLayer("tight", 100, 90), new PrunableLayer("loose", 100, 5) };
        var compute = new[] { new ComputeLayer("tight", 1, null, 100, "tight", 100), new ComputeLayer("loose", 1, null, 100, "loose", 100) };
        var allocation = new WidthAllocator(layers, compute).Allocate(1.6);
        Assert.Multiple(() =>
        {
            Assert.That(allocation.KeepCounts["tight"], Is.EqualTo(90));
            Assert.That(allocation.KeepCounts["loose"], Is.EqualTo(35));
            Assert.That(allocation.Reduction, IsFinite.EqualTo(200.0 / 125, 1e-12));
        });
    }

    [Test]
    public void Target_of_one_keeps_everything()
    {
        var allocation = Vgg(0.25).Allocate(1.0);
        Assert.That(allocation.KeepCounts.Values, Is.EqualTo(Widths));
    }

    [Test]
    public void FromRatios_rounds_and_keeps_unnamed_layers()
    {
        var allocation = Vgg(0.25).FromRatios(new Dictionary<string, double> { ["conv0"] = 0.5, ["conv7"] = 0.1 });
        Assert.Multiple(() =>
        {
            Assert.That(allocation.KeepCounts["conv0"], Is.EqualTo(32));
            Assert.That(allocation.KeepCounts["conv7"], Is.EqualTo(51));
            Assert.That(allocation.KeepCounts["conv3"], Is.EqualTo(128));
            Assert.That(allocation.Reduction, IsFinite.GreaterThan(1));
        });
    }

    [Test, Category("BadInput")]
    public void Unreachable_target_reports_the_best_reachable_ratio()
    {
        var allocator = Vgg(capacityFraction: 0.6);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => allocator.Allocate(5));
        Assert.Multiple(() =>
        {
            Assert.That(ex!.ParamName, Is.EqualTo("targetFlopsReduction"));
            Assert.That(allocator.MaxReduction, IsFinite.LessThan(5));
            Assert.That(ex.Message, Does.Contain(allocator.MaxReduction.ToString("0.###", CultureInfo.InvariantCulture) + "x"));
            Assert.That(ex.Message, Does.Contain("5x"));
        });
    }

    [Test, Category("BadInput")]
    public void Unknown_layer_names_are_listed()
    {
        var ex = Assert.Throws<ArgumentException>(() => Vgg(0.25).FromRatios(new Dictionary<string, double> { ["conv9"] = 0.5 }));
        Assert.Multiple(() =>
        {
            Assert.That(ex!.ParamName, Is.EqualTo("keepRatios"));
            Assert.That(ex.Message, Does.Contain("conv9").And.Contain("conv0, conv1"));
        });
    }

    [Test, Category("BadInput")]
    public void Bad_targets_ratios_and_layers_are_rejected()
    {
        var allocator = Vgg(0.25);
        Assert.Multiple(() =>
        {
            Assert.That(() => allocator.Allocate(0.5), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("targetFlopsReduction"));
            Assert.That(() => allocator.Allocate(double.NaN), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => allocator.FromRatios(new Dictionary<string, double> { ["conv1"] = 1.5 }),
                Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("conv1").And.Message.Contains("64 channels"));
            Assert.That(() => allocator.Flops(new Dictionary<string, int> { ["conv1"] = 65 }),
                Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("between 1 and 64"));
            Assert.That(() => new WidthAllocator([new PrunableLayer("a", 4, 5)], []),
                Throws.ArgumentException.With.Message.Contains("Capacity = 5 and Channels = 4"));
            Assert.That(() => new WidthAllocator([new PrunableLayer("a", 4, 1), new PrunableLayer("a", 4, 1)], []),
                Throws.ArgumentException.With.Message.Contains("repeated name 'a'"));
            Assert.That(() => new WidthAllocator([new PrunableLayer("a", 4, 1)], [new ComputeLayer("c", 1, "b", 4, null, 3)]),
                Throws.ArgumentException.With.Message.Contains("InputLayer 'b'"));
            Assert.That(() => new WidthAllocator([new PrunableLayer("a", 4, 1)], [new ComputeLayer("c", 1, "a", 5, null, 3)]),
                Throws.ArgumentException.With.Message.Contains("InputChannels is 5 but InputLayer 'a' has 4"));
        });
    }
}
