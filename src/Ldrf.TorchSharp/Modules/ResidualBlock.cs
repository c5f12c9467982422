using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Modules;

/// <summary>
/// A residual block that the pruner can read: <c>out = relu(main(x) + shortcut(x))</c>, where the main branch
/// is a chain of named layers and the shortcut is the identity or a <c>downsample</c> Sequential.
/// <see cref="Basic"/> and <see cref="Bottleneck"/> build torchvision's two block layouts with torchvision's
/// parameter names (<c>conv1</c>, <c>bn1</c>, ..., <c>downsample.0</c>), so a ResNet state_dict exported from
/// PyTorch loads into a network built from them.
/// </summary>
/// <remarks>
/// The pruner prunes the channels inside the main branch (the outputs of every Conv2d or Linear but the last)
/// and keeps the block's output width, so the residual add stays valid. A layer may appear more than once in
/// the main branch (torchvision's blocks apply one ReLU module after each batch norm).
/// </remarks>
public sealed class ResidualBlock : nn.Module<Tensor, Tensor>
{
    /// <summary>The name of the shortcut's child module, as in torchvision.</summary>
    public const string DownsampleName = "downsample";

    private readonly List<(string Name, nn.Module<Tensor, Tensor> Module)> _main;
    private readonly Sequential? _downsample;

    /// <summary>Creates a block from its main branch and optional shortcut.</summary>
    /// <param name="mainBranch">The main branch in forward order, as (child name, layer) pairs. A name may repeat only with the same layer.</param>
    /// <param name="downsample">The shortcut (for example a 1 x 1 strided Conv2d and a BatchNorm2d), or null for the identity.</param>
    /// <param name="reluAfterAdd">Whether a ReLU follows the residual add (true in torchvision's blocks).</param>
    /// <exception cref="ArgumentException">The main branch is empty, a name is empty, contains a dot or is <see cref="DownsampleName"/>, or one name stands for two different layers.</exception>
    public ResidualBlock(IEnumerable<(string Name, nn.Module<Tensor, Tensor> Module)> mainBranch, Sequential? downsample = null, bool reluAfterAdd = true)
        : base(nameof(ResidualBlock))
    {
        ArgumentNullException.ThrowIfNull(mainBranch);
        _main = [.. mainBranch];
        if (_main.Count == 0)
        {
            throw new ArgumentException("The main branch of a residual block needs at least one layer.", nameof(mainBranch));
        }

        var registered = new Dictionary<string, nn.Module<Tensor, Tensor>>(StringComparer.Ordinal);
        foreach (var (name, module) in _main)
        {
            ArgumentNullException.ThrowIfNull(module, nameof(mainBranch));
            if (string.IsNullOrEmpty(name) || name.Contains('.', StringComparison.Ordinal) || name == DownsampleName)
            {
                throw new ArgumentException($"Main-branch layer name '{name}' is invalid: it must be non-empty, without dots, and not '{DownsampleName}'.", nameof(mainBranch));
            }

            if (registered.TryGetValue(name, out var existing))
            {
                if (!ReferenceEquals(existing, module))
                {
                    throw new ArgumentException($"Main-branch name '{name}' stands for two different layers; a name may repeat only for the same layer.", nameof(mainBranch));
                }

                continue;
            }

            registered[name] = module;
            register_module(name, module);
        }

        if (downsample is not null)
        {
            _downsample = downsample;
            register_module(DownsampleName, downsample);
        }

        ReluAfterAdd = reluAfterAdd;
    }

    /// <summary>The main branch in forward order (a shared layer appears at each of its positions).</summary>
    public IReadOnlyList<(string Name, nn.Module<Tensor, Tensor> Module)> MainBranch => _main;

    /// <summary>The shortcut, or null for the identity.</summary>
    public Sequential? Downsample => _downsample;

    /// <summary>Whether a ReLU follows the residual add.</summary>
    public bool ReluAfterAdd { get; }

