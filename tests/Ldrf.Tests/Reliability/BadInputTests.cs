using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests.Reliability;

[Category("BadInput")]
public class BadInputTests
{
    private static readonly INumericBackend Backend = MathNetNumericBackend.Instance;

    private static ChannelStatistics Stats(int channels = 5, int samples = 20)
    {
        var a = TestData.Activations(channels, samples, seed: channels + samples);
        return TestData.Stats(a, a);
    }

    private static LayerPruningRequest Request(Matrix<double>? m = null, ChannelStatistics? stats = null) =>
        new("block2.conv1", m ?? TestData.Gaussian(5, 6, seed: 1), stats ?? Stats());

    /// <summary>Asserts an ArgumentException-family exception whose message contains every fragment.</summary>
    private static void Bad(TestDelegate code, params string[] fragments)
    {
        var ex = Assert.Catch<ArgumentException>(code);
        foreach (var fragment in fragments)
        {
            Assert.That(ex!.Message, Does.Contain(fragment));
        }
    }

    private static Matrix<double> With(Matrix<double> m, int i, int j, double value)
    {
        var copy = m.Clone();
        copy[i, j] = value;
        return copy;
    }

    [Test]
    public void Statistics_reject_bad_batches()
    {
        var stats = new ChannelStatisticsAccumulator(5);
        var good = TestData.Activations(5, 10, seed: 2);
        Bad(() => _ = new ChannelStatisticsAccumulator(0), "'channels'", "0");
        Bad(() => stats.Accumulate(TestData.Activations(4, 10, 3), good), "'pruned'", "4 x 10", "5 rows");
        Bad(() => stats.Accumulate(good, TestData.Activations(5, 9, 3)), "'original'", "5 x 9", "5 x 10");
        Bad(() => stats.Accumulate(Matrix<double>.Build.Dense(5, 0), Matrix<double>.Build.Dense(5, 0)), "'pruned'", "zero samples", "5 x 0");
        Bad(() => stats.Accumulate(With(good, 2, 7, double.NaN), good), "'pruned'", "NaN", "[2, 7]", "5 x 10");
        Bad(() => stats.Accumulate(good, With(good, 4, 0, double.PositiveInfinity)), "'original'", "[4, 0]");
        Bad(() => stats.Accumulate(null!, good), "'pruned'");
        Assert.That(stats.SampleCount, Is.Zero, "a rejected batch must not be half-added");
    }

    [Test]
    public void Statistics_reject_bad_sums_and_merges()
    {
        var gram = Matrix<double>.Build.DenseIdentity(3);
        var sum = Vector<double>.Build.Dense(3, 1.0);
        Bad(() => ChannelStatistics.FromSums(gram, Matrix<double>.Build.DenseIdentity(4), gram, sum, sum, 10), "'cross'", "4 x 4", "3 x 3");
        Bad(() => ChannelStatistics.FromSums(Matrix<double>.Build.Dense(3, 4), gram, gram, sum, sum, 10), "'prunedGram'", "3 x 4", "3 x 3");
        Bad(() => ChannelStatistics.FromSums(gram, With(gram, 1, 1, double.NaN), gram, sum, sum, 10), "'cross'", "NaN", "[1, 1]");
        Bad(() => ChannelStatistics.FromSums(gram, gram, gram, Vector<double>.Build.Dense(2), sum, 10), "'prunedSum'", "length 2", "3");
        Bad(() => ChannelStatistics.FromSums(gram, gram, gram, sum, Vector<double>.Build.Dense(3, double.NegativeInfinity), 10), "'originalSum'", "[0]");
        Bad(() => ChannelStatistics.FromSums(gram, gram, gram, sum, sum, 0), "'samples'", "0");
        Bad(() => ChannelStatistics.FromSums(null!, gram, gram, sum, sum, 10), "'prunedGram'");
        Bad(() => new ChannelStatisticsAccumulator(3).Merge(TestData.Empty(4)), "'shard'", "4 channels", "3");
        Bad(() => new ChannelStatisticsAccumulator(3).Merge(null!), "'shard'");
    }

