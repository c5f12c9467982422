using Ldrf.Allocation;
using Ldrf.Baselines;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Decomposition;
using Ldrf.Selection;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests.Reliability;

/// <summary>
/// The core's bad-input catalogue (docs/bad-input-catalogue.md): one case per test, each asserting the exact
/// exception type and that the message names the culprit (argument, layer, sizes, position).
/// </summary>
[Category("BadInput")]
public class CoreBadInputCatalogueTests
{
    private const string Layer = "block2.conv1";

    // For exceptions that are not argument exceptions (corrupt data); every argument exception goes through
    // CallerArgument.Throws, which also checks that its ParamName is an argument of the public method called.
    private static T Throws<T>(TestDelegate code, params string[] fragments)
        where T : Exception
    {
        Assert.That(typeof(ArgumentException).IsAssignableFrom(typeof(T)), Is.False, "an argument exception is asserted with CallerArgument.Throws");
        var ex = Assert.Throws<T>(code)!;
        foreach (var fragment in fragments)
        {
            Assert.That(ex.Message, Does.Contain(fragment), $"the message must name '{fragment}'");
        }

        return ex;
    }

    private static ChannelStatistics Stats(int channels = 5, int samples = 20)
    {
        var a = TestData.Activations(channels, samples, seed: channels + samples);
        return TestData.Stats(a, a);
    }

    private static Matrix<double> With(Matrix<double> m, int i, int j, double value)
    {
        var copy = m.Clone();
        copy[i, j] = value;
        return copy;
    }

    private static byte[] Serialized(ChannelStatistics stats)
    {
        using var stream = new MemoryStream();
        stats.WriteTo(stream);
        return stream.ToArray();
    }

    // ---- Statistics ---------------------------------------------------------------------------------------

    [Test]
    public void C01_statistics_need_at_least_one_channel()
    {
        var ex = CallerArgument.Throws<ArgumentOutOfRangeException>(typeof(ChannelStatisticsAccumulator), ".ctor", () => _ = new ChannelStatisticsAccumulator(0), "'channels'", "at least 1", "0");
        Assert.That(ex.ParamName, Is.EqualTo("channels"));
        var tooMany = CallerArgument.Throws<ArgumentOutOfRangeException>(typeof(ChannelStatisticsAccumulator), ".ctor", () => _ = new ChannelStatisticsAccumulator(46_341), "'channels'", "at most 46340", "46341");
        Assert.That(tooMany.ParamName, Is.EqualTo("channels"));
    }

    [Test]
    public void C02_a_batch_with_the_wrong_channel_count_names_both_sizes()
    {
        var stats = new ChannelStatisticsAccumulator(5);
        var ex = CallerArgument.Throws<ArgumentException>(typeof(ChannelStatisticsAccumulator), nameof(ChannelStatisticsAccumulator.Accumulate), () => stats.Accumulate(TestData.Activations(4, 10, 3), TestData.Activations(5, 10, 2)), "'pruned'", "4 x 10", "5 rows");
        Assert.That(ex.ParamName, Is.EqualTo("pruned"));
        Assert.That(stats.SampleCount, Is.Zero, "nothing is half-added");
    }

    [Test]
    public void C03_pruned_and_original_batches_of_different_lengths_name_both_shapes()
    {
        var stats = new ChannelStatisticsAccumulator(5);
        CallerArgument.Throws<ArgumentException>(typeof(ChannelStatisticsAccumulator), nameof(ChannelStatisticsAccumulator.Accumulate), () => stats.Accumulate(TestData.Activations(5, 10, 2), TestData.Activations(5, 9, 3)), "'original'", "5 x 9", "5 x 10");
    }

    [Test]
    public void C04_an_empty_batch_is_refused()
    {
        var stats = new ChannelStatisticsAccumulator(5);
        CallerArgument.Throws<ArgumentException>(typeof(ChannelStatisticsAccumulator), nameof(ChannelStatisticsAccumulator.Accumulate), () => stats.Accumulate(Matrix<double>.Build.Dense(5, 0), Matrix<double>.Build.Dense(5, 0)), "'pruned'", "zero samples", "5 x 0");
    }

    [Test]
    public void C05_nan_in_a_batch_names_the_matrix_and_position()
    {
        var stats = new ChannelStatisticsAccumulator(5);
        var good = TestData.Activations(5, 10, seed: 2);
        CallerArgument.Throws<ArgumentException>(typeof(ChannelStatisticsAccumulator), nameof(ChannelStatisticsAccumulator.Accumulate), () => stats.Accumulate(With(good, 2, 7, double.NaN), good), "'pruned'", "NaN", "[2, 7]", "5 x 10");
        Assert.That(stats.SampleCount, Is.Zero);
    }

