using System.Globalization;
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
/// so the ridge system of ldrf-method.md §3 reads G = PrunedGram[S, S] and H = Cross[S, :].
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
/// taken under the lock. A pruner reads the sums in place, so do not accumulate into an instance while
/// it is being pruned with.
/// </para>
/// </remarks>
public sealed class ChannelStatistics
{
    private const string Magic = "LDRFSTAT";
    private const int FormatVersion = 1;

    private readonly Matrix<double> _prunedGram;
    private readonly Matrix<double> _cross;
    private readonly Matrix<double> _originalGram;
    private readonly Vector<double> _prunedSum;
    private readonly Vector<double> _originalSum;
    private readonly INumericBackend _backend;
    private readonly object _gate = new();
    private long _sampleCount;

    /// <summary>Creates empty statistics for a layer with <paramref name="channels"/> channels.</summary>
    /// <param name="channels">The number of channels C (at least 1).</param>
    /// <param name="backend">Computes the per-batch products; defaults to <see cref="MathNetNumericBackend"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> is less than 1.</exception>
    public ChannelStatistics(int channels, INumericBackend? backend = null)
    {
        if (channels < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, $"'channels' must be at least 1 but is {channels}.");
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
    /// written bit for bit, so a round trip is exact.
    /// </summary>
    /// <param name="stream">A writable stream; left open.</param>
    public void WriteTo(Stream stream)
    {
        Guard.NotNull(stream, nameof(stream));
        if (!stream.CanWrite)
        {
            throw new ArgumentException("'stream' is not writable.", nameof(stream));
        }

        var snapshot = Clone();
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.ASCII, leaveOpen: true))
        {
            writer.Write(Encoding.ASCII.GetBytes(Magic));
            writer.Write(FormatVersion);
            writer.Write(Channels);
            writer.Write(snapshot._sampleCount);
            WriteMatrix(writer, snapshot._prunedGram);
            WriteMatrix(writer, snapshot._cross);
            WriteMatrix(writer, snapshot._originalGram);
            WriteVector(writer, snapshot._prunedSum);
            WriteVector(writer, snapshot._originalSum);
        }

        var payload = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        stream.Write(payload);
        Span<byte> checksum = stackalloc byte[8];
        BitConverter.TryWriteBytes(checksum, Fnv1a(payload));
        if (!BitConverter.IsLittleEndian)
        {
            checksum.Reverse();
        }

        stream.Write(checksum);
    }

    /// <summary>Reads statistics written by <see cref="WriteTo"/>, validating the header, sizes, checksum and values.</summary>
    /// <param name="stream">A readable stream positioned at the start of the record; left open.</param>
    /// <param name="backend">The backend the returned instance uses for further accumulation.</param>
    /// <exception cref="InvalidDataException">The stream is truncated, corrupt, of another format, or of an unsupported version.</exception>
    public static ChannelStatistics ReadFrom(Stream stream, INumericBackend? backend = null)
    {
        Guard.NotNull(stream, nameof(stream));
        if (!stream.CanRead)
        {
            throw new ArgumentException("'stream' is not readable.", nameof(stream));
        }

        var header = ReadExactly(stream, 8 + 4 + 4 + 8, "the header");
        if (Encoding.ASCII.GetString(header, 0, 8) != Magic)
        {
            throw new InvalidDataException("The stream does not hold LDRF channel statistics (the 'LDRFSTAT' magic is missing).");
        }

        var version = BitConverter.ToInt32(header, 8);
        var channels = BitConverter.ToInt32(header, 12);
        var samples = BitConverter.ToInt64(header, 16);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Channel statistics format version {version} is not supported; this library reads version {FormatVersion}.");
        }

        // Bound C so that a corrupt header cannot request an absurd allocation.
        if (channels < 1 || channels > 65536 || samples < 0)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"The channel statistics header is corrupt: {channels} channels, {samples} samples."));
        }

        var bodyBytes = checked(((3L * channels * channels) + (2L * channels)) * sizeof(double));
        var body = ReadExactly(stream, (int)bodyBytes, string.Create(CultureInfo.InvariantCulture, $"the data of {channels} channels ({bodyBytes} bytes)"));
        var checksumBytes = ReadExactly(stream, 8, "the checksum");
        var expected = BitConverter.ToUInt64(checksumBytes, 0);
        var hash = Fnv1a(header);
        hash = Fnv1a(body, hash);
        if (hash != expected)
        {
            throw new InvalidDataException("The channel statistics are corrupt: the checksum does not match the data.");
        }

        var stats = new ChannelStatistics(channels, backend);
        var offset = 0;
        ReadMatrix(body, ref offset, stats._prunedGram);
        ReadMatrix(body, ref offset, stats._cross);
        ReadMatrix(body, ref offset, stats._originalGram);
        ReadVector(body, ref offset, stats._prunedSum);
        ReadVector(body, ref offset, stats._originalSum);
        stats._sampleCount = samples;
        var values = stats._prunedGram.Enumerate().Concat(stats._cross.Enumerate()).Concat(stats._originalGram.Enumerate())
            .Concat(stats._prunedSum.Enumerate()).Concat(stats._originalSum.Enumerate());
        if (values.Any(v => !double.IsFinite(v)))
        {
            throw new InvalidDataException("The channel statistics hold NaN or infinite values.");
        }

        return stats;
    }

    /// <summary>Rejects statistics with no samples; used before any solve.</summary>
    internal void EnsureSamples(string? layer)
    {
        if (SampleCount == 0)
        {
            throw new ArgumentException(
                Guard.Prefix(layer) + $"the channel statistics ({Channels} channels) have zero samples; accumulate calibration data first.",
                "statistics");
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

    private static byte[] ReadExactly(Stream stream, int count, string what)
    {
        var bytes = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = stream.Read(bytes, read, count - read);
            if (n == 0)
            {
                throw new InvalidDataException($"The channel statistics stream is truncated: {what} needs {count} bytes but only {read} were left.");
            }

            read += n;
        }

        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Reading channel statistics requires a little-endian platform.");
        }

        return bytes;
    }

    private static void WriteMatrix(BinaryWriter writer, Matrix<double> m)
    {
        for (var i = 0; i < m.RowCount; i++)
        {
            for (var j = 0; j < m.ColumnCount; j++)
            {
                writer.Write(m.At(i, j));
            }
        }
    }

    private static void WriteVector(BinaryWriter writer, Vector<double> v)
    {
        for (var i = 0; i < v.Count; i++)
        {
            writer.Write(v[i]);
        }
    }

    private static void ReadMatrix(byte[] body, ref int offset, Matrix<double> target)
    {
        for (var i = 0; i < target.RowCount; i++)
        {
            for (var j = 0; j < target.ColumnCount; j++)
            {
                target.At(i, j, BitConverter.ToDouble(body, offset));
                offset += sizeof(double);
            }
        }
    }

    private static void ReadVector(byte[] body, ref int offset, Vector<double> target)
    {
        for (var i = 0; i < target.Count; i++)
        {
            target[i] = BitConverter.ToDouble(body, offset);
            offset += sizeof(double);
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
}
