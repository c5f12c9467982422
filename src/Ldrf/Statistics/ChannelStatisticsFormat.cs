using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Statistics;

/// <summary>
/// The binary file format of <see cref="ChannelStatistics"/>, version 1: the ASCII magic <c>LDRFSTAT</c>, the
/// format version (int32), C (int32), N (int64), then PrunedGram, Cross, OriginalGram (row-major), PrunedSum and
/// OriginalSum as little-endian IEEE doubles, and a 64-bit FNV-1a checksum of everything before it.
/// </summary>
/// <remarks>
/// The body (8(3C² + 2C) bytes, 2.4 GB at C = 10,000) is more than one array or MemoryStream holds, so it moves
/// through one bounded buffer a block of rows at a time, hashed on the way.
/// </remarks>
internal static class ChannelStatisticsFormat
{
    private const string Magic = "LDRFSTAT";
    private const int FormatVersion = 1;
    private const int HeaderBytes = 8 + 4 + 4 + 8;

    /// <summary>Writes <paramref name="statistics"/> to <paramref name="stream"/> (left open).</summary>
    public static void Write(ChannelStatistics statistics, Stream stream)
    {
        Guard.NotNull(stream, nameof(stream));
        if (!stream.CanWrite)
        {
            throw new ArgumentException("'stream' is not writable.", nameof(stream));
        }

        RequireLittleEndian();
        var header = new byte[HeaderBytes];
        Encoding.ASCII.GetBytes(Magic, header);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), statistics.Channels);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), statistics.SampleCount);
        stream.Write(header);

        // The statistics never change, so they are written in place, without a copy.
        var body = new Body(statistics.Channels, Fnv1a(header));
        foreach (var (values, rows) in Parts(statistics.PrunedGramView, statistics.CrossView, statistics.OriginalGramView, statistics.PrunedSumView, statistics.OriginalSumView))
        {
            body.Write(stream, values, rows);
        }

        Span<byte> checksum = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64LittleEndian(checksum, body.Hash);
        stream.Write(checksum);
    }

    /// <summary>Reads statistics written by <see cref="Write"/>, validating the header, sizes, checksum and values.</summary>
    public static ChannelStatistics Read(Stream stream)
    {
        Guard.NotNull(stream, nameof(stream));
        if (!stream.CanRead)
        {
            throw new ArgumentException("'stream' is not readable.", nameof(stream));
        }

        RequireLittleEndian();
        var source = stream is FileStream file ? $"'{file.Name}'" : "the stream";
        var header = new byte[HeaderBytes];
        ReadExactly(stream, header, source, "the header", 0, HeaderBytes);
        if (Encoding.ASCII.GetString(header, 0, 8) != Magic)
        {
            throw Invalid(source, "the 'LDRFSTAT' magic is missing, so it does not hold LDRF channel statistics");
        }

        var version = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        var channels = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(12));
        var samples = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(16));
        if (version != FormatVersion)
        {
            throw Invalid(source, string.Create(CultureInfo.InvariantCulture, $"format version {version} is not supported; this library reads version {FormatVersion}"));
        }

        // Refuse what no statistics can hold; the length check below refuses a claim the stream cannot back.
        if (channels < 1 || channels > ChannelStatistics.MaxChannels || samples < 0)
        {
            throw Invalid(source, string.Create(CultureInfo.InvariantCulture,
                $"the header is corrupt: {channels} channels (1 to {ChannelStatistics.MaxChannels} can be held), {samples} samples"));
        }

        var dataBytes = BodyBytes(channels) + sizeof(ulong);
        var what = string.Create(CultureInfo.InvariantCulture, $"the data of {channels} channels and its checksum");
        if (stream.CanSeek && stream.Length - stream.Position < dataBytes)
        {
            throw Truncated(source, what, dataBytes, stream.Length - stream.Position);
        }

        var prunedGram = Matrix<double>.Build.Dense(channels, channels);
        var cross = Matrix<double>.Build.Dense(channels, channels);
        var originalGram = Matrix<double>.Build.Dense(channels, channels);
        var prunedSum = Vector<double>.Build.Dense(channels);
        var originalSum = Vector<double>.Build.Dense(channels);
        var parts = Parts(prunedGram, cross, originalGram, prunedSum, originalSum);
        var body = new Body(channels, Fnv1a(header));
        foreach (var (values, rows) in parts)
        {
            body.Read(stream, values, rows, source, what, dataBytes);
        }

        var checksum = new byte[sizeof(ulong)];
        ReadExactly(stream, checksum, source, what, dataBytes - sizeof(ulong), dataBytes);
        if (body.Hash != BinaryPrimitives.ReadUInt64LittleEndian(checksum))
        {
            throw Invalid(source, "the checksum does not match the data, so they are corrupt");
        }

        foreach (var (values, _) in parts)
        {
            foreach (var v in values)
            {
                if (!double.IsFinite(v))
                {
                    throw Invalid(source, "they hold NaN or infinite values");
                }
            }
        }

        return new ChannelStatistics(prunedGram, cross, originalGram, prunedSum, originalSum, samples);
    }

    // The body in file order, as column-major storage with its row count: the three C x C matrices, then the
    // two sums (a vector is a 1 x C matrix in this view).
    private static (double[] Values, int Rows)[] Parts(Matrix<double> prunedGram, Matrix<double> cross, Matrix<double> originalGram,
        Vector<double> prunedSum, Vector<double> originalSum) =>
    [
        (prunedGram.AsColumnMajorArray(), prunedGram.RowCount),
        (cross.AsColumnMajorArray(), cross.RowCount),
        (originalGram.AsColumnMajorArray(), originalGram.RowCount),
        (prunedSum.AsArray(), 1),
        (originalSum.AsArray(), 1),
    ];

    private static long BodyBytes(int channels) => ((3L * channels * channels) + (2L * channels)) * sizeof(double);

    private static void RequireLittleEndian()
    {
        // The body is copied between doubles and bytes as they are in memory.
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Reading or writing channel statistics requires a little-endian platform.");
        }
    }

    private static InvalidDataException Invalid(string source, string reason) =>
        new($"The channel statistics in {source} are not valid: {reason}.");

    private static InvalidDataException Truncated(string source, string what, long needed, long left) =>
        Invalid(source, string.Create(CultureInfo.InvariantCulture, $"{source} is truncated: {needed} bytes are needed for {what} but only {left} are left"));

    // Fills `bytes` from the stream; `done` of `needed` bytes of `what` were read before, for the message.
    private static void ReadExactly(Stream stream, Span<byte> bytes, string source, string what, long done, long needed)
    {
        var read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        if (read < bytes.Length)
        {
            throw Truncated(source, what, needed, done + read);
        }
    }

    private static ulong Fnv1a(ReadOnlySpan<byte> data, ulong hash = 14695981039346656037UL)
    {
        foreach (var b in data)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    /// <summary>
    /// Moves the body between the statistics and a stream through one bounded buffer, a block of rows at a
    /// time, hashing as it goes.
    /// </summary>
    private sealed class Body(int columns, ulong hash)
    {
        private const int BufferDoubles = 1 << 17;

        private readonly double[] _buffer = new double[BufferDoubles];
        private long _done;

        public ulong Hash { get; private set; } = hash;

        public void Write(Stream stream, double[] values, int rows)
        {
            for (var first = 0; first < rows; first += BlockRows)
            {
                var block = Block(rows, first);
                var count = block.Length / columns;
                for (var j = 0; j < columns; j++)
                {
                    for (var r = 0; r < count; r++)
                    {
                        block[(r * columns) + j] = values[(j * rows) + first + r];
                    }
                }

                var bytes = MemoryMarshal.AsBytes(block);
                Hash = Fnv1a(bytes, Hash);
                stream.Write(bytes);
            }
        }

        public void Read(Stream stream, double[] values, int rows, string source, string what, long needed)
        {
            for (var first = 0; first < rows; first += BlockRows)
            {
                var block = Block(rows, first);
                var bytes = MemoryMarshal.AsBytes(block);
                ReadExactly(stream, bytes, source, what, _done, needed);
                _done += bytes.Length;
                Hash = Fnv1a(bytes, Hash);
                var count = block.Length / columns;
                for (var j = 0; j < columns; j++)
                {
                    for (var r = 0; r < count; r++)
                    {
                        values[(j * rows) + first + r] = block[(r * columns) + j];
                    }
                }
            }
        }

        // Whole rows per block, so that each column of the column-major storage is read a few entries at a time.
        private int BlockRows => BufferDoubles / columns;

        private Span<double> Block(int rows, int first) => _buffer.AsSpan(0, Math.Min(BlockRows, rows - first) * columns);
    }
}
