using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Statistics;

/// <summary>
/// Streaming calibration statistics of one layer's C channels (the consumer's input), accumulated in
/// double precision over samples without keeping any activation.
/// </summary>
/// <remarks>
/// <para>
/// Each sample is one column (one image and pixel for a convolution). For a batch, <c>pruned</c> holds the
/// full-width activations a′ of the pruned-so-far network (C x n) and <c>original</c> the activations a of
/// the original network at the same inputs (C x n). The accumulator keeps
/// <c>PrunedGram = Σ a′a′ᵀ</c>, <c>Cross = Σ a′aᵀ</c>, <c>OriginalGram = Σ a aᵀ</c> (each C x C), the channel
/// sums <c>Σ a′</c> and <c>Σ a</c>, and the sample count N. Selection of the surviving set S happens later,
/// so the ridge system of docs/method.md §3 reads G = PrunedGram[S, S] and H = Cross[S, :].
/// When nothing has been pruned yet (the first layer, or a run without propagation) pass the same
/// matrix twice.
/// </para>
/// <para>
/// Statistics from disjoint shards of the data combine with <see cref="Merge"/> into the statistics of
/// the union (sums are associative; the result equals one pass up to the order of floating-point
/// additions, and exactly when the sums are exact). They serialize to a versioned binary format with a
/// checksum (<see cref="WriteTo"/>, <see cref="ReadFrom"/>).
/// </para>
/// <para>
/// Thread safety: every member may be called from several threads. The per-batch products are computed
/// outside the lock and added under it, so concurrent <see cref="Accumulate"/> calls are safe; the order
/// of the additions then depends on scheduling, so bit-for-bit reproducibility needs one writer (or one
/// instance per thread, merged in a fixed order). The matrices returned by the properties are copies
/// taken under the lock; <see cref="WriteTo"/> writes under the lock without a copy, so additions wait for
/// it. A pruner reads the sums in place, so do not accumulate into an instance while
/// it is being pruned with.
/// </para>
/// </remarks>
public sealed class ChannelStatistics
{
    private const string Magic = "LDRFSTAT";
    private const int FormatVersion = 1;
    private const int HeaderBytes = 8 + 4 + 4 + 8;

    // The largest C whose C x C matrix fits one .NET array (MathNet keeps a dense matrix in one); the
    // constructor and the reader share the bound.
    private static readonly int MaxChannels = (int)Math.Sqrt(Array.MaxLength);

    private readonly Matrix<double> _prunedGram;
    private readonly Matrix<double> _cross;
    private readonly Matrix<double> _originalGram;
    private readonly Vector<double> _prunedSum;
    private readonly Vector<double> _originalSum;
    private readonly INumericBackend _backend;
    private readonly object _gate = new();
    private long _sampleCount;

