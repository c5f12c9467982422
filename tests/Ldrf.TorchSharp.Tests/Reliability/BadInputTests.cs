using Ldrf.TorchSharp.Pruning;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests.Reliability;

[Category("BadInput")]
public class BadInputTests
{
    private static readonly NetworkPruningOptions Options = new() { ChannelMultiple = 1, TargetFlopsReduction = 1.5, UseCapacityBounds = false, MeasureLatency = false };

    private static TorchSharpPruner Pruner => new();

    [Test]
    public void An_unsupported_module_is_named_by_its_path_and_type()
    {
        using var network = nn.Sequential(
            ("features", nn.Sequential(nn.Conv2d(3, 4, 3), nn.Tanh(), nn.Conv2d(4, 4, 3))),
            ("flatten", nn.Flatten()),
            ("head", nn.Linear(4 * 8 * 8, 2)));
        var ex = Assert.Throws<ArgumentException>(() => Pruner.Prune(network, TestNetworks.Batches(1), Options));
        Assert.That(ex!.Message, Does.Contain("'features.1'").And.Contain("Tanh"));
        Assert.That(ex.ParamName, Is.EqualTo("network"));
    }

    [Test]
    public void A_grouped_convolution_and_a_custom_container_are_rejected()
    {
        using var grouped = nn.Sequential(nn.Conv2d(4, 4, 3, groups: 2), nn.Conv2d(4, 4, 3));
        var ex = Assert.Throws<ArgumentException>(() => Pruner.Prune(grouped, TestNetworks.Batches(1), Options));
        Assert.That(ex!.Message, Does.Contain("'0'").And.Contain("groups = 2"));

        using var custom = nn.Conv2d(3, 4, 3);
        var root = Assert.Throws<ArgumentException>(() => Pruner.Prune(custom, TestNetworks.Batches(1), Options));
        Assert.That(root!.Message, Does.Contain("Sequential"));
    }

    [Test]
    public void A_calibration_batch_of_the_wrong_shape_is_named()
    {
        using var network = TestNetworks.SmallVgg();
        using var wrongChannels = torch.randn(2, 4, 12, 12);
        var channels = Assert.Throws<ArgumentException>(() => Pruner.Prune(network, [wrongChannels], Options));
        Assert.That(channels!.ParamName, Is.EqualTo("calibrationBatches"));
        Assert.That(channels.Message, Does.Contain("features.0").And.Contain("4 x 12 x 12"));

        var batches = TestNetworks.Batches(2);
        using var wrongSize = torch.randn(2, 3, 16, 16);
        batches.Add(wrongSize);
        var size = Assert.Throws<ArgumentException>(() => Pruner.Prune(network, batches, Options));
        Assert.That(size!.Message, Does.Contain("'calibrationBatches'[2]").And.Contain("2 x 3 x 16 x 16"));

        using var flat = torch.randn(2, 432);
        var rank = Assert.Throws<ArgumentException>(() => Pruner.Prune(network, [flat], Options));
        Assert.That(rank!.Message, Does.Contain("'calibrationBatches'[0]").And.Contain("N x C x H x W"));

        using var tooLarge = torch.randn(2, 3, 16, 16);
        var classifier = Assert.Throws<ArgumentException>(() => Pruner.Prune(network, [tooLarge], Options));
        Assert.That(classifier!.Message, Does.Contain("classifier.0"));
    }

    [Test]
    public void An_empty_calibration_set_is_named()
    {
        using var network = TestNetworks.SmallVgg();
        var ex = Assert.Throws<ArgumentException>(() => Pruner.Prune(network, [], Options));
        Assert.That(ex!.ParamName, Is.EqualTo("calibrationBatches"));
        Assert.That(ex.Message, Does.Contain("empty"));
        var nullBatch = Assert.Throws<ArgumentNullException>(() => Pruner.Prune(network, [null!], Options));
        Assert.That(nullBatch!.Message, Does.Contain("[0]"));
    }

    [Test]
    public void Targets_must_be_exactly_one_and_name_real_layers()
    {
        using var network = TestNetworks.SmallVgg();
        var none = Assert.Throws<ArgumentException>(() => Pruner.Prune(network, TestNetworks.Batches(1), new NetworkPruningOptions()));
        Assert.That(none!.ParamName, Is.EqualTo("options"));
        var both = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 2, PerLayerKeepRatios = new Dictionary<string, double> { ["features.0"] = 0.5 } };
        Assert.Throws<ArgumentException>(() => Pruner.Prune(network, TestNetworks.Batches(1), both));
        var unknown = new NetworkPruningOptions { ChannelMultiple = 1, PerLayerKeepRatios = new Dictionary<string, double> { ["features.1"] = 0.5 }, MeasureLatency = false };
        var ex = Assert.Throws<ArgumentException>(() => Pruner.Prune(network, TestNetworks.Batches(1), unknown));
        Assert.That(ex!.Message, Does.Contain("features.1").And.Contain("features.3"), "names the unknown layer and lists the prunable ones");
        var invalid = new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 0.5, MaxCalibrationBatches = 0 };
        var both2 = Assert.Throws<ArgumentException>(() => Pruner.Prune(network, TestNetworks.Batches(1), invalid));
        Assert.That(both2!.Message, Does.Contain("'TargetFlopsReduction'").And.Contain("'MaxCalibrationBatches'"), "every invalid option is named");
    }

    [Test]
    public void A_network_with_one_compute_layer_has_nothing_to_prune()
    {
        using var network = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU());
        var ex = Assert.Throws<ArgumentException>(() => Pruner.Prune(network, TestNetworks.Batches(1), Options));
        Assert.That(ex!.Message, Does.Contain("no prunable layer"));
    }
}
