using Ldrf.Baselines;
using Ldrf.Recomposition;
using Ldrf.Selection;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests.Baselines;

public class BaselinePrunerTests
{
    [Test]
    public void Factory_builds_every_baseline_by_name()
    {
        var options = new BaselineOptions { Seed = 5, RidgeScale = 1e-3, ThiNetRebuildFilters = true };
        Assert.Multiple(() =>
        {
            Assert.That(BaselinePruners.Create(BaselineKind.L1Norm), Is.InstanceOf<NoReconstructionLayerPruner>()
                .With.Property(nameof(NoReconstructionLayerPruner.Selector)).InstanceOf<L1NormSelector>());
            Assert.That(BaselinePruners.Create(BaselineKind.RandomLeastSquares, options), Is.InstanceOf<LeastSquaresLayerPruner>());
            Assert.That(BaselinePruners.Create(BaselineKind.ThiNet, options), Is.InstanceOf<ThiNetLayerPruner>()
                .With.Property(nameof(ThiNetLayerPruner.RebuildFilters)).True
                .And.Property(nameof(ThiNetLayerPruner.RidgeScale)).EqualTo(1e-3));
            Assert.That(BaselinePruners.Create(BaselineKind.ChannelPruning, options), Is.InstanceOf<ChannelPruningLayerPruner>()
                .With.Property(nameof(ChannelPruningLayerPruner.RidgeScale)).EqualTo(1e-3));
            Assert.That(Enum.GetValues<BaselineKind>().Where(BaselinePruners.NeedsPatchStatistics), Is.EqualTo(new[] { BaselineKind.ThiNet, BaselineKind.ChannelPruning }));
            Assert.That(Enum.GetValues<BaselineKind>().Where(BaselinePruners.NeedsProducerWeights), Is.EqualTo(new[] { BaselineKind.L1Norm }));
            Assert.That(Enum.Parse<BaselineKind>("ThiNet", ignoreCase: true), Is.EqualTo(BaselineKind.ThiNet));
        });
    }

    [Test]
    public void Random_least_squares_is_the_core_pruner_with_a_random_selector()
    {
        var a = TestData.Activations(9, 80, seed: 1);
        var pruned = (a + (0.2 * TestData.Gaussian(9, 80, seed: 2))).PointwiseMaximum(0.0);
        var request = new LayerPruningRequest("fc1", TestData.Gaussian(9, 6, seed: 3), TestData.Stats(pruned, a)) { KeepCount = 4 };
        var baseline = BaselinePruners.Create(BaselineKind.RandomLeastSquares, new BaselineOptions { Seed = 7 }).Prune(request);
        var direct = new LeastSquaresLayerPruner(new RandomSelector(7)).Prune(request);
        Assert.Multiple(() =>
        {
            Assert.That(baseline.KeptChannels, Is.EqualTo(direct.KeptChannels));
            Assert.That(baseline.ConsumerWeights, Is.EqualTo(direct.ConsumerWeights));
        });
    }

    [Test]
    public void L1_norm_baseline_slices_the_consumer_without_reconstruction()
    {
        var a = TestData.Activations(6, 50, seed: 11);
        var m = TestData.Gaussian(6, 8, seed: 12);
        var producer = Matrix<double>.Build.Dense(6, 4, (i, j) => (j % 2 == 0 ? 1 : -1) * new[] { 3.0, 1, 6, 2, 5, 4 }[i]);
        var stats = TestData.Stats(a, a);
        var result = BaselinePruners.Create(BaselineKind.L1Norm).Prune(new LayerPruningRequest("conv2", m, stats) { KeepCount = 3, ProducerWeights = producer });
        int[] expected = [2, 4, 5];
        var response = m.TransposeThisAndMultiply(a);
        var sliced = TestData.Rows(m, expected).TransposeThisAndMultiply(TestData.Rows(a, expected));
        var dropped = TestData.SquaredNorm(a) - TestData.SquaredNorm(TestData.Rows(a, expected));
        Assert.Multiple(() =>
        {
            Assert.That(result.KeptChannels, Is.EqualTo(expected));
            Assert.That(result.ConsumerWeights, Is.EqualTo(TestData.Rows(m, expected)));
            Assert.That(result.BiasCorrection, Is.Null);
            Assert.That(result.Lambda, Is.Null, "nothing is refitted");
            Assert.That(result.ValidCapacity, Is.Null, "no embedding, no capacity");
            Assert.That(result.Embedding, Is.Null);
            Assert.That(new[] { result.DecompositionTime, result.SelectionTime, result.RecompositionTime }, Has.All.Null, "a pruner that does not time its stages says so");
            Assert.That(result.RelativeOutputError, IsFinite.EqualTo(TestData.SquaredNorm(response - sliced) / TestData.SquaredNorm(response), 1e-9));
            Assert.That(result.RelativeEmbeddingError, IsFinite.EqualTo(dropped / TestData.SquaredNorm(a), 1e-9));
        });
    }

