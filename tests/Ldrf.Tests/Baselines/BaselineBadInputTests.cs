using Ldrf.Baselines;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests.Baselines;

[Category("BadInput")]
public class BaselineBadInputTests
{
    private static void Bad(TestDelegate code, params string[] fragments)
    {
        var ex = Assert.Catch<ArgumentException>(code);
        foreach (var fragment in fragments)
        {
            Assert.That(ex!.Message, Does.Contain(fragment));
        }
    }

    private static ConvLayerData Data => ConvLayerData.Create(4, 3, 4, seed: 1);

    [TestCase(BaselineKind.ThiNet, "ThiNet")]
    [TestCase(BaselineKind.ChannelPruning, "Channel Pruning")]
    public void Output_aware_baselines_reject_missing_or_mismatched_patch_statistics(BaselineKind kind, string method)
    {
        var data = Data;
        var pruner = BaselinePruners.Create(kind);
        var m = data.ConsumerWeights;
        Bad(() => pruner.Prune(new LayerPruningRequest("features.3", m, data.ChannelStatistics) { KeepCount = 2 }),
            "features.3", method, "'PatchStatistics'", "null", "C = 4");
        Bad(() => pruner.Prune(new LayerPruningRequest("features.3", m, data.ChannelStatistics) { KeepCount = 2, PatchStatistics = TestData.Empty(38) }),
            "features.3", "38 features", "C = 4");
        Bad(() => pruner.Prune(new LayerPruningRequest("features.3", m, data.ChannelStatistics) { KeepCount = 2, PatchStatistics = Stats(4 * 4) }),
            "features.3", "16 features", "P = 16 / 4 = 4", "4 x 27", "27");
        Bad(() => pruner.Prune(new LayerPruningRequest("features.3", m, data.ChannelStatistics) { KeepCount = 2, PatchStatistics = TestData.Empty(36) }),
            "features.3", "zero samples", "36 features");
    }

    [TestCase(BaselineKind.L1Norm)]
    [TestCase(BaselineKind.RandomLeastSquares)]
    [TestCase(BaselineKind.ThiNet)]
    [TestCase(BaselineKind.ChannelPruning)]
    public void Every_baseline_rejects_a_keep_count_out_of_range(BaselineKind kind)
    {
        var data = Data;
        var pruner = BaselinePruners.Create(kind);
        Bad(() => pruner.Prune(Request(data, keep: 0)), "features.3", "KeepCount", "4 channels", "0");
        Bad(() => pruner.Prune(Request(data, keep: 5)), "features.3", "KeepCount", "4 channels", "5");
        Bad(() => pruner.Prune(new LayerPruningRequest("features.3", TestData.Gaussian(3, 27, 2), data.ChannelStatistics) { KeepCount = 2 }),
            "features.3", "ConsumerWeights", "3 x 27", "4 channels");
    }

    [Test]
    public void L1_norm_baseline_needs_the_producer_weights()
    {
        var data = Data;
        var request = new LayerPruningRequest("features.3", data.ConsumerWeights, data.ChannelStatistics) { KeepCount = 2 };
        Bad(() => BaselinePruners.Create(BaselineKind.L1Norm).Prune(request), "features.3", "ProducerWeights", "C = 4");
        Bad(() => BaselinePruners.Create(BaselineKind.L1Norm).Prune(new LayerPruningRequest("features.3", data.ConsumerWeights, data.ChannelStatistics)
        {
            KeepCount = 2,
            ProducerWeights = TestData.Gaussian(5, 9, 3),
        }), "features.3", "ProducerWeights", "5 x 9", "4 rows");
    }

    [Test]
    public void Singular_rebuild_without_ridge_names_the_layer()
    {
        // A kept channel that is silent in the pruned network makes G′_SS singular when λ = 0 (8 images x 10
        // locations: enough patch samples for the patch rebuild of 4 kept channels x 9 positions).
        var data = ConvLayerData.Create(4, 3, 8, seed: 3);
        var pruned = data.PrunedPatches.Clone();
        for (var j = 0; j < 9; j++)
        {
            pruned.SetRow(j, Vector<double>.Build.Dense(pruned.ColumnCount));
        }

        var request = new LayerPruningRequest("features.3", data.ConsumerWeights, data.ChannelStatistics)
        {
            PatchStatistics = TestData.Stats(pruned, data.OriginalPatches),
        };
        Bad(() => new ChannelPruningLayerPruner(ridgeScale: 0).Prune(request), "features.3", "singular", "4 kept channels", "36 unknowns");
        Assert.That(new ChannelPruningLayerPruner().Prune(request).ConsumerWeights.RowCount, Is.EqualTo(4), "a positive ridge copes");
    }

    [Test]
    public void Constructors_and_factory_reject_bad_arguments()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new ThiNetLayerPruner(-1), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("ridgeScale"));
            Assert.That(() => new ChannelPruningLayerPruner(double.PositiveInfinity), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("ridgeScale"));
            Assert.That(() => new NoReconstructionLayerPruner(null!), Throws.ArgumentNullException);
            Assert.That(() => BaselinePruners.Create((BaselineKind)42), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("ThiNet"));
        });
    }

    private static LayerPruningRequest Request(ConvLayerData data, int keep) =>
        new("features.3", data.ConsumerWeights, data.ChannelStatistics)
        {
            KeepCount = keep,
            PatchStatistics = data.PatchStatistics,
            ProducerWeights = TestData.Gaussian(4, 9, 5),
        };

    private static ChannelStatistics Stats(int features)
    {
        var a = TestData.Activations(features, 30, features);
        return TestData.Stats(a, a);
    }
}
