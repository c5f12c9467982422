using System.Buffers.Binary;
using System.IO.Compression;

namespace Ldrf.Samples.Common.Data;

/// <summary>
/// Reads and writes the IDX format used by MNIST and Fashion-MNIST: a big-endian header
/// (magic 0x00000803 for 3-D unsigned-byte image files, 0x00000801 for 1-D label files, then one
/// 32-bit size per dimension) followed by the raw bytes. Files ending in <c>.gz</c> are gzip'd.
/// </summary>
public static class IdxFile
{
    /// <summary>Magic number of an IDX3 unsigned-byte file (images: count x rows x columns).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an IDX1 unsigned-byte file (labels: count).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Reads an IDX3 image file.</summary>
    /// <param name="path">Path of the file; gzip'd when it ends in <c>.gz</c>.</param>
    /// <returns>The raw pixels (row-major, image after image) and the dimensions.</returns>
    /// <exception cref="InvalidDataException">Wrong magic number, implausible dimensions or a truncated file.</exception>
    public static IdxImages ReadImages(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = OpenRead(path);
        var header = ReadHeader(stream, path, ImagesMagic, 3);
        int count = header[0], rows = header[1], columns = header[2];
        if (rows <= 0 || columns <= 0 || rows > 4096 || columns > 4096)
        {
            throw new InvalidDataException($"IDX file '{path}': image size {rows} x {columns} is not plausible.");
        }

        long total = (long)count * rows * columns;
        if (total > Array.MaxLength)
        {
            throw new InvalidDataException($"IDX file '{path}': {count} images of {rows} x {columns} do not fit in one array.");
        }

        var pixels = new byte[total];
        ReadExactly(stream, pixels, path, $"{count} images of {rows} x {columns} = {total} pixel bytes");
        return new IdxImages(pixels, count, rows, columns);
    }

    /// <summary>Reads an IDX1 label file.</summary>
    /// <param name="path">Path of the file; gzip'd when it ends in <c>.gz</c>.</param>
    /// <returns>One byte per label.</returns>
    /// <exception cref="InvalidDataException">Wrong magic number or a truncated file.</exception>
    public static byte[] ReadLabels(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = OpenRead(path);
        var header = ReadHeader(stream, path, LabelsMagic, 1);
        var labels = new byte[header[0]];
        ReadExactly(stream, labels, path, $"{header[0]} label bytes");
        return labels;
    }

    /// <summary>Writes an IDX3 image file (gzip'd when <paramref name="path"/> ends in <c>.gz</c>).</summary>
    /// <param name="path">Destination path; its folder must exist.</param>
    /// <param name="pixels">Pixels, image after image, row-major; length must be count x rows x columns.</param>
    /// <param name="count">Number of images.</param>
    /// <param name="rows">Image height.</param>
    /// <param name="columns">Image width.</param>
    public static void WriteImages(string path, ReadOnlySpan<byte> pixels, int count, int rows, int columns)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        if (pixels.Length != (long)count * rows * columns)
        {
            throw new ArgumentException(
                $"pixels has {pixels.Length} bytes but {count} images of {rows} x {columns} need {(long)count * rows * columns}.",
                nameof(pixels));
        }

        using var stream = OpenWrite(path);
        WriteHeader(stream, ImagesMagic, count, rows, columns);
        stream.Write(pixels);
    }

    /// <summary>Writes an IDX1 label file (gzip'd when <paramref name="path"/> ends in <c>.gz</c>).</summary>
    /// <param name="path">Destination path; its folder must exist.</param>
    /// <param name="labels">One byte per label.</param>
    public static void WriteLabels(string path, ReadOnlySpan<byte> labels)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = OpenWrite(path);
        WriteHeader(stream, LabelsMagic, labels.Length);
        stream.Write(labels);
    }

    private static Stream OpenRead(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        }

        Stream file = File.OpenRead(path);
        return IsGzip(path) ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    private static Stream OpenWrite(string path)
    {
        Stream file = File.Create(path);
        // Optimal level is deterministic for the same input, so the shipped subset is reproducible byte for byte.
        return IsGzip(path) ? new GZipStream(file, CompressionLevel.Optimal) : file;
    }

    private static bool IsGzip(string path) => path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

    private static int[] ReadHeader(Stream stream, string path, int expectedMagic, int dimensions)
    {
        // The magic number first, so a file of the other kind is reported as such rather than as truncated.
        var magicBytes = new byte[4];
        ReadExactly(stream, magicBytes, path, "a 4-byte IDX magic number");
        int magic = BinaryPrimitives.ReadInt32BigEndian(magicBytes);
        if (magic != expectedMagic)
        {
            throw new InvalidDataException(
                $"IDX file '{path}': magic number 0x{magic:X8} found, 0x{expectedMagic:X8} expected " +
                $"({(expectedMagic == ImagesMagic ? "IDX3 unsigned-byte images" : "IDX1 unsigned-byte labels")}).");
        }

        var bytes = new byte[4 * dimensions];
        ReadExactly(stream, bytes, path, $"{dimensions} dimension sizes in the IDX header");
        var sizes = new int[dimensions];
        for (int i = 0; i < dimensions; i++)
        {
            sizes[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 * i));
            if (sizes[i] < 0)
            {
                throw new InvalidDataException($"IDX file '{path}': dimension {i} has negative size {sizes[i]}.");
            }
        }

        return sizes;
    }

    private static void WriteHeader(Stream stream, int magic, params int[] sizes)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, magic);
        stream.Write(word);
        foreach (int size in sizes)
        {
            BinaryPrimitives.WriteInt32BigEndian(word, size);
            stream.Write(word);
        }
    }

    private static void ReadExactly(Stream stream, byte[] buffer, string path, string what)
    {
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (read < buffer.Length)
        {
            throw new InvalidDataException($"IDX file '{path}' is truncated: expected {what}, found only {read} bytes.");
        }
    }
}

/// <summary>Images read from an IDX3 file: raw bytes and their dimensions.</summary>
/// <param name="Pixels">Pixels, image after image, row-major.</param>
/// <param name="Count">Number of images.</param>
/// <param name="Rows">Image height.</param>
/// <param name="Columns">Image width.</param>
public sealed record IdxImages(byte[] Pixels, int Count, int Rows, int Columns);
