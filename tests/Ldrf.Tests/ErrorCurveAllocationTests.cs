using Ldrf.Allocation;
using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Selection;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests;

/// <summary>Width allocation by error curves (issue 19): the allocator on curves with a known optimum, and the curve itself.</summary>
public class ErrorCurveAllocationTests
{
    private static readonly INumericBackend Backend = MathNetNumericBackend.Instance;

    // Two independent layers of 100 channels whose FLOPs are proportional to their widths (one input channel each).
    private static WidthAllocator TwoLayers(int multiple = 1) => new(
        [new PrunableLayer("redundant", 100, 1), new PrunableLayer("dense", 100, 1)],
        [new ComputeLayer("redundant", 1, null, 1, "redundant", 100), new ComputeLayer("dense", 1, null, 1, "dense", 100)],
        channelMultiple: multiple);

    private static IReadOnlyList<double> Curve(int channels, Func<int, double> error) =>
        Enumerable.Range(0, channels + 1).Select(error).ToArray();

    // "redundant": its first 10 neurons recover everything; "dense": each neuron recovers 1% of its response.
    private static Dictionary<string, IReadOnlyList<double>> KnownCurves() => new()
    {
        ["redundant"] = Curve(100, k => Math.Max(0, (10 - k) / 10.0)),
        ["dense"] = Curve(100, k => (100 - k) / 100.0),
    };

    [Test]
    public void It_cuts_where_the_error_is_free_and_widens_back_to_the_target()
    {
        // 1.8x of 200 FLOPs leaves 111.1: the free cut of "redundant" to 11 channels reaches it (200 / 111 = 1.8018),
        // 12 would not (1.786); the uniform allocation would keep 56 of each and lose 44% of "dense".
        var allocation = TwoLayers().AllocateByError(1.8, KnownCurves());
        Assert.Multiple(() =>
        {
            Assert.That(allocation.KeepCounts["redundant"], Is.EqualTo(11));
            Assert.That(allocation.KeepCounts["dense"], Is.EqualTo(100));
            Assert.That(allocation.Reduction, IsFinite.EqualTo(200.0 / 111, 1e-12));
        });
    }

    [Test]
    public void Beyond_the_free_cut_it_matches_the_brute_force_optimum()
    {
        // 4x of 200 leaves 50 FLOPs. Error per FLOP: "redundant" below 10 channels costs 0.1 per channel, "dense"
        // 0.01, so the optimum keeps "redundant" at 10 and "dense" at 40 (error 0.6). Brute force over every pair agrees.
        var allocator = TwoLayers();
        var curves = KnownCurves();
        var allocation = allocator.AllocateByError(4.0, curves);
        var best = (from r in Enumerable.Range(1, 100)
                    from d in Enumerable.Range(1, 100)
                    where 200.0 / (r + d) >= 4.0
                    orderby curves["redundant"][r] + curves["dense"][d], r + d descending
                    select (r, d)).First();
        Assert.Multiple(() =>
        {
            Assert.That((allocation.KeepCounts["redundant"], allocation.KeepCounts["dense"]), Is.EqualTo(best));
            Assert.That(best, Is.EqualTo((10, 40)));
        });
    }

    [Test]
    public void Coupled_chain_with_convex_curves_lands_within_five_percent_of_the_brute_force_optimum_and_below_uniform()
    {
        // A three-layer chain (the middle layer's FLOPs depend on both neighbours' widths), convex curves of
        // different steepness; brute force over all 12³ allowed widths (multiples of 4 up to 48).
        var layers = new[] { new PrunableLayer("a", 48, 1), new PrunableLayer("b", 48, 1), new PrunableLayer("c", 48, 1) };
        var compute = new[]
        {
            new ComputeLayer("a", 9 * 64, null, 3, "a", 48), new ComputeLayer("b", 9 * 16, "a", 48, "b", 48),
            new ComputeLayer("c", 9 * 4, "b", 48, "c", 48), new ComputeLayer("fc", 1, "c", 48, null, 10),
        };
        var allocator = new WidthAllocator(layers, compute, channelMultiple: 4);
        var steep = new[] { 0.5, 2.0, 6.0 };
        var curves = new Dictionary<string, IReadOnlyList<double>>();
        for (var i = 0; i < 3; i++)
        {
            var s = steep[i];
            curves[layers[i].Name] = Curve(48, k => Math.Pow(1 - (k / 48.0), 1 + s));
        }

        const double target = 3.0;
        var allocation = allocator.AllocateByError(target, curves);
        var widths = Enumerable.Range(1, 12).Select(w => w * 4).ToArray();
        var optimum = (from a in widths
                       from b in widths
                       from c in widths
                       let flops = allocator.Flops(new Dictionary<string, int> { ["a"] = a, ["b"] = b, ["c"] = c })
                       where allocator.FlopsBefore / flops >= target
                       select curves["a"][a] + curves["b"][b] + curves["c"][c]).Min();
        var error = allocation.KeepCounts.Sum(kv => curves[kv.Key][kv.Value]);
        var uniform = allocator.Allocate(target).KeepCounts.Sum(kv => curves[kv.Key][kv.Value]);
        TestContext.Out.WriteLine($"greedy {error:F4}, optimum {optimum:F4}, uniform {uniform:F4}: {string.Join(", ", allocation.KeepCounts)}");
        Assert.Multiple(() =>
        {
            Assert.That(allocation.Reduction, IsFinite.InRange(target, target * 1.05));
            Assert.That(error, IsFinite.AtMost(optimum * 1.05), "within 5% of the brute-force optimum's error");
            Assert.That(error, IsFinite.LessThan(uniform), "below the uniform allocation's error");
        });
    }

