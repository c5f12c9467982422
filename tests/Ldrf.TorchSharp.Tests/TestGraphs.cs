using Ldrf.TorchSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>
/// Small seeded graph networks on 3 x 12 x 12 inputs (<see cref="TestNetworks.Batches"/>), one per block kind, built
/// with <see cref="GraphNetworkBuilder"/>: each is a stem, the block(s), global average pooling, Flatten and a Linear to
/// 5 classes, in evaluation mode. Every width is a multiple of 16 (libtorch computes those right here) and every
/// Conv2d and Linear is initialized like <see cref="TestNetworks.SmallVgg"/> (redundant pairs of channels when asked).
/// </summary>
internal static class TestGraphs
{
    /// <summary>
    /// MobileNetV2 inverted residuals: stem (conv 3→16, BN, ReLU6); b1 = expand 1 x 1 16→64, BN, ReLU6, depthwise
    /// 3 x 3 on 64, BN, ReLU6, project 1 x 1 64→16, BN, added to the stem ("b1_add"); b2 = the same with a stride-2
    /// depthwise and projecting to 32 without a residual; head.
    /// </summary>
    public static GraphNetwork InvertedResidual(long seed = 1, bool redundant = false)
    {
        torch.random.manual_seed(seed);
        var g = new GraphNetworkBuilder();
        var stem = ConvBn(g, "stem", g.Input, 3, 16, 3, act: () => nn.ReLU6());
        var b1 = InvertedBlock(g, "b1", stem, 16, 64, 16, stride: 1);
        var add = g.Sum("b1_add", stem, b1);
        var b2 = InvertedBlock(g, "b2", add, 16, 64, 32, stride: 2);
        return Finish(g, b2, 32, redundant);
    }

    /// <summary>
    /// A DenseNet-style block: stem (conv 3→32, ReLU); l1 = conv 3 x 3 32→16, ReLU; "cat1" = [stem, l1] (48); l2 =
    /// conv 3 x 3 48→16, ReLU; "cat2" = [cat1, l2] (64); transition = conv 1 x 1 64→32, ReLU, average pool 2; head.
    /// </summary>
    public static GraphNetwork DenseBlock(long seed = 1, bool redundant = false)
    {
        torch.random.manual_seed(seed);
        var g = new GraphNetworkBuilder();
        var stem = g.Layer("stem_act", nn.ReLU(), g.Layer("stem", nn.Conv2d(3, 32, 3, padding: 1), g.Input));
        var l1 = g.Layer("l1_act", nn.ReLU(), g.Layer("l1", nn.Conv2d(32, 16, 3, padding: 1), stem));
        var cat1 = g.Concat("cat1", stem, l1);
        var l2 = g.Layer("l2_act", nn.ReLU(), g.Layer("l2", nn.Conv2d(48, 16, 3, padding: 1), cat1));
        var cat2 = g.Concat("cat2", cat1, l2);
        var transition = g.Layer("transition_act", nn.ReLU(), g.Layer("transition", nn.Conv2d(64, 32, 1), cat2));
        return Finish(g, g.Layer("transition_pool", nn.AvgPool2d(2), transition), 32, redundant);
    }

    /// <summary>
    /// An Inception-style block: stem (conv 3→32, BN, ReLU); branches a = 1 x 1 32→16, ReLU; b = 1 x 1 32→16, ReLU,
    /// 3 x 3 16→32, ReLU; c = max pool 3 (stride 1, padding 1), 1 x 1 32→16, ReLU; "mixed" = [a, b, c] (64); head.
    /// </summary>
    public static GraphNetwork Inception(long seed = 1, bool redundant = false)
    {
        torch.random.manual_seed(seed);
        var g = new GraphNetworkBuilder();
        var stem = ConvBn(g, "stem", g.Input, 3, 32, 3, act: () => nn.ReLU());
        var a = g.Layer("a_act", nn.ReLU(), g.Layer("a", nn.Conv2d(32, 16, 1), stem));
        var b1 = g.Layer("b1_act", nn.ReLU(), g.Layer("b1", nn.Conv2d(32, 16, 1), stem));
        var b = g.Layer("b2_act", nn.ReLU(), g.Layer("b2", nn.Conv2d(16, 32, 3, padding: 1), b1));
        var pool = g.Layer("c_pool", nn.MaxPool2d(3, 1, 1), stem);
        var c = g.Layer("c_act", nn.ReLU(), g.Layer("c", nn.Conv2d(32, 16, 1), pool));
        return Finish(g, g.Concat("mixed", a, b, c), 64, redundant);
    }

