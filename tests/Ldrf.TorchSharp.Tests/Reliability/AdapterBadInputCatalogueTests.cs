using System.Security.Cryptography;
using System.Text;
using Ldrf.TorchSharp.Complexity;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests.Reliability;

/// <summary>
/// The adapter's bad-input catalogue (docs/bad-input-catalogue.md): one case per test, each asserting the exact
/// exception type and that the message names the culprit (argument, layer path, tensor, sizes).
/// </summary>
[Category("BadInput")]
public class AdapterBadInputCatalogueTests
{
    private static readonly NetworkPruningOptions Uniform = new() { ChannelMultiple = 1, TargetFlopsReduction = 1.5, UseCapacityBounds = false, MeasureLatency = false };

    private string _folder = string.Empty;

    [SetUp]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("ldrf-catalogue-").FullName;

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    private static PruningResult Prune(nn.Module<Tensor, Tensor> network, IEnumerable<Tensor> batches, NetworkPruningOptions? options = null) =>
        new TorchSharpPruner().Prune(network, batches, options ?? Uniform);

    // An argument exception from TorchSharpPruner.Prune: its ParamName must be one of Prune's arguments.
    private static T PruneThrows<T>(TestDelegate code, params string[] fragments)
        where T : ArgumentException =>
        CallerArgument.Throws<T>(typeof(TorchSharpPruner), nameof(TorchSharpPruner.Prune), code, fragments);

    // For exceptions that are not argument exceptions (corrupt files); every argument exception goes through
    // CallerArgument.Throws (or PruneThrows), which also checks that its ParamName is an argument of the method called.
    private static T Throws<T>(TestDelegate code, params string[] fragments)
        where T : Exception
    {
        Assert.That(typeof(ArgumentException).IsAssignableFrom(typeof(T)), Is.False, "an argument exception is asserted with CallerArgument.Throws");
        return Expect.Throws<T>(code, fragments);
    }

    private static Sequential WithCalibrationSizedHead(params (string Name, nn.Module<Tensor, Tensor> Module)[] features) =>
        nn.Sequential(("features", nn.Sequential(features)), ("flatten", nn.Flatten()), ("head", nn.Linear(4 * 8 * 8, 2)));

    // ---- Architecture -------------------------------------------------------------------------------------

