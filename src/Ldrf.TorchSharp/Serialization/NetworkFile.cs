using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Serialization;

/// <summary>
/// Saves a chain or graph network with its architecture, so that it loads back without the code that built it; exports its
/// weights in PyTorch's format (in its own layout or in the original's); and loads PyTorch state_dicts and
/// safetensors files with every key and shape checked first.
/// </summary>
/// <remarks>
/// <para>
/// File layout (format version 3, little-endian): the 8-byte signature <c>LDRFNET1</c> (unchanged since
/// version 1); an int32 format version; an int32 length J and an int64 length W; J bytes of UTF-8 JSON (the
/// parameter type and either the layer chain or, for a <see cref="GraphNetwork"/>, the graph's input name, output
/// name and nodes with their inputs, with every hyperparameter); W bytes of weights as written by TorchSharp's
/// <c>Module.save</c> (state_dict names are the Sequential paths or the node names); and the SHA-256 of every byte
/// before it. Loading checks the signature, the version, that the file is exactly as long as its lengths say
/// (no byte missing, none appended) and the SHA-256 before it reads anything else, so a truncated, extended
/// or corrupt file, a changed architecture included, fails with an <see cref="InvalidDataException"/> that
/// names the file. The hash guards against corruption and accidental edits; it is not a signature, so
/// whoever can change the file can also recompute it.
/// </para>
/// <para>
/// Version 2 files (chains only, written before graphs and grouped convolutions) load as before. Version 1 files
/// (the weights hashed, the architecture not) are refused with a message naming the file and the version: save the
/// network again from the code that built it.
/// </para>
/// <para>
/// Any network the pruner accepts can be saved, pruned or not (batch norms included).
/// </para>
/// </remarks>
public static class NetworkFile
{
    /// <summary>The current format version (the version written; version 2 files are read too).</summary>
    public const int FormatVersion = 3;

    // The oldest version read: version 2 differs only in having no graphs and no convolution groups.
    private const int OldestReadVersion = 2;

    private static readonly byte[] Signature = "LDRFNET1"u8.ToArray();

    // The local-file header that starts a zip archive, which torch.save has written since PyTorch 1.6.
    private static ReadOnlySpan<byte> ZipSignature => "PK\u0003\u0004"u8;

    // Signature, version, JSON length, weight length.
    private const int HeaderBytes = 8 + 4 + 4 + 8;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Saves <paramref name="network"/>'s architecture and weights to one file.</summary>
    /// <param name="network">A <see cref="GraphNetwork"/>, or a Sequential (possibly nested) of the supported layers, on any device.</param>
    /// <param name="path">The file to write (overwritten). It is written under a temporary name beside it and then moved into place.</param>
    /// <exception cref="ArgumentException">A module is unsupported (the message names its path), the network is disposed, or <paramref name="path"/> is empty.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist; the message names <paramref name="path"/>.</exception>
    /// <exception cref="IOException">The file cannot be written or moved into place; the message names <paramref name="path"/> and no temporary file is left.</exception>
    /// <exception cref="UnauthorizedAccessException">Writing <paramref name="path"/> is not permitted; the message names it and no temporary file is left.</exception>
    public static void SaveLdrf(this nn.Module<Tensor, Tensor> network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var header = network is GraphNetwork graph
            ? new FileHeader(string.Empty, null, new GraphDescription(graph.InputName, graph.OutputName, GraphModel.Describe(graph, nameof(network))))
            : new FileHeader(string.Empty, NetworkReader.Read(network, nameof(network)));
        var dtype = network.parameters().FirstOrDefault()?.dtype ?? ScalarType.Float32;
        using var weights = new MemoryStream();
        network.save(weights);
        var weightBytes = weights.ToArray(); // Module.save closes the stream; ToArray still works.
        var json = JsonSerializer.SerializeToUtf8Bytes(header with { Dtype = dtype.ToString() }, Json);
        using var content = new MemoryStream();
        using (var writer = new BinaryWriter(content, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Signature);
            writer.Write(FormatVersion);
            writer.Write(json.Length);
            writer.Write(weightBytes.LongLength);
            writer.Write(json);
            writer.Write(weightBytes);
            writer.Write(SHA256.HashData(content.GetBuffer().AsSpan(0, (int)content.Length)));
        }

        WriteThenMove(path, "Ldrf network", file => file.Write(content.GetBuffer(), 0, (int)content.Length));
    }