    /// <summary>
    /// An EfficientNet-style MBConv block: stem (conv 3→16, BN, SiLU); expand 1 x 1 16→64, BN, SiLU; depthwise 3 x 3
    /// on 64, BN, SiLU; squeeze-excitation = global average pool, 1 x 1 64→16 ("se_reduce"), SiLU, 1 x 1 16→64
    /// ("se_expand"), Sigmoid, "se_scale" = depthwise output × gate; project 1 x 1 64→16, BN, added to the stem
    /// ("add"); a 1 x 1 16→32 conv, BN, SiLU; head.
    /// </summary>
    public static GraphNetwork EfficientNet(long seed = 1, bool redundant = false)
    {
        torch.random.manual_seed(seed);
        var g = new GraphNetworkBuilder();
        var stem = ConvBn(g, "stem", g.Input, 3, 16, 3, act: () => nn.SiLU());
        var expand = ConvBn(g, "expand", stem, 16, 64, 1, act: () => nn.SiLU());
        var dw = ConvBn(g, "dw", expand, 64, 64, 3, act: () => nn.SiLU(), groups: 64);
        var squeeze = g.Layer("se_pool", nn.AdaptiveAvgPool2d(1), dw);
        var reduce = g.Layer("se_reduce_act", nn.SiLU(), g.Layer("se_reduce", nn.Conv2d(64, 16, 1), squeeze));
        var gate = g.Layer("se_gate", nn.Sigmoid(), g.Layer("se_expand", nn.Conv2d(16, 64, 1), reduce));
        var scaled = g.Multiply("se_scale", dw, gate);
        var project = ConvBn(g, "project", scaled, 64, 16, 1, act: null);
        var add = g.Sum("add", stem, project);
        var top = ConvBn(g, "top", add, 16, 32, 1, act: () => nn.SiLU());
        return Finish(g, top, 32, redundant);
    }

    /// <summary>
    /// A ResNet with LeakyReLU (slope 0.1): stem (conv 3→16, BN, LeakyReLU); block 1 = conv 3 x 3 16→16, BN, LeakyReLU,
    /// conv 3 x 3 16→16, BN, added to the stem, LeakyReLU; block 2 = conv 3 x 3 16→32 stride 2, BN, LeakyReLU, conv
    /// 3 x 3 32→32, BN, added to a 1 x 1 stride-2 16→32 conv and BN of block 1's output, LeakyReLU; head.
    /// </summary>
    public static GraphNetwork LeakyResNet(long seed = 1, bool redundant = false)
    {
        torch.random.manual_seed(seed);
        var g = new GraphNetworkBuilder();
        Func<nn.Module<Tensor, Tensor>> leaky = () => nn.LeakyReLU(0.1);
        var stem = ConvBn(g, "stem", g.Input, 3, 16, 3, act: leaky);
        var r1 = ConvBn(g, "r1_conv2", ConvBn(g, "r1_conv1", stem, 16, 16, 3, act: leaky), 16, 16, 3, act: null);
        var out1 = g.Layer("r1_out", leaky(), g.Sum("r1_add", stem, r1));
        var r2 = ConvBn(g, "r2_conv2", ConvBn(g, "r2_conv1", out1, 16, 32, 3, act: leaky, stride: 2), 32, 32, 3, act: null);
        var shortcut = ConvBn(g, "r2_down", out1, 16, 32, 1, act: null, stride: 2);
        var out2 = g.Layer("r2_out", leaky(), g.Sum("r2_add", r2, shortcut));
        return Finish(g, out2, 32, redundant);
    }

    // conv (no bias: the BN shifts), BN and an optional activation named name, name_bn, name_act; returns the last.
    private static string ConvBn(GraphNetworkBuilder g, string name, string input, int cin, int cout, int kernel, Func<nn.Module<Tensor, Tensor>>? act, int stride = 1, int groups = 1)
    {
        var conv = g.Layer(name, nn.Conv2d(cin, cout, kernel, stride, kernel / 2, groups: groups, bias: false), input);
        var bn = g.Layer(name + "_bn", nn.BatchNorm2d(cout), conv);
        return act is null ? bn : g.Layer(name + "_act", act(), bn);
    }

    private static string InvertedBlock(GraphNetworkBuilder g, string name, string input, int cin, int hidden, int cout, int stride)
    {
        var expand = ConvBn(g, name + "_expand", input, cin, hidden, 1, act: () => nn.ReLU6());
        var dw = ConvBn(g, name + "_dw", expand, hidden, hidden, 3, act: () => nn.ReLU6(), stride: stride, groups: hidden);
        return ConvBn(g, name + "_project", dw, hidden, cout, 1, act: null);
    }

    private static GraphNetwork Finish(GraphNetworkBuilder g, string features, int channels, bool redundant)
    {
        var pooled = g.Layer("pool", nn.AdaptiveAvgPool2d(1), features);
        var flat = g.Layer("flatten", nn.Flatten(), pooled);
        var network = g.Build(g.Layer("fc", nn.Linear(channels, 5), flat));
        TestNetworks.Initialize(network, redundant, outputs: 5);
        network.eval();
        return network;
    }
}
