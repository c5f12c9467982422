using Ldrf.TorchSharp.Complexity;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

public class ComplexityTests
{
    [Test]
    public void Counts_match_hand_computed_multiply_accumulates_and_parameters()
    {
        using var network = TestNetworks.SmallVgg();
        var report = ModelComplexity.Count(network, [3, 12, 12]);

        // conv 3->8, 3x3, 12x12 out: 8·144·3·9 MACs, 8·3·9 + 8 parameters; BN(8): 16 parameters.
        Assert.That(report["features.0"].Flops, Is.EqualTo(8 * 144 * 3 * 9));
        Assert.That(report["features.0"].Parameters, Is.EqualTo((8 * 3 * 9) + 8));
        Assert.That(report["features.1"].Parameters, Is.EqualTo(16));
        Assert.That(report["features.1"].Flops, Is.Zero, "batch norm costs no MACs under the convention");
        Assert.That(report["features.3"].Flops, Is.EqualTo(12 * 144 * 8 * 9));
        // conv 12->16 without bias after a 2x2 max pool: 6x6 out.
        Assert.That(report["features.7"].Flops, Is.EqualTo(16 * 36 * 12 * 9));
        Assert.That(report["features.7"].Parameters, Is.EqualTo(16 * 12 * 9));
        Assert.That(report["features.9"].OutputShape, Is.EqualTo(new long[] { 16, 3, 3 }));
        Assert.That(report["classifier.0"].Flops, Is.EqualTo(144 * 20));
        Assert.That(report["classifier.0"].Parameters, Is.EqualTo((144 * 20) + 20));
        Assert.That(report["classifier.3"].Flops, Is.EqualTo(20 * 5));
        Assert.That(report.TotalFlops, Is.EqualTo(31104 + 124416 + 62208 + 2880 + 100));
        Assert.That(report.TotalParameters, Is.EqualTo(224 + 16 + 876 + 24 + 1728 + 2900 + 105));
        Assert.That(ModelComplexity.Count(network, [4, 3, 12, 12]).TotalFlops, Is.EqualTo(report.TotalFlops), "counts are per image");
        Assert.That(report.ToString(), Does.Contain("features.3").And.Contain("220,708"));
    }

    [Test]
    public void Output_shapes_follow_stride_dilation_padding_and_ceil_mode_like_the_real_forward()
    {
        torch.random.manual_seed(3);
        using var network = nn.Sequential(
            nn.Conv2d(2, 4, 3, stride: 2),
            nn.ReLU(),
            nn.Conv2d(4, 4, 3, padding: 2, dilation: 2),
            nn.MaxPool2d(2, ceil_mode: true),
            nn.AvgPool2d(2, stride: 1, padding: 1),
            nn.Flatten(),
            nn.Linear(64, 3));
        using var x = torch.randn(1, 2, 11, 11);
        using var y = network.call(x);
        var report = ModelComplexity.Count(network, [2, 11, 11]);
        Assert.That(report.Layers[^1].OutputShape, Is.EqualTo(y.shape.Skip(1).ToArray()));
        // 11 -> 5 (stride 2) -> 5 (dilated, padded) -> 3 (ceil) -> 4 (padded avg pool, stride 1).
        Assert.That(report.Layers[3].OutputShape, Is.EqualTo(new long[] { 4, 3, 3 }));
        Assert.That(report.Layers[0].Flops, Is.EqualTo(4 * 25 * 2 * 9));
    }

    [Test, Category("BadInput")]
    public void Wrong_input_shape_names_the_argument_or_the_layer()
    {
        using var network = TestNetworks.SmallVgg();
        var rank = Assert.Throws<ArgumentException>(() => ModelComplexity.Count(network, [12, 12]));
        Assert.That(rank!.ParamName, Is.EqualTo("inputShape"));
        var channels = Assert.Throws<ArgumentException>(() => ModelComplexity.Count(network, [4, 12, 12]));
        Assert.That(channels!.Message, Does.Contain("features.0").And.Contain("3 channels").And.Contain("4 x 12 x 12"));
        var size = Assert.Throws<ArgumentException>(() => ModelComplexity.Count(network, [3, 16, 16]));
        Assert.That(size!.Message, Does.Contain("classifier.0").And.Contain("144"));
    }
}
