using Ldrf.TorchSharp.Graphs;
using Ldrf.TorchSharp.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Models;

/// <summary>
/// TorchSharp definitions of torchvision's VGG-16, ResNet-18/50 and MobileNetV2 whose state_dict names and shapes are
/// torchvision's, built from layers the pruner reads, so that weights trained in PyTorch load into them (with
/// TorchSharp.PyBridge's <c>load_py</c> or <c>load_safetensors</c>) and the result can be pruned directly.
/// </summary>
/// <remarks>
/// <para>
/// torchvision's models call <c>torch.flatten(x, 1)</c> inside <c>forward</c>; here that is a parameterless
/// <c>flatten</c> module, so the state_dict is unchanged. VGG-16 and the ResNets are <see cref="Sequential"/>s:
/// VGG-16 is <c>(features, avgpool, flatten, classifier)</c>, a ResNet is
/// <c>(conv1, bn1, relu, maxpool, layer1..layer4, avgpool, flatten, fc)</c> with <see cref="ResidualBlock"/>s
/// in the stages. MobileNetV2 is a <see cref="GraphNetwork"/> (its depthwise convolutions, ReLU6 and residual adds
/// are no chain): each torchvision module is a node named by its path with '_' for '.' (<c>features.1.conv.0.0</c> is
/// node <c>features_1_conv_0_0</c>, so its state_dict key is <c>features_1_conv_0_0.weight</c>), and the network keeps
/// the torchvision paths, so <c>NetworkFile.LoadPyTorch</c>, <c>LoadSafetensors</c> and <c>ExportPyTorch</c> read and
/// write torchvision's keys (<c>features.1.conv.0.0.weight</c>).
/// </para>
/// <para>
/// The weights are initialized as torchvision initializes them (Kaiming normal, fan-out, for convolutions;
/// ones and zeros for batch norms; N(0, 0.01) for VGG's and MobileNetV2's linear layers), under TorchSharp's random generator
/// (seed it with <c>torch.random.manual_seed</c>). The model is returned in training mode, as a new torchvision
/// model is; call <c>eval()</c> before pruning or inference.
/// </para>
/// </remarks>
public static class TorchVisionModels
{
    // torchvision's configuration "D": output channels of each 3 x 3 convolution, 0 for a 2 x 2 max pool.
    private static readonly int[] Vgg16Layout = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0];

    /// <summary>
    /// torchvision's <c>vgg16</c> (or <c>vgg16_bn</c>): 13 convolutions in <c>features</c>, an adaptive average
    /// pool to 7 x 7, and the classifier <c>Linear(25088, 4096), ReLU, Dropout, Linear(4096, 4096), ReLU,
    /// Dropout, Linear(4096, classes)</c>. Takes 3 x H x W images with H, W at least 32 (224 x 224 on ImageNet).
    /// </summary>
    /// <param name="classes">Outputs of the last layer (1000 for ImageNet).</param>
    /// <param name="batchNorm">Whether a BatchNorm2d follows every convolution (<c>vgg16_bn</c>).</param>
    /// <param name="dropout">The dropout probability of the classifier (torchvision: 0.5).</param>
    /// <returns>The network, in training mode.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is less than 1, or <paramref name="dropout"/> is outside [0, 1].</exception>
    public static Sequential Vgg16(int classes = 1000, bool batchNorm = false, double dropout = 0.5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        if (!(dropout >= 0 && dropout <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "The dropout probability must lie in [0, 1].");
        }

        var features = new List<(string, nn.Module<Tensor, Tensor>)>();
        var inChannels = 3;
        foreach (var width in Vgg16Layout)
        {
            if (width == 0)
            {
                features.Add((Name(features.Count), nn.MaxPool2d(2, 2)));
                continue;
            }

            features.Add((Name(features.Count), KaimingConv(nn.Conv2d(inChannels, width, 3, padding: 1))));
            if (batchNorm)
            {
                features.Add((Name(features.Count), nn.BatchNorm2d(width)));
            }

            features.Add((Name(features.Count), nn.ReLU()));
            inChannels = width;
        }

        var classifier = nn.Sequential(
            ("0", SmallLinear(nn.Linear(512 * 7 * 7, 4096))),
            ("1", nn.ReLU()),
            ("2", nn.Dropout(dropout)),
            ("3", SmallLinear(nn.Linear(4096, 4096))),
            ("4", nn.ReLU()),
            ("5", nn.Dropout(dropout)),
            ("6", SmallLinear(nn.Linear(4096, classes))));

        return nn.Sequential(
            ("features", nn.Sequential(features)),
            ("avgpool", nn.AdaptiveAvgPool2d((7, 7))),
            ("flatten", nn.Flatten()),
            ("classifier", classifier));
    }

    /// <summary>torchvision's <c>resnet18</c>: basic blocks, 2 per stage, widths 64, 128, 256, 512.</summary>
    /// <param name="classes">Outputs of <c>fc</c> (1000 for ImageNet).</param>
    /// <returns>The network, in training mode.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is less than 1.</exception>
    public static Sequential ResNet18(int classes = 1000) => ResNet(classes, [2, 2, 2, 2], bottleneck: false);

    /// <summary>
    /// torchvision's <c>resnet50</c> (v1.5: the stride of a downsampling bottleneck is on its 3 x 3 convolution):
    /// bottleneck blocks, 3, 4, 6 and 3 per stage, inner widths 64, 128, 256, 512, outputs four times wider.
    /// </summary>
    /// <param name="classes">Outputs of <c>fc</c> (1000 for ImageNet).</param>
    /// <returns>The network, in training mode.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is less than 1.</exception>
    public static Sequential ResNet50(int classes = 1000) => ResNet(classes, [3, 4, 6, 3], bottleneck: true);

    // torchvision's MobileNetV2 settings: expansion t, output channels c, blocks n, first stride s (width_mult 1).
    private static readonly (int T, int C, int N, int S)[] MobileNetV2Layout =
        [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

    /// <summary>
    /// torchvision's <c>mobilenet_v2</c> (width 1.0): <c>features.0</c> a stride-2 3 x 3 convolution to 32 channels
    /// with BatchNorm2d and ReLU6; <c>features.1</c> to <c>features.17</c> inverted residual blocks (1 x 1 expansion,
    /// 3 x 3 depthwise, 1 x 1 linear projection, each convolution followed by a batch norm, ReLU6 after the first two;
    /// a residual add where the stride is 1 and the width unchanged, node <c>features_N_add</c>); <c>features.18</c> a
    /// 1 x 1 convolution to 1280 channels with BatchNorm2d and ReLU6; global average pooling, Flatten and the classifier
    /// <c>Dropout(0.2), Linear(1280, classes)</c>. Takes 3 x H x W images (224 x 224 on ImageNet).
    /// </summary>
    /// <param name="classes">Outputs of the last layer (1000 for ImageNet).</param>
    /// <returns>The network as a <see cref="GraphNetwork"/> with torchvision's state_dict names in PyTorch files (see the remarks of <see cref="TorchVisionModels"/>), in training mode.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is less than 1.</exception>
    public static GraphNetwork MobileNetV2(int classes = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        var g = new GraphNetworkBuilder();
        var x = ConvBnRelu6(g, "features.0", g.Input, 3, 32, 3, stride: 2);
        var inChannels = 32;
        var index = 1;
        foreach (var (t, c, n, s) in MobileNetV2Layout)
        {
            for (var i = 0; i < n; i++, index++)
            {
                var stride = i == 0 ? s : 1;
                var block = $"features.{Name(index)}";
                var hidden = inChannels * t;
                var y = x;
                var part = 0;
                if (t != 1)
                {
                    y = ConvBnRelu6(g, $"{block}.conv.{Name(part++)}", y, inChannels, hidden, 1);
                }

                y = ConvBnRelu6(g, $"{block}.conv.{Name(part++)}", y, hidden, hidden, 3, stride, groups: hidden);
                y = g.PyTorchLayer($"{block}.conv.{Name(part++)}", KaimingConv(nn.Conv2d(hidden, c, 1, bias: false)), y);
                y = g.PyTorchLayer($"{block}.conv.{Name(part)}", nn.BatchNorm2d(c), y);
                x = stride == 1 && inChannels == c ? g.Sum(block.Replace('.', '_') + "_add", x, y) : y;
                inChannels = c;
            }
        }

        x = ConvBnRelu6(g, $"features.{Name(index)}", x, inChannels, 1280, 1);
        x = g.Layer("flatten", nn.Flatten(), g.Layer("avgpool", nn.AdaptiveAvgPool2d((1, 1)), x));
        x = g.PyTorchLayer("classifier.0", nn.Dropout(0.2), x);
        return g.Build(g.PyTorchLayer("classifier.1", SmallLinear(nn.Linear(1280, classes)), x));
    }

    // torchvision's Conv2dNormActivation: path.0 the convolution (no bias, padding (k - 1) / 2), path.1 BatchNorm2d, path.2 ReLU6.
    private static string ConvBnRelu6(GraphNetworkBuilder g, string path, string input, int inChannels, int outChannels, int kernel, int stride = 1, int groups = 1)
    {
        var conv = g.PyTorchLayer(path + ".0", KaimingConv(nn.Conv2d(inChannels, outChannels, kernel, stride, (kernel - 1) / 2, groups: groups, bias: false)), input);
        var bn = g.PyTorchLayer(path + ".1", nn.BatchNorm2d(outChannels), conv);
        return g.PyTorchLayer(path + ".2", nn.ReLU6(), bn);
    }

    private static Sequential ResNet(int classes, int[] blocksPerStage, bool bottleneck)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("conv1", KaimingConv(nn.Conv2d(3, 64, 7, stride: 2, padding: 3, bias: false))),
            ("bn1", nn.BatchNorm2d(64)),
            ("relu", nn.ReLU()),
            ("maxpool", nn.MaxPool2d(3, 2, 1)),
        };

        var inChannels = 64;
        for (var stage = 0; stage < blocksPerStage.Length; stage++)
        {
            var width = 64 << stage;
            var blocks = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (var b = 0; b < blocksPerStage[stage]; b++)
            {
                var stride = stage > 0 && b == 0 ? 2 : 1;
                var block = bottleneck ? ResidualBlock.Bottleneck(inChannels, width, stride) : ResidualBlock.Basic(inChannels, width, stride);
                InitializeConvolutions(block);
                blocks.Add((Name(b), block));
                inChannels = bottleneck ? width * 4 : width;
            }

            layers.Add(($"layer{stage + 1}", nn.Sequential(blocks)));
        }

        layers.Add(("avgpool", nn.AdaptiveAvgPool2d((1, 1))));
        layers.Add(("flatten", nn.Flatten()));
        layers.Add(("fc", nn.Linear(inChannels, classes)));
        return nn.Sequential(layers);
    }

    private static string Name(int index) => index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static void InitializeConvolutions(nn.Module module)
    {
        foreach (var child in module.modules())
        {
            if (child is Conv2d conv)
            {
                KaimingConv(conv);
            }
        }
    }

    // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu"), zero bias (MobileNetV2's default
    // leaky_relu with slope 0 has the same gain, √2).
    private static Conv2d KaimingConv(Conv2d conv)
    {
        using var noGrad = no_grad();
        nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
        if (conv.bias is not null)
        {
            nn.init.zeros_(conv.bias);
        }

        return conv;
    }

    // torchvision's VGG and MobileNetV2: normal_(0, 0.01), zero bias.
    private static Linear SmallLinear(Linear linear)
    {
        using var noGrad = no_grad();
        nn.init.normal_(linear.weight, 0, 0.01);
        if (linear.bias is not null)
        {
            nn.init.zeros_(linear.bias);
        }

        return linear;
    }
}
