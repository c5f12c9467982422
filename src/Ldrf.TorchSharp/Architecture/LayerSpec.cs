using System.Text.Json.Serialization;
using TorchSharp;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>
/// The architecture of one leaf module of a chain network: its path in the Sequential hierarchy and its
/// hyperparameters, without weights. A list of these plus a state dictionary rebuilds the network, which is
/// what the pruner edits and what the network file stores as JSON.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(Conv2dSpec), "Conv2d")]
[JsonDerivedType(typeof(BatchNorm2dSpec), "BatchNorm2d")]
[JsonDerivedType(typeof(ReluSpec), "ReLU")]
[JsonDerivedType(typeof(MaxPool2dSpec), "MaxPool2d")]
[JsonDerivedType(typeof(AvgPool2dSpec), "AvgPool2d")]
[JsonDerivedType(typeof(DropoutSpec), "Dropout")]
[JsonDerivedType(typeof(FlattenSpec), "Flatten")]
[JsonDerivedType(typeof(LinearSpec), "Linear")]
[JsonDerivedType(typeof(AdaptiveAvgPool2dSpec), "AdaptiveAvgPool2d")]
[JsonDerivedType(typeof(ResidualBlockSpec), "ResidualBlock")]
[JsonDerivedType(typeof(ActivationSpec), "Activation")]
[JsonDerivedType(typeof(PReluSpec), "PReLU")]
[JsonDerivedType(typeof(IdentitySpec), "Identity")]
[JsonDerivedType(typeof(AddSpec), "Add")]
[JsonDerivedType(typeof(ConcatSpec), "Concat")]
[JsonDerivedType(typeof(MultiplySpec), "Multiply")]
internal abstract record LayerSpec(string Path)
{
    /// <summary>The TorchSharp module type name, for messages.</summary>
    [JsonIgnore]
    public abstract string TypeName { get; }

    /// <summary>
    /// Every leaf layer in forward order: the layers of a chain, with each residual block replaced by its main
    /// branch and then its shortcut (a layer shared inside a main branch appears at each of its positions).
    /// </summary>
    public static IEnumerable<LayerSpec> Leaves(IEnumerable<LayerSpec> chain)
    {
        foreach (var spec in chain)
        {
            if (spec is ResidualBlockSpec block)
            {
                foreach (var leaf in block.Main.Concat(block.Shortcut))
                {
                    yield return leaf;
                }
            }
            else
            {
                yield return spec;
            }
        }
    }
}

/// <summary>
/// A 2-D convolution. Pairs are (height, width). <see cref="Groups"/> splits the channels into groups that are
/// convolved separately (groups = in = out is a depthwise convolution); JSON written before groups existed reads as 1.
/// </summary>
internal sealed record Conv2dSpec(
    string Path, int InChannels, int OutChannels, int[] Kernel, int[] Stride, int[] Padding, int[] Dilation,
    PaddingModes PaddingMode, bool HasBias, int Groups = 1) : LayerSpec(Path)
{
    public override string TypeName => "Conv2d";

    /// <summary>Whether each output channel reads exactly its own input channel (groups = in = out).</summary>
    [JsonIgnore]
    public bool IsDepthwise => Groups > 1 && Groups == InChannels && Groups == OutChannels;
}

/// <summary>2-D batch normalization that tracks running statistics.</summary>
internal sealed record BatchNorm2dSpec(string Path, int Channels, double Eps, double? Momentum, bool Affine) : LayerSpec(Path)
{
    public override string TypeName => "BatchNorm2d";
}

/// <summary>ReLU.</summary>
internal sealed record ReluSpec(string Path) : LayerSpec(Path)
{
    public override string TypeName => "ReLU";
}

/// <summary>2-D max pooling.</summary>
internal sealed record MaxPool2dSpec(string Path, int[] Kernel, int[] Stride, int[] Padding, int[] Dilation, bool CeilMode) : LayerSpec(Path)
{
    public override string TypeName => "MaxPool2d";
}

/// <summary>2-D average pooling.</summary>
internal sealed record AvgPool2dSpec(string Path, int[] Kernel, int[] Stride, int[] Padding, bool CeilMode, bool CountIncludePad, long? DivisorOverride) : LayerSpec(Path)
{
    public override string TypeName => "AvgPool2d";
}

/// <summary>Dropout (the identity in evaluation mode).</summary>
internal sealed record DropoutSpec(string Path, double P) : LayerSpec(Path)
{
    public override string TypeName => "Dropout";
}

/// <summary>Flatten of every dimension after the batch (start_dim = 1, end_dim = -1).</summary>
internal sealed record FlattenSpec(string Path) : LayerSpec(Path)
{
    public override string TypeName => "Flatten";
}