    [Test]
    public void Pruner_rejects_inconsistent_requests()
    {
        var pruner = new LdrfLayerPruner();
        Bad(() => pruner.Prune(Request(stats: TestData.Empty(5))), "block2.conv1", "zero samples", "5 channels");
        Bad(() => pruner.Prune(Request(TestData.Gaussian(4, 6, 1))), "block2.conv1", "ConsumerWeights", "4 x 6", "5 channels");
        Bad(() => pruner.Prune(Request(With(TestData.Gaussian(5, 6, 1), 3, 2, double.NaN))), "block2.conv1", "ConsumerWeights", "[3, 2]");
        Bad(() => pruner.Prune(new LayerPruningRequest("block2.conv1", TestData.Gaussian(5, 6, 1), Stats()) { KeepCount = 0 }), "block2.conv1", "KeepCount", "5 channels", "0");
        Bad(() => pruner.Prune(new LayerPruningRequest("block2.conv1", TestData.Gaussian(5, 6, 1), Stats()) { KeepCount = 6 }), "KeepCount", "6");
        Bad(() => pruner.Prune(new LayerPruningRequest("block2.conv1", TestData.Gaussian(5, 3, 1), Stats()) { Rank = 4 }), "Rank", "min(C, K) = 3", "5 x 3", "4");
        Bad(() => pruner.Prune(new LayerPruningRequest("block2.conv1", TestData.Gaussian(5, 6, 1), Stats()) { ProducerWeights = TestData.Gaussian(4, 9, 2) }),
            "block2.conv1", "ProducerWeights", "4 x 9", "5 rows");
        Bad(() => pruner.Prune(new LayerPruningRequest("block2.conv1", TestData.Gaussian(5, 6, 1), Stats()) { ProducerWeights = With(TestData.Gaussian(5, 9, 2), 0, 0, double.NaN) }),
            "ProducerWeights", "NaN");
        Bad(() => pruner.Prune(null!), "request");
        Bad(() => _ = new LayerPruningRequest("x", null!, Stats()), "consumerWeights");
    }

    [Test]
    public void L1_selection_without_producer_weights_is_an_argument_error()
    {
        var pruner = new LdrfLayerPruner(new LdrfOptions { Selection = SelectionKind.L1Norm });
        Bad(() => pruner.Prune(new LayerPruningRequest("block2.conv1", TestData.Gaussian(5, 6, 1), Stats()) { KeepCount = 2 }),
            "block2.conv1", "ProducerWeights", "C = 5");
    }

    [Test]
    public void Selectors_reject_keep_out_of_range()
    {
        var stats = Stats();
        var m = TestData.Gaussian(5, 6, 1);
        var context = new SelectionContext("block2.conv1", m, stats, new WeightSvdDecomposer(Backend).Decompose(m, stats, RankRule.Full));
        foreach (var selector in new INeuronSelector[] { new EmbeddingEnergySelector(Backend), new RandomSelector(1), new L1NormSelector() })
        {
            Bad(() => selector.Select(context, 0), "block2.conv1", "'keep'", "5 channels", "0");
            Bad(() => selector.Select(context, 6), "'keep'", "6");
        }
    }

    [Test]
    public void Invalid_options_are_refused_by_every_pruner_built_from_them_each_named()
    {
        // Each value alone, then all at once: the message names every invalid option, not only the first.
        var cases = new (Action<LdrfOptions> Set, string[] Fragments)[]
        {
            (o => o.RidgeScale = -1e-3, ["'RidgeScale'", "-0.001"]),
            (o => o.RidgeScale = double.NaN, ["'RidgeScale'", "NaN"]),
            (o => o.Lambda = -1, ["'Lambda'", "-1"]),
            (o => o.Lambda = double.PositiveInfinity, ["'Lambda'", "Infinity"]),
            (o => o.EnergyThreshold = 0, ["'EnergyThreshold'", "(0, 1]"]),
            (o => o.EnergyThreshold = 1.5, ["'EnergyThreshold'", "1.5"]),
            (o => o.Embedding = (EmbeddingKind)42, ["'Embedding'", "WeightSvd"]),
            (o => o.Selection = (SelectionKind)42, ["'Selection'", "EmbeddingEnergy"]),
            (o => o.Recomposition = (RecompositionKind)42, ["'Recomposition'", "Patch"]),
        };
        var all = new LdrfOptions();
        foreach (var (set, fragments) in cases)
        {
            var options = new LdrfOptions();
            set(options);
            set(all);
            Bad(() => _ = new LdrfLayerPruner(options), ["'options'", "1 invalid", .. fragments]);
            Bad(() => _ = LdrfComponents.CreateRecomposer(options, Backend), ["'options'", .. fragments]);
        }

        var ex = Assert.Throws<ArgumentException>(() => _ = new LdrfLayerPruner(all, Backend))!;
        Assert.That(ex.ParamName, Is.EqualTo("options"));
        Assert.That(ex.Message, Does.Contain("6 invalid"), "RidgeScale, Lambda, EnergyThreshold, Embedding, Selection, Recomposition");
        Assert.That(LdrfOptionsValidator.Instance.Validate(null, new LdrfOptions()).Succeeded, Is.True, "the defaults are valid");
    }