    [Test]
    public void C06_infinity_in_a_batch_names_the_matrix_and_position()
    {
        var stats = new ChannelStatisticsAccumulator(5);
        var good = TestData.Activations(5, 10, seed: 2);
        CallerArgument.Throws<ArgumentException>(typeof(ChannelStatisticsAccumulator), nameof(ChannelStatisticsAccumulator.Accumulate), () => stats.Accumulate(good, With(good, 4, 0, double.PositiveInfinity)), "'original'", "Infinity", "[4, 0]");
    }

    [Test]
    public void C07_sums_for_zero_samples_are_refused()
    {
        var gram = Matrix<double>.Build.DenseIdentity(3);
        var sum = Vector<double>.Build.Dense(3, 1.0);
        var ex = CallerArgument.Throws<ArgumentOutOfRangeException>(typeof(ChannelStatistics), nameof(ChannelStatistics.FromSums), () => ChannelStatistics.FromSums(gram, gram, gram, sum, sum, 0), "'samples'", "at least 1", "0");
        Assert.That(ex.ParamName, Is.EqualTo("samples"));
    }

    [Test]
    public void C08_nan_in_accelerator_sums_names_the_sum_and_position()
    {
        var gram = Matrix<double>.Build.DenseIdentity(3);
        var sum = Vector<double>.Build.Dense(3, 1.0);
        var ex = CallerArgument.Throws<ArgumentException>(typeof(ChannelStatistics), nameof(ChannelStatistics.FromSums), () => ChannelStatistics.FromSums(gram, With(gram, 1, 1, double.NaN), gram, sum, sum, 10), "'cross'", "NaN", "[1, 1]");
        Assert.That(ex.ParamName, Is.EqualTo("cross"));
    }

    [Test]
    public void C09_merging_statistics_of_another_layer_names_both_channel_counts()
    {
        var ex = CallerArgument.Throws<ArgumentException>(typeof(ChannelStatisticsAccumulator), nameof(ChannelStatisticsAccumulator.Merge), () => new ChannelStatisticsAccumulator(3).Merge(TestData.Empty(4)), "'shard'", "4 channels", "3");
        Assert.That(ex.ParamName, Is.EqualTo("shard"));
    }

    [Test]
    public void C10_truncated_statistics_say_how_much_was_missing()
    {
        var bytes = Serialized(Stats());
        Throws<InvalidDataException>(() => ChannelStatistics.ReadFrom(new MemoryStream(bytes[..100])), "truncated", "5 channels");
    }

    [Test]
    public void C11_a_flipped_statistics_byte_fails_the_checksum()
    {
        var bytes = Serialized(Stats());
        bytes[40] ^= 0x01;
        Throws<InvalidDataException>(() => ChannelStatistics.ReadFrom(new MemoryStream(bytes)), "corrupt", "checksum");
    }

    [Test]
    public void C12_a_corrupt_statistics_header_is_refused_before_allocating()
    {
        var bytes = Serialized(Stats());
        BitConverter.TryWriteBytes(bytes.AsSpan(12, 4), int.MaxValue);
        Throws<InvalidDataException>(() => ChannelStatistics.ReadFrom(new MemoryStream(bytes)), "header is corrupt", "2147483647 channels");
    }

    [Test]
    public void C27_statistics_whose_header_claims_more_than_the_file_holds_name_the_file_and_both_sizes()
    {
        var bytes = Serialized(Stats());
        BitConverter.TryWriteBytes(bytes.AsSpan(12, 4), 9_460);
        var path = Path.Combine(Path.GetTempPath(), $"ldrf-c27-{Guid.NewGuid():N}.stats");
        File.WriteAllBytes(path, bytes);
        try
        {
            using var file = File.OpenRead(path);
            Throws<InvalidDataException>(() => ChannelStatistics.ReadFrom(file), $"'{path}'", "truncated", "9460 channels", "2147949768 bytes", "only 688");
        }
        finally
        {
            File.Delete(path);
        }
    }

    // ---- Layer pruning requests ---------------------------------------------------------------------------

    [Test]
    public void C13_pruning_without_calibration_samples_names_the_layer()
    {
        var request = new LayerPruningRequest(Layer, TestData.Gaussian(5, 6, 1), TestData.Empty(5));
        CallerArgument.Throws<ArgumentException>(typeof(LdrfLayerPruner), nameof(LdrfLayerPruner.Prune), () => new LdrfLayerPruner().Prune(request), Layer, "zero samples", "5 channels");
    }