    [Test]
    public void A01_unsupported_layer_type_names_its_path_and_type()
    {
        using var network = WithCalibrationSizedHead(("0", nn.Conv2d(3, 4, 3)), ("1", nn.Tanh()), ("2", nn.Conv2d(4, 4, 3)));
        var ex = PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1)), "'features.1'", "Tanh", "supported are");
        Assert.That(ex.ParamName, Is.EqualTo("network"));
    }

    [Test]
    public void A02_grouped_convolution_is_refused_with_its_groups()
    {
        using var network = nn.Sequential(("0", nn.Conv2d(3, 4, 3)), ("1", nn.Conv2d(4, 4, 3, groups: 2)), ("2", nn.Conv2d(4, 4, 3)));
        var ex = PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1)), "'1'", "Conv2d", "groups = 2", "only groups = 1");
        Assert.That(ex.ParamName, Is.EqualTo("network"));
    }

    [Test]
    public void A03_depthwise_convolution_is_refused_with_its_groups()
    {
        using var network = nn.Sequential(("stem", nn.Conv2d(3, 8, 3)), ("dw", nn.Conv2d(8, 8, 3, groups: 8)), ("pw", nn.Conv2d(8, 4, 1)));
        PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1)), "'dw'", "groups = 8");
    }

    [Test]
    public void A04_a_root_that_is_not_a_sequential_is_named_by_type()
    {
        using var network = nn.Conv2d(3, 4, 3);
        var ex = PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1)), "'network'", "Conv2d", "Sequential");
        Assert.That(ex.ParamName, Is.EqualTo("network"));
    }

    [Test]
    public void A05_an_empty_sequential_has_no_layers()
    {
        using var network = nn.Sequential();
        PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1)), "'network'", "no layers");
    }

    [Test]
    public void A06_batch_norm_without_running_statistics_is_named()
    {
        using var network = nn.Sequential(("0", nn.Conv2d(3, 4, 3)), ("1", nn.BatchNorm2d(4, track_running_stats: false)), ("2", nn.Conv2d(4, 4, 3)));
        PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1)), "'1'", "BatchNorm2d", "track_running_stats = false");
    }

    [Test]
    public void A07_batch_norm_that_does_not_follow_a_convolution_is_kept_and_pruned_in_lockstep()
    {
        // Once refused; the graph keeps a batch norm it cannot fold as a node whose channels follow the group's.
        using var network = nn.Sequential(("0", nn.Conv2d(3, 16, 3)), ("1", nn.ReLU()), ("2", nn.BatchNorm2d(16)), ("3", nn.Conv2d(16, 4, 3)));
        network.eval();
        using var result = Prune(network, TestNetworks.Batches(1));
        Assert.That(result.Report.Groups.Single(g => g.Source == "0").Lockstep, Is.EqualTo(new[] { "2" }));
        var width = result.Report.Layers.Single(l => l.Path == "0").ChannelsAfter;
        Assert.That(width, Is.LessThan(16));
        Assert.That(result.Network.state_dict()["2.running_mean"].shape, Is.EqualTo(new long[] { width }), "the batch norm keeps the kept channels");
    }

    [Test]
    public void A08_flatten_over_other_dimensions_is_named()
    {
        using var network = nn.Sequential(("0", nn.Conv2d(3, 4, 3)), ("1", nn.Flatten(2)), ("2", nn.Linear(100, 2)));
        PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1)), "'1'", "Flatten", "start_dim = 2");
    }

    [Test]
    public void A09_a_single_compute_layer_has_nothing_to_prune()
    {
        using var network = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU());
        PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1)), "'network'", "no prunable layer");
    }

    // ---- Calibration data ---------------------------------------------------------------------------------

    [Test]
    public void A10_calibration_with_the_wrong_channel_count_names_the_first_layer_and_sizes()
    {
        using var network = TestNetworks.SmallVgg();
        using var batch = torch.randn(2, 4, 12, 12);
        var ex = PruneThrows<ArgumentException>(() => Prune(network, [batch]), "features.0", "4 x 12 x 12");
        Assert.That(ex.ParamName, Is.EqualTo("calibrationBatches"));
    }

    [Test]
    public void A11_calibration_of_the_wrong_rank_names_the_batch_index()
    {
        using var network = TestNetworks.SmallVgg();
        using var batch = torch.randn(2, 432);
        PruneThrows<ArgumentException>(() => Prune(network, [batch]), "'calibrationBatches'[0]", "2 x 432", "N x C x H x W");
    }

    [Test]
    public void A12_calibration_batches_of_different_sizes_name_both_shapes()
    {
        using var network = TestNetworks.SmallVgg();
        var batches = TestNetworks.Batches(2);
        using var odd = torch.randn(2, 3, 16, 16);
        batches.Add(odd);
        PruneThrows<ArgumentException>(() => Prune(network, batches), "'calibrationBatches'[2]", "2 x 3 x 16 x 16", "8 x 3 x 12 x 12");
    }

    [Test]
    public void A13_calibration_of_an_integer_dtype_names_the_dtype()
    {
        using var network = TestNetworks.SmallVgg();
        using var batch = torch.ones([8, 3, 12, 12], ScalarType.Int64);
        PruneThrows<ArgumentException>(() => Prune(network, [batch]), "'calibrationBatches'[0]", "Int64", "floating-point");
    }

    [Test]
    public void A14_a_calibration_batch_without_images_is_named()
    {
        using var network = TestNetworks.SmallVgg();
        using var batch = torch.zeros(0, 3, 12, 12);
        PruneThrows<ArgumentException>(() => Prune(network, [batch]), "'calibrationBatches'[0]", "0 x 3 x 12 x 12", "non-empty");
    }

    [Test]
    public void A15_an_empty_calibration_set_is_refused()
    {
        using var network = TestNetworks.SmallVgg();
        var ex = PruneThrows<ArgumentException>(() => Prune(network, []), "'calibrationBatches'", "empty");
        Assert.That(ex.ParamName, Is.EqualTo("calibrationBatches"));
    }

    [Test]
    public void A16_a_null_calibration_batch_names_its_index()
    {
        using var network = TestNetworks.SmallVgg();
        var ex = PruneThrows<ArgumentNullException>(() => Prune(network, [.. TestNetworks.Batches(1), null!]), "'calibrationBatches'[1]");
        Assert.That(ex.ParamName, Is.EqualTo("calibrationBatches"));
    }

    [Test]
    public void A17_images_too_small_for_the_network_name_the_layer_and_sizes()
    {
        using var network = TestNetworks.SmallVgg();
        using var batch = torch.randn(2, 3, 2, 2);
        PruneThrows<ArgumentException>(() => Prune(network, [batch]), "'features.9'", "AvgPool2d", "window of 2", "input size 1");
    }

    [Test]
    public void A18_images_too_large_for_the_classifier_name_the_linear_layer()
    {
        using var network = TestNetworks.SmallVgg();
        using var batch = torch.randn(2, 3, 16, 16);
        PruneThrows<ArgumentException>(() => Prune(network, [batch]), "classifier.0", "144");
    }

    [Test]
    public void A19_nan_in_calibration_data_names_the_batch_and_position()
    {
        using var network = TestNetworks.SmallVgg();
        var batches = TestNetworks.Batches(2);
        batches[1][0, 1, 2, 3] = torch.tensor(float.NaN);
        var ex = PruneThrows<ArgumentException>(() => Prune(network, batches), "'calibrationBatches'[1]", "NaN", "[0, 1, 2, 3]");
        Assert.That(ex.ParamName, Is.EqualTo("calibrationBatches"));
    }

    [Test]
    public void A20_infinity_in_calibration_data_names_the_batch_and_position()
    {
        using var network = TestNetworks.SmallVgg();
        var batches = TestNetworks.Batches(2);
        batches[0][3, 2, 1, 0] = torch.tensor(float.NegativeInfinity);
        PruneThrows<ArgumentException>(() => Prune(network, batches), "'calibrationBatches'[0]", "Infinity", "[3, 2, 1, 0]");
    }

    [Test]
    public void A21_all_zero_calibration_data_is_refused()
    {
        // Zero images make every activation a constant (the biases): the statistics carry nothing to select or
        // reconstruct with. Today this silently "succeeds" (uniform widths) or reports an unreachable target.
        using var network = TestNetworks.SmallVgg();
        using var a = torch.zeros(8, 3, 12, 12);
        using var b = torch.zeros(8, 3, 12, 12);
        PruneThrows<ArgumentException>(() => Prune(network, [a, b]), "'calibrationBatches'", "all zero");
    }

    [Test]
    public void A22_calibration_on_a_device_without_data_names_the_batch_and_device()
    {
        // A "meta" tensor has a shape but no storage; libtorch fails with "Cannot copy out of meta tensor".
        using var network = TestNetworks.SmallVgg();
        using var batch = torch.empty([8, 3, 12, 12], device: torch.META);
        PruneThrows<ArgumentException>(() => Prune(network, [batch]), "'calibrationBatches'[0]", "meta");
    }

    [Test]
    public void A23_a_disposed_calibration_batch_names_its_index()
    {
        using var network = TestNetworks.SmallVgg();
        var batches = TestNetworks.Batches(2);
        batches[1].Dispose();
        PruneThrows<ArgumentException>(() => Prune(network, batches), "'calibrationBatches'[1]", "disposed");
    }

    // ---- Weights and running statistics -------------------------------------------------------------------

    [Test]
    public void A24_nan_in_a_weight_names_the_tensor_shape_and_position()
    {
        using var network = TestNetworks.SmallVgg();
        using (no_grad())
        {
            network.state_dict()["features.3.weight"][5, 2, 1, 0] = torch.tensor(float.NaN);
        }

        var ex = PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1)), "'features.3.weight'", "12 x 8 x 3 x 3", "NaN", "[5, 2, 1, 0]");
        Assert.That(ex.ParamName, Is.EqualTo("network"));
    }

    [Test]
    public void A25_infinity_in_batch_norm_statistics_names_the_buffer()
    {
        using var network = TestNetworks.SmallVgg();
        using (no_grad())
        {
            network.state_dict()["features.4.running_mean"][7] = torch.tensor(float.PositiveInfinity);
        }

        PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1)), "'features.4.running_mean'", "Infinity", "[7]");
    }

    [Test]
    public void A26_a_negative_running_variance_names_the_buffer()
    {
        using var network = TestNetworks.SmallVgg();
        using (no_grad())
        {
            network.state_dict()["features.1.running_var"][2] = torch.tensor(-0.5f);
        }

        PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1)), "'features.1.running_var'", "negative", "-0.5", "[2]");
    }

    // ---- Targets ------------------------------------------------------------------------------------------

    [Test]
    public void A27_an_unreachable_target_gives_the_best_reachable_reduction()
    {
        using var network = TestNetworks.SmallVgg();
        var options = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 50, UseCapacityBounds = true, MeasureLatency = false };
        var ex = PruneThrows<ArgumentOutOfRangeException>(() => Prune(network, TestNetworks.Batches(2), options), "50x", "unreachable", "best reachable reduction is");
        Assert.That(ex.Message, Does.Match(@"best reachable reduction is \d+(\.\d+)?x"));
        Assert.That(ex.ActualValue, Is.EqualTo(50.0));
        Assert.That(ex.ParamName, Is.EqualTo("options"));
        Assert.That(ex.Message, Does.Contain("valid capacity").And.Contain("'options.UseCapacityBounds'"), "the capacities bound the reduction here, so the message names the option that sets them");

        // With capacity bounds off, the message does not talk about capacities.
        var unbounded = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 5000, UseCapacityBounds = false, MeasureLatency = false };
        var plain = PruneThrows<ArgumentOutOfRangeException>(() => Prune(network, TestNetworks.Batches(2), unbounded), "5000x", "unreachable", "at 1 channel", "Lower the target.");
        Assert.That(plain.Message, Does.Not.Contain("capacit").And.Not.Contain("UseCapacityBounds"));
    }

    [Test]
    public void A28_a_ratio_for_an_unknown_layer_names_it_and_lists_the_prunable_layers()
    {
        using var network = TestNetworks.SmallVgg();
        var options = new NetworkPruningOptions { ChannelMultiple = 1, PerLayerKeepRatios = new Dictionary<string, double> { ["features.5"] = 0.5 }, MeasureLatency = false };
        var ex = PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1), options),
            "'options.PerLayerKeepRatios'", "'features.5'", "features.0, features.3, features.7, classifier.0");
        Assert.That(ex.ParamName, Is.EqualTo("options"));
    }

    [Test]
    public void A29_a_ratio_for_the_classifier_output_is_refused()
    {
        using var network = TestNetworks.SmallVgg();
        var options = new NetworkPruningOptions { ChannelMultiple = 1, PerLayerKeepRatios = new Dictionary<string, double> { ["classifier.3"] = 0.5 }, MeasureLatency = false };
        PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1), options), "'classifier.3'", "prunable layers are");
    }

    [TestCase(0.0, "0")]
    [TestCase(1.5, "1.5")]
    [TestCase(double.NaN, "NaN")]
    public void A30_a_ratio_outside_0_1_names_the_layer_and_value(double ratio, string shown)
    {
        using var network = TestNetworks.SmallVgg();
        var options = new NetworkPruningOptions { ChannelMultiple = 1, PerLayerKeepRatios = new Dictionary<string, double> { ["features.3"] = ratio }, MeasureLatency = false };
        PruneThrows<ArgumentOutOfRangeException>(() => Prune(network, TestNetworks.Batches(1), options), "'features.3'", "(0, 1]", shown, "12 channels");
    }

    [Test]
    public void A31_no_target_or_two_targets_name_both_options()
    {
        using var network = TestNetworks.SmallVgg();
        var none = PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1), new NetworkPruningOptions()), "TargetFlopsReduction", "PerLayerKeepRatios");
        Assert.That(none.ParamName, Is.EqualTo("options"));
        var both = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 2, PerLayerKeepRatios = new Dictionary<string, double> { ["features.0"] = 0.5 } };
        PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1), both), "exactly one", "TargetFlopsReduction", "PerLayerKeepRatios");
    }

    [TestCase(0.5, "0.5")]
    [TestCase(double.NaN, "NaN")]
    [TestCase(double.PositiveInfinity, "Infinity")]
    public void A32_a_flops_target_below_1_or_not_finite_is_refused_naming_the_option(double target, string shown)
    {
        using var network = TestNetworks.SmallVgg();
        var options = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = target };
        var ex = PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1), options), "'options'", "'TargetFlopsReduction'", "at least 1", shown);
        Assert.That(ex.ParamName, Is.EqualTo("options"));
    }

    [Test]
    public void A33_calibration_and_latency_counts_below_1_are_all_named_at_once()
    {
        using var network = TestNetworks.SmallVgg();
        var options = new NetworkPruningOptions { TargetFlopsReduction = 2, MaxCalibrationBatches = 0, LatencyRuns = -3, LatencyBatchSize = 0, ChannelMultiple = 0, HeldOutImages = -1 };
        var ex = PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1), options), "5 invalid",
            "'MaxCalibrationBatches' must be at least 1", "'LatencyRuns' must be at least 1 but is -3", "'LatencyBatchSize' must be at least 1 but is 0",
            "'ChannelMultiple' must be at least 1", "'HeldOutImages' must be 0 or more (or null for the default) but is -1");
        Assert.That(ex.ParamName, Is.EqualTo("options"));
        Assert.That(options.LatencyRuns, Is.EqualTo(-3), "the caller's options are left as they are");
    }

    [Test]
    public void A53_a_network_on_the_meta_device_names_the_argument_and_a_parameter()
    {
        using var network = TestNetworks.SmallVgg();
        network.to(new Device("meta"));
        var batches = TestNetworks.Batches(2, 4);
        var e = PruneThrows<ArgumentException>(() => new TorchSharpPruner().Prune(network, batches, Uniform), "'network'", "'features.0.weight'", "meta");
        Assert.That(e.ParamName, Is.EqualTo("network"));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void A80_a_network_whose_own_activations_overflow_names_the_argument(bool capacityPass)
    {
        // Finite weights and images, but activations beyond float32's range after two scaled convolutions.
        using var network = TestNetworks.SmallVgg();
        using (no_grad())
        {
            foreach (var path in new[] { "features.0.weight", "features.3.weight" })
            {
                network.get_parameter(path)!.mul_(1e20f);
            }
        }

        var options = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 1.5, UseCapacityBounds = capacityPass, MeasureLatency = false };
        var e = PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(2), options), "network's own activations", "not finite");
        Assert.That(e.ParamName, Is.EqualTo("network"));
        if (!capacityPass)
        {
            Assert.That(e.Message, Does.Contain("'features.3'"), "the layer whose output overflows");
        }
    }

    [Test]
    public void A54_a_target_of_1_returns_the_network_as_it_is()
    {
        using var network = TestNetworks.SmallVgg(redundant: true);
        var batches = TestNetworks.Batches(3, 8);
        var options = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 1, MeasureLatency = false };
        using var result = new TorchSharpPruner().Prune(network, batches, options);
        Assert.That(result.Report.Layers.All(l => l.ChannelsAfter == l.ChannelsBefore && l.RelativeOutputError is null), Is.True, result.Report.ToString());
        using var x = TestNetworks.Batches(1, 16, seed: 99)[0];
        using var expected = network.forward(x);
        using var actual = result.Network.forward(x);
        Assert.That(TestNetworks.RelativeError(actual, expected), IsFinite.LessThan(1e-6), "only the batch norms are folded");
        Assert.That(result.Report.HeldOutOutputError, IsFinite.LessThan(1e-6));
    }

    [Test]
    public void A55_fewer_calibration_samples_than_channels_is_a_warning_with_the_images_needed()
    {
        using var network = TestNetworks.SmallVgg();
        var batches = TestNetworks.Batches(1, 2);
        using var result = new TorchSharpPruner().Prune(network, batches, Uniform);
        Assert.That(result.Report.Warnings, Has.Some.Contains("'classifier.0'").And.Contains("1 calibration samples").And.Contains("for 20 channels").And.Contains("at least 20 calibration images"));
        Assert.That(result.Report.ToString(), Does.Contain("Warning: Layer 'classifier.0'"));
    }

    [Test]
    public void A56_calibration_batches_of_another_type_than_the_network_are_a_warning()
    {
        using var network = TestNetworks.SmallVgg();
        var batches = TestNetworks.Batches(3, 8).Select(b => b.to(ScalarType.Float64)).ToList();
        using var result = new TorchSharpPruner().Prune(network, batches, Uniform);
        Assert.That(result.Report.Warnings, Has.Some.Contains("Float64").And.Contains("Float32"));
    }

    [Test]
    public void A52_holding_out_every_calibration_image_names_the_option_and_the_image_count()
    {
        using var network = TestNetworks.SmallVgg();
        var batches = TestNetworks.Batches(2, 4);
        var options = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 1.5, UseCapacityBounds = false, MeasureLatency = false, HeldOutImages = 8 };
        var e = PruneThrows<ArgumentOutOfRangeException>(() => new TorchSharpPruner().Prune(network, batches, options), "'options.HeldOutImages'", "8", "only 8 calibration images");
        Assert.That(e.ParamName, Is.EqualTo("options"));
    }

    // ---- Disposed networks --------------------------------------------------------------------------------

    [Test]
    public void A34_pruning_a_disposed_network_names_the_argument()
    {
        var network = TestNetworks.SmallVgg();
        network.Dispose();
        var ex = PruneThrows<ArgumentException>(() => Prune(network, TestNetworks.Batches(1)), "'network'", "disposed", "features.0.weight");
        Assert.That(ex.ParamName, Is.EqualTo("network"));
    }

    [Test]
    public void A35_saving_a_disposed_network_names_the_argument()
    {
        var network = TestNetworks.SmallVgg();
        network.Dispose();
        var path = Path.Combine(_folder, "disposed.ldrf");
        var ex = CallerArgument.Throws<ArgumentException>(typeof(NetworkFile), nameof(NetworkFile.SaveLdrf), () => network.SaveLdrf(path), "'network'", "disposed", "'features.0.weight'");
        Assert.That(ex.ParamName, Is.EqualTo("network"));
        Assert.That(File.Exists(path), Is.False, "nothing is written");
    }

    [Test]
    public void A36_counting_a_disposed_network_names_the_argument()
    {
        var network = TestNetworks.SmallVgg();
        network.Dispose();
        CallerArgument.Throws<ArgumentException>(typeof(ModelComplexity), nameof(ModelComplexity.Count), () => ModelComplexity.Count(network, [3, 12, 12]), "'network'", "disposed");
    }

    // ---- Network files ------------------------------------------------------------------------------------

    private string SavedNetwork(out byte[] bytes)
    {
        using var network = TestNetworks.SmallVgg();
        var path = Path.Combine(_folder, "net.ldrf");
        network.SaveLdrf(path);
        bytes = File.ReadAllBytes(path);
        return path;
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // Layout (version 2): "LDRFNET1", int32 version, int32 JSON length, int64 weight length, JSON, weights, SHA-256.
    private static (string Json, byte[] Weights) Split(byte[] bytes)
    {
        var jsonLength = BitConverter.ToInt32(bytes, 12);
        return (Encoding.UTF8.GetString(bytes, 24, jsonLength), bytes[(24 + jsonLength)..^32]);
    }

    // A file with a correct hash, so that the checks behind the hash are reached (a writer with a bug, not corruption).
    private static byte[] Join(string json, long weightLength, byte[] weights)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write("LDRFNET1"u8);
            writer.Write(NetworkFile.FormatVersion);
            var jsonBytes = Encoding.UTF8.GetBytes(json);
            writer.Write(jsonBytes.Length);
            writer.Write(weightLength);
            writer.Write(jsonBytes);
            writer.Write(weights);
            writer.Write(SHA256.HashData(stream.ToArray()));
        }

        return stream.ToArray();
    }

    [TestCase(0)]
    [TestCase(6)]
    [TestCase(14)]
    [TestCase(200)]
    [TestCase(-1)]
    public void A37_a_truncated_network_file_names_the_path(int cut)
    {
        SavedNetwork(out var bytes);
        var length = cut >= 0 ? cut : bytes.Length - 1;
        var path = Write($"cut{length}.ldrf", bytes[..length]);
        Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(path), $"'{path}'", "not a valid Ldrf network file");
    }

    [Test]
    public void A38_a_flipped_weight_byte_fails_the_hash()
    {
        SavedNetwork(out var bytes);
        bytes[^100] ^= 0x10;
        var path = Write("flipped.ldrf", bytes);
        Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(path), $"'{path}'", "SHA-256");
    }

    [Test]
    public void A39_a_file_of_another_format_names_the_missing_signature()
    {
        var path = Write("text.ldrf", "definitely not a network"u8.ToArray());
        Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(path), $"'{path}'", "signature");
    }

    [Test]
    public void A40_a_newer_format_version_names_the_versions()
    {
        SavedNetwork(out var bytes);
        BitConverter.TryWriteBytes(bytes.AsSpan(8, 4), NetworkFile.FormatVersion + 1);
        var path = Write("newer.ldrf", bytes);
        Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(path), $"'{path}'", $"format version is {NetworkFile.FormatVersion + 1}");
    }

    [Test]
    public void A41_a_corrupt_architecture_description_names_the_path()
    {
        SavedNetwork(out var bytes);
        var (json, weights) = Split(bytes);
        var path = Write("json.ldrf", Join("#" + json[1..], weights.LongLength, weights));
        Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(path), $"'{path}'", "not valid JSON");
    }

    [Test]
    public void A42_an_architecture_that_does_not_fit_the_weights_names_the_path()
    {
        SavedNetwork(out var bytes);
        var (json, weights) = Split(bytes);
        Assert.That(json, Does.Contain("\"outChannels\":12"), "the test edits a Conv2d's width");
        var path = Write("mismatch.ldrf", Join(json.Replace("\"outChannels\":12", "\"outChannels\":13", StringComparison.Ordinal), weights.LongLength, weights));
        Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(path), $"'{path}'", "do not match its architecture");
    }

    [Test]
    public void A43_a_negative_weight_length_is_corrupt_not_an_argument_error()
    {
        SavedNetwork(out var bytes);
        var (json, weights) = Split(bytes);
        var path = Write("negative.ldrf", Join(json, -1, weights));
        Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(path), $"'{path}'", "truncated or corrupt");
    }

    [Test]
    public void A44_a_missing_file_names_the_path()
    {
        var path = Path.Combine(_folder, "missing.ldrf");
        var ex = Throws<FileNotFoundException>(() => NetworkFile.LoadLdrf(path), path);
        Assert.That(ex.FileName, Is.EqualTo(path));
    }

    [Test]
    public void A45_saving_an_unsupported_network_names_the_module_and_writes_nothing()
    {
        using var network = nn.Sequential(("0", nn.Conv2d(3, 4, 3)), ("1", nn.GELU()));
        var path = Path.Combine(_folder, "gelu.ldrf");
        CallerArgument.Throws<ArgumentException>(typeof(NetworkFile), nameof(NetworkFile.SaveLdrf), () => network.SaveLdrf(path), "'1'", "GELU");
        Assert.That(File.Exists(path), Is.False);
    }

    [Test]
    public void A46_a_complexity_input_shape_of_the_wrong_rank_is_named()
    {
        using var network = TestNetworks.SmallVgg();
        var ex = CallerArgument.Throws<ArgumentException>(typeof(ModelComplexity), nameof(ModelComplexity.Count), () => ModelComplexity.Count(network, [12, 12]), "'inputShape'", "12 x 12");
        Assert.That(ex.ParamName, Is.EqualTo("inputShape"));
    }

    [Test]
    public void A47_an_architecture_edited_without_the_hash_names_the_path_and_sha256()
    {
        // A user's report: padding [1,1] -> [2,2] in the description loaded a network 19.7% off.
        SavedNetwork(out var bytes);
        var (json, _) = Split(bytes);
        var at = 24 + Encoding.UTF8.GetByteCount(json[..json.IndexOf("\"padding\":[1,1]", StringComparison.Ordinal)]);
        "\"padding\":[2,2]"u8.CopyTo(bytes.AsSpan(at));
        var path = Write("padding.ldrf", bytes);
        Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(path), $"'{path}'", "SHA-256");
    }

    [Test]
    public void A48_bytes_appended_to_a_network_file_are_counted()
    {
        SavedNetwork(out var bytes);
        var path = Write("appended.ldrf", [.. bytes, 0, 0, 0]);
        Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(path), $"'{path}'", "3 bytes after", "appended");
    }

    [Test]
    public void A49_a_version_1_file_is_refused_by_name_and_version()
    {
        // Version 1: "LDRFNET1", int32 1, int32 JSON length, JSON, int64 weight length, weights (no hash of the JSON).
        SavedNetwork(out var bytes);
        var (json, weights) = Split(bytes);
        var jsonBytes = Encoding.UTF8.GetBytes(json);
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write("LDRFNET1"u8);
            writer.Write(1);
            writer.Write(jsonBytes.Length);
            writer.Write(jsonBytes);
            writer.Write(weights.LongLength);
            writer.Write(weights);
        }

        var path = Write("version1.ldrf", stream.ToArray());
        Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(path), $"'{path}'", "format version is 1", "no longer reads", "save the network again");
    }

    [Test]
    public void A50_saving_into_a_missing_folder_names_the_path_and_leaves_nothing()
    {
        using var network = TestNetworks.SmallVgg();
        var missing = Path.Combine(_folder, "missing");
        var path = Path.Combine(missing, "net.ldrf");
        var ex = Throws<DirectoryNotFoundException>(() => network.SaveLdrf(path), $"'{path}'", "does not exist");
        Assert.That(ex.Message, Does.Not.Contain(".tmp"));
        Assert.That(Directory.Exists(missing), Is.False);
    }

    [Test]
    public void A51_a_save_that_cannot_be_moved_into_place_names_the_path_and_removes_the_temporary_file()
    {
        using var network = TestNetworks.SmallVgg();
        var path = Path.Combine(_folder, "taken.ldrf");
        Directory.CreateDirectory(Path.Combine(path, "content"));
        Throws<IOException>(() => network.SaveLdrf(path), $"Cannot save the Ldrf network file '{path}'");
        Assert.That(Directory.GetFileSystemEntries(_folder), Is.EqualTo(new[] { path }), "no temporary file is left");
        Assert.That(Directory.Exists(Path.Combine(path, "content")), Is.True, "the folder in the way is untouched");
    }
}