    [Test]
    public void Recomposer_rejects_bad_lambda_and_survivors()
    {
        var stats = Stats();
        var embedding = new WeightSvdDecomposer(Backend).Decompose(TestData.Gaussian(5, 6, 1), stats, RankRule.Full);
        var recomposer = new RidgeRecomposer(Backend);
        Bad(() => _ = new RidgeRecomposer(Backend, lambda: -0.5), "'lambda'", "-0.5");
        Bad(() => _ = new RidgeRecomposer(Backend, ridgeScale: double.NaN), "'ridgeScale'", "NaN");
        Bad(() => recomposer.Fit(embedding, stats, [0, 7], "block2.conv1"), "block2.conv1", "'keptChannels'[1] = 7", "[0, 5)");
        Bad(() => recomposer.Fit(embedding, stats, [1, 1], "block2.conv1"), "'keptChannels'[1] = 1", "repeated");
        Bad(() => recomposer.Fit(embedding, stats, [], "block2.conv1"), "'keptChannels'", "empty", "5 channels");
        Bad(() => recomposer.Fit(embedding, Stats(channels: 6), [0], "block2.conv1"), "block2.conv1", "5 rows", "6 channels");
        Bad(() => recomposer.Fit(embedding, TestData.Empty(5), [0], "block2.conv1"), "zero samples");
    }

    [Test]
    public void Singular_survivors_without_ridge_name_the_layer()
    {
        // Channel 1 never activates, so G is singular when it survives and λ = 0.
        var a = TestData.Activations(4, 30, seed: 5);
        a.SetRow(1, Vector<double>.Build.Dense(30));
        var stats = TestData.Stats(a, a);
        var embedding = new WeightSvdDecomposer(Backend).Decompose(TestData.Gaussian(4, 3, 6), stats, RankRule.Full);
        Bad(() => new RidgeRecomposer(Backend, ridgeScale: 0).Fit(embedding, stats, [0, 1, 2], "block2.conv1"),
            "block2.conv1", "3 survivors", "lambda = 0");
    }

    [Test]
    public void Decomposers_reject_mismatched_or_non_finite_weights_and_ranks()
    {
        var stats = Stats();
        foreach (var kind in Enum.GetValues<EmbeddingKind>())
        {
            var decomposer = LdrfComponents.CreateDecomposer(kind, Backend);
            Bad(() => decomposer.Decompose(TestData.Gaussian(4, 6, 1), stats, RankRule.Full, "block2.conv1"), "block2.conv1", "'consumerWeights'", "4 x 6", "5 rows");
            Bad(() => decomposer.Decompose(With(TestData.Gaussian(5, 6, 1), 0, 5, double.NaN), stats, RankRule.Full, "block2.conv1"), "'consumerWeights'", "[0, 5]");
            Bad(() => decomposer.Decompose(TestData.Gaussian(5, 3, 1), stats, RankRule.Fixed(9), "block2.conv1"), "block2.conv1", "rank 9");
        }

        Bad(() => new ActivationPcaDecomposer(Backend).Decompose(TestData.Gaussian(5, 6, 1), TestData.Empty(5), RankRule.Full, "block2.conv1"), "zero samples");
        Bad(() => new ResponseAwareDecomposer(Backend).Decompose(TestData.Gaussian(5, 6, 1), TestData.Stats(Matrix<double>.Build.Dense(5, 4), Matrix<double>.Build.Dense(5, 4)), RankRule.Full, "block2.conv1"),
            "block2.conv1", "zero activation energy", "5 channels");
        Bad(() => RankRule.Fixed(0), "'rank'", "0");
        Bad(() => RankRule.Energy(-0.1), "'threshold'", "-0.1");
        Bad(() => ValidCapacity.FromEnergy(Vector<double>.Build.DenseOfArray([1, 2]), 0.9), "'spectrum'", "descending", "length 2");
        Bad(() => ValidCapacity.FromEnergy(Vector<double>.Build.DenseOfArray([double.NaN]), 0.9), "'spectrum'", "NaN");
    }

    [Test]
    public void Backend_rejects_mismatched_and_non_definite_matrices()
    {
        Bad(() => Backend.Multiply(TestData.Gaussian(2, 3, 1), TestData.Gaussian(4, 2, 2)), "'a' (2 x 3)", "'b' (4 x 2)");
        Bad(() => Backend.MultiplyTransposed(TestData.Gaussian(2, 3, 1), TestData.Gaussian(2, 4, 2)), "2 x 3", "2 x 4");
        Bad(() => Backend.SymmetricEigen(TestData.Gaussian(2, 3, 1)), "'symmetric'", "2 x 3");
        Bad(() => Backend.Svd(With(TestData.Gaussian(2, 3, 1), 1, 1, double.NaN)), "'a'", "[1, 1]");
        Bad(() => Backend.SolvePositiveDefinite(TestData.Gaussian(3, 3, 1) * 0 - Matrix<double>.Build.DenseIdentity(3), TestData.Gaussian(3, 1, 2)), "'spd'", "3 x 3", "positive definite");
        Bad(() => Backend.SolvePositiveDefinite(Matrix<double>.Build.DenseIdentity(3), TestData.Gaussian(2, 1, 2)), "'rhs'", "2 x 1", "3 rows");
    }
}
