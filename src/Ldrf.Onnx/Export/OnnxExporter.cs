using Ldrf.Onnx.Protobuf;
using Ldrf.TorchSharp.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Onnx.Export;

/// <summary>
/// Writes a graph model as an ONNX model of opset <see cref="Opset"/>: one ONNX node per graph node (two or more for
/// SiLU and GELU, which ONNX 17 has no operator for), tensors named after the graph nodes, weights as float32
/// initializers named by their state keys. The batch dimension is symbolic ("N").
/// </summary>
internal sealed class OnnxExporter
{
    /// <summary>The opset written: the newest that ONNX Runtime releases of the last years all run, with HardSwish.</summary>
    public const int Opset = 17;

    private const string Supported =
        "Conv2d (zero padding), BatchNorm2d, ReLU, ReLU6, Hardtanh, LeakyReLU, PReLU, SiLU, Hardswish, Hardsigmoid, Sigmoid, Tanh, GELU, " +
        "MaxPool2d, AvgPool2d (no divisor override), AdaptiveAvgPool2d (to 1 x 1, or to a size that divides the input, given imageShape), Dropout, Identity, Flatten, Linear, Add, Concat, Multiply";

    private readonly GraphModel _model;
    private readonly string _paramName;
    private readonly GraphProto _graph = new() { Name = "ldrf" };
    private readonly Dictionary<string, int> _rank = new(StringComparer.Ordinal);
    private Dictionary<string, long[]>? _shapes;

    private OnnxExporter(GraphModel model, string paramName)
    {
        _model = model;
        _paramName = paramName;
    }

    /// <summary>The ONNX model of <paramref name="model"/>; <paramref name="imageShape"/> (C, H, W) fixes the input's size when given.</summary>
    /// <exception cref="ArgumentException">A node cannot be written (ParamName <paramref name="paramName"/>; the message names the node and its type), or a node cannot take <paramref name="imageShape"/> (ParamName <c>imageShape</c>).</exception>
    public static ModelProto Export(GraphModel model, long[]? imageShape, string paramName)
    {
        var exporter = new OnnxExporter(model, paramName);
        exporter.Run(imageShape);
        var proto = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "Ldrf.Onnx",
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "",
            Graph = exporter._graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return proto;
    }

    private void Run(long[]? imageShape)
    {
        _rank[_model.InputName] = 4;

        // With a known image size every node's shape is known (the shape check names a node that cannot take its input).
        _shapes = imageShape is null ? null : _model.Shapes(imageShape, "imageShape");
        var channels = imageShape?[0] ?? _model.Consumers(_model.InputName).Select(n => n.Op switch
        {
            Conv2dSpec c => c.InChannels,
            BatchNorm2dSpec b => b.Channels,
            _ => -1L,
        }).FirstOrDefault(c => c > 0, -1L);
        _graph.Input.Add(Value(_model.InputName,
            [Dim("N"), channels > 0 ? Dim(channels) : Dim("C"), imageShape is null ? Dim("H") : Dim(imageShape[1]), imageShape is null ? Dim("W") : Dim(imageShape[2])]));
        foreach (var node in _model.Nodes)
        {
            Write(node);
        }

        var output = _shapes?[_model.OutputName];
        _graph.Output.Add(Value(_model.OutputName, output is null ? null : [Dim("N"), .. output.Select(Dim)]));
    }