    /// <summary>Loads a network saved by <see cref="SaveLdrf"/>, in evaluation mode.</summary>
    /// <param name="path">The file.</param>
    /// <param name="device">Where to put the network (default: CPU).</param>
    /// <returns>
    /// A new network with the saved hyperparameters and weights: a Sequential with the saved paths for a chain, a
    /// <see cref="GraphNetwork"/> with the saved nodes for a graph.
    /// </returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is not an Ldrf network file, is of a format version other than 2 and 3 (version 1 included), is truncated,
    /// has bytes appended, or is corrupt anywhere (SHA-256 mismatch); the message names the file and what is wrong.
    /// </exception>
    public static nn.Module<Tensor, Tensor> LoadLdrf(string path, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Ldrf network file '{path}' does not exist.", path);
        }

        var length = new FileInfo(path).Length;
        if (length > Array.MaxLength)
        {
            throw Invalid(path, $"it is {length} bytes, more than this library reads into memory ({Array.MaxLength} bytes)");
        }

        var (dtype, header, weights) = Verified(path, File.ReadAllBytes(path));
        nn.Module<Tensor, Tensor>? network = null;
        try
        {
            network = header.Graph is { } graph
                ? LayerModules.PreservingRng(() => GraphNetwork.Create(graph.Input, graph.Nodes, graph.Output, null, dtype))
                : NetworkBuilder.Build(header.Layers!, null, CPU, dtype).Root;
            using var stream = new MemoryStream(weights.Array!, weights.Offset, weights.Count, writable: false);
            network.load(stream, strict: true);
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
    /// A <see cref="GraphNetwork"/>'s keys are its node names (<c>node.weight</c>), except for nodes that mirror a
    /// PyTorch module, such as those of <see cref="Models.TorchVisionModels.MobileNetV2"/>, whose keys are that module's
    /// path (<c>features.1.conv.0.0.weight</c> for node <c>features_1_conv_0_0</c>).
    /// </summary>
    /// <remarks>
    /// A network that <see cref="Pruning.TorchSharpPruner"/> returned has no batch norms: each BatchNorm2d of the
    /// original is folded into the Conv2d before it. Its export has none of their keys (<c>bn1.weight</c>,
    /// <c>bn1.running_mean</c>, ...), and each of those convolutions has a bias (<c>conv1.bias</c>) even where the
    /// original had none, so an exported torchvision ResNet or vgg*_bn does not load into its torchvision class; use
    /// <see cref="ExportPyTorch(nn.Module{Tensor, Tensor}, string, nn.Module{Tensor, Tensor})"/> with the original as
    /// the layout for that. A network without batch norms exports the keys it had. The file is written under a
    /// temporary name beside <paramref name="path"/> and then moved into place.
    /// </remarks>
    /// <param name="network">The network.</param>
    /// <param name="path">The file to write (overwritten).</param>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist; the message names <paramref name="path"/>.</exception>
    /// <exception cref="IOException">The file cannot be written or moved into place; the message names <paramref name="path"/>.</exception>
    public static void ExportPyTorch(this nn.Module<Tensor, Tensor> network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (network is GraphNetwork graph)
        {
            // Under the PyTorch module paths of the nodes that mirror a PyTorch model (for example torchvision's).
            var state = graph.state_dict().ToDictionary(kv => graph.PyTorchKey(kv.Key), kv => kv.Value, StringComparer.Ordinal);
            WriteThenMove(path, "PyTorch state_dict", file => PyTorchPickler.PickleStateDict(file, state, leaveOpen: true));
            return;
        }

        WriteThenMove(path, "PyTorch state_dict", file => network.save_py(file, leaveOpen: true));
    }

    /// <summary>
    /// Writes a pruned network's weights as the state_dict of <paramref name="layoutOf"/> (the network it was pruned
    /// from) at the pruned widths: the original's keys, batch norms included, so that the PyTorch class of the original
    /// (a torchvision ResNet or vgg*_bn, say), built with the pruned widths, loads it with <c>strict=True</c> and
    /// computes what <paramref name="network"/> computes.
    /// </summary>
    /// <remarks>
    /// <para>
    /// The pruner folds each BatchNorm2d into the Conv2d before it. Each batch norm of <paramref name="layoutOf"/> that
    /// <paramref name="network"/> no longer has is written identity-initialized and carries the folded convolution's
    /// bias: weight 1, bias b, running_mean 0, running_var 1 − eps, num_batches_tracked 0, so that in evaluation mode
    /// it computes x + b (up to one rounding of 1 − eps + eps). A batch norm without affine parameters carries the
    /// bias as running_mean = −b instead. The convolution keeps exactly the keys it has in the original: no bias key
    /// where the original had none, a zero bias where it had one. Only evaluation mode is exact: training would
    /// recompute the batch statistics, as fine-tuning the original would.
    /// </para>
    /// <para>
    /// Layers are matched by path: every layer of <paramref name="network"/> must be the layer of the same path and type
    /// in <paramref name="layoutOf"/> (convolutions with the same kernel, stride, padding and dilation), and every
    /// layer of <paramref name="layoutOf"/> must be in <paramref name="network"/> or be a batch norm that directly
    /// follows a convolution. Only the widths may differ. <paramref name="layoutOf"/>'s weights are not read.
    /// </para>
    /// </remarks>
    /// <param name="network">The pruned network (or any network whose layers keep the paths of <paramref name="layoutOf"/>).</param>
    /// <param name="path">The file to write (overwritten). It is written under a temporary name beside it and then moved into place.</param>
    /// <param name="layoutOf">The network whose layer names and layer types the file takes: the original that was pruned.</param>
    /// <exception cref="ArgumentException">
    /// The layouts do not correspond (<see cref="ArgumentException.ParamName"/> <c>layoutOf</c>; the message names the
    /// layer and what differs), a module is unsupported, or a network is disposed.
    /// </exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist; the message names <paramref name="path"/>.</exception>
    /// <exception cref="IOException">The file cannot be written or moved into place; the message names <paramref name="path"/>.</exception>
    public static void ExportPyTorch(this nn.Module<Tensor, Tensor> network, string path, nn.Module<Tensor, Tensor> layoutOf)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(layoutOf);
        using var laidOut = PyTorchLayout.Build(network, layoutOf);
        WriteThenMove(path, "PyTorch state_dict", file => laidOut.save_py(file, leaveOpen: true));
    }

