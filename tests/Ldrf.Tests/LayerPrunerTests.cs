using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;
using Microsoft.Extensions.DependencyInjection;

namespace Ldrf.Tests;

public class LayerPrunerTests
{
    /// <summary>12 neurons: 4 independent ones and 8 exact linear combinations of them.</summary>
    private static (Matrix<double> Activations, Matrix<double> Consumer) RedundantLayer()
    {
        var basis = TestData.Activations(4, 300, seed: 31);
        var mixing = Matrix<double>.Build.DenseIdentity(4).Stack(TestData.Gaussian(8, 4, seed: 32).PointwiseAbs());
        return (mixing * basis, TestData.Gaussian(12, 20, seed: 33));
    }

    [TestCase(EmbeddingKind.ActivationPca)]
    [TestCase(EmbeddingKind.ResponseAware)]
    public void Redundant_layer_is_pruned_to_its_rank_with_round_off_error(EmbeddingKind kind)
    {
        var (a, m) = RedundantLayer();
        var pruner = new LdrfLayerPruner(new LdrfOptions { Embedding = kind, EnergyThreshold = 0.99999, RidgeScale = 0 });
        var result = pruner.Prune(new LayerPruningRequest("redundant", m, TestData.Stats(a, a)));
        AssertExact(result, a, m, expectedKept: 4);
        Assert.That(result.ValidCapacity, Is.EqualTo(4));
    }

    [Test]
    public void Redundant_layer_with_weight_svd_and_explicit_width_is_exact_too()
    {
        var (a, m) = RedundantLayer();
        var pruner = new LdrfLayerPruner(new LdrfOptions { RidgeScale = 0 });
        var result = pruner.Prune(new LayerPruningRequest("redundant", m, TestData.Stats(a, a)) { KeepCount = 4 });
        AssertExact(result, a, m, expectedKept: 4);
        Assert.That(result.ValidCapacity, Is.EqualTo(12), "the weights alone do not reveal the redundancy");
    }

    [Test]
    public void Propagation_beats_no_propagation_and_any_recomposition_beats_none_on_a_deep_relu_chain()
    {
        var chain = new DeepChain(16, [32, 32, 32, 32, 32, 32], 10, seed: 100);
        var calibration = TestData.Gaussian(16, 1000, seed: 7);
        var test = TestData.Gaussian(16, 1000, seed: 8);
        var pruner = new LdrfLayerPruner();
        var propagatedSets = new List<int[]>();
        var isolatedSets = new List<int[]>();
        var propagated = chain.RelativeOutputError(chain.Prune(pruner, calibration, keep: 14, propagate: true, propagatedSets), test);
        var isolated = chain.RelativeOutputError(chain.Prune(pruner, calibration, keep: 14, propagate: false, isolatedSets), test);
        var droppedPropagated = chain.RelativeOutputError(chain.Drop(propagatedSets), test);
        var droppedIsolated = chain.RelativeOutputError(chain.Drop(isolatedSets), test);
        TestContext.Out.WriteLine($"propagation {propagated:G4}, none {isolated:G4}, no recomposition {droppedPropagated:G4} / {droppedIsolated:G4}");
        Assert.Multiple(() =>
        {
            Assert.That(propagated, IsFinite.LessThan(isolated));
            Assert.That(isolated, IsFinite.LessThan(droppedIsolated));
            Assert.That(propagated, IsFinite.LessThan(droppedPropagated));
            Assert.That(propagated, IsFinite.LessThan(0.5 * Math.Min(droppedPropagated, droppedIsolated)));
        });
    }

    [Test]
    public void Output_error_from_the_grams_equals_the_explicit_consumer_error()
    {
        var original = TestData.Activations(10, 200, seed: 41);
        var pruned = (original + (0.2 * TestData.Gaussian(10, 200, seed: 42))).PointwiseMaximum(0.0);
        var m = TestData.Gaussian(10, 7, seed: 43);
        var result = new LdrfLayerPruner(new LdrfOptions { FitIntercept = true })
            .Prune(new LayerPruningRequest("l", m, TestData.Stats(pruned, original)) { KeepCount = 5 });
        var response = m.TransposeThisAndMultiply(original);
        var fit = result.ConsumerWeights.TransposeThisAndMultiply(TestData.Rows(pruned, result.KeptChannels));
        for (var j = 0; j < fit.ColumnCount; j++)
        {
            fit.SetColumn(j, fit.Column(j) + result.BiasCorrection!);
        }

        var expected = TestData.SquaredNorm(response - fit) / TestData.SquaredNorm(response);
        Assert.That(result.RelativeOutputError, IsFinite.EqualTo(expected, 1e-9));
    }

