using System.Globalization;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>Per-image activation shapes of a graph's nodes: [C, H, W] for feature maps, [F] after Flatten or Linear.</summary>
internal static class ShapeInference
{
    /// <summary>
    /// The output shape of every node of a graph, and of its input, for one input image of shape <paramref name="input"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A node cannot take its inputs; the message names the node and the shapes.</exception>
    public static Dictionary<string, long[]> Outputs(GraphModel graph, long[] input, string paramName)
    {
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal) { [graph.InputName] = input };
        foreach (var node in graph.Nodes)
        {
            var inputs = node.Inputs.Select(name => shapes[name]).ToArray();
            shapes[node.Name] = node.Op switch
            {
                AddSpec => Sum(node, inputs, paramName),
                ConcatSpec => Concat(node, inputs, paramName),
                MultiplySpec => Gate(node, inputs, paramName),
                _ => Output(node.Op, inputs[0], paramName),
            };
        }

        return shapes;
    }

    private static long[] Sum(GraphNode node, long[][] inputs, string paramName)
    {
        if (inputs.Any(x => !x.SequenceEqual(inputs[0])))
        {
            throw new ArgumentException(
                $"Node '{node.Name}' (Add) needs inputs of equal shape but receives {Describe(node, inputs)}.", paramName);
        }

        return inputs[0];
    }

    private static long[] Concat(GraphNode node, long[][] inputs, string paramName)
    {
        if (inputs.Any(x => x.Length != 3 || x[1] != inputs[0][1] || x[2] != inputs[0][2]))
        {
            throw new ArgumentException(
                $"Node '{node.Name}' (Concat) joins feature maps along the channels and needs equal heights and widths (C x H x W per image) but receives {Describe(node, inputs)}.",
                paramName);
        }

        return [inputs.Sum(x => x[0]), inputs[0][1], inputs[0][2]];
    }

    private static long[] Gate(GraphNode node, long[][] inputs, string paramName)
    {
        var (x, gate) = (inputs[0], inputs[1]);
        var fits = gate.SequenceEqual(x)
            || (x.Length == 3 && gate.Length == 3 && gate[0] == x[0] && gate[1] == 1 && gate[2] == 1)
            || (x.Length == 3 && gate.Length == 1 && gate[0] == x[0]);
        if (!fits)
        {
            throw new ArgumentException(
                $"Node '{node.Name}' (Multiply) needs a gate of C x 1 x 1, C or the input's own shape but receives {Describe(node, inputs)}.",
                paramName);
        }

        return x;
    }

    private static string Describe(GraphNode node, long[][] inputs) =>
        string.Join(", ", node.Inputs.Select((name, i) => $"{NetworkReader.Shape(inputs[i])} from '{name}'"));

    private static long[] Output(LayerSpec spec, long[] x, string paramName)
    {
        switch (spec)
        {
            case Conv2dSpec c:
                Expect(spec, x, c.InChannels, paramName);
                return [c.OutChannels,
                    Window(spec, x[1], c.Kernel[0], c.Stride[0], c.Padding[0], c.Dilation[0], false, paramName),
                    Window(spec, x[2], c.Kernel[1], c.Stride[1], c.Padding[1], c.Dilation[1], false, paramName)];
            case BatchNorm2dSpec b:
                Expect(spec, x, b.Channels, paramName);
                return x;
            case PReluSpec p when p.Parameters != 1:
                Expect(spec, x, p.Parameters, paramName);
                return x;
            case MaxPool2dSpec m:
                Expect(spec, x, null, paramName);
                return [x[0],
                    Window(spec, x[1], m.Kernel[0], m.Stride[0], m.Padding[0], m.Dilation[0], m.CeilMode, paramName),
                    Window(spec, x[2], m.Kernel[1], m.Stride[1], m.Padding[1], m.Dilation[1], m.CeilMode, paramName)];
            case AvgPool2dSpec a:
                Expect(spec, x, null, paramName);
                return [x[0],
                    Window(spec, x[1], a.Kernel[0], a.Stride[0], a.Padding[0], 1, a.CeilMode, paramName),
                    Window(spec, x[2], a.Kernel[1], a.Stride[1], a.Padding[1], 1, a.CeilMode, paramName)];
            case AdaptiveAvgPool2dSpec a:
                Expect(spec, x, null, paramName);
                return [x[0], a.OutputSize[0], a.OutputSize[1]];
            case FlattenSpec:
                return [x.Aggregate(1L, (p, d) => p * d)];
            case LinearSpec l:
                if (x.Length != 1 || x[0] != l.InFeatures)
                {
                    throw new ArgumentException(
                        $"Layer '{spec.Path}' (Linear) expects {l.InFeatures} input features per image but receives {NetworkReader.Shape(x)}" +
                        (x.Length == 1 ? "; check the input image size." : "; a Flatten must precede it."),
                        paramName);
                }

                return [l.OutFeatures];
            default:
                return x;
        }
    }

    private static void Expect(LayerSpec spec, long[] x, int? channels, string paramName)
    {
        if (x.Length != 3 || (channels is int c && x[0] != c))
        {
            throw new ArgumentException(
                $"Layer '{spec.Path}' ({spec.TypeName}) expects a feature map of " +
                (channels is int ch ? ch.ToString(CultureInfo.InvariantCulture) + " channels" : "any channels") +
                $" (C x H x W per image) but receives {NetworkReader.Shape(x)}.",
                paramName);
        }
    }

    private static long Window(LayerSpec spec, long size, int kernel, int stride, int padding, int dilation, bool ceil, string paramName)
    {
        var span = size + (2L * padding) - ((long)dilation * (kernel - 1)) - 1;
        if (span < 0)
        {
            throw new ArgumentException(
                $"Layer '{spec.Path}' ({spec.TypeName}) has a window of {kernel} (dilation {dilation}, padding {padding}) larger than its input size {size}; the input image is too small.",
                paramName);
        }

        long output = ceil ? ((span + stride - 1) / stride) + 1 : (span / stride) + 1;

        // PyTorch's rule: with ceil_mode the last window must start inside the input or its left padding.
        if (ceil && (output - 1) * stride >= size + padding)
        {
            output--;
        }

        return output;
    }
}