    private void Write(GraphNode node)
    {
        var name = node.Name;
        var x = node.Inputs.Length > 0 ? node.Inputs[0] : throw Refuse(node, "it reads no input");
        var rank = _rank.GetValueOrDefault(x, 4);
        _rank[name] = rank;
        switch (node.Op)
        {
            case Conv2dSpec c:
                if (c.PaddingMode != PaddingModes.Zeros)
                {
                    throw Refuse(node, $"padding mode {c.PaddingMode} has no ONNX Conv equivalent (zeros only)");
                }

                Add("Conv", name, [x, Init(name, "weight"), .. c.HasBias ? [Init(name, "bias")] : Array.Empty<string>()],
                    Ints("kernel_shape", c.Kernel), Ints("strides", c.Stride), Ints("dilations", c.Dilation),
                    Ints("pads", [c.Padding[0], c.Padding[1], c.Padding[0], c.Padding[1]]), Int("group", c.Groups));
                break;
            case BatchNorm2dSpec b:
                Add("BatchNormalization", name,
                    [x, b.Affine ? Init(name, "weight") : Constant(name, "scale", Enumerable.Repeat(1f, b.Channels).ToArray(), [b.Channels]),
                        b.Affine ? Init(name, "bias") : Constant(name, "shift", new float[b.Channels], [b.Channels]),
                        Init(name, "running_mean"), Init(name, "running_var")],
                    Float("epsilon", b.Eps));
                break;
            case ReluSpec:
                Add("Relu", name, [x]);
                break;
            case ActivationSpec a:
                Activation(node, a, x);
                break;
            case PReluSpec p:
                var slope = Floats(name + ".weight");
                Add("PRelu", name, [x, Constant(name, "slope", slope, p.Parameters == 1 ? [1] : rank == 4 ? [p.Parameters, 1, 1] : [p.Parameters])]);
                break;
            case IdentitySpec or DropoutSpec:
                Add("Identity", name, [x]);
                break;
            case AddSpec:
                Add(node.Inputs.Length == 2 ? "Add" : "Sum", name, node.Inputs);
                break;
            case ConcatSpec:
                Add("Concat", name, node.Inputs, Int("axis", 1));
                break;
            case MultiplySpec:
                var gate = node.Inputs[1];
                if (_rank.GetValueOrDefault(gate, 4) == 2 && rank == 4)
                {
                    Add("Unsqueeze", name + "/gate", [gate, Constant(name, "axes", [2L, 3L])]);
                    gate = name + "/gate";
                }

                Add("Mul", name, [x, gate]);
                break;
            case MaxPool2dSpec m:
                Add("MaxPool", name, [x], Ints("kernel_shape", m.Kernel), Ints("strides", m.Stride), Ints("dilations", m.Dilation),
                    Ints("pads", [m.Padding[0], m.Padding[1], m.Padding[0], m.Padding[1]]), Int("ceil_mode", m.CeilMode ? 1 : 0));
                break;
            case AvgPool2dSpec a:
                if (a.DivisorOverride is not null)
                {
                    throw Refuse(node, "a divisor override has no ONNX AveragePool equivalent");
                }

                Add("AveragePool", name, [x], Ints("kernel_shape", a.Kernel), Ints("strides", a.Stride),
                    Ints("pads", [a.Padding[0], a.Padding[1], a.Padding[0], a.Padding[1]]), Int("ceil_mode", a.CeilMode ? 1 : 0),
                    Int("count_include_pad", a.CountIncludePad ? 1 : 0));
                break;
            case AdaptiveAvgPool2dSpec p when p.OutputSize.All(s => s == 1):
                Add("GlobalAveragePool", name, [x]);
                break;
            case AdaptiveAvgPool2dSpec p:
                // ONNX has no adaptive pooling; with a known input size that the output size divides, it is an AveragePool.
                var size = _shapes?[x];
                if (size is null || size[1] % p.OutputSize[0] != 0 || size[2] % p.OutputSize[1] != 0)
                {
                    throw Refuse(node, size is null
                        ? $"adaptive pooling to {p.OutputSize[0]} x {p.OutputSize[1]} needs the input size (pass imageShape)"
                        : $"adaptive pooling of {size[1]} x {size[2]} to {p.OutputSize[0]} x {p.OutputSize[1]} has windows of unequal size");
                }

                int[] window = [(int)(size[1] / p.OutputSize[0]), (int)(size[2] / p.OutputSize[1])];
                Add("AveragePool", name, [x], Ints("kernel_shape", window), Ints("strides", window));
                break;
            case FlattenSpec:
                Add("Flatten", name, [x], Int("axis", 1));
                _rank[name] = 2;
                break;
            case LinearSpec l:
                Add("Gemm", name, [x, Init(name, "weight"), .. l.HasBias ? [Init(name, "bias")] : Array.Empty<string>()], Int("transB", 1));
                _rank[name] = 2;
                break;
            default:
                throw Refuse(node, "it has no ONNX form here");
        }
    }