    [Test]
    public void Baselines_rank_as_expected_on_a_deep_relu_chain_with_propagation()
    {
        // Dense layers: one kernel position, so the channel statistics are the patch statistics.
        var chain = new DeepChain(16, [32, 32, 32, 32], 10, seed: 200);
        var calibration = TestData.Gaussian(16, 600, seed: 201);
        var test = TestData.Gaussian(16, 600, seed: 202);
        var errors = Enum.GetValues<BaselineKind>().ToDictionary(k => k, k => chain.RelativeOutputError(Prune(chain, BaselinePruners.Create(k), calibration, keep: 14), test));
        TestContext.Out.WriteLine(string.Join(", ", errors.Select(e => $"{e.Key} {e.Value:G4}")));
        Assert.Multiple(() =>
        {
            foreach (var kind in new[] { BaselineKind.RandomLeastSquares, BaselineKind.ThiNet, BaselineKind.ChannelPruning })
            {
                Assert.That(errors[kind], IsFinite.LessThan(0.5 * errors[BaselineKind.L1Norm]), kind.ToString());
            }

            Assert.That(errors[BaselineKind.ChannelPruning], IsFinite.LessThan(errors[BaselineKind.RandomLeastSquares]));
            Assert.That(errors[BaselineKind.ThiNet], IsFinite.LessThan(errors[BaselineKind.RandomLeastSquares]));
        });
    }

    private static DeepChain Prune(DeepChain chain, ILayerPruner pruner, Matrix<double> calibration, int keep)
    {
        var original = chain.Forward(calibration);
        var pruned = chain.Clone();
        for (var l = 0; l < chain.HiddenLayers; l++)
        {
            var current = pruned.Forward(calibration)[l];
            var stats = TestData.Stats(current, original[l]);
            var result = pruner.Prune(new LayerPruningRequest($"dense{l}", pruned.Consumer(l), stats)
            {
                KeepCount = keep,
                ProducerWeights = pruned.Weights[l],
                PatchStatistics = stats,
            });
            pruned.Apply(l, result.KeptChannels, result.ConsumerWeights, result.BiasCorrection);
        }

        return pruned;
    }

    [Test]
    public void Options_are_validated_by_the_factory_and_copied()
    {
        var options = new BaselineOptions();
        Assert.Multiple(() =>
        {
            Assert.That(options.RidgeScale, Is.EqualTo(RidgeRecomposer.DefaultRidgeScale));
            var invalid = new BaselineOptions { RidgeScale = -1 };
            Assert.That(() => BaselinePruners.Create(BaselineKind.ChannelPruning, invalid),
                Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("options").And.Message.Contains("'RidgeScale'").And.Message.Contains("-1"));
            invalid.RidgeScale = double.NaN;
            Assert.That(() => BaselinePruners.Create(BaselineKind.ThiNet, invalid), Throws.ArgumentException.With.Message.Contains("NaN"));
            var copy = options.Clone();
            copy.Seed = 3;
            Assert.That(options.Seed, Is.Zero);
        });
    }
}
