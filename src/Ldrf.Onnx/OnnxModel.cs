using Google.Protobuf;
using Ldrf.Onnx.Export;
using Ldrf.Onnx.Import;
using Ldrf.Onnx.Protobuf;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Graphs;
using static TorchSharp.torch;

namespace Ldrf.Onnx;

/// <summary>
/// Reads an ONNX CNN into a <see cref="GraphNetwork"/> (which <c>TorchSharpPruner</c> prunes) and writes a network
/// back as an ONNX file that ONNX Runtime runs.
/// </summary>
/// <remarks>
/// <para>
/// Import reads opsets 7 and later: Conv (groups, dilations, pads, auto_pad), BatchNormalization (with the old
/// <c>spatial</c> attribute), Relu, Clip (attribute and input forms, to [0, 6] or [0, infinity)), LeakyRelu, PRelu, Sigmoid, HardSigmoid,
/// HardSwish, Tanh, Add, Sum, Concat along the channels, Mul by a channel gate (squeeze-excitation), MaxPool,
/// AveragePool, GlobalAveragePool, Flatten, Reshape to N x features, Gemm, MatMul (+ Add), Dropout, Identity,
/// Constant, a zero Pad before a Conv or AveragePool, and SiLU (x * Sigmoid(x)), HardSwish (x * HardSigmoid(x)) and
/// GELU (the Erf form) as exporters write them. The model's input and output names become the network's
/// <see cref="GraphNetwork.InputName"/> and <see cref="GraphNetwork.OutputName"/> (characters other than letters,
/// digits and '_' become '_'); node names come from the ONNX node names likewise.
/// </para>
/// <para>
/// Export writes opset 17 with a symbolic batch dimension, the network's input and output names, and its weights as
/// float32 initializers named by their state_dict keys.
/// </para>
/// </remarks>
public static class OnnxModel
{
    /// <summary>Reads an ONNX model file into a new network on the CPU in evaluation mode (float32).</summary>
    /// <param name="path">The .onnx file (weights stored inside it).</param>
    /// <returns>The network; its nodes are named after the ONNX nodes, its state_dict keys after those nodes.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist; the message names it.</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model (another format, truncated) or is inconsistent; the message names the file (and the node).</exception>
    /// <exception cref="NotSupportedException">The model uses an operator, attribute or form that is not supported; the message names the file, the node, its operator, the opset and what is supported.</exception>
    public static GraphNetwork Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"ONNX model file '{path}' does not exist.", path);
        }

        using var stream = File.OpenRead(path);
        return Load(stream, path);
    }

    /// <summary>Reads an ONNX model from a stream into a new network on the CPU in evaluation mode (float32).</summary>
    /// <param name="stream">The model's bytes (read to the end).</param>
    /// <param name="sourceName">The name messages give the model (a file name, say).</param>
    /// <returns>The network.</returns>
    /// <exception cref="ArgumentException"><paramref name="sourceName"/> is empty.</exception>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model or it is inconsistent; the message names <paramref name="sourceName"/>.</exception>
    /// <exception cref="NotSupportedException">The model uses an operator, attribute or form that is not supported (see <see cref="Load(string)"/>).</exception>
    public static GraphNetwork Load(Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrWhiteSpace(sourceName);
        var model = OnnxFile.Read(stream, sourceName);
        using var graph = OnnxImporter.Import(model, sourceName);
        return (GraphNetwork)graph.Build(CPU, ScalarType.Float32).Network;
    }

    /// <summary>Writes a network as an ONNX model file (opset 17) that ONNX Runtime runs.</summary>
    /// <param name="network">A <see cref="GraphNetwork"/> (an imported, built or pruned one) or a Sequential the pruner reads; left untouched.</param>
    /// <param name="path">The file to write (overwritten). It is written under a temporary name beside it and then moved into place, so nothing is left under <paramref name="path"/> on failure.</param>
    /// <param name="imageShape">The input's C, H, W to write into the model, which then declares the output's shape too (null: the channels from the first layer, height and width symbolic, the output's shape left open).</param>
    /// <exception cref="ArgumentException">A node has no ONNX form (ParamName <c>network</c>; the message names the node and its type), the network is disposed or does not take <paramref name="imageShape"/> (the message names the node), <paramref name="imageShape"/> does not have three positive entries, or <paramref name="path"/> is empty.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist; the message names <paramref name="path"/>.</exception>
    /// <exception cref="IOException">The file cannot be written or moved into place; the message names <paramref name="path"/> and no temporary file is left.</exception>
    public static void Save(nn.Module<Tensor, Tensor> network, string path, long[]? imageShape = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (imageShape is not null && (imageShape.Length != 3 || imageShape.Any(d => d <= 0)))
        {
            throw new ArgumentException($"'{nameof(imageShape)}' must be C, H, W (three positive sizes) but is [{string.Join(", ", imageShape)}].", nameof(imageShape));
        }

        byte[] bytes;
        using (var graph = GraphModel.FromNetwork(network, nameof(network)))
        {
            bytes = OnnxExporter.Export(graph, imageShape, nameof(network)).ToByteArray();
        }

        WriteThenMove(path, bytes);
    }

    /// <summary>The model read into the graph model and written back, without building modules (the tests run both in ONNX Runtime).</summary>
    internal static ModelProto Reexport(ModelProto model, string source)
    {
        using var graph = OnnxImporter.Import(model, source);
        return OnnxExporter.Export(graph, null, nameof(model));
    }

    // As NetworkFile writes: under path + ".tmp", then moved into place; errors name the caller's path and leave no temporary file.
    private static void WriteThenMove(string path, byte[] bytes)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null && !Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Cannot save the ONNX model file '{path}': its folder '{folder}' does not exist.");
        }

        var temp = path + ".tmp";
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var message = $"Cannot save the ONNX model file '{path}': {ex.Message}";
            throw ex is UnauthorizedAccessException ? new UnauthorizedAccessException(message, ex) : new IOException(message, ex);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }
}