    /// <summary>
    /// torchvision's <c>BasicBlock</c>: conv1 (3 x 3, stride), bn1, relu, conv2 (3 x 3), bn2, add, relu; the
    /// shortcut is a 1 x 1 strided Conv2d and a BatchNorm2d when the stride is not 1 or the width changes.
    /// </summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="channels">Output channels (and the inner width).</param>
    /// <param name="stride">The stride of conv1 and of the shortcut.</param>
    /// <returns>The block, in training mode, with TorchSharp's default initialization.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size or the stride is less than 1.</exception>
    public static ResidualBlock Basic(int inChannels, int channels, int stride = 1)
    {
        CheckSizes(inChannels, channels, stride);
        var relu = nn.ReLU();
        return new ResidualBlock(
            [
                ("conv1", nn.Conv2d(inChannels, channels, 3, stride, 1, bias: false)),
                ("bn1", nn.BatchNorm2d(channels)),
                ("relu", relu),
                ("conv2", nn.Conv2d(channels, channels, 3, 1, 1, bias: false)),
                ("bn2", nn.BatchNorm2d(channels)),
            ],
            Shortcut(inChannels, channels, stride));
    }

    /// <summary>
    /// torchvision's <c>Bottleneck</c> (ResNet v1.5, the stride on the 3 x 3 convolution): conv1 (1 x 1 to
    /// <paramref name="width"/>), bn1, relu, conv2 (3 x 3, stride), bn2, relu, conv3 (1 x 1 to
    /// <paramref name="width"/> · <paramref name="expansion"/>), bn3, add, relu.
    /// </summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="width">The inner width (torchvision's <c>planes</c>).</param>
    /// <param name="stride">The stride of conv2 and of the shortcut.</param>
    /// <param name="expansion">Output channels per inner channel (4 in torchvision).</param>
    /// <returns>The block, in training mode, with TorchSharp's default initialization.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size, the stride or the expansion is less than 1.</exception>
    public static ResidualBlock Bottleneck(int inChannels, int width, int stride = 1, int expansion = 4)
    {
        CheckSizes(inChannels, width, stride);
        ArgumentOutOfRangeException.ThrowIfLessThan(expansion, 1);
        var channels = width * expansion;
        var relu = nn.ReLU();
        return new ResidualBlock(
            [
                ("conv1", nn.Conv2d(inChannels, width, 1, bias: false)),
                ("bn1", nn.BatchNorm2d(width)),
                ("relu", relu),
                ("conv2", nn.Conv2d(width, width, 3, stride, 1, bias: false)),
                ("bn2", nn.BatchNorm2d(width)),
                ("relu", relu),
                ("conv3", nn.Conv2d(width, channels, 1, bias: false)),
                ("bn3", nn.BatchNorm2d(channels)),
            ],
            Shortcut(inChannels, channels, stride));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Each intermediate tensor is disposed as soon as the next layer has read it, as TorchSharp's Sequential does
    /// (autograd keeps what a backward pass needs): a forward pass inside a caller's dispose scope then holds about one
    /// layer's activations per block instead of every activation of the network (measured: ResNet-50 at batch 32,
    /// 224 x 224, peaked above 6 GB before).
    /// </remarks>
    public override Tensor forward(Tensor input)
    {
        var y = input;
        foreach (var (_, module) in _main)
        {
            y = Replace(y, module.forward(y), input);
        }

        var shortcut = _downsample is null ? input : _downsample.forward(input);
        var sum = Replace(y, y.add(shortcut), input);
        if (!ReferenceEquals(shortcut, input))
        {
            shortcut.Dispose();
        }

        return ReluAfterAdd ? Replace(sum, nn.functional.relu(sum), input) : sum;
    }

    // The next value, after disposing the previous one unless it is the block's input or the same tensor (an identity).
    private static Tensor Replace(Tensor previous, Tensor next, Tensor input)
    {
        if (!ReferenceEquals(previous, input) && !ReferenceEquals(previous, next))
        {
            previous.Dispose();
        }

        return next;
    }

    private static void CheckSizes(int inChannels, int channels, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
    }

    private static Sequential? Shortcut(int inChannels, int channels, int stride) =>
        stride == 1 && inChannels == channels
            ? null
            : nn.Sequential(("0", (nn.Module<Tensor, Tensor>)nn.Conv2d(inChannels, channels, 1, stride, bias: false)), ("1", nn.BatchNorm2d(channels)));
}
