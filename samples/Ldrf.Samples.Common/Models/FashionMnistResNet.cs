using Ldrf.TorchSharp.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Ldrf.Samples.Common.Models;

/// <summary>Shape of a <see cref="FashionMnistResNet"/> network.</summary>
public sealed class FashionMnistResNetOptions
{
    private IReadOnlyList<int> _widths = [16, 32, 64];
    private int _blocksPerStage = 2;

    /// <summary>
    /// Output channels of the three stages (the stem has the first stage's width). The second and third stages
    /// halve the resolution (28 -> 14 -> 7 pixels). Default 16, 32, 64. Must hold exactly three positive widths.
    /// </summary>
    public IReadOnlyList<int> Widths
    {
        get => _widths;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Count != 3)
            {
                throw new ArgumentException($"Widths needs exactly 3 stage widths, got {value.Count}.", nameof(value));
            }

            if (value.Any(w => w <= 0))
            {
                throw new ArgumentException($"Widths must all be positive, got [{string.Join(", ", value)}].", nameof(value));
            }

            _widths = [.. value];
        }
    }

    /// <summary>Basic blocks in each stage (2 gives a 14-layer network, 3 a ResNet-20). Default 2.</summary>
    public int BlocksPerStage
    {
        get => _blocksPerStage;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            _blocksPerStage = value;
        }
    }
}

/// <summary>
/// A small CIFAR-style ResNet for 1 x 28 x 28 Fashion-MNIST images, built from standard TorchSharp modules and
/// <see cref="ResidualBlock"/>s so that a pruner which walks <see cref="global::TorchSharp.Modules.Sequential"/> containers and residual
/// blocks understands it.
/// </summary>
/// <remarks>
/// Layout: <c>Sequential(conv1, bn1, relu, layer1, layer2, layer3, avgpool, flatten, fc)</c>. <c>conv1</c> is a
/// 3x3 Conv2d (padding 1, no bias) from 1 channel to the first width; <c>layer1</c>..<c>layer3</c> are Sequentials
/// of <see cref="ResidualBlock.Basic"/> blocks named <c>0</c>, <c>1</c>, ... (the first block of layers 2 and 3
/// has stride 2 and a 1x1 downsample shortcut); <c>avgpool</c> is AdaptiveAvgPool2d(1, 1) and <c>fc</c> a Linear
/// from the last width to 10 classes. The parameter names follow torchvision's ResNet.
/// </remarks>
public static class FashionMnistResNet
{
    /// <summary>Builds a freshly initialized network (use <c>torch.random.manual_seed</c> first for a fixed initialization).</summary>
    /// <param name="options">The shape; null uses the defaults.</param>
    /// <param name="device">Where to put the parameters; null means CPU.</param>
    /// <returns>The network, in training mode.</returns>
    public static Sequential Create(FashionMnistResNetOptions? options = null, Device? device = null)
    {
        options ??= new FashionMnistResNetOptions();
        var widths = options.Widths;
        var layers = new List<(string, Module<Tensor, Tensor>)>
        {
            // No conv bias: the BatchNorm that follows has its own shift.
            ("conv1", Conv2d(1, widths[0], 3, padding: 1, bias: false)),
            ("bn1", BatchNorm2d(widths[0])),
            ("relu", ReLU()),
        };

        int inChannels = widths[0];
        for (int stage = 0; stage < widths.Count; stage++)
        {
            var blocks = new List<(string, Module<Tensor, Tensor>)>();
            for (int b = 0; b < options.BlocksPerStage; b++)
            {
                int stride = stage > 0 && b == 0 ? 2 : 1;
                blocks.Add(($"{b}", ResidualBlock.Basic(inChannels, widths[stage], stride)));
                inChannels = widths[stage];
            }

            layers.Add(($"layer{stage + 1}", Sequential(blocks)));
        }

        layers.Add(("avgpool", AdaptiveAvgPool2d([1, 1])));
        layers.Add(("flatten", Flatten()));
        layers.Add(("fc", Linear(inChannels, Data.FashionMnist.ClassCount)));

        var model = Sequential(layers);
        return device is null ? model : model.to(device);
    }

    /// <summary>Builds a network with <paramref name="options"/> and loads weights saved with <c>module.save</c>.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="options">The shape the checkpoint was trained with; null uses the defaults.</param>
    /// <param name="device">Where to put the parameters; null means CPU.</param>
    /// <returns>The network, in evaluation mode.</returns>
    public static Sequential Load(string path, FashionMnistResNetOptions? options = null, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        }

        var model = Create(options);
        model.load(path);
        model.eval();
        return device is null ? model : model.to(device);
    }
}