    /// <summary>Creates empty statistics for a layer with <paramref name="channels"/> channels.</summary>
    /// <param name="channels">The number of channels C (1 to 46,340, the most whose C x C matrix fits one array).</param>
    /// <param name="backend">Computes the per-batch products; defaults to <see cref="MathNetNumericBackend"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> is less than 1 or more than 46,340.</exception>
    public ChannelStatistics(int channels, INumericBackend? backend = null)
    {
        if (channels < 1 || channels > MaxChannels)
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels,
                $"'channels' must be at least 1 and at most {MaxChannels} (a C x C matrix must fit one array) but is {channels}.");
        }

        Channels = channels;
        _backend = backend ?? MathNetNumericBackend.Instance;
        _prunedGram = Matrix<double>.Build.Dense(channels, channels);
        _cross = Matrix<double>.Build.Dense(channels, channels);
        _originalGram = Matrix<double>.Build.Dense(channels, channels);
        _prunedSum = Vector<double>.Build.Dense(channels);
        _originalSum = Vector<double>.Build.Dense(channels);
    }

    /// <summary>The number of channels C.</summary>
    public int Channels { get; }

    /// <summary>The number of samples (columns) accumulated so far.</summary>
    public long SampleCount
    {
        get
        {
            lock (_gate)
            {
                return _sampleCount;
            }
        }
    }

    /// <summary>Σ a′a′ᵀ over samples (C x C), a′ being the pruned-so-far network's activations. A copy.</summary>
    public Matrix<double> PrunedGram => Locked(() => _prunedGram.Clone());

    /// <summary>Σ a′aᵀ over samples (C x C): rows index the pruned network's channels, columns the original's. A copy.</summary>
    public Matrix<double> Cross => Locked(() => _cross.Clone());

    /// <summary>Σ a aᵀ over samples (C x C), a being the original network's activations. A copy.</summary>
    public Matrix<double> OriginalGram => Locked(() => _originalGram.Clone());

    /// <summary>Σ a′ over samples (length C). A copy.</summary>
    public Vector<double> PrunedSum => Locked(() => _prunedSum.Clone());

    /// <summary>Σ a over samples (length C). A copy.</summary>
    public Vector<double> OriginalSum => Locked(() => _originalSum.Clone());

    // Internal read-only views for the algorithm (no copies); callers inside the library never mutate them.
    internal Matrix<double> PrunedGramView => _prunedGram;

    internal Matrix<double> CrossView => _cross;

    internal Matrix<double> OriginalGramView => _originalGram;

    internal Vector<double> PrunedSumView => _prunedSum;

    internal Vector<double> OriginalSumView => _originalSum;

    /// <summary>Adds one batch of samples.</summary>
    /// <param name="pruned">The pruned-so-far network's activations, C x n (one column per sample).</param>
    /// <param name="original">The original network's activations at the same inputs, C x n.</param>
    /// <exception cref="ArgumentException">Sizes disagree, a batch is empty, or an entry is NaN or infinite.</exception>
    public void Accumulate(Matrix<double> pruned, Matrix<double> original)
    {
        Guard.NotNull(pruned, nameof(pruned));
        Guard.NotNull(original, nameof(original));
        Guard.Rows(pruned, Channels, nameof(pruned), "one row per channel of these statistics");
        Guard.Rows(original, Channels, nameof(original), "one row per channel of these statistics");
        if (original.ColumnCount != pruned.ColumnCount)
        {
            throw new ArgumentException(
                $"'original' is {Guard.Shape(original)} but 'pruned' is {Guard.Shape(pruned)}: both must hold the same samples (columns).",
                nameof(original));
        }

        if (pruned.ColumnCount == 0)
        {
            throw new ArgumentException($"'pruned' has zero samples ({Guard.Shape(pruned)}); a batch needs at least one column.", nameof(pruned));
        }

        Guard.Finite(pruned, nameof(pruned));
        Guard.Finite(original, nameof(original));

        var prunedGram = _backend.MultiplyTransposed(pruned, pruned);
        var cross = ReferenceEquals(pruned, original) ? prunedGram : _backend.MultiplyTransposed(pruned, original);
        var originalGram = ReferenceEquals(pruned, original) ? prunedGram : _backend.MultiplyTransposed(original, original);
        var ones = Vector<double>.Build.Dense(pruned.ColumnCount, 1.0);
        Add(prunedGram, cross, originalGram, pruned * ones, original * ones, pruned.ColumnCount);
    }

    /// <summary>
    /// Adds sums that an accelerator computed itself (for example on a GPU) for <paramref name="samples"/>
    /// samples: the same quantities <see cref="Accumulate"/> would have added.
    /// </summary>
    /// <param name="prunedGram">Σ a′a′ᵀ, C x C.</param>
    /// <param name="cross">Σ a′aᵀ, C x C.</param>
    /// <param name="originalGram">Σ a aᵀ, C x C.</param>
    /// <param name="prunedSum">Σ a′, length C.</param>
    /// <param name="originalSum">Σ a, length C.</param>
    /// <param name="samples">The number of samples summed (at least 1).</param>
    /// <exception cref="ArgumentException">Sizes disagree, <paramref name="samples"/> is not positive, or an entry is not finite.</exception>
    public void AddSums(Matrix<double> prunedGram, Matrix<double> cross, Matrix<double> originalGram,
        Vector<double> prunedSum, Vector<double> originalSum, long samples)
    {
        CheckSquare(prunedGram, nameof(prunedGram));
        CheckSquare(cross, nameof(cross));
        CheckSquare(originalGram, nameof(originalGram));
        CheckVector(prunedSum, nameof(prunedSum));
        CheckVector(originalSum, nameof(originalSum));
        if (samples < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(samples), samples, $"'samples' must be at least 1 but is {samples}.");
        }

        Add(prunedGram, cross, originalGram, prunedSum, originalSum, samples);
    }

    /// <summary>
    /// Adds <paramref name="other"/>'s sums into this instance (in place) and returns this instance, so
    /// that statistics of disjoint shards become the statistics of their union.
    /// </summary>
    /// <param name="other">Statistics of the same layer (same channel count); left unchanged.</param>
    /// <returns>This instance.</returns>
    /// <exception cref="ArgumentException">The channel counts differ.</exception>
    public ChannelStatistics Merge(ChannelStatistics other)
    {
        Guard.NotNull(other, nameof(other));
        if (other.Channels != Channels)
        {
            throw new ArgumentException(
                $"'other' has {other.Channels} channels but these statistics have {Channels}; only statistics of the same layer merge.",
                nameof(other));
        }

        if (ReferenceEquals(other, this))
        {
            throw new ArgumentException("'other' is this instance; merge a separate shard (or use Clone() first).", nameof(other));
        }

        // Snapshot the other instance under its own lock, then add under ours: never two locks at once.
        var snapshot = other.Clone();
        if (snapshot._sampleCount > 0)
        {
            Add(snapshot._prunedGram, snapshot._cross, snapshot._originalGram, snapshot._prunedSum, snapshot._originalSum, snapshot._sampleCount);
        }

        return this;
    }

    /// <summary>Returns an independent copy.</summary>
    public ChannelStatistics Clone()
    {
        var copy = new ChannelStatistics(Channels, _backend);
        lock (_gate)
        {
            _prunedGram.CopyTo(copy._prunedGram);
            _cross.CopyTo(copy._cross);
            _originalGram.CopyTo(copy._originalGram);
            _prunedSum.CopyTo(copy._prunedSum);
            _originalSum.CopyTo(copy._originalSum);
            copy._sampleCount = _sampleCount;
        }

        return copy;
    }

    /// <summary>
    /// Writes the statistics in a binary format: the ASCII magic <c>LDRFSTAT</c>, a format version (int32),
    /// C (int32), N (int64), then PrunedGram, Cross, OriginalGram (row-major), PrunedSum, OriginalSum as
    /// little-endian IEEE doubles, and a 64-bit FNV-1a checksum of everything before it. Doubles are
    /// written bit for bit, so a round trip is exact. The data goes out a block at a time, so any channel
    /// count the constructor accepts can be written (the body is 8(3C² + 2C) bytes: 2.4 GB for 10,000 channels).
    /// </summary>
    /// <param name="stream">A writable stream; left open.</param>
    public void WriteTo(Stream stream)
    {
        Guard.NotNull(stream, nameof(stream));
        if (!stream.CanWrite)
        {
            throw new ArgumentException("'stream' is not writable.", nameof(stream));
        }

        RequireLittleEndian();

        // Written under the lock rather than from a copy: the statistics can be gigabytes.
        lock (_gate)
        {
            var header = new byte[HeaderBytes];
            Encoding.ASCII.GetBytes(Magic, header);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), FormatVersion);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), Channels);
            BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), _sampleCount);
            stream.Write(header);

            var body = new Body(Channels, Fnv1a(header));
            foreach (var (values, rows) in Parts())
            {
                body.Write(stream, values, rows);
            }

            Span<byte> checksum = stackalloc byte[sizeof(ulong)];
            BinaryPrimitives.WriteUInt64LittleEndian(checksum, body.Hash);
            stream.Write(checksum);
        }
    }

    /// <summary>Reads statistics written by <see cref="WriteTo"/>, validating the header, sizes, checksum and values.</summary>
    /// <param name="stream">
    /// A readable stream positioned at the start of the record; left open. When it can seek, a header that
    /// claims more data than the stream holds is refused before anything is allocated.
    /// </param>
    /// <param name="backend">The backend the returned instance uses for further accumulation.</param>
    /// <exception cref="InvalidDataException">
    /// The stream is truncated, corrupt, of another format, of an unsupported version, or claims more channels
    /// than a C x C matrix can hold (46,340); the message names the file when the stream is a <see cref="FileStream"/>.
    /// </exception>
    public static ChannelStatistics ReadFrom(Stream stream, INumericBackend? backend = null)
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

        // Refuse what the constructor cannot hold; the length check below refuses a claim the stream cannot back.
        if (channels < 1 || channels > MaxChannels || samples < 0)
        {
            throw Invalid(source, string.Create(CultureInfo.InvariantCulture,
                $"the header is corrupt: {channels} channels (1 to {MaxChannels} can be held), {samples} samples"));
        }

        var dataBytes = BodyBytes(channels) + sizeof(ulong);
        var what = string.Create(CultureInfo.InvariantCulture, $"the data of {channels} channels and its checksum");
        if (stream.CanSeek && stream.Length - stream.Position < dataBytes)
        {
            throw Truncated(source, what, dataBytes, stream.Length - stream.Position);
        }

        var stats = new ChannelStatistics(channels, backend);
        var body = new Body(channels, Fnv1a(header));
        foreach (var (values, rows) in stats.Parts())
        {
            body.Read(stream, values, rows, source, what, dataBytes);
        }

        var checksum = new byte[sizeof(ulong)];
        ReadExactly(stream, checksum, source, what, dataBytes - sizeof(ulong), dataBytes);
        if (body.Hash != BinaryPrimitives.ReadUInt64LittleEndian(checksum))
        {
            throw Invalid(source, "the checksum does not match the data, so they are corrupt");
        }

        foreach (var (values, _) in stats.Parts())
        {
            foreach (var v in values)
            {
                if (!double.IsFinite(v))
                {
                    throw Invalid(source, "they hold NaN or infinite values");
                }
            }
        }

        stats._sampleCount = samples;
        return stats;
    }

    /// <summary>Rejects statistics with no samples; used before any solve. <paramref name="paramName"/> is the caller's argument that carries them.</summary>
    internal void EnsureSamples(string? layer, string paramName)
    {
        if (SampleCount == 0)
        {
            throw new ArgumentException(
                Guard.Prefix(layer) + $"the channel statistics ({Channels} channels) have zero samples; accumulate calibration data first.",
                paramName);
        }
    }

    private void Add(Matrix<double> prunedGram, Matrix<double> cross, Matrix<double> originalGram,
        Vector<double> prunedSum, Vector<double> originalSum, long samples)
    {
        lock (_gate)
        {
            _prunedGram.Add(prunedGram, _prunedGram);
            _cross.Add(cross, _cross);
            _originalGram.Add(originalGram, _originalGram);
            _prunedSum.Add(prunedSum, _prunedSum);
            _originalSum.Add(originalSum, _originalSum);
            _sampleCount = checked(_sampleCount + samples);
        }
    }

    private T Locked<T>(Func<T> read)
    {
        lock (_gate)
        {
            return read();
        }
    }

    private void CheckSquare(Matrix<double> m, string name)
    {
        Guard.NotNull(m, name);
        if (m.RowCount != Channels || m.ColumnCount != Channels)
        {
            throw new ArgumentException($"'{name}' is {Guard.Shape(m)} but must be {Channels} x {Channels} (the channel count).", name);
        }

        Guard.Finite(m, name);
    }

    private void CheckVector(Vector<double> v, string name)
    {
        Guard.NotNull(v, name);
        if (v.Count != Channels)
        {
            throw new ArgumentException($"'{name}' has length {v.Count} but must have length {Channels} (the channel count).", name);
        }

        Guard.Finite(v, name);
    }

    // The body in file order, as column-major storage with its row count: the three C x C matrices, then the
    // two sums (a vector is a 1 x C matrix in this view).
    private (double[] Values, int Rows)[] Parts() =>
    [
        (_prunedGram.AsColumnMajorArray(), Channels),
        (_cross.AsColumnMajorArray(), Channels),
        (_originalGram.AsColumnMajorArray(), Channels),
        (_prunedSum.AsArray(), 1),
        (_originalSum.AsArray(), 1),
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
    /// time, hashing as it goes: the body is 8(3C² + 2C) bytes, more than one array or MemoryStream holds.
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