    [Test]
    public void C14_all_zero_calibration_activations_name_the_layer()
    {
        // All-zero activations carry nothing to select or reconstruct with; every embedding must refuse them.
        var zeros = Matrix<double>.Build.Dense(5, 20);
        foreach (var kind in Enum.GetValues<EmbeddingKind>())
        {
            var request = new LayerPruningRequest(Layer, TestData.Gaussian(5, 6, 1), TestData.Stats(zeros, zeros)) { KeepCount = 3 };
            CallerArgument.Throws<ArgumentException>(typeof(LdrfLayerPruner), nameof(LdrfLayerPruner.Prune), () => new LdrfLayerPruner(new LdrfOptions { Embedding = kind }).Prune(request), Layer, "zero activation energy", "5 channels");
        }
    }

    [Test]
    public void C15_nan_in_consumer_weights_names_the_layer_and_position()
    {
        var request = new LayerPruningRequest(Layer, With(TestData.Gaussian(5, 6, 1), 3, 2, double.NaN), Stats());
        CallerArgument.Throws<ArgumentException>(typeof(LdrfLayerPruner), nameof(LdrfLayerPruner.Prune), () => new LdrfLayerPruner().Prune(request), Layer, "ConsumerWeights", "NaN", "[3, 2]");
    }

    [Test]
    public void C16_consumer_weights_that_do_not_match_the_statistics_name_both_sizes()
    {
        var request = new LayerPruningRequest(Layer, TestData.Gaussian(4, 6, 1), Stats());
        CallerArgument.Throws<ArgumentException>(typeof(LdrfLayerPruner), nameof(LdrfLayerPruner.Prune), () => new LdrfLayerPruner().Prune(request), Layer, "ConsumerWeights", "4 x 6", "5 channels");
    }

    [Test]
    public void C17_a_keep_count_above_the_channel_count_names_both()
    {
        var request = new LayerPruningRequest(Layer, TestData.Gaussian(5, 6, 1), Stats()) { KeepCount = 6 };
        var ex = CallerArgument.Throws<ArgumentOutOfRangeException>(typeof(LdrfLayerPruner), nameof(LdrfLayerPruner.Prune), () => new LdrfLayerPruner().Prune(request), Layer, "KeepCount", "6", "5 channels");
        Assert.That(ex.ActualValue, Is.EqualTo(6));
    }

    [Test]
    public void C18_a_rank_above_the_weight_rank_names_the_bound()
    {
        var request = new LayerPruningRequest(Layer, TestData.Gaussian(5, 3, 1), Stats()) { Rank = 4 };
        CallerArgument.Throws<ArgumentOutOfRangeException>(typeof(LdrfLayerPruner), nameof(LdrfLayerPruner.Prune), () => new LdrfLayerPruner().Prune(request), Layer, "Rank", "min(C, K) = 3", "5 x 3");
    }

    [Test]
    public void C19_output_aware_baselines_without_patch_statistics_name_the_layer()
    {
        var data = Baselines.ConvLayerData.Create(4, 3, 4, seed: 1);
        var request = new LayerPruningRequest("features.3", data.ConsumerWeights, data.ChannelStatistics) { KeepCount = 2 };
        CallerArgument.Throws<ArgumentException>(typeof(ILayerPruner), nameof(ILayerPruner.Prune), () => BaselinePruners.Create(BaselineKind.ThiNet).Prune(request), "features.3", "'PatchStatistics'", "null");
    }

    // ---- Width allocation ---------------------------------------------------------------------------------

    private static WidthAllocator Chain(int capacity) => new(
        [new PrunableLayer("conv0", 8, capacity), new PrunableLayer("conv1", 16, capacity)],
        [
            new ComputeLayer("conv0", 9 * 100, null, 3, "conv0", 8),
            new ComputeLayer("conv1", 9 * 100, "conv0", 8, "conv1", 16),
            new ComputeLayer("fc", 1, "conv1", 16, null, 10),
        ]);

