using Ldrf.TorchSharp.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Models;

/// <summary>
/// TorchSharp definitions of torchvision's VGG-16 and ResNet-18/50 whose state_dict names and shapes are
/// torchvision's, built from layers the pruner reads, so that weights trained in PyTorch load into them (with
/// TorchSharp.PyBridge's <c>load_py</c> or <c>load_safetensors</c>) and the result can be pruned directly.
/// </summary>
/// <remarks>
/// <para>
/// torchvision's models call <c>torch.flatten(x, 1)</c> inside <c>forward</c>; here that is a parameterless
/// <c>flatten</c> module, so the state_dict is unchanged. Every model is a <see cref="Sequential"/>:
/// VGG-16 is <c>(features, avgpool, flatten, classifier)</c>, a ResNet is
/// <c>(conv1, bn1, relu, maxpool, layer1..layer4, avgpool, flatten, fc)</c> with <see cref="ResidualBlock"/>s
/// in the stages.
/// </para>
/// <para>
/// The weights are initialized as torchvision initializes them (Kaiming normal, fan-out, for convolutions;
/// ones and zeros for batch norms; N(0, 0.01) for VGG's linear layers), under TorchSharp's random generator
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

    // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu"), zero bias.
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

    // torchvision's VGG: normal_(0, 0.01), zero bias.
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