    [Test]
    public void A_fixed_layer_keeps_its_width_and_the_others_take_the_rest_of_the_budget()
    {
        // "redundant" was already pruned to 50 (a layer decided earlier): 1.8x of 200 FLOPs leaves 111.1 for the two,
        // so "dense" may keep 61; without the fixed width the free cut of "redundant" would leave "dense" whole.
        var allocation = TwoLayers().AllocateByError(1.8, KnownCurves(), 1, "targetFlopsReduction", "targetFlopsReduction",
            new Dictionary<string, int> { ["redundant"] = 50 });
        Assert.Multiple(() =>
        {
            Assert.That(allocation.KeepCounts["redundant"], Is.EqualTo(50));
            Assert.That(allocation.KeepCounts["dense"], Is.EqualTo(61));
        });
    }

    [Test]
    public void Widths_respect_the_channel_multiple_the_minimum_width_and_layers_without_curves()
    {
        var allocator = new WidthAllocator(
            [new PrunableLayer("redundant", 100, 1), new PrunableLayer("dense", 100, 1), new PrunableLayer("fixed", 64, 1)],
            [new ComputeLayer("redundant", 1, null, 1, "redundant", 100), new ComputeLayer("dense", 1, null, 1, "dense", 100), new ComputeLayer("fixed", 1, null, 1, "fixed", 64)],
            channelMultiple: 16);
        var allocation = allocator.AllocateByError(1.6, KnownCurves(), minimumWidth: 20);
        Assert.Multiple(() =>
        {
            Assert.That(allocation.KeepCounts["fixed"], Is.EqualTo(64), "a layer without a curve keeps its width");
            Assert.That(allocation.KeepCounts["redundant"], Is.EqualTo(32), "the minimum width 20, rounded up to a multiple of 16");
            Assert.That(allocation.KeepCounts.Values, Has.All.Matches<int>(w => w % 16 == 0 || w == 100));
            Assert.That(allocation.Reduction, IsFinite.InRange(1.6, 1.6 * 1.05));
        });
    }

    [Test]
    public void Bad_curves_and_unreachable_targets_are_refused_with_the_argument_named()
    {
        var allocator = TwoLayers();
        Assert.Multiple(() =>
        {
            Assert.That(() => allocator.AllocateByError(2, new Dictionary<string, IReadOnlyList<double>> { ["conv9"] = Curve(100, _ => 0) }),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("errorCurves").And.Message.Contains("conv9").And.Message.Contains("redundant, dense"));
            Assert.That(() => allocator.AllocateByError(2, new Dictionary<string, IReadOnlyList<double>> { ["dense"] = Curve(99, _ => 0) }),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("errorCurves").And.Message.Contains("101"));
            Assert.That(() => allocator.AllocateByError(2, new Dictionary<string, IReadOnlyList<double>> { ["dense"] = Curve(100, k => k == 3 ? double.NaN : 0) }),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("errorCurves").And.Message.Contains("[0, 1]"));
            Assert.That(() => allocator.AllocateByError(3, KnownCurves(), minimumWidth: 50),
                Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("targetFlopsReduction").And.Message.Contains("minimum width of 50"));
            Assert.That(() => allocator.AllocateByError(2, KnownCurves(), minimumWidth: 0),
                Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("minimumWidth"));
        });
    }

    [Test]
    public void The_error_curve_falls_from_one_to_zero_and_is_flat_past_the_information_a_layer_holds()
    {
        // Six of the twelve neurons recover everything (each odd channel is a multiple of the even one before it).
        const int pairs = 6;
        var curve = new GreedyResponseSelector(Backend).ErrorCurve(GreedyResponseSelectorTests.ProportionalPairs(pairs).Context);
        Assert.Multiple(() =>
        {
            Assert.That(curve, Has.Length.EqualTo((2 * pairs) + 1));
            Assert.That(curve, IsFinite.Number, "every error of the curve");
            Assert.That(curve[0], Is.EqualTo(1.0));
            Assert.That(curve.Zip(curve.Skip(1), (a, b) => a - b), Has.All.GreaterThanOrEqualTo(-1e-12), "non-increasing");
            Assert.That(curve[pairs - 1], IsFinite.GreaterThan(0.01), "five neurons cannot hold six neurons' information");
            Assert.That(curve.Skip(pairs), Has.All.LessThan(1e-9), "six neurons recover everything");
        });
    }
}
