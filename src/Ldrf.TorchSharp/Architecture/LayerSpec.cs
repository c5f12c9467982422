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

/// <summary>A 2-D convolution with groups = 1. Pairs are (height, width).</summary>
internal sealed record Conv2dSpec(
    string Path, int InChannels, int OutChannels, int[] Kernel, int[] Stride, int[] Padding, int[] Dilation,
    PaddingModes PaddingMode, bool HasBias) : LayerSpec(Path)
{
    public override string TypeName => "Conv2d";
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