    private void Activation(GraphNode node, ActivationSpec a, string x)
    {
        var name = node.Name;
        switch (a.Kind)
        {
            case ActivationKind.Relu6:
                Add("Clip", name, [x, Constant(name, "min", [0f], []), Constant(name, "max", [6f], [])]);
                break;
            case ActivationKind.Clamp:
                Add("Clip", name, [x, Constant(name, "min", [(float)a.Alpha], []), Constant(name, "max", [(float)a.Beta], [])]);
                break;
            case ActivationKind.LeakyRelu:
                Add("LeakyRelu", name, [x], Float("alpha", a.Alpha));
                break;
            case ActivationKind.Silu:
                Add("Sigmoid", name + "/sigmoid", [x]);
                Add("Mul", name, [x, name + "/sigmoid"]);
                break;
            case ActivationKind.Hardswish:
                Add("HardSwish", name, [x]);
                break;
            case ActivationKind.Hardsigmoid:
                var torchDefaults = a.Alpha == 0 && a.Beta == 0;
                Add("HardSigmoid", name, [x], Float("alpha", torchDefaults ? 1.0 / 6 : a.Alpha), Float("beta", torchDefaults ? 0.5 : a.Beta));
                break;
            case ActivationKind.Sigmoid:
                Add("Sigmoid", name, [x]);
                break;
            case ActivationKind.Tanh:
                Add("Tanh", name, [x]);
                break;
            case ActivationKind.Gelu when a.Alpha == 0:
                // 0.5 * x * (1 + erf(x / sqrt 2)), as PyTorch writes it.
                Add("Div", name + "/scaled", [x, Constant(name, "sqrt2", [(float)Math.Sqrt(2)], [])]);
                Add("Erf", name + "/erf", [name + "/scaled"]);
                Add("Add", name + "/one_plus", [name + "/erf", Constant(name, "one", [1f], [])]);
                Add("Mul", name + "/times_x", [x, name + "/one_plus"]);
                Add("Mul", name, [name + "/times_x", Constant(name, "half", [0.5f], [])]);
                break;
            case ActivationKind.Gelu:
                // The tanh approximation: 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))).
                Add("Mul", name + "/x2", [x, x]);
                Add("Mul", name + "/x3", [name + "/x2", x]);
                Add("Mul", name + "/cubic", [name + "/x3", Constant(name, "kappa", [0.044715f], [])]);
                Add("Add", name + "/inner", [x, name + "/cubic"]);
                Add("Mul", name + "/scaled", [name + "/inner", Constant(name, "beta", [(float)Math.Sqrt(2 / Math.PI)], [])]);
                Add("Tanh", name + "/tanh", [name + "/scaled"]);
                Add("Add", name + "/one_plus", [name + "/tanh", Constant(name, "one", [1f], [])]);
                Add("Mul", name + "/times_x", [x, name + "/one_plus"]);
                Add("Mul", name, [name + "/times_x", Constant(name, "half", [0.5f], [])]);
                break;
            default:
                throw Refuse(node, $"activation {a.Kind} has no ONNX form here");
        }
    }

    private void Add(string op, string output, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
    }

    // A state tensor of the node as an initializer named by its state key.
    private string Init(string node, string key)
    {
        var name = node + "." + key;
        var tensor = _model.State.TryGetValue(name, out var t) ? t : throw new ArgumentException($"'{_paramName}' node '{node}' has no tensor '{name}'.", _paramName);
        _graph.Initializer.Add(OnnxTensors.Float(name, tensor.shape, Floats(name)));
        return name;
    }

    private float[] Floats(string key)
    {
        using var scope = NewDisposeScope();
        return _model.State[key].detach().cpu().to(ScalarType.Float32).contiguous().data<float>().ToArray();
    }

    private string Constant(string node, string what, float[] values, long[] dims)
    {
        var name = node + "/" + what;
        _graph.Initializer.Add(OnnxTensors.Float(name, dims, values));
        return name;
    }

    private string Constant(string node, string what, long[] values)
    {
        var name = node + "/" + what;
        _graph.Initializer.Add(OnnxTensors.Int64(name, values));
        return name;
    }

    private ArgumentException Refuse(GraphNode node, string why) =>
        new($"'{_paramName}' node '{node.Name}' ({node.Op.TypeName}) cannot be written as ONNX: {why}; supported: {Supported}.", _paramName);

    private static ValueInfoProto Value(string name, TensorShapeProto.Types.Dimension[]? dims)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float };
        if (dims is not null)
        {
            tensor.Shape = new TensorShapeProto();
            tensor.Shape.Dim.AddRange(dims);
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    private static TensorShapeProto.Types.Dimension Dim(long value) => new() { DimValue = value };

    private static TensorShapeProto.Types.Dimension Dim(string symbol) => new() { DimParam = symbol };

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Float(string name, double value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)value };

    private static AttributeProto Ints(string name, int[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values.Select(v => (long)v));
        return attribute;
    }
}
