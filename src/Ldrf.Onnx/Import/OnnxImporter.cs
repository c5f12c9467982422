using System.Globalization;
using System.Text;
using Ldrf.Onnx.Protobuf;
using Ldrf.TorchSharp.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Onnx.Import;

/// <summary>
/// Turns an ONNX model into the graph model of Ldrf.TorchSharp: one graph node per supported operator (exporter
/// patterns such as SiLU, HardSwish and GELU become one node), the weights as the nodes' state. Shapes are tracked per
/// image (C x H x W, or F after Flatten) to resolve padding and to tell a squeeze-excitation gate from the gated map.
/// </summary>
internal sealed class OnnxImporter
{
    /// <summary>What the importer reads, for messages.</summary>
    public const string SupportedOperators =
        "Conv, BatchNormalization, Relu, Clip (to [0, 6] or [0, infinity)), LeakyRelu, PRelu, Sigmoid, HardSigmoid, HardSwish, Tanh, Add, Sum, Concat (channels), " +
        "Mul (a channel gate as in squeeze-excitation, or the SiLU x * Sigmoid(x) and HardSwish x * HardSigmoid(x) patterns), " +
        "the GELU pattern 0.5 * x * (1 + Erf(x / sqrt 2)), MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape to N x features, " +
        "Gemm, MatMul (+ Add), Dropout, Identity, Constant, and Pad with zeros before a Conv or AveragePool";

    private static readonly string[] PoolAttributes = ["auto_pad", "kernel_shape", "pads", "strides", "dilations", "ceil_mode", "storage_order", "count_include_pad"];

    private readonly string _source;
    private readonly int _opset;
    private readonly List<OnnxNodeView> _onnx;
    private readonly Dictionary<string, TensorProto> _constants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<int>> _readers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _graphOutputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _alias = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long[]> _shapes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PendingPad> _pads = new(StringComparer.Ordinal);
    private readonly HashSet<int> _done = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly List<GraphNode> _nodes = [];
    private readonly Dictionary<string, Tensor> _state = new(StringComparer.Ordinal);

    private OnnxImporter(ModelProto model, string source)
    {
        _source = source;
        var graph = model.Graph;
        var opsets = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").ToList();
        if (opsets.Count == 0)
        {
            throw new InvalidDataException($"ONNX model '{source}' imports no opset of the default domain (ai.onnx).");
        }

        _opset = (int)opsets.Max(o => o.Version);
        _onnx = [.. graph.Node.Select((n, i) => new OnnxNodeView(n, i, source, _opset))];
        foreach (var initializer in graph.Initializer)
        {
            _constants[initializer.Name] = initializer;
        }

        for (var i = 0; i < graph.Node.Count; i++)
        {
            foreach (var input in graph.Node[i].Input.Where(t => t.Length > 0))
            {
                if (!_readers.TryGetValue(input, out var list))
                {
                    _readers[input] = list = [];
                }

                list.Add(i);
            }
        }

        foreach (var output in graph.Output)
        {
            _graphOutputs.Add(output.Name);
        }
    }

    private sealed record PendingPad(string PadNode, long[] Begin, long[] End, long[] Unpadded);

    /// <summary>The graph model of <paramref name="model"/>; the caller owns (and disposes) it.</summary>
    /// <exception cref="NotSupportedException">An operator, attribute or form the importer does not support (the message names the file, node, operator, opset and what is supported).</exception>
    /// <exception cref="InvalidDataException">The model is inconsistent (a missing weight, a shape that does not fit).</exception>
    public static GraphModel Import(ModelProto model, string source)
    {
        var importer = new OnnxImporter(model, source);
        try
        {
            return importer.Run(model.Graph);
        }
        catch
        {
            foreach (var tensor in importer._state.Values)
            {
                tensor.Dispose();
            }

            throw;
        }
    }

    private GraphModel Run(GraphProto graph)
    {
        var inputs = graph.Input.Where(i => !_constants.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1 || graph.Output.Count != 1)
        {
            throw new NotSupportedException(
                $"ONNX model '{_source}' has {inputs.Count} inputs ({string.Join(", ", inputs.Select(i => i.Name))}) and {graph.Output.Count} outputs ({string.Join(", ", graph.Output.Select(o => o.Name))}); supported: one image input and one output.");
        }

        var input = inputs[0];
        var dims = input.Type?.TensorType?.Shape?.Dim;
        if (dims is null || dims.Count != 4)
        {
            throw new NotSupportedException(
                $"ONNX model '{_source}': input '{input.Name}' has {(dims is null ? "no shape" : dims.Count + " dimensions")}; supported: an N x C x H x W image batch.");
        }

        var inputName = Unique(Sanitize(input.Name, "input"));
        _alias[input.Name] = inputName;
        _shapes[input.Name] = [.. dims.Skip(1).Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1)];

        // Constants first: exporters may define one after the node that starts a pattern reading it.
        foreach (var node in _onnx.Where(n => n.Op == "Constant" || (n.Op == "Identity" && n.Input(0) is { } i && _constants.ContainsKey(i))))
        {
            Import(node);
        }

        foreach (var node in _onnx)
        {
            if (!_done.Contains(node.Index))
            {
                Import(node);
            }
        }

