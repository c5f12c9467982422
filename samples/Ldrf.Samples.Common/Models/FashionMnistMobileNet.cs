using System.Globalization;
using Ldrf.TorchSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Ldrf.Samples.Common.Models;

/// <summary>
/// A small MobileNetV2-style network for 1 x 28 x 28 Fashion-MNIST images, built with <see cref="GraphNetworkBuilder"/>:
/// inverted residual blocks (1 x 1 expansion, ReLU6, 3 x 3 depthwise, ReLU6, 1 x 1 linear projection, a residual add
/// where the stride is 1 and the width unchanged), the last one with a squeeze-excitation gate.
/// </summary>
/// <remarks>
/// <para>
/// Layout: a stem (<c>stem_conv</c> 3 x 3, 1 to 16 channels, BatchNorm2d, ReLU6); four blocks <c>b1</c>..<c>b4</c> of
/// expansion 4 with outputs 32, 32, 64, 64 and strides 2, 1, 2, 1 (28 -> 14 -> 7 pixels; <c>b2</c> and <c>b4</c> add
/// their input); in <c>b4</c> a squeeze-excitation gate on the depthwise output (global average pool, 1 x 1
/// convolution 256 to 64, ReLU, 1 x 1 convolution 64 to 256, Sigmoid, <c>b4_se_scale</c> multiplying the channels); a head (<c>head_conv</c> 1 x 1 to 128, BatchNorm2d, ReLU6), global average pooling, Flatten and
/// <c>fc</c>, a Linear to 10 classes. Every width is a multiple of 16 (see docs/troubleshooting.md on libtorch's CPU
/// convolutions). Node names are the state_dict prefixes (<c>b2_expand.weight</c>, ...).
/// </para>
/// <para>
/// The residual adds couple the block outputs (32 and 64 channels), which the pruners keep whole; the expanded
/// widths (64 to 256, through the depthwise convolutions and the gate) and the head are the prunable groups.
/// </para>
/// </remarks>
public static class FashionMnistMobileNet
{
    /// <summary>Expansion factor of every block.</summary>
    public const int Expansion = 4;

    // Output channels, stride and whether the block has a squeeze-excitation gate.
    private static readonly (int Channels, int Stride, bool SqueezeExcitation)[] Blocks =
        [(32, 2, false), (32, 1, false), (64, 2, false), (64, 1, true)];

    private const int StemWidth = 16;
    private const int HeadWidth = 128;

    /// <summary>Builds a freshly initialized network (use <c>torch.random.manual_seed</c> first for a fixed initialization).</summary>
    /// <param name="device">Where to put the parameters; null means CPU.</param>
    /// <returns>The network, in training mode.</returns>
    public static GraphNetwork Create(Device? device = null)
    {
        var g = new GraphNetworkBuilder();
        var x = ConvBnRelu6(g, "stem", g.Input, 1, StemWidth, 3);
        var inChannels = StemWidth;
        for (var i = 0; i < Blocks.Length; i++)
        {
            var (channels, stride, se) = Blocks[i];
            var block = "b" + (i + 1).ToString(CultureInfo.InvariantCulture);
            var hidden = inChannels * Expansion;
            var y = ConvBnRelu6(g, block + "_expand", x, inChannels, hidden, 1);
            y = ConvBnRelu6(g, block + "_dw", y, hidden, hidden, 3, stride, groups: hidden);
            if (se)
            {
                var squeeze = hidden / 4;
                var s = g.Layer(block + "_se_pool", AdaptiveAvgPool2d((1, 1)), y);
                s = g.Layer(block + "_se_reduce", Conv2d(hidden, squeeze, 1), s);
                s = g.Layer(block + "_se_relu", ReLU(), s);
                s = g.Layer(block + "_se_expand", Conv2d(squeeze, hidden, 1), s);
                s = g.Layer(block + "_se_gate", Sigmoid(), s);
                y = g.Multiply(block + "_se_scale", y, s);
            }

            y = g.Layer(block + "_project", Conv2d(hidden, channels, 1, bias: false), y);
            y = g.Layer(block + "_project_bn", BatchNorm2d(channels), y);
            x = stride == 1 && inChannels == channels ? g.Sum(block + "_add", x, y) : y;
            inChannels = channels;
        }

        x = ConvBnRelu6(g, "head", x, inChannels, HeadWidth, 1);
        x = g.Layer("pool", AdaptiveAvgPool2d((1, 1)), x);
        x = g.Layer("flatten", Flatten(), x);
        var model = g.Build(g.Layer("fc", Linear(HeadWidth, Data.FashionMnist.ClassCount), x));
        return device is null ? model : model.to(device);
    }

    /// <summary>Builds the network and loads weights saved with <c>module.save</c>.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="device">Where to put the parameters; null means CPU.</param>
    /// <returns>The network, in evaluation mode.</returns>
    public static GraphNetwork Load(string path, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        }

        var model = Create();
        model.load(path);
        model.eval();
        return device is null ? model : model.to(device);
    }

    // A convolution without bias (the batch norm has its own shift), BatchNorm2d and ReLU6: nodes name_conv, name_bn, name_relu
    // (name itself for the expansion and depthwise steps of a block, whose nodes read better as b2_expand, b2_expand_bn, ...).
    private static string ConvBnRelu6(GraphNetworkBuilder g, string name, string input, int inChannels, int outChannels, int kernel, int stride = 1, int groups = 1)
    {
        var convName = name is "stem" or "head" ? name + "_conv" : name;
        var conv = g.Layer(convName, Conv2d(inChannels, outChannels, kernel, stride, (kernel - 1) / 2, groups: groups, bias: false), input);
        var bn = g.Layer(name + "_bn", BatchNorm2d(outChannels), conv);
        return g.Layer(name + "_relu", ReLU6(), bn);
    }
}