    /// <summary>
    /// Loads a state_dict that PyTorch wrote with <c>torch.save(model.state_dict(), path)</c> into
    /// <paramref name="network"/>, after checking that the file has exactly the network's keys with the network's
    /// shapes. Unlike TorchSharp.PyBridge's <c>load_py</c>, a mismatch names the file and the key.
    /// </summary>
    /// <remarks>
    /// The whole file is read and checked before any parameter changes, so a refused file leaves the network as it
    /// was. Values are converted to each parameter's type and device. TorchSharp.PyBridge 1.4.4's
    /// <c>load_py(strict: true)</c> compares key names only and names no key, and a tensor with as many or fewer
    /// elements than its parameter loads there without an error.
    /// </remarks>
    /// <param name="network">The network to load into (its module names must be the state_dict's keys; for a <see cref="GraphNetwork"/>, the keys <see cref="ExportPyTorch(nn.Module{Tensor, Tensor}, string)"/> writes).</param>
    /// <param name="path">The file written by <c>torch.save</c> (the zip format, PyTorch 1.6 and later).</param>
    /// <exception cref="FileNotFoundException">The file does not exist; the message names it.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is not a PyTorch state_dict (an Ldrf network file, a truncated or corrupt file, another format, a
    /// pickled whole model), or a key is missing, unexpected or of another shape; the message names the file, and the
    /// first such key with both shapes.
    /// </exception>
    /// <exception cref="ArgumentException"><paramref name="network"/> is disposed.</exception>
    public static void LoadPyTorch(this nn.Module network, string path) => LoadChecked(network, path, ReadPyTorchStateDict);

    /// <summary>
    /// Loads a safetensors file (for example written by <c>safetensors.torch.save_file(model.state_dict(), path)</c>)
    /// into <paramref name="network"/>, after checking that the file has exactly the network's keys with the network's
    /// shapes: the twin of <see cref="LoadPyTorch"/> for TorchSharp.PyBridge's <c>load_safetensors</c>.
    /// </summary>
    /// <remarks>
    /// The whole file is read and checked before any parameter changes, so a refused file leaves the network as it
    /// was. Values are converted to each parameter's type and device.
    /// </remarks>
    /// <param name="network">The network to load into (its module names must be the file's keys; for a <see cref="GraphNetwork"/>, the keys <see cref="ExportPyTorch(nn.Module{Tensor, Tensor}, string)"/> writes).</param>
    /// <param name="path">The safetensors file.</param>
    /// <exception cref="FileNotFoundException">The file does not exist; the message names it.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is not a safetensors file (an Ldrf network file, a PyTorch zip file, a truncated or corrupt file), or a
    /// key is missing, unexpected or of another shape; the message names the file, and the first such key with both shapes.
    /// </exception>
    /// <exception cref="ArgumentException"><paramref name="network"/> is disposed.</exception>
    public static void LoadSafetensors(this nn.Module network, string path) => LoadChecked(network, path, ReadSafetensors);

