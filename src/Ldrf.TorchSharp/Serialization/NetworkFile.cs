using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ldrf.TorchSharp.Architecture;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Serialization;

/// <summary>
/// Saves a chain network with its architecture, so that it loads back without the code that built it, and
/// exports its weights in PyTorch's format.
/// </summary>
/// <remarks>
/// <para>
/// File layout (version 1, little-endian): the 8 ASCII bytes <c>LDRFNET1</c>; an int32 format version; an
/// int32 length and that many bytes of UTF-8 JSON (format version, parameter type, the layer chain with every
/// hyperparameter, the length and SHA-256 of the weights); an int64 length and the weights as written by
/// TorchSharp's <c>Module.save</c> (state_dict names are the Sequential paths). Loading checks the magic, the
/// version, every length and the hash, so a truncated or corrupt file fails with an
/// <see cref="InvalidDataException"/> that names the file.
/// </para>
/// <para>
/// Any network the pruner accepts can be saved, pruned or not (batch norms included).
/// </para>
/// </remarks>
public static class NetworkFile
{
    /// <summary>The current format version.</summary>
    public const int FormatVersion = 1;

    private static readonly byte[] Magic = "LDRFNET1"u8.ToArray();

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Saves <paramref name="network"/>'s architecture and weights to one file.</summary>
    /// <param name="network">A Sequential (possibly nested) of the supported layers, on any device.</param>
    /// <param name="path">The file to write (overwritten).</param>
    /// <exception cref="ArgumentException">A module is unsupported (the message names its path), the network is disposed, or <paramref name="path"/> is empty.</exception>
    public static void SaveLdrf(this nn.Module<Tensor, Tensor> network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var layers = NetworkReader.Read(network, nameof(network));
        var dtype = network.parameters().FirstOrDefault()?.dtype ?? ScalarType.Float32;

        using var weights = new MemoryStream();
        network.save(weights);
        var weightBytes = weights.ToArray();
        var header = new FileHeader(FormatVersion, dtype.ToString(), layers, weightBytes.LongLength, Convert.ToHexString(SHA256.HashData(weightBytes)));
        var json = JsonSerializer.SerializeToUtf8Bytes(header, Json);

        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
        using (var writer = new BinaryWriter(file))
        {
            writer.Write(Magic);
            writer.Write(FormatVersion);
            writer.Write(json.Length);
            writer.Write(json);
            writer.Write(weightBytes.LongLength);
            writer.Write(weightBytes);
        }

        // Write then rename, so a crash never leaves a half-written file under the real name.
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Loads a network saved by <see cref="SaveLdrf"/>, in evaluation mode.</summary>
    /// <param name="path">The file.</param>
    /// <param name="device">Where to put the network (default: CPU).</param>
    /// <returns>A new Sequential with the saved paths, hyperparameters and weights.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an Ldrf network file, is of a newer version, is truncated or is corrupt (including negative or mismatched lengths); the message names the file.</exception>
    public static Sequential LoadLdrf(string path, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Ldrf network file '{path}' does not exist.", path);
        }

        FileHeader header;
        byte[] weightBytes;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read);
            using var reader = new BinaryReader(file);
            var magic = reader.ReadBytes(Magic.Length);
            if (!magic.AsSpan().SequenceEqual(Magic))
            {
                throw Invalid(path, "it does not start with the Ldrf network signature");
            }

            var version = reader.ReadInt32();
            if (version < 1 || version > FormatVersion)
            {
                throw Invalid(path, $"its format version is {version}, but this library reads versions 1 to {FormatVersion}");
            }

            var jsonLength = reader.ReadInt32();
            if (jsonLength <= 0 || jsonLength > file.Length - file.Position)
            {
                throw Invalid(path, $"it is truncated or corrupt: the header claims {jsonLength} bytes of description but {file.Length - file.Position} remain");
            }

            header = JsonSerializer.Deserialize<FileHeader>(reader.ReadBytes(jsonLength), Json)
                ?? throw Invalid(path, "its description is empty");
            if (header.Layers is null || header.Layers.Count == 0)
            {
                throw Invalid(path, "its description lists no layers");
            }

            var weightLength = reader.ReadInt64();
            if (weightLength < 0 || weightLength != header.WeightsLength || weightLength > file.Length - file.Position)
            {
                throw Invalid(path, $"it is truncated or corrupt: {header.WeightsLength} bytes of weights expected, {file.Length - file.Position} remain");
            }

            weightBytes = reader.ReadBytes((int)weightLength);
        }
        catch (EndOfStreamException ex)
        {
            throw Invalid(path, "it is truncated", ex);
        }
        catch (JsonException ex)
        {
            throw Invalid(path, "its architecture description is not valid JSON: " + ex.Message, ex);
        }

        if (!string.Equals(Convert.ToHexString(SHA256.HashData(weightBytes)), header.WeightsSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw Invalid(path, "its weights are corrupt (SHA-256 mismatch)");
        }

        if (!Enum.TryParse<ScalarType>(header.Dtype, out var dtype))
        {
            throw Invalid(path, $"its parameter type '{header.Dtype}' is unknown");
        }

        Sequential? network = null;
        try
        {
            network = NetworkBuilder.Build(header.Layers, null, CPU, dtype).Root;
            using var weights = new MemoryStream(weightBytes, writable: false);
            network.load(weights, strict: true);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            network?.Dispose();
            throw Invalid(path, "its weights do not match its architecture: " + ex.Message, ex);
        }

        if (device is not null && device.type != DeviceType.CPU)
        {
            network.to(device);
        }

        network.eval();
        return network;
    }

    /// <summary>
    /// Writes the network's state_dict in PyTorch's format (a file that <c>torch.load</c> reads and
    /// <c>load_state_dict</c> accepts), through TorchSharp.PyBridge. Keys are the network's own state_dict keys, its
    /// module paths (for example <c>features.0.weight</c>), so a PyTorch module with the same names and sizes loads it.
    /// </summary>
    /// <remarks>
    /// A network that <see cref="Pruning.TorchSharpPruner"/> returned has no batch norms: each BatchNorm2d of the
    /// original is folded into the Conv2d before it. Its export has none of their keys (<c>bn1.weight</c>,
    /// <c>bn1.running_mean</c>, ...), and each of those convolutions has a bias (<c>conv1.bias</c>) even where the
    /// original had none, so an exported torchvision ResNet or vgg*_bn does not load into its torchvision class. Load it
    /// in PyTorch into a module with the same names and the pruned widths that leaves out the BatchNorm2d layers and
    /// builds those convolutions with <c>bias=True</c>. A network without batch norms exports the keys it had.
    /// </remarks>
    /// <param name="network">The network.</param>
    /// <param name="path">The file to write (overwritten).</param>
    public static void ExportPyTorch(this nn.Module<Tensor, Tensor> network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        network.save_py(path);
    }

    private static InvalidDataException Invalid(string path, string reason, Exception? inner = null) =>
        new($"'{path}' is not a valid Ldrf network file: {reason}.", inner);

    private sealed record FileHeader(int Version, string Dtype, List<LayerSpec> Layers, long WeightsLength, string WeightsSha256);
}
