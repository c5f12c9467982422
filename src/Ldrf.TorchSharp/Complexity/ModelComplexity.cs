using System.Globalization;
using System.Text;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Graphs;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Complexity;

/// <summary>The cost of one layer for one input image.</summary>
/// <param name="Path">The module path in the Sequential hierarchy, for example "features.3".</param>
/// <param name="Type">The module type, for example "Conv2d".</param>
/// <param name="OutputShape">The layer's output shape for one image: C x H x W, or F after Flatten and Linear.</param>
/// <param name="Flops">Multiply-accumulates (see <see cref="ModelComplexity"/> for the convention).</param>
/// <param name="Parameters">Trainable parameters (weights, biases, batch-norm scale and shift; running statistics are buffers and do not count).</param>
internal sealed record LayerComplexity(string Path, string Type, IReadOnlyList<long> OutputShape, long Flops, long Parameters);

/// <summary>Per-layer and total FLOPs and parameters of a network for one input image.</summary>
internal sealed class ComplexityReport
{
    internal ComplexityReport(IReadOnlyList<LayerComplexity> layers)
    {
        Layers = layers;
        TotalFlops = layers.Sum(l => l.Flops);
        TotalParameters = layers.Sum(l => l.Parameters);
    }

    /// <summary>Every node in topological order: a chain's leaf modules, a residual block's main branch, then its shortcut, then its add (and ReLU) node (a ReLU shared in a main branch has a row at each position, the repeats named path#2, ...).</summary>
    public IReadOnlyList<LayerComplexity> Layers { get; }

    /// <summary>The sum of the layers' multiply-accumulates.</summary>
    public long TotalFlops { get; }

    /// <summary>The sum of the layers' parameters.</summary>
    public long TotalParameters { get; }

    /// <summary>The layer with this path.</summary>
    /// <exception cref="KeyNotFoundException">No layer has this path.</exception>
    public LayerComplexity this[string path] =>
        Layers.FirstOrDefault(l => l.Path == path) ?? throw new KeyNotFoundException($"No layer '{path}'; the layers are: {string.Join(", ", Layers.Select(l => l.Path))}.");

    /// <summary>A table with one row per layer and a total row.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"Layer",-20} {"Type",-12} {"Output",-16} {"FLOPs (MAC)",15} {"Params",12}");
        foreach (var l in Layers)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{l.Path,-20} {l.Type,-12} {NetworkReader.Shape(l.OutputShape),-16} {l.Flops,15:N0} {l.Parameters,12:N0}");
        }

        text.Append(CultureInfo.InvariantCulture, $"{"Total",-20} {string.Empty,-12} {string.Empty,-16} {TotalFlops,15:N0} {TotalParameters,12:N0}");
        return text.ToString();
    }
}

/// <summary>Counts the FLOPs and parameters of a TorchSharp network (a chain with residual blocks, or a graph) through its graph.</summary>
/// <remarks>
/// Convention: FLOPs are multiply-accumulates (MACs) of the convolutions and fully connected layers for one
/// image, the convention of the pruning literature (VGG-16 at 224 x 224 is 15.5 G): a Conv2d costs
/// out · H_out · W_out · in · kh · kw (divided by the groups for a grouped or depthwise convolution) and a Linear
/// in · out. Bias additions, batch normalization, activations, pooling, dropout, flatten and the element-wise graph
/// operations (add, concatenation, gating) cost nothing under this convention; they are a small fraction and pruning
/// changes them in proportion anyway. Parameters count weights and biases of Conv2d and Linear, the
/// scale and shift of an affine BatchNorm2d and PReLU's slopes.
/// </remarks>
internal static class ModelComplexity
{
    /// <summary>Counts FLOPs and parameters for one input image.</summary>
    /// <param name="network">A <see cref="GraphNetwork"/>, or a Sequential (possibly nested) of the supported layers.</param>
    /// <param name="inputShape">The input shape: C x H x W, or N x C x H x W (the batch size is ignored: counts are per image).</param>
    /// <returns>Per-layer and total counts.</returns>
    /// <exception cref="ArgumentException">A module is unsupported, the network is disposed, the shape has the wrong rank, or a layer cannot take its input (the message names the layer).</exception>
    public static ComplexityReport Count(nn.Module<Tensor, Tensor> network, IReadOnlyList<long> inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);

        // One path for chains and graphs: only the nodes are needed, so no state is copied.
        using var model = network is GraphNetwork graph
            ? new GraphModel(graph.InputName, GraphModel.Describe(graph, nameof(network)), graph.OutputName, [])
            : GraphModel.FromChain(NetworkReader.Read(network, nameof(network)), []);
        return Count(model, ImageShape(inputShape, nameof(inputShape)), nameof(inputShape));
    }

    internal static long[] ImageShape(IReadOnlyList<long> shape, string paramName)
    {
        if ((shape.Count != 3 && shape.Count != 4) || shape.Any(d => d < 1))
        {
            throw new ArgumentException(
                $"'{paramName}' must be C x H x W or N x C x H x W with positive sizes but is {NetworkReader.Shape(shape)}.", paramName);
        }

        return shape.Skip(shape.Count - 3).ToArray();
    }

    /// <summary>
    /// The cost model: multiply-accumulates per (input, output) pair for one image, so that a layer's FLOPs are
    /// in · out · <see cref="CostPerPair"/>: kh · kw · H_out · W_out for a Conv2d (pairs of channels), 1 for a Linear
    /// (pairs of features), 0 for every other layer. The width allocation prices a pruned width with the same model.
    /// </summary>
    internal static long CostPerPair(LayerSpec spec, long[] output) => spec switch
    {
        Conv2dSpec c => (long)c.Kernel[0] * c.Kernel[1] * output[1] * output[2],
        LinearSpec => 1,
        _ => 0,
    };

    /// <summary>Counts FLOPs and parameters of a graph for one image: one row per node, in topological order.</summary>
    /// <exception cref="ArgumentException">A node cannot take its inputs (the message names the node and <paramref name="paramName"/>).</exception>
    internal static ComplexityReport Count(GraphModel graph, long[] imageShape, string paramName)
    {
        var shapes = ShapeInference.Outputs(graph, imageShape, paramName);
        return new([.. graph.Nodes.Select(n => new LayerComplexity(n.Name, n.Op.TypeName, shapes[n.Name], Flops(n.Op, shapes[n.Name]), Parameters(n.Op)))]);
    }

    // A grouped convolution connects each output channel to in / groups input channels only.
    private static long Flops(LayerSpec spec, long[] output) => spec switch
    {
        Conv2dSpec c => (long)c.OutChannels * c.InChannels * CostPerPair(c, output) / c.Groups,
        LinearSpec l => (long)l.InFeatures * l.OutFeatures * CostPerPair(l, output),
        _ => 0,
    };

    private static long Parameters(LayerSpec spec) => spec switch
    {
        Conv2dSpec c => ((long)c.OutChannels * c.InChannels / c.Groups * c.Kernel[0] * c.Kernel[1]) + (c.HasBias ? c.OutChannels : 0),
        PReluSpec p => p.Parameters,
        LinearSpec l => ((long)l.InFeatures * l.OutFeatures) + (l.HasBias ? l.OutFeatures : 0),
        BatchNorm2dSpec b => b.Affine ? 2L * b.Channels : 0L,
        _ => 0,
    };
}