    [Test]
    public void Pruning_is_bit_reproducible_and_leaves_the_inputs_alone()
    {
        var a = TestData.Activations(9, 120, seed: 51);
        var m = TestData.Gaussian(9, 11, seed: 52);
        var mCopy = m.Clone();
        var stats = TestData.Stats(a, a);
        var gram = stats.PrunedGram;
        var options = new LdrfOptions { Embedding = EmbeddingKind.ResponseAware };
        var first = new LdrfLayerPruner(options).Prune(new LayerPruningRequest("l", m, stats) { KeepCount = 5 });
        var second = new LdrfLayerPruner(options).Prune(new LayerPruningRequest("l", m, stats) { KeepCount = 5 });
        Assert.Multiple(() =>
        {
            Assert.That(second.KeptChannels, Is.EqualTo(first.KeptChannels));
            Assert.That(second.ConsumerWeights, Is.EqualTo(first.ConsumerWeights));
            Assert.That(m, Is.EqualTo(mCopy));
            Assert.That(stats.PrunedGram, Is.EqualTo(gram));
        });
    }

    [Test]
    public void Selectors_follow_their_rules()
    {
        var a = TestData.Activations(6, 50, seed: 61);
        var m = TestData.Gaussian(6, 4, seed: 62);
        var producer = Matrix<double>.Build.Dense(6, 3, (i, _) => new[] { 1.0, 5, 2, 6, 3, 4 }[i]);
        var stats = TestData.Stats(a, a);
        var embedding = new WeightSvdDecomposer(MathNetNumericBackend.Instance).Decompose(m, stats, RankRule.Full);
        var context = new SelectionContext("l", m, stats, embedding, producer);
        var energy = Enumerable.Range(0, 6).Select(i => stats.PrunedGram[i, i] * m.Row(i).DotProduct(m.Row(i))).ToArray();
        var expectedEnergy = Enumerable.Range(0, 6).OrderByDescending(i => energy[i]).Take(3).Order().ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(new L1NormSelector().Select(context, 3), Is.EqualTo(new[] { 1, 3, 5 }));
            Assert.That(new EmbeddingEnergySelector(MathNetNumericBackend.Instance).Select(context, 3), Is.EqualTo(expectedEnergy));
            var random = new RandomSelector(3).Select(context, 4);
            Assert.That(random, Is.EqualTo(new RandomSelector(3).Select(context, 4)));
            Assert.That(random, Is.Ordered.And.Unique.And.Length.EqualTo(4));
        });
    }

    [Test]
    public void Cancellation_is_honoured()
    {
        var a = TestData.Activations(5, 20, seed: 71);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.That(() => new LdrfLayerPruner().Prune(new LayerPruningRequest("l", TestData.Gaussian(5, 3, 72), TestData.Stats(a, a)), cts.Token),
            Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public void AddLdrf_resolves_the_pruner_and_applies_the_options()
    {
        var services = new ServiceCollection();
        Assert.That(services.AddLdrf(o =>
        {
            o.Embedding = EmbeddingKind.ResponseAware;
            o.Selection = SelectionKind.Random;
            o.Seed = 9;
            o.RidgeScale = 1e-3;
            o.FitIntercept = true;
        }).Services, Is.SameAs(services));
        using var provider = services.BuildServiceProvider();
        var pruner = provider.GetRequiredService<ILayerPruner>();
        Assert.Multiple(() =>
        {
            Assert.That(pruner, Is.InstanceOf<LdrfLayerPruner>());
            var ldrf = (LdrfLayerPruner)pruner;
            Assert.That(ldrf.Decomposer.Kind, Is.EqualTo(EmbeddingKind.ResponseAware));
            Assert.That(ldrf.Selector, Is.InstanceOf<RandomSelector>().With.Property(nameof(RandomSelector.Seed)).EqualTo(9));
            // The default patch recomposition reads its ridge settings from the channel recomposition it falls back to.
            Assert.That(ldrf.Recomposer, Is.InstanceOf<PatchRidgeRecomposer>());
            Assert.That(((PatchRidgeRecomposer)ldrf.Recomposer).Channel.RidgeScale, Is.EqualTo(1e-3));
            Assert.That(((PatchRidgeRecomposer)ldrf.Recomposer).Channel.FitIntercept, Is.True);
            Assert.That(provider.GetRequiredService<INumericBackend>(), Is.InstanceOf<MathNetNumericBackend>());
        });

        var a = TestData.Activations(6, 40, seed: 81);
        var result = pruner.Prune(new LayerPruningRequest("l", TestData.Gaussian(6, 5, 82), TestData.Stats(a, a)) { KeepCount = 3 });
        Assert.That(result.BiasCorrection, Is.Not.Null);
    }

    [Test]
    public void AddLdrf_keeps_parts_registered_before_it()
    {
        var services = new ServiceCollection();
        services.AddSingleton<INeuronSelector>(new L1NormSelector());
        services.AddLdrf();
        using var provider = services.BuildServiceProvider();
        Assert.That(((LdrfLayerPruner)provider.GetRequiredService<ILayerPruner>()).Selector, Is.InstanceOf<L1NormSelector>());
    }

    private static void AssertExact(LayerPruningResult result, Matrix<double> a, Matrix<double> m, int expectedKept)
    {
        var response = m.TransposeThisAndMultiply(a);
        var rebuilt = result.ConsumerWeights.TransposeThisAndMultiply(TestData.Rows(a, result.KeptChannels));
        Assert.Multiple(() =>
        {
            Assert.That(result.KeptChannels, Has.Length.EqualTo(expectedKept));
            Assert.That(TestData.RelativeError(rebuilt, response), IsFinite.LessThan(1e-10));
            Assert.That(result.RelativeOutputError, IsFinite.LessThan(1e-12));
            Assert.That(result.RelativeEmbeddingError, IsFinite.LessThan(1e-12));
        });
    }

    [Test]
    public void Statistics_type_is_usable_without_a_container()
    {
        // Statistics accumulated in two batches by hand, no container: the pruner must see exactly these activations.
        var pruned = TestData.Activations(3, 10, 1);
        var original = TestData.Activations(3, 10, 2);
        var accumulator = new ChannelStatisticsAccumulator(3);
        accumulator.Accumulate(pruned.SubMatrix(0, 3, 0, 4), original.SubMatrix(0, 3, 0, 4));
        accumulator.Accumulate(pruned.SubMatrix(0, 3, 4, 6), original.SubMatrix(0, 3, 4, 6));
        var stats = accumulator.ToStatistics();
        var m = TestData.Gaussian(3, 4, 3);
        var result = new LdrfLayerPruner(new LdrfOptions(), MathNetNumericBackend.Instance)
            .Prune(new LayerPruningRequest("l", m, stats) { KeepCount = 2 });

        var response = m.TransposeThisAndMultiply(original);
        var fit = result.ConsumerWeights.TransposeThisAndMultiply(TestData.Rows(pruned, result.KeptChannels));
        var explicitError = TestData.SquaredNorm(response - fit) / TestData.SquaredNorm(response);
        Assert.Multiple(() =>
        {
            Assert.That(stats.SampleCount, Is.EqualTo(10));
            Assert.That(result.KeptChannels, Is.Ordered.And.Unique.And.Length.EqualTo(2).And.All.InRange(0, 2));
            Assert.That(result.ConsumerWeights.RowCount, Is.EqualTo(2));
            Assert.That(result.ConsumerWeights.ColumnCount, Is.EqualTo(4));
            Assert.That(result.RelativeOutputError, IsFinite.EqualTo(explicitError, 1e-9), "the error on the accumulated activations");
            Assert.That(result.RelativeOutputError, IsFinite.LessThan(1), "better than dropping the layer's output");
        });
    }
}
