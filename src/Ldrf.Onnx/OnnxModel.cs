using Ldrf.Onnx.Export;
using Ldrf.Onnx.Import;
using Ldrf.Onnx.Protobuf;

namespace Ldrf.Onnx;

/// <summary>Reads and writes ONNX model files.</summary>
public static class OnnxModel
{
    /// <summary>The model read into the graph model and written back, without building modules (the tests run both in ONNX Runtime).</summary>
    internal static ModelProto Reexport(ModelProto model, string source)
    {
        using var graph = OnnxImporter.Import(model, source);
        return OnnxExporter.Export(graph, null, nameof(model));
    }
}