/// <summary>A fully connected layer.</summary>
internal sealed record LinearSpec(string Path, int InFeatures, int OutFeatures, bool HasBias) : LayerSpec(Path)
{
    public override string TypeName => "Linear";
}

/// <summary>2-D adaptive average pooling to a fixed output size (height, width).</summary>
internal sealed record AdaptiveAvgPool2dSpec(string Path, int[] OutputSize) : LayerSpec(Path)
{
    public override string TypeName => "AdaptiveAvgPool2d";
}

/// <summary>
/// A <see cref="Modules.ResidualBlock"/>: out = relu?(main(x) + shortcut(x)). <see cref="Main"/> and
/// <see cref="Shortcut"/> are chains of leaf specs with full paths ("layer1.0.conv1", "layer1.0.downsample.0");
/// an empty shortcut is the identity. The lists are owned by the spec: copies go through <see cref="DeepCopy"/>.
/// </summary>
internal sealed record ResidualBlockSpec(string Path, List<LayerSpec> Main, List<LayerSpec> Shortcut, bool ReluAfterAdd) : LayerSpec(Path)
{
    public override string TypeName => "ResidualBlock";

    /// <summary>A copy with its own lists, so that editing the copy's layers leaves this one alone.</summary>
    public ResidualBlockSpec DeepCopy() => this with { Main = [.. Main], Shortcut = [.. Shortcut] };
}

/// <summary>The parameter-free element-wise activations of a graph (ReLU itself stays <see cref="ReluSpec"/>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ActivationKind>))]
internal enum ActivationKind
{
    /// <summary>min(max(x, 0), 6).</summary>
    Relu6,

    /// <summary>min(max(x, Alpha), Beta) (TorchSharp's Hardtanh).</summary>
    Clamp,

    /// <summary>x for x ≥ 0, Alpha · x otherwise.</summary>
    LeakyRelu,

    /// <summary>x · sigmoid(x).</summary>
    Silu,

    /// <summary>x · relu6(x + 3) / 6.</summary>
    Hardswish,

    /// <summary>max(0, min(1, Alpha · x + Beta)); Alpha = Beta = 0 means torch's 1/6 and 1/2.</summary>
    Hardsigmoid,

    /// <summary>1 / (1 + e^−x).</summary>
    Sigmoid,

    /// <summary>tanh(x).</summary>
    Tanh,

    /// <summary>x · Φ(x); Alpha = 1 selects the tanh approximation.</summary>
    Gelu,
}

/// <summary>An element-wise activation without parameters (see <see cref="ActivationKind"/> for Alpha and Beta).</summary>
internal sealed record ActivationSpec(string Path, ActivationKind Kind, double Alpha = 0, double Beta = 0) : LayerSpec(Path)
{
    public override string TypeName => Kind switch
    {
        ActivationKind.Relu6 => "ReLU6",
        ActivationKind.Clamp => "Hardtanh",
        ActivationKind.LeakyRelu => "LeakyReLU",
        ActivationKind.Silu => "SiLU",
        ActivationKind.Hardswish => "Hardswish",
        ActivationKind.Hardsigmoid => "Hardsigmoid",
        ActivationKind.Sigmoid => "Sigmoid",
        ActivationKind.Tanh => "Tanh",
        ActivationKind.Gelu => "GELU",
        _ => Kind.ToString(),
    };
}

/// <summary>PReLU with 1 shared slope or one per channel (state <c>Path.weight</c>; per-channel slopes follow their channels).</summary>
internal sealed record PReluSpec(string Path, int Parameters) : LayerSpec(Path)
{
    public override string TypeName => "PReLU";
}

/// <summary>The identity.</summary>
internal sealed record IdentitySpec(string Path) : LayerSpec(Path)
{
    public override string TypeName => "Identity";
}

/// <summary>The element-wise sum of two or more inputs of equal shape (a graph node).</summary>
internal sealed record AddSpec(string Path) : LayerSpec(Path)
{
    public override string TypeName => "Add";
}

/// <summary>The concatenation of two or more inputs along the channels (dimension 1; a graph node).</summary>
internal sealed record ConcatSpec(string Path) : LayerSpec(Path)
{
    public override string TypeName => "Concat";
}

/// <summary>
/// Input 0 times input 1 (a graph node): input 1 is an N x C x 1 x 1 gate broadcast over height and width
/// (squeeze-excitation), an N x C gate, or of input 0's shape.
/// </summary>
internal sealed record MultiplySpec(string Path) : LayerSpec(Path)
{
    public override string TypeName => "Multiply";
}
