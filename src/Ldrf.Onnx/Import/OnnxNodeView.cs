using System.Globalization;
using System.Text;
using Ldrf.Onnx.Protobuf;

namespace Ldrf.Onnx.Import;

/// <summary>
/// One ONNX node with its attributes by name, and the messages that name the file, the node, its operator and the
/// opset. Every attribute the importer does not understand is refused here, so nothing is silently ignored.
/// </summary>
internal sealed class OnnxNodeView
{
    private readonly Dictionary<string, AttributeProto> _attributes = new(StringComparer.Ordinal);

    public OnnxNodeView(NodeProto node, int index, string source, int opset)
    {
        Proto = node;
        Index = index;
        Source = source;
        Opset = opset;
        foreach (var attribute in node.Attribute)
        {
            _attributes[attribute.Name] = attribute;
        }
    }

    public NodeProto Proto { get; }

    public int Index { get; }

    public string Source { get; }

    public int Opset { get; }

    public string Op => Proto.OpType;

    /// <summary>The node's name as the file gives it, or its operator and position when the file gives none.</summary>
    public string DisplayName => Proto.Name.Length > 0 ? Proto.Name : $"{Op} #{Index}";

    /// <summary>Refuses any attribute other than <paramref name="known"/>.</summary>
    public void Expect(params string[] known)
    {
        foreach (var name in _attributes.Keys)
        {
            if (!known.Contains(name, StringComparer.Ordinal))
            {
                throw Unsupported($"attribute '{name}' is not supported",
                    known.Length == 0 ? "no attributes" : "the attributes " + string.Join(", ", known));
            }
        }
    }

    public bool Has(string name) => _attributes.ContainsKey(name);

    public long Int(string name, long fallback) => _attributes.TryGetValue(name, out var a) ? a.I : fallback;

    public float Float(string name, float fallback) => _attributes.TryGetValue(name, out var a) ? a.F : fallback;

    public string String(string name, string fallback) =>
        _attributes.TryGetValue(name, out var a) ? Encoding.UTF8.GetString(a.S.Span) : fallback;

    public long[]? Ints(string name) => _attributes.TryGetValue(name, out var a) ? [.. a.Ints] : null;

    public float[]? Floats(string name) => _attributes.TryGetValue(name, out var a) ? [.. a.Floats] : null;

    public TensorProto? Tensor(string name) => _attributes.TryGetValue(name, out var a) ? a.T : null;

    /// <summary>Input <paramref name="i"/>'s tensor name, or null when absent (missing or given as "").</summary>
    public string? Input(int i) => i < Proto.Input.Count && Proto.Input[i].Length > 0 ? Proto.Input[i] : null;

    /// <summary>"ONNX model 'f': node 'n' (Op, opset k)", the start of every message about this node.</summary>
    public string Where => $"ONNX model '{Source}': node '{DisplayName}' ({Op}, opset {Opset.ToString(CultureInfo.InvariantCulture)})";

    /// <summary>A refusal of something the importer does not support, with what it does support.</summary>
    public NotSupportedException Unsupported(string what, string supported) =>
        new($"{Where}: {what}; supported: {supported}.");

    /// <summary>A refusal of something the file gets wrong.</summary>
    public InvalidDataException Invalid(string what) => new($"{Where}: {what}.");
}