    [Test]
    public void C20_an_unreachable_target_gives_the_best_reachable_reduction()
    {
        var allocator = Chain(capacity: 6);
        var ex = CallerArgument.Throws<ArgumentOutOfRangeException>(typeof(WidthAllocator), nameof(WidthAllocator.Allocate), () => allocator.Allocate(20), "20x", "unreachable", "best reachable reduction is");
        Assert.That(ex.Message, Does.Contain(allocator.MaxReduction.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + "x"));
        Assert.That(ex.ParamName, Is.EqualTo("targetFlopsReduction"));
        Assert.That(ex.Message, Does.Contain("valid capacity").And.Contain("Lower the target or the capacities"));

        // Without binding capacities (every r = 1, as with capacity bounds off) the message does not blame them.
        var unbounded = new WidthAllocator(allocator.Layers.Select(l => new PrunableLayer(l.Name, l.Channels, 1)),
            [new ComputeLayer("conv0", 9 * 100, null, 3, "conv0", 8), new ComputeLayer("conv1", 9 * 100, "conv0", 8, "conv1", 16)], fixedFlops: 1e6, channelMultiple: 8);
        var plain = CallerArgument.Throws<ArgumentOutOfRangeException>(typeof(WidthAllocator), nameof(WidthAllocator.Allocate), () => unbounded.Allocate(50),
            "50x", "unreachable", "narrowest allowed width (8 channels", "Lower the target or the channel multiple.");
        Assert.That(plain.Message, Does.Not.Contain("capacit"));
    }

    [Test]
    public void C21_a_ratio_for_an_unknown_layer_lists_the_prunable_layers()
    {
        CallerArgument.Throws<ArgumentException>(typeof(WidthAllocator), nameof(WidthAllocator.FromRatios), () => Chain(4).FromRatios(new Dictionary<string, double> { ["conv7"] = 0.5 }), "'conv7'", "conv0, conv1");
    }

    [Test]
    public void C22_a_capacity_above_the_channel_count_names_the_layer()
    {
        CallerArgument.Throws<ArgumentException>(typeof(WidthAllocator), ".ctor", () => _ = new WidthAllocator([new PrunableLayer("conv0", 4, 5)], [new ComputeLayer("conv0", 1, null, 3, "conv0", 4)]),
            "'conv0'", "Capacity = 5", "Channels = 4");
    }

    // ---- Options, factories and numerics ------------------------------------------------------------------

    [Test]
    public void C23_invalid_ldrf_options_are_all_named_when_the_pruner_is_built()
    {
        // Setters accept any value (configuration binding sets them all first); the pruner refuses them, naming each.
        var options = new LdrfOptions { EnergyThreshold = 1.5, RidgeScale = -1, Selection = (SelectionKind)42 };
        Assert.That(options.EnergyThreshold, Is.EqualTo(1.5));
        var ex = CallerArgument.Throws<ArgumentException>(typeof(LdrfLayerPruner), ".ctor", () => _ = new LdrfLayerPruner(options),
            "'options'", "3 invalid", "'EnergyThreshold' must be in (0, 1] but is 1.5", "'RidgeScale' must be finite and non-negative but is -1", "'Selection' must be one of", "GreedyResponse");
        Assert.That(ex.ParamName, Is.EqualTo("options"));
        CallerArgument.Throws<ArgumentException>(typeof(BaselinePruners), nameof(BaselinePruners.Create),
            () => BaselinePruners.Create(BaselineKind.ThiNet, new BaselineOptions { RidgeScale = double.NaN }), "'RidgeScale'", "NaN");
    }

    [Test]
    public void C24_an_undefined_baseline_kind_lists_the_defined_ones()
    {
        CallerArgument.Throws<ArgumentOutOfRangeException>(typeof(BaselinePruners), nameof(BaselinePruners.Create), () => BaselinePruners.Create((BaselineKind)42), "ThiNet", "ChannelPruning");
    }

    [Test]
    public void C25_a_matrix_that_is_not_positive_definite_names_the_argument_and_size()
    {
        var notDefinite = -Matrix<double>.Build.DenseIdentity(3);
        CallerArgument.Throws<ArgumentException>(typeof(INumericBackend), nameof(INumericBackend.SolvePositiveDefinite), () => MathNetNumericBackend.Instance.SolvePositiveDefinite(notDefinite, TestData.Gaussian(3, 1, 2)), "'spd'", "3 x 3", "positive definite");
    }

    [Test]
    public void C26_a_survivor_index_out_of_range_names_the_layer_and_range()
    {
        var stats = Stats();
        var embedding = new WeightSvdDecomposer(MathNetNumericBackend.Instance).Decompose(TestData.Gaussian(5, 6, 1), stats, RankRule.Full);
        CallerArgument.Throws<ArgumentException>(typeof(IRecomposer), nameof(IRecomposer.Recompose), () => new RidgeRecomposer(MathNetNumericBackend.Instance).Recompose(embedding, TestData.Gaussian(5, 6, 1), stats, null, [0, 7], Layer),
            Layer, "'keptChannels'[1] = 7", "[0, 5)");
    }
}
