using Google.Protobuf;
using Ldrf.Onnx.Protobuf;

namespace Ldrf.Onnx.Import;

/// <summary>Parses the protobuf of an ONNX model and refuses what is not one.</summary>
internal static class OnnxFile
{
    /// <summary>The model in <paramref name="stream"/>; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model (not protobuf, truncated, or without a graph).</exception>
    public static ModelProto Read(Stream stream, string source)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException(
                $"'{source}' is not a readable ONNX model (truncated, corrupt or another format): {ex.Message}", ex);
        }

        // Protobuf reads many byte strings without complaint (an empty file is an empty message), so the model must
        // also look like one: an IR version, a graph with nodes, an input and an output.
        if (model.IrVersion <= 0 || model.Graph is null || model.Graph.Node.Count == 0 || model.Graph.Output.Count == 0)
        {
            throw new InvalidDataException(
                $"'{source}' is not an ONNX model: it has " + (model.IrVersion <= 0 ? "no IR version" : "no graph with nodes and outputs") + ".");
        }

        return model;
    }
}