        var output = graph.Output[0].Name;
        if (!_alias.TryGetValue(output, out var outputNode) || outputNode == inputName)
        {
            throw new NotSupportedException(
                $"ONNX model '{_source}': output '{output}' is not computed by a supported node from the input; supported: {SupportedOperators}.");
        }

        if (_pads.TryGetValue(output, out var pad))
        {
            throw Node(pad.PadNode).Unsupported("a Pad whose result is the model's output", "Pad with zeros before a Conv or AveragePool");
        }

        return new GraphModel(inputName, [.. _nodes], outputNode, new Dictionary<string, Tensor>(_state, StringComparer.Ordinal));
    }

    private OnnxNodeView Node(string displayName) => _onnx.First(n => n.DisplayName == displayName);

    private void Import(OnnxNodeView node)
    {
        if (node.Proto.Domain is not ("" or "ai.onnx"))
        {
            throw node.Unsupported($"domain '{node.Proto.Domain}' is not supported", "operators of the default domain: " + SupportedOperators);
        }

        switch (node.Op)
        {
            case "Constant":
                Constant(node);
                break;
            case "Conv":
                Conv(node);
                break;
            case "BatchNormalization":
                BatchNorm(node);
                break;
            case "Relu":
                node.Expect();
                Emit(node, new ReluSpec(""), [Value(node, 0)]);
                break;
            case "LeakyRelu":
                node.Expect("alpha");
                Emit(node, new ActivationSpec("", ActivationKind.LeakyRelu, node.Float("alpha", 0.01f)), [Value(node, 0)]);
                break;
            case "Tanh":
                node.Expect();
                Emit(node, new ActivationSpec("", ActivationKind.Tanh), [Value(node, 0)]);
                break;
            case "HardSwish":
                node.Expect();
                Emit(node, new ActivationSpec("", ActivationKind.Hardswish), [Value(node, 0)]);
                break;
            case "Sigmoid":
                node.Expect();
                GatedOrPlain(node, new ActivationSpec("", ActivationKind.Silu), new ActivationSpec("", ActivationKind.Sigmoid));
                break;
            case "HardSigmoid":
                HardSigmoid(node);
                break;
            case "Clip":
                Clip(node);
                break;
            case "PRelu":
                PRelu(node);
                break;
            case "Identity":
            case "Dropout":
                IdentityOrDropout(node);
                break;
            case "Add":
            case "Sum":
                Sum(node);
                break;
            case "Mul":
                Multiply(node);
                break;
            case "Div":
                node.Expect();
                if (!TryGelu(node))
                {
                    throw node.Unsupported("Div outside the GELU pattern x * 0.5 * (1 + Erf(x / sqrt 2)) is not supported", SupportedOperators);
                }

                break;
            case "Concat":
                Concat(node);
                break;
            case "MaxPool":
            case "AveragePool":
                Pool(node);
                break;
            case "GlobalAveragePool":
                node.Expect();
                Emit(node, new AdaptiveAvgPool2dSpec("", [1, 1]), [FeatureMap(node, 0)], s => [s[0], 1, 1]);
                break;
            case "Flatten":
                Flatten(node);
                break;
            case "Reshape":
                Reshape(node);
                break;
            case "Gemm":
                Gemm(node);
                break;
            case "MatMul":
                MatMul(node);
                break;
            case "Pad":
                Pad(node);
                break;
            default:
                throw node.Unsupported($"operator {node.Op} is not supported", SupportedOperators);
        }
    }

    // ---- tensors and names ----

    /// <summary>The graph node (or input) that computes input <paramref name="i"/> of <paramref name="node"/>.</summary>
    private (string Name, long[] Shape, string Tensor) Value(OnnxNodeView node, int i)
    {
        var tensor = node.Input(i) ?? throw node.Invalid($"input {i} is missing");
        if (_pads.TryGetValue(tensor, out var pad))
        {
            throw Node(pad.PadNode).Unsupported($"a Pad read by {node.Op} node '{node.DisplayName}'", "Pad with zeros before a Conv or AveragePool");
        }

        if (_alias.TryGetValue(tensor, out var name))
        {
            return (name, _shapes[tensor], tensor);
        }

        throw _constants.ContainsKey(tensor)
            ? node.Unsupported($"input {i} ('{tensor}') is a constant where a computed tensor is expected", SupportedOperators)
            : node.Invalid($"input {i} ('{tensor}') is computed by no earlier node");
    }

    private (string Name, long[] Shape, string Tensor) FeatureMap(OnnxNodeView node, int i)
    {
        var value = Value(node, i);
        if (value.Shape.Length != 3)
        {
            throw node.Unsupported($"input '{value.Tensor}' has {value.Shape.Length + 1} dimensions", "N x C x H x W feature maps");
        }

        return value;
    }

    private TensorProto Const(OnnxNodeView node, int i, string what)
    {
        var tensor = node.Input(i) ?? throw node.Invalid($"{what} (input {i}) is missing");
        return _constants.TryGetValue(tensor, out var c)
            ? c
            : throw node.Unsupported($"{what} ('{tensor}') is computed in the graph", $"{what} given as an initializer or Constant");
    }

    private float[] Floats(OnnxNodeView node, int i, string what) => OnnxTensors.Floats(Const(node, i, what), _source);

    private float? Scalar(OnnxNodeView node, string tensor)
    {
        if (!_constants.TryGetValue(tensor, out var c) || OnnxTensors.Count(c) != 1)
        {
            return null;
        }

        return OnnxTensors.Floats(c, _source)[0];
    }

    /// <summary>The one node that reads <paramref name="tensor"/> (null if several do, none does, or it is the output).</summary>
    private OnnxNodeView? OnlyReader(string tensor) =>
        !_graphOutputs.Contains(tensor) && _readers.TryGetValue(tensor, out var list) && list.Count == 1 && !_done.Contains(list[0])
            ? _onnx[list[0]]
            : null;

    /// <summary>
    /// Adds a graph node for <paramref name="spec"/> reading <paramref name="inputs"/>, named after the ONNX node (the model
    /// output's name for the node that computes it); <paramref name="last"/> is the ONNX node whose output it computes
    /// when a pattern of several nodes becomes one.
    /// </summary>
    private string Emit(OnnxNodeView node, LayerSpec spec, (string Name, long[] Shape, string Tensor)[] inputs,
        Func<long[], long[]>? shape = null, OnnxNodeView? last = null, Dictionary<string, Tensor>? state = null)
    {
        last ??= node;
        var output = last.Proto.Output.Count > 0 ? last.Proto.Output[0] : throw last.Invalid("it has no output");
        var name = Unique(_graphOutputs.Contains(output) ? Sanitize(output, node.Op) : Sanitize(node.Proto.Name, node.Op));
        _nodes.Add(new GraphNode(spec with { Path = name }, [.. inputs.Select(i => i.Name)]));
        foreach (var (key, value) in state ?? [])
        {
            _state[name + "." + key] = value;
        }

        _alias[output] = name;
        _shapes[output] = shape is null ? inputs[0].Shape : shape(inputs[0].Shape);
        _done.Add(node.Index);
        _done.Add(last.Index);
        return name;
    }

    // Node names become module names: letters, digits and '_' only (no '.'), unique, never the input's name.
    private static string Sanitize(string name, string fallback)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) ? c : '_');
        }

        var clean = builder.ToString().Trim('_');
        return clean.Length > 0 ? clean : fallback;
    }

    private string Unique(string name)
    {
        var candidate = name;
        for (var k = 2; !_names.Add(candidate); k++)
        {
            candidate = name + "_" + k.ToString(CultureInfo.InvariantCulture);
        }

        return candidate;
    }

    private static Tensor Weight(float[] values, params long[] dims) => torch.tensor(values, dims).DetachFromDisposeScope();

    // ---- operators ----

    private void Constant(OnnxNodeView node)
    {
        node.Expect("value", "value_float", "value_floats", "value_int", "value_ints");
        var output = node.Proto.Output[0];
        TensorProto tensor;
        if (node.Tensor("value") is { } value)
        {
            tensor = value;
        }
        else if (node.Has("value_float") || node.Has("value_floats"))
        {
            var floats = node.Floats("value_floats") ?? [node.Float("value_float", 0)];
            tensor = OnnxTensors.Float(output, node.Has("value_floats") ? [floats.Length] : [], floats);
        }
        else if (node.Ints("value_ints") is { } ints)
        {
            tensor = OnnxTensors.Int64(output, ints);
        }
        else if (node.Has("value_int"))
        {
            tensor = OnnxTensors.Int64(output, node.Int("value_int", 0));
            tensor.Dims.Clear();
        }
        else
        {
            throw node.Unsupported("a Constant without a value", "the attributes value, value_float(s), value_int(s)");
        }

        _constants[output] = tensor;
        _done.Add(node.Index);
    }

    private void Conv(OnnxNodeView node)
    {
        node.Expect("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides");
        var x = FeatureMap(node, 0, allowPad: true, out var pad);
        var w = Const(node, 1, "the weight");
        if (w.Dims.Count != 4)
        {
            throw node.Unsupported($"a weight of {w.Dims.Count} dimensions", "2-D convolutions (4-D weights)");
        }

        var groups = (int)node.Int("group", 1);
        var outChannels = (int)w.Dims[0];
        var inChannels = (int)w.Dims[1] * groups;
        int[] kernel = [(int)w.Dims[2], (int)w.Dims[3]];
        if (node.Ints("kernel_shape") is { } ks && !ks.SequenceEqual(kernel.Select(k => (long)k)))
        {
            throw node.Invalid($"kernel_shape [{string.Join(", ", ks)}] differs from the weight's {kernel[0]} x {kernel[1]}");
        }

        if (x.Shape[0] >= 0 && x.Shape[0] != inChannels)
        {
            throw node.Invalid($"its weight takes {inChannels} input channels but '{x.Tensor}' has {x.Shape[0]}");
        }

        var stride = Pair(node, "strides");
        var dilation = Pair(node, "dilations");
        var padding = Padding(node, x.Shape, kernel, stride, dilation, ceil: false, pad);
        var state = new Dictionary<string, Tensor> { ["weight"] = Weight(OnnxTensors.Floats(w, _source), [.. w.Dims]) };
        var b = node.Input(2);
        if (b is not null)
        {
            state["bias"] = Weight(Floats(node, 2, "the bias"), outChannels);
        }

        var spec = new Conv2dSpec("", inChannels, outChannels, kernel, stride, padding, dilation, PaddingModes.Zeros, b is not null, groups);
        Emit(node, spec, [x], s => [outChannels, Window(s[1], kernel[0], stride[0], padding[0], dilation[0], false), Window(s[2], kernel[1], stride[1], padding[1], dilation[1], false)],
            state: state);
    }

    private void BatchNorm(OnnxNodeView node)
    {
        node.Expect("epsilon", "momentum", "spatial", "training_mode", "is_test", "consumed_inputs");
        if (node.Int("spatial", 1) != 1)
        {
            throw node.Unsupported("spatial = 0 (statistics per position)", "spatial = 1 (per channel)");
        }

        if (node.Int("training_mode", 0) != 0 || node.Proto.Output.Count(o => o.Length > 0) > 1)
        {
            throw node.Unsupported("training mode (running statistics as outputs)", "inference (one output, training_mode = 0)");
        }

        var x = FeatureMap(node, 0);
        var scale = Floats(node, 1, "the scale");
        var channels = scale.Length;
        float[][] values = [scale, Floats(node, 2, "the bias"), Floats(node, 3, "the mean"), Floats(node, 4, "the variance")];
        if (values.Any(v => v.Length != channels) || (x.Shape[0] >= 0 && x.Shape[0] != channels))
        {
            throw node.Invalid($"its scale, bias, mean and variance have {string.Join(", ", values.Select(v => v.Length))} entries for {x.Shape[0]} channels");
        }

        var state = new Dictionary<string, Tensor>
        {
            ["weight"] = Weight(values[0], channels),
            ["bias"] = Weight(values[1], channels),
            ["running_mean"] = Weight(values[2], channels),
            ["running_var"] = Weight(values[3], channels),
            ["num_batches_tracked"] = torch.tensor(0L).DetachFromDisposeScope(),
        };
        Emit(node, new BatchNorm2dSpec("", channels, node.Float("epsilon", 1e-5f), null, true), [x], state: state);
    }

    // Sigmoid or HardSigmoid: x * act(x) is SiLU or HardSwish; otherwise the activation itself.
    private void GatedOrPlain(OnnxNodeView node, ActivationSpec gated, ActivationSpec plain)
    {
        var x = Value(node, 0);
        if (OnlyReader(node.Proto.Output[0]) is { Op: "Mul" } mul && mul.Proto.Input.Count == 2 &&
            mul.Proto.Input.Contains(x.Tensor) && mul.Proto.Input.Contains(node.Proto.Output[0]) && x.Tensor != node.Proto.Output[0])
        {
            mul.Expect();
            Emit(node, gated, [x], last: mul);
            return;
        }

        Emit(node, plain, [x]);
    }

    private void HardSigmoid(OnnxNodeView node)
    {
        node.Expect("alpha", "beta");
        var alpha = node.Float("alpha", 0.2f);
        var beta = node.Float("beta", 0.5f);

        // torch's hardsigmoid is relu6(x + 3) / 6: alpha 1/6, beta 1/2, which the spec writes as 0, 0.
        var isTorch = Math.Abs(alpha - (1.0 / 6)) < 1e-6 && Math.Abs(beta - 0.5) < 1e-6;
        var plain = isTorch
            ? new ActivationSpec("", ActivationKind.Hardsigmoid)
            : new ActivationSpec("", ActivationKind.Hardsigmoid, alpha, beta);
        if (isTorch)
        {
            GatedOrPlain(node, new ActivationSpec("", ActivationKind.Hardswish), plain);
        }
        else
        {
            Emit(node, plain, [Value(node, 0)]);
        }
    }

    private void Clip(OnnxNodeView node)
    {
        double min, max;
        if (_opset < 11)
        {
            node.Expect("min", "max");
            min = node.Float("min", float.MinValue);
            max = node.Float("max", float.MaxValue);
        }
        else
        {
            node.Expect();
            min = node.Input(1) is null ? double.NegativeInfinity : Scalar(node, node.Input(1)!) ?? throw node.Unsupported("a min that is not a constant scalar", "constant min and max");
            max = node.Input(2) is null ? double.PositiveInfinity : Scalar(node, node.Input(2)!) ?? throw node.Unsupported("a max that is not a constant scalar", "constant min and max");
        }

        var x = Value(node, 0);
        LayerSpec spec = (min, max) switch
        {
            (0, 6) => new ActivationSpec("", ActivationKind.Relu6),
            (0, >= float.MaxValue) => new ReluSpec(""),
            // Other bounds would be a Clamp node, built as TorchSharp's Hardtanh, whose forward in TorchSharp 0.107 returns
            // its input unchanged (measured): refused rather than computed wrong.
            _ => throw node.Unsupported(
                string.Create(CultureInfo.InvariantCulture, $"Clip to [{min}, {max}]"),
                "Clip to [0, 6] (ReLU6) or to [0, infinity) (ReLU); other bounds need TorchSharp's Hardtanh, which returns its input unchanged in TorchSharp 0.107"),
        };
        Emit(node, spec, [x]);
    }

    private void PRelu(OnnxNodeView node)
    {
        node.Expect();
        var x = Value(node, 0);
        var slope = Floats(node, 1, "the slope");
        var channels = x.Shape[0];
        if (slope.Length != 1 && slope.Length != channels)
        {
            throw node.Unsupported($"a slope of {slope.Length} entries for {channels} channels", "one slope, or one per channel");
        }

        Emit(node, new PReluSpec("", slope.Length), [x], state: new() { ["weight"] = Weight(slope, slope.Length) });
    }

    private void IdentityOrDropout(OnnxNodeView node)
    {
        var input = node.Input(0) ?? throw node.Invalid("input 0 is missing");
        if (node.Op == "Identity" && _constants.TryGetValue(input, out var constant))
        {
            node.Expect();
            _constants[node.Proto.Output[0]] = constant;
            _done.Add(node.Index);
            return;
        }

        if (node.Op == "Identity")
        {
            node.Expect();
            Emit(node, new IdentitySpec(""), [Value(node, 0)]);
            return;
        }

        node.Expect("ratio", "is_test", "seed");
        if (node.Proto.Output.Count > 1 && node.Proto.Output[1].Length > 0 && (_readers.ContainsKey(node.Proto.Output[1]) || _graphOutputs.Contains(node.Proto.Output[1])))
        {
            throw node.Unsupported("a Dropout whose mask is read", "inference Dropout (one output read)");
        }

        if (node.Input(2) is { } training && (Scalar(node, training) ?? 1) != 0)
        {
            throw node.Unsupported("training_mode that is not a constant false", "inference Dropout");
        }

        var ratio = node.Input(1) is { } r ? Scalar(node, r) ?? 0.5f : node.Float("ratio", 0.5f);
        Emit(node, new DropoutSpec("", ratio), [Value(node, 0)]);
    }

    private void Sum(OnnxNodeView node)
    {
        node.Expect();
        if (node.Op == "Add" && node.Proto.Input.Any(_constants.ContainsKey))
        {
            throw node.Unsupported("an Add of a constant (other than a MatMul's bias)", SupportedOperators);
        }

        var inputs = Enumerable.Range(0, node.Proto.Input.Count).Select(i => Value(node, i)).ToArray();
        if (inputs.Length == 1)
        {
            Emit(node, new IdentitySpec(""), inputs);
            return;
        }

        if (inputs.Any(i => !i.Shape.SequenceEqual(inputs[0].Shape)))
        {
            throw node.Unsupported($"inputs of shapes {string.Join(", ", inputs.Select(i => Shape(i.Shape)))}", "inputs of equal shape (no broadcasting)");
        }

        Emit(node, new AddSpec(""), inputs);
    }

    private void Multiply(OnnxNodeView node)
    {
        node.Expect();
        if (node.Proto.Input.Count == 2 && node.Proto.Input.Any(_constants.ContainsKey))
        {
            var constant = node.Proto.Input.First(_constants.ContainsKey);
            if (Scalar(node, constant) is { } c && Math.Abs(c - (1 / Math.Sqrt(2))) < 1e-5 && TryGelu(node))
            {
                return;
            }

            throw node.Unsupported("a Mul by a constant (outside the GELU pattern)", SupportedOperators);
        }

        var a = Value(node, 0);
        var b = Value(node, 1);
        static bool IsGate(long[] gate, long[] map) => map.Length == 3 && gate.Length == 3 && gate[1] == 1 && gate[2] == 1 && gate[0] == map[0];
        if (a.Shape.SequenceEqual(b.Shape) || IsGate(b.Shape, a.Shape))
        {
            Emit(node, new MultiplySpec(""), [a, b]);
        }
        else if (IsGate(a.Shape, b.Shape))
        {
            Emit(node, new MultiplySpec(""), [b, a], s => b.Shape);
        }
        else
        {
            throw node.Unsupported($"a Mul of shapes {Shape(a.Shape)} and {Shape(b.Shape)} per image", "equal shapes, or a C x 1 x 1 gate times a C x H x W map");
        }
    }

    // GELU as exporters write it: y = x * (1 + Erf(x / sqrt 2)) * 0.5 (the division may be a Mul by 1 / sqrt 2).
    private bool TryGelu(OnnxNodeView start)
    {
        var constant = start.Proto.Input.FirstOrDefault(_constants.ContainsKey);
        var xTensor = start.Proto.Input.FirstOrDefault(t => !_constants.ContainsKey(t));
        var expected = start.Op == "Div" ? Math.Sqrt(2) : 1 / Math.Sqrt(2);
        if (constant is null || xTensor is null || (start.Op == "Div" && start.Proto.Input[1] != constant) ||
            Scalar(start, constant) is not { } c || Math.Abs(c - expected) > 1e-5)
        {
            return false;
        }

        if (OnlyReader(start.Proto.Output[0]) is not { Op: "Erf" } erf ||
            OnlyReader(erf.Proto.Output[0]) is not { Op: "Add" } add || !IsConstantPlus(add, erf.Proto.Output[0], 1) ||
            OnlyReader(add.Proto.Output[0]) is not { Op: "Mul" } times || times.Proto.Input.Count != 2 || !times.Proto.Input.Contains(xTensor) ||
            OnlyReader(times.Proto.Output[0]) is not { Op: "Mul" } half || !IsConstantPlus(half, times.Proto.Output[0], 0.5))
        {
            return false;
        }

        erf.Expect();
        var x = Value(start, start.Proto.Input.IndexOf(xTensor));
        _done.Add(erf.Index);
        _done.Add(add.Index);
        _done.Add(times.Index);
        Emit(start, new ActivationSpec("", ActivationKind.Gelu), [x], last: half);
        return true;
    }

    // Whether a binary node reads `tensor` and a constant scalar equal to `value`.
    private bool IsConstantPlus(OnnxNodeView node, string tensor, double value) =>
        node.Proto.Input.Count == 2 && node.Proto.Input.Contains(tensor) &&
        node.Proto.Input.FirstOrDefault(_constants.ContainsKey) is { } c && Scalar(node, c) is { } v && Math.Abs(v - value) < 1e-6;

    private void Concat(OnnxNodeView node)
    {
        node.Expect("axis");
        var inputs = Enumerable.Range(0, node.Proto.Input.Count).Select(i => FeatureMap(node, i)).ToArray();
        var axis = node.Int("axis", 1);
        if (axis is not (1 or -3))
        {
            throw node.Unsupported($"axis = {axis}", "axis = 1 (channels)");
        }

        if (inputs.Any(i => i.Shape[1] != inputs[0].Shape[1] || i.Shape[2] != inputs[0].Shape[2]))
        {
            throw node.Invalid($"its inputs differ in height or width: {string.Join(", ", inputs.Select(i => Shape(i.Shape)))}");
        }

        var channels = inputs.Any(i => i.Shape[0] < 0) ? -1 : inputs.Sum(i => i.Shape[0]);
        Emit(node, new ConcatSpec(""), inputs, s => [channels, s[1], s[2]]);
    }

    private void Pool(OnnxNodeView node)
    {
        node.Expect(PoolAttributes);
        var isMax = node.Op == "MaxPool";
        if (node.Proto.Output.Count > 1 && node.Proto.Output[1].Length > 0)
        {
            throw node.Unsupported("a MaxPool with an indices output", "one output");
        }

        if (isMax && node.Has("count_include_pad"))
        {
            throw node.Unsupported("count_include_pad on a MaxPool", "the MaxPool attributes auto_pad, kernel_shape, pads, strides, dilations, ceil_mode, storage_order");
        }

        if (node.Int("storage_order", 0) != 0)
        {
            throw node.Unsupported("storage_order = 1", "storage_order = 0");
        }

        var x = FeatureMap(node, 0, allowPad: !isMax, out var pad);
        var kernelLong = node.Ints("kernel_shape") ?? throw node.Invalid("it has no kernel_shape");
        if (kernelLong.Length != 2)
        {
            throw node.Unsupported($"a {kernelLong.Length}-D window", "2-D pooling");
        }

        int[] kernel = [(int)kernelLong[0], (int)kernelLong[1]];
        var stride = Pair(node, "strides");
        var dilation = Pair(node, "dilations");
        if (!isMax && dilation.Any(d => d != 1))
        {
            throw node.Unsupported("dilations on an AveragePool", "dilations = 1");
        }

        var ceil = node.Int("ceil_mode", 0) != 0;
        var countIncludePad = node.Int("count_include_pad", 0) != 0;
        var ownPads = node.Ints("pads") is { } p && p.Any(v => v != 0);
        if (pad is not null && ownPads && !countIncludePad)
        {
            throw node.Unsupported("an AveragePool with its own padding (count_include_pad = 0) after a Pad", "a Pad before an AveragePool without padding");
        }

        // Zeros added by a Pad node are averaged like any value: the same as padding inside the pool and counting it.
        countIncludePad |= pad is not null;
        var padding = Padding(node, x.Shape, kernel, stride, dilation, ceil, pad);
        LayerSpec spec = isMax
            ? new MaxPool2dSpec("", kernel, stride, padding, dilation, ceil)
            : new AvgPool2dSpec("", kernel, stride, padding, ceil, countIncludePad || padding.All(v => v == 0), null);
        Emit(node, spec, [x], s => [s[0], Window(s[1], kernel[0], stride[0], padding[0], dilation[0], ceil), Window(s[2], kernel[1], stride[1], padding[1], dilation[1], ceil)]);
    }

    private void Flatten(OnnxNodeView node)
    {
        node.Expect("axis");
        if (node.Int("axis", 1) != 1)
        {
            throw node.Unsupported($"axis = {node.Int("axis", 1)}", "axis = 1 (N x features)");
        }

        var x = Value(node, 0);
        Emit(node, new FlattenSpec(""), [x], s => [Features(s)]);
    }

    private void Reshape(OnnxNodeView node)
    {
        node.Expect("allowzero");
        var x = Value(node, 0);
        var shape = OnnxTensors.Longs(Const(node, 1, "the target shape"), _source);
        var features = Features(x.Shape);

        // N x features: the batch as 0 (copied), -1, or a number; the features as -1 or their count.
        if (shape.Length != 2 || shape[0] < -1 || !(shape[1] == -1 || shape[1] == features) || (shape[0] == -1 && shape[1] == -1))
        {
            throw node.Unsupported($"a Reshape of {Shape(x.Shape)} per image to [{string.Join(", ", shape)}]", "a Reshape to N x features ([0 or -1 or N, -1 or features])");
        }

        Emit(node, new FlattenSpec(""), [x], s => [features]);
    }

    private void Gemm(OnnxNodeView node)
    {
        node.Expect("alpha", "beta", "transA", "transB");
        if (node.Int("transA", 0) != 0)
        {
            throw node.Unsupported("transA = 1", "transA = 0");
        }

        var x = Value(node, 0);
        var b = Const(node, 1, "the weight B");
        var transB = node.Int("transB", 0) != 0;
        var weight = Matrix(node, b, transB, node.Float("alpha", 1f));
        var bias = node.Input(2) is null ? null : Bias(node, Const(node, 2, "the bias C"), weight.Out, node.Float("beta", 1f));
        Linear(node, node, x, weight, bias);
    }

    private void MatMul(OnnxNodeView node)
    {
        node.Expect();
        var x = Value(node, 0);
        var weight = Matrix(node, Const(node, 1, "the weight"), transposed: false, 1f);
        var last = node;
        float[]? bias = null;
        if (OnlyReader(node.Proto.Output[0]) is { Op: "Add" } add && add.Proto.Input.Count == 2 &&
            add.Proto.Input.FirstOrDefault(_constants.ContainsKey) is { } c)
        {
            add.Expect();
            bias = Bias(add, _constants[c], weight.Out, 1f);
            last = add;
        }

        Linear(node, last, x, weight, bias);
    }

    private (float[] Values, int In, int Out) Matrix(OnnxNodeView node, TensorProto b, bool transposed, float alpha)
    {
        if (b.Dims.Count != 2)
        {
            throw node.Unsupported($"a weight of {b.Dims.Count} dimensions", "a 2-D weight");
        }

        var values = OnnxTensors.Floats(b, _source);
        int rows = (int)b.Dims[0], cols = (int)b.Dims[1];

        // Linear keeps out x in: B is in x out unless transposed.
        var (inF, outF) = transposed ? (cols, rows) : (rows, cols);
        var weight = new float[values.Length];
        for (var o = 0; o < outF; o++)
        {
            for (var i = 0; i < inF; i++)
            {
                weight[(o * inF) + i] = alpha * (transposed ? values[(o * cols) + i] : values[(i * cols) + o]);
            }
        }

        return (weight, inF, outF);
    }

    private float[] Bias(OnnxNodeView node, TensorProto c, int outFeatures, float beta)
    {
        var values = OnnxTensors.Floats(c, _source);
        if (values.Length != 1 && values.Length != outFeatures)
        {
            throw node.Unsupported($"a bias of {values.Length} entries for {outFeatures} outputs", "one bias per output (or one for all)");
        }

        return [.. Enumerable.Range(0, outFeatures).Select(i => beta * values[values.Length == 1 ? 0 : i])];
    }

    private void Linear(OnnxNodeView node, OnnxNodeView last, (string Name, long[] Shape, string Tensor) x, (float[] Values, int In, int Out) weight, float[]? bias)
    {
        if (x.Shape.Length != 1 || (x.Shape[0] >= 0 && x.Shape[0] != weight.In))
        {
            throw node.Unsupported($"an input of {Shape(x.Shape)} per image for a weight of {weight.In} inputs", "N x features inputs (after Flatten or Reshape) of the weight's size");
        }

        var state = new Dictionary<string, Tensor> { ["weight"] = Weight(weight.Values, weight.Out, weight.In) };
        if (bias is not null)
        {
            state["bias"] = Weight(bias, weight.Out);
        }

        Emit(node, new LinearSpec("", weight.In, weight.Out, bias is not null), [x], _ => [weight.Out], last, state);
    }

    private void Pad(OnnxNodeView node)
    {
        long[] pads;
        string mode;
        double value;
        if (_opset < 11)
        {
            node.Expect("pads", "mode", "value", "paddings");
            pads = node.Ints("pads") ?? node.Ints("paddings") ?? throw node.Invalid("it has no pads");
            mode = node.String("mode", "constant");
            value = node.Float("value", 0);
        }
        else
        {
            node.Expect("mode");
            if (node.Input(3) is not null)
            {
                throw node.Unsupported("the axes input", "pads over all four dimensions");
            }

            pads = OnnxTensors.Longs(Const(node, 1, "the pads"), _source);
            mode = node.String("mode", "constant");
            value = node.Input(2) is { } v ? Scalar(node, v) ?? throw node.Unsupported("a pad value that is not a constant", "zeros") : 0;
        }

        var x = FeatureMap(node, 0);
        if (pads.Length != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 || pads.Any(p => p < 0))
        {
            throw node.Unsupported($"pads [{string.Join(", ", pads)}]", "non-negative padding of height and width only");
        }

        var output = node.Proto.Output[0];
        _alias[output] = x.Name;
        _shapes[output] = [x.Shape[0], Grow(x.Shape[1], pads[2] + pads[6]), Grow(x.Shape[2], pads[3] + pads[7])];
        _done.Add(node.Index);
        if (pads.All(p => p == 0))
        {
            return;
        }

        if (mode != "constant" || value != 0)
        {
            throw node.Unsupported($"mode '{mode}' with value {value}", "mode 'constant' with value 0");
        }

        _pads[output] = new PendingPad(node.DisplayName, [pads[2], pads[3]], [pads[6], pads[7]], x.Shape);
    }

    private (string Name, long[] Shape, string Tensor) FeatureMap(OnnxNodeView node, int i, bool allowPad, out PendingPad? pad)
    {
        pad = null;
        if (allowPad && node.Input(i) is { } tensor && _pads.TryGetValue(tensor, out var p))
        {
            pad = p;
            if (_readers[tensor].Count != 1 || _graphOutputs.Contains(tensor))
            {
                throw Node(p.PadNode).Unsupported("a Pad read by several nodes", "a Pad read by one Conv or AveragePool");
            }

            return (_alias[tensor], p.Unpadded, tensor);
        }

        return FeatureMap(node, i);
    }

    // ---- padding and shapes ----

    private static int[] Pair(OnnxNodeView node, string name)
    {
        var values = node.Ints(name);
        if (values is null)
        {
            return [1, 1];
        }

        return values.Length == 2 && values.All(v => v >= 1)
            ? [(int)values[0], (int)values[1]]
            : throw node.Unsupported($"{name} [{string.Join(", ", values)}]", $"two positive {name}");
    }

    /// <summary>
    /// The symmetric padding (height, width) that gives exactly the ONNX node's result. ONNX pads may differ at the
    /// two ends (CNTK writes [1, 1, 0, 0] for a strided 3 x 3); when the smaller end pad is never reached by a window
    /// (same output size with the begin pad on both sides) the symmetric form is the same computation.
    /// </summary>
    private int[] Padding(OnnxNodeView node, long[] input, int[] kernel, int[] stride, int[] dilation, bool ceil, PendingPad? pad)
    {
        var autoPad = node.String("auto_pad", "NOTSET");
        var begin = new long[2];
        var end = new long[2];
        switch (autoPad)
        {
            case "NOTSET":
                var pads = node.Ints("pads") ?? [0, 0, 0, 0];
                if (pads.Length != 4 || pads.Any(p => p < 0))
                {
                    throw node.Unsupported($"pads [{string.Join(", ", pads)}]", "four non-negative pads (2-D)");
                }

                (begin[0], begin[1], end[0], end[1]) = (pads[0], pads[1], pads[2], pads[3]);
                break;
            case "VALID":
                break;
            case "SAME_UPPER":
            case "SAME_LOWER":
                for (var a = 0; a < 2; a++)
                {
                    if (input[a + 1] < 0)
                    {
                        throw node.Unsupported($"auto_pad {autoPad} on an input of unknown size", "auto_pad SAME_* when the model's input size is fixed");
                    }

                    var outSize = (input[a + 1] + stride[a] - 1) / stride[a];
                    var total = Math.Max(0, ((outSize - 1) * stride[a]) + ((long)dilation[a] * (kernel[a] - 1)) + 1 - input[a + 1]);
                    var small = total / 2;
                    (begin[a], end[a]) = autoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
                }

                break;
            default:
                throw node.Unsupported($"auto_pad '{autoPad}'", "NOTSET, VALID, SAME_UPPER, SAME_LOWER");
        }

        if (pad is not null)
        {
            begin = [begin[0] + pad.Begin[0], begin[1] + pad.Begin[1]];
            end = [end[0] + pad.End[0], end[1] + pad.End[1]];
        }

        var result = new int[2];
        for (var a = 0; a < 2; a++)
        {
            var n = input[a + 1];
            if (begin[a] == end[a])
            {
                result[a] = (int)begin[a];
                continue;
            }

            var span = (long)dilation[a] * (kernel[a] - 1);
            if (n < 0 || ceil || begin[a] < end[a] ||
                ((n + begin[a] + end[a] - span - 1) / stride[a]) != ((n + (2 * begin[a]) - span - 1) / stride[a]))
            {
                throw node.Unsupported(
                    $"padding {begin[a]} before and {end[a]} after (axis {(a == 0 ? "height" : "width")}, input size {(n < 0 ? "unknown" : n.ToString(CultureInfo.InvariantCulture))})",
                    "equal padding at both ends, or less at the end when no window reaches it (a fixed input size)");
            }

            result[a] = (int)begin[a];
        }

        return result;
    }

    private static long Window(long size, int kernel, int stride, int padding, int dilation, bool ceil)
    {
        if (size < 0)
        {
            return -1;
        }

        var span = size + (2L * padding) - ((long)dilation * (kernel - 1)) - 1;
        var output = ceil ? ((span + stride - 1) / stride) + 1 : (span / stride) + 1;
        if (ceil && (output - 1) * stride >= size + padding)
        {
            output--;
        }

        return output;
    }

    private static long Grow(long size, long by) => size < 0 ? -1 : size + by;

    private static long Features(long[] shape) => shape.Any(d => d < 0) ? -1 : shape.Aggregate(1L, (p, d) => p * d);

    private static string Shape(long[] shape) => string.Join(" x ", shape.Select(d => d < 0 ? "?" : d.ToString(CultureInfo.InvariantCulture)));
}