    // Reads the file (refusing what is not of its format), checks keys and shapes, and only then copies.
    private static void LoadChecked(nn.Module network, string path, Func<string, Dictionary<string, Tensor>> read)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var target = network.state_dict();
        if (target.FirstOrDefault(kv => kv.Value.IsInvalid).Key is { } disposed)
        {
            throw new ArgumentException($"'{nameof(network)}' has been disposed: tensor '{disposed}' no longer has native storage.", nameof(network));
        }

        // A graph network's file keys are its nodes' PyTorch module paths where they mirror a PyTorch model.
        Func<string, string> fileKey = network is GraphNetwork graph ? graph.PyTorchKey : key => key;
        var loaded = read(path);
        try
        {
            CheckKeysAndShapes(target.ToDictionary(kv => fileKey(kv.Key), kv => kv.Value, StringComparer.Ordinal), loaded, path);
            NetworkReader.RestoreState(network, target.Keys.ToDictionary(key => key, key => loaded[fileKey(key)], StringComparer.Ordinal));
        }
        finally
        {
            foreach (var tensor in loaded.Values)
            {
                tensor.Dispose();
            }
        }
    }

    // Opens the file and reads its first bytes; a missing file or an Ldrf file given to a PyTorch loader is named here.
    private static FileStream OpenForeign(string path, string kind, Span<byte> head, out int read)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{kind} file '{path}' does not exist.", path);
        }

        var stream = File.OpenRead(path);
        read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (read >= Signature.Length && head[..Signature.Length].SequenceEqual(Signature))
        {
            stream.Dispose();
            throw new InvalidDataException($"'{path}' is an Ldrf network file (written by NetworkFile.SaveLdrf), not a {kind} file: load it with NetworkFile.LoadLdrf.");
        }

        stream.Position = 0;
        return stream;
    }

    // Every tensor of the file, on the CPU; anything that is not a torch.save state_dict is an InvalidDataException naming the file.
    private static Dictionary<string, Tensor> ReadPyTorchStateDict(string path)
    {
        Span<byte> head = stackalloc byte[Signature.Length];
        using var stream = OpenForeign(path, "PyTorch state_dict", head, out var read);

        // torch.save has written a zip archive since PyTorch 1.6; TorchSharp.PyBridge reads nothing else.
        if (read < 4 || !head[..4].SequenceEqual(ZipSignature))
        {
            throw new InvalidDataException(
                $"'{path}' is not a PyTorch state_dict file: it is {(read == 0 ? "empty" : "not the zip archive that torch.save writes")}. " +
                "Save the weights in Python with torch.save(model.state_dict(), path) (PyTorch 1.6 or later, default settings).");
        }

        return ReadTensors(path, "PyTorch state_dict", () =>
        {
            var table = PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true);
            var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (System.Collections.DictionaryEntry entry in table)
            {
                if (entry.Key is not string key || entry.Value is not Tensor tensor)
                {
                    throw new InvalidDataException($"entry '{entry.Key}' is a {entry.Value?.GetType().Name ?? "null"}, not a tensor");
                }

                tensors[key] = tensor;
            }

            return tensors;
        });
    }

    // A safetensors file: an 8-byte little-endian length N, N bytes of JSON (each tensor's dtype, shape and byte range),
    // then the tensors' bytes, exactly as many as the ranges cover. Checked here because PyBridge reads past a short file.
    private static Dictionary<string, Tensor> ReadSafetensors(string path)
    {
        Span<byte> head = stackalloc byte[Signature.Length];
        using var stream = OpenForeign(path, "safetensors", head, out var read);
        if (read >= 4 && head[..4].SequenceEqual(ZipSignature))
        {
            throw new InvalidDataException($"'{path}' is a PyTorch (torch.save) file, not a safetensors file: load it with NetworkFile.LoadPyTorch.");
        }

        var length = stream.Length;
        var jsonLength = read == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(head) : 0;
        if (read < 8 || jsonLength == 0 || jsonLength > (ulong)(length - 8) || jsonLength > int.MaxValue)
        {
            throw new InvalidDataException($"'{path}' is not a safetensors file (or is truncated): its first 8 bytes give a header of {jsonLength} bytes, but the file has {Math.Max(0, length - 8)} after them.");
        }

        long end = 0;
        try
        {
            var json = new byte[jsonLength];
            stream.Position = 8;
            stream.ReadExactly(json);
            using var header = JsonDocument.Parse(json);
            foreach (var entry in header.RootElement.EnumerateObject().Where(e => e.Name != "__metadata__"))
            {
                end = Math.Max(end, entry.Value.GetProperty("data_offsets")[1].GetInt64());
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or FormatException)
        {
            throw new InvalidDataException($"'{path}' is not a safetensors file: its header is not the JSON of one: {ex.Message}", ex);
        }

        var expected = 8 + (long)jsonLength + end;
        if (expected != length)
        {
            throw new InvalidDataException($"'{path}' is truncated or corrupt: its header describes {expected} bytes but the file has {length}.");
        }

        stream.Position = 0;
        return ReadTensors(path, "safetensors", () => Safetensors.LoadStateDict(stream, leaveOpen: true));
    }

    // Runs a third-party reader; whatever it throws becomes an InvalidDataException naming the file.
    private static Dictionary<string, Tensor> ReadTensors(string path, string kind, Func<Dictionary<string, Tensor>> read)
    {
        try
        {
            return read();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidDataException($"'{path}' is not a readable {kind} file (truncated, corrupt, or not a state_dict): {ex.Message}", ex);
        }
    }

    // The first difference in the network's order (then the file's extra keys in ordinal order), with the number of others.
    private static void CheckKeysAndShapes(Dictionary<string, Tensor> target, Dictionary<string, Tensor> loaded, string path)
    {
        var differences = new List<string>();
        foreach (var (key, tensor) in target)
        {
            if (!loaded.TryGetValue(key, out var source))
            {
                differences.Add($"it has no tensor '{key}', which the network has ({ShapeOf(tensor)})");
            }
            else if (!source.shape.SequenceEqual(tensor.shape))
            {
                differences.Add($"its tensor '{key}' is {ShapeOf(source)}, but the network's is {ShapeOf(tensor)}");
            }
        }

        foreach (var key in loaded.Keys.Where(k => !target.ContainsKey(k)).Order(StringComparer.Ordinal))
        {
            differences.Add($"it has a tensor '{key}' ({ShapeOf(loaded[key])}), which the network does not have");
        }

        if (differences.Count > 0)
        {
            var more = differences.Count > 1 ? $" ({differences.Count - 1} more keys differ)" : string.Empty;
            throw new InvalidDataException(
                $"'{path}' does not fit the network: {differences[0]}{more}. Build the network with the module names and sizes the state_dict was saved from.");
        }
    }

    private static string ShapeOf(Tensor tensor) => tensor.shape.Length == 0 ? "a scalar" : NetworkReader.Shape(tensor.shape);

    // Checks the signature, the version, the exact length and the SHA-256 before reading anything the hash covers,
    // then parses the description; returns the parameter type, the layers and the weights.
    private static (ScalarType Dtype, FileHeader Header, ArraySegment<byte> Weights) Verified(string path, byte[] bytes)
    {
        var signature = bytes.AsSpan(0, Math.Min(bytes.Length, Signature.Length));
        if (!signature.SequenceEqual(Signature.AsSpan(0, signature.Length)))
        {
            throw Invalid(path, "it does not start with the Ldrf network signature");
        }

        if (bytes.Length < HeaderBytes + SHA256.HashSizeInBytes)
        {
            throw Invalid(path, $"it is truncated: {bytes.Length} bytes, fewer than the {HeaderBytes + SHA256.HashSizeInBytes} of an empty file");
        }

        var version = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (version == 1)
        {
            throw Invalid(path, "its format version is 1, which this library no longer reads (version 1 did not check its architecture, " +
                $"so a corrupt file could load as another network); this library reads version {FormatVersion}: save the network again from the code that built it");
        }

        if (version < OldestReadVersion || version > FormatVersion)
        {
            throw Invalid(path, $"its format version is {version}, but this library reads versions {OldestReadVersion} to {FormatVersion}");
        }

        var jsonLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        var weightLength = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(16));
        if (jsonLength <= 0 || weightLength < 0 || weightLength > bytes.Length)
        {
            throw Invalid(path, $"it is truncated or corrupt: its header gives {jsonLength} bytes of description and {weightLength} bytes of weights");
        }

        var expected = HeaderBytes + (long)jsonLength + weightLength + SHA256.HashSizeInBytes;
        if (expected > bytes.Length)
        {
            throw Invalid(path, $"it is truncated or corrupt: its header describes {expected} bytes but the file has {bytes.Length}");
        }

        if (expected < bytes.Length)
        {
            throw Invalid(path, $"it has {bytes.Length - expected} bytes after the {expected} its header describes (appended data or a corrupt header)");
        }

        var content = bytes.AsSpan(0, bytes.Length - SHA256.HashSizeInBytes);
        if (!SHA256.HashData(content).AsSpan().SequenceEqual(bytes.AsSpan(content.Length)))
        {
            throw Invalid(path, "it is corrupt: its SHA-256 does not match its contents");
        }

        FileHeader header;
        try
        {
            header = JsonSerializer.Deserialize<FileHeader>(bytes.AsSpan(HeaderBytes, jsonLength), Json)
                ?? throw Invalid(path, "its description is empty");
        }
        catch (JsonException ex)
        {
            throw Invalid(path, "its architecture description is not valid JSON: " + ex.Message, ex);
        }

        if (header.Graph is { } graph)
        {
            if (CheckGraph(graph) is { } problem)
            {
                throw Invalid(path, "its graph description is inconsistent: " + problem);
            }
        }
        else if (header.Layers is null || header.Layers.Count == 0)
        {
            throw Invalid(path, "its description lists no layers");
        }

        if (!Enum.TryParse<ScalarType>(header.Dtype, out var dtype))
        {
            throw Invalid(path, $"its parameter type '{header.Dtype}' is unknown");
        }

        return (dtype, header, new ArraySegment<byte>(bytes, HeaderBytes + jsonLength, (int)weightLength));
    }

    // What a writer's bug could leave in a graph description (the hash rules out corruption): null parts, nodes that
    // read what no earlier node gives, repeated names, an output that is not a node.
    private static string? CheckGraph(GraphDescription graph)
    {
        if (graph.Input is null || graph.Output is null || graph.Nodes is null || graph.Nodes.Count == 0)
        {
            return "it lacks its input, its output or its nodes";
        }

        var known = new HashSet<string>(StringComparer.Ordinal) { graph.Input };
        foreach (var node in graph.Nodes)
        {
            if (node?.Op?.Path is null || node.Inputs is null)
            {
                return "a node lacks its operation or its inputs";
            }

            if (node.Inputs.FirstOrDefault(i => !known.Contains(i)) is { } unknown)
            {
                return $"node '{node.Name}' reads '{unknown}', which no earlier node gives";
            }

            if (!known.Add(node.Name) || node.Name.Contains('.', StringComparison.Ordinal))
            {
                return $"node name '{node.Name}' is repeated or contains '.'";
            }
        }

        return known.Contains(graph.Output) && graph.Output != graph.Input ? null : $"its output '{graph.Output}' is not a node";
    }

    // Writes under path + ".tmp" and then moves the file into place, so a crash never leaves a half-written file under
    // the real name; errors name the caller's path, not the temporary name, and leave no temporary file.
    internal static void WriteThenMove(string path, string kind, Action<FileStream> write)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null && !Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Cannot save the {kind} file '{path}': its folder '{folder}' does not exist.");
        }

        var temp = path + ".tmp";
        try
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
            {
                write(file);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var message = $"Cannot save the {kind} file '{path}': {ex.Message}";
            throw ex is UnauthorizedAccessException ? new UnauthorizedAccessException(message, ex) : new IOException(message, ex);
        }
        finally
        {
            // After a successful move there is nothing left to delete; Exists never throws, so this cannot hide the failure.
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    private static InvalidDataException Invalid(string path, string reason, Exception? inner = null) =>
        new($"'{path}' is not a valid Ldrf network file: {reason}.", inner);

    // Layers for a chain, Graph for a graph network (version 3).
    private sealed record FileHeader(
        string Dtype,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] List<LayerSpec>? Layers,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] GraphDescription? Graph = null);

    private sealed record GraphDescription(string Input, string Output, List<GraphNode> Nodes);
}
