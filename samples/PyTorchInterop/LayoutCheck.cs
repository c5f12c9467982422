using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Serialization;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// The .NET side of layout_check.py: the CNN with batch norms (<see cref="FashionCnn.CreateWithBatchNorm"/>), pruned,
/// exported with <c>ExportPyTorch(path, layoutOf: original)</c>, and the check images with the pruned network's outputs
/// on them as .npy files, so that PyTorch can load the export into its own class and compare.
/// </summary>
internal static class LayoutCheck
{
    /// <summary>Widths the default channel multiple (16) can halve.</summary>
    public static readonly FashionCnn.Widths Original = new(32, 64, 64, 64);

    public const string StateDictFile = "fashion-cnn-bn-pruned.pt";
    public const string InputsFile = "inputs.npy";
    public const string OutputsFile = "outputs.npy";

    /// <summary>Writes the three files into <paramref name="folder"/> (created if missing) and returns the pruned widths.</summary>
    /// <param name="folder">Where to write.</param>
    /// <param name="calibration">Batches of N x 1 x 28 x 28 images: the batch norms' statistics and the pruner's calibration.</param>
    /// <param name="inputs">The images to compare on, N x 1 x 28 x 28.</param>
    public static FashionCnn.Widths Write(string folder, IReadOnlyList<Tensor> calibration, Tensor inputs)
    {
        Directory.CreateDirectory(folder);
        torch.random.manual_seed(1);
        using var original = FashionCnn.CreateWithBatchNorm(Original);
        // Untrained, but with running statistics of real images, so that folding and unfolding are not trivial.
        original.train();
        using (torch.no_grad())
        {
            foreach (var batch in calibration)
            {
                original.forward(batch).Dispose();
            }
        }

        original.eval();
        var options = new NetworkPruningOptions { TargetFlopsReduction = 2.0, UseCapacityBounds = false, MeasureLatency = false };
        using var result = new TorchSharpPruner().Prune(original, calibration, options);
        result.Network.ExportPyTorch(Path.Combine(folder, StateDictFile), layoutOf: original);
        WriteNpy(Path.Combine(folder, InputsFile), inputs);
        using (torch.no_grad())
        using (var outputs = result.Network.forward(inputs))
        {
            WriteNpy(Path.Combine(folder, OutputsFile), outputs);
        }

        return FashionCnn.WidthsOf(result.Network);
    }

    // NumPy's .npy format, version 1.0, for a float32 tensor: magic, version, header length, a Python dict literal
    // padded to a multiple of 64 bytes, then the values in C order, little-endian.
    private static void WriteNpy(string path, Tensor tensor)
    {
        using var values = tensor.detach().to(ScalarType.Float32).cpu().contiguous();
        var shape = string.Join(", ", values.shape.Select(s => s.ToString(CultureInfo.InvariantCulture))) + (values.shape.Length == 1 ? "," : string.Empty);
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({shape}), }}";
        var padded = header.PadRight(((10 + header.Length + 1 + 63) / 64 * 64) - 10 - 1) + "\n";
        using var file = File.Create(path);
        file.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)padded.Length);
        file.Write(length);
        file.Write(Encoding.ASCII.GetBytes(padded));
        var data = values.data<float>().ToArray();
        var bytes = new byte[data.Length * sizeof(float)];
        for (var i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), data[i]);
        }

        file.Write(bytes);
    }
}
