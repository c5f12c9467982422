using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Statistics;

/// <summary>
/// The calibration statistics of one layer's C channels (the consumer's input) over N samples: the sums that
/// the layer pruners read. Immutable; build it with <see cref="ChannelStatisticsAccumulator"/> from activations,
/// with <see cref="FromSums"/> from sums computed elsewhere (for example on a GPU), or read it with
/// <see cref="ReadFrom"/>.
/// </summary>
/// <remarks>
/// <para>
/// Each sample is one column (one image and pixel for a convolution): a′, the full-width activations of the
/// pruned-so-far network, and a, the original network's activations at the same inputs. The statistics are
/// <c>PrunedGram = Σ a′a′ᵀ</c>, <c>Cross = Σ a′aᵀ</c>, <c>OriginalGram = Σ a aᵀ</c> (each C x C), the channel
/// sums <c>Σ a′</c> and <c>Σ a</c>, and the sample count N. Selection of the surviving set S happens later,
/// so the ridge system of docs/method.md ("3. Recomposition") reads G = PrunedGram[S, S] and H = Cross[S, :].
/// </para>
/// <para>
/// Every value is finite. An instance never changes, so any number of threads may read it, and a pruner may
/// read its sums in place while other work goes on. It serializes to a versioned binary format with a checksum
/// (<see cref="WriteTo"/>, <see cref="ReadFrom"/>; the format is described in docs/architecture.md).
/// </para>
/// </remarks>
public sealed class ChannelStatistics
{
    // The largest C whose C x C matrix fits one .NET array (MathNet keeps a dense matrix in one); the
    // accumulator, FromSums and the file reader share the bound.
    internal static readonly int MaxChannels = (int)Math.Sqrt(Array.MaxLength);

    private readonly Matrix<double> _prunedGram;
    private readonly Matrix<double> _cross;
    private readonly Matrix<double> _originalGram;
    private readonly Vector<double> _prunedSum;
    private readonly Vector<double> _originalSum;

    /// <summary>
    /// Takes the sums as they are, without checks or copies: the caller (the accumulator, the file reader, the
    /// TorchSharp adapter, which checks its sums on the device) guarantees dense storage, the shapes, that every
    /// entry is finite and that nothing else keeps a reference that could change them.
    /// </summary>
    internal ChannelStatistics(Matrix<double> prunedGram, Matrix<double> cross, Matrix<double> originalGram,
        Vector<double> prunedSum, Vector<double> originalSum, long sampleCount)
    {
        Channels = prunedGram.RowCount;
        _prunedGram = prunedGram;
        _cross = cross;
        _originalGram = originalGram;
        _prunedSum = prunedSum;
        _originalSum = originalSum;
        SampleCount = sampleCount;
    }

    /// <summary>The number of channels C.</summary>
    public int Channels { get; }

    /// <summary>The number of samples (columns) N the sums run over; 0 for the statistics of no data.</summary>
    public long SampleCount { get; }

    /// <summary>Σ a′a′ᵀ over samples (C x C), a′ being the pruned-so-far network's activations. A copy.</summary>
    public Matrix<double> PrunedGram => _prunedGram.Clone();

    /// <summary>Σ a′aᵀ over samples (C x C): rows index the pruned network's channels, columns the original's. A copy.</summary>
    public Matrix<double> Cross => _cross.Clone();

    /// <summary>Σ a aᵀ over samples (C x C), a being the original network's activations. A copy.</summary>
    public Matrix<double> OriginalGram => _originalGram.Clone();

    /// <summary>Σ a′ over samples (length C). A copy.</summary>
    public Vector<double> PrunedSum => _prunedSum.Clone();

    /// <summary>Σ a over samples (length C). A copy.</summary>
    public Vector<double> OriginalSum => _originalSum.Clone();

    // The sums themselves, for the algorithm and the file format (no copies); nothing inside the library writes to them.
    internal Matrix<double> PrunedGramView => _prunedGram;

    internal Matrix<double> CrossView => _cross;

    internal Matrix<double> OriginalGramView => _originalGram;

    internal Vector<double> PrunedSumView => _prunedSum;

    internal Vector<double> OriginalSumView => _originalSum;

    /// <summary>
    /// Statistics from sums that were computed elsewhere (for example on a GPU) over <paramref name="samples"/>
    /// samples: the same quantities <see cref="ChannelStatisticsAccumulator.Accumulate"/> would have summed.
    /// The sums are copied.
    /// </summary>
    /// <param name="prunedGram">Σ a′a′ᵀ, C x C (C from 1 to 46,340).</param>
    /// <param name="cross">Σ a′aᵀ, C x C.</param>
    /// <param name="originalGram">Σ a aᵀ, C x C.</param>
    /// <param name="prunedSum">Σ a′, length C.</param>
    /// <param name="originalSum">Σ a, length C.</param>
    /// <param name="samples">The number of samples summed (at least 1).</param>
    /// <returns>The statistics.</returns>
    /// <exception cref="ArgumentNullException">A sum is null.</exception>
    /// <exception cref="ArgumentException">Sizes disagree, C is out of range, or an entry is not finite.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="samples"/> is less than 1.</exception>
    public static ChannelStatistics FromSums(Matrix<double> prunedGram, Matrix<double> cross, Matrix<double> originalGram,
        Vector<double> prunedSum, Vector<double> originalSum, long samples)
    {
        Guard.NotNull(prunedGram, nameof(prunedGram));
        var channels = prunedGram.RowCount;
        if (channels < 1 || channels > MaxChannels)
        {
            throw new ArgumentException(
                $"'prunedGram' is {Guard.Shape(prunedGram)}, but the channel count must be at least 1 and at most {MaxChannels} (a C x C matrix must fit one array).",
                nameof(prunedGram));
        }

        CheckSquare(prunedGram, channels, nameof(prunedGram));
        CheckSquare(cross, channels, nameof(cross));
        CheckSquare(originalGram, channels, nameof(originalGram));
        CheckVector(prunedSum, channels, nameof(prunedSum));
        CheckVector(originalSum, channels, nameof(originalSum));
        if (samples < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(samples), samples, $"'samples' must be at least 1 but is {samples}.");
        }

        // Dense copies: the caller keeps its matrices, and the algorithm and the file format read dense storage.
        return new ChannelStatistics(Matrix<double>.Build.DenseOfMatrix(prunedGram), Matrix<double>.Build.DenseOfMatrix(cross),
            Matrix<double>.Build.DenseOfMatrix(originalGram), Vector<double>.Build.DenseOfVector(prunedSum), Vector<double>.Build.DenseOfVector(originalSum), samples);
    }

    /// <summary>
    /// Writes the statistics in a binary format: the ASCII magic <c>LDRFSTAT</c>, a format version (int32),
    /// C (int32), N (int64), then PrunedGram, Cross, OriginalGram (row-major), PrunedSum, OriginalSum as
    /// little-endian IEEE doubles, and a 64-bit FNV-1a checksum of everything before it. Doubles are
    /// written bit for bit, so a round trip is exact. The data goes out a block at a time, so any channel
    /// count can be written (the body is 8(3C² + 2C) bytes: 2.4 GB for 10,000 channels).
    /// </summary>
    /// <param name="stream">A writable stream; left open.</param>
    /// <exception cref="ArgumentException"><paramref name="stream"/> is not writable.</exception>
    public void WriteTo(Stream stream) => ChannelStatisticsFormat.Write(this, stream);

    /// <summary>Reads statistics written by <see cref="WriteTo"/>, validating the header, sizes, checksum and values.</summary>
    /// <param name="stream">
    /// A readable stream positioned at the start of the record; left open. When it can seek, a header that
    /// claims more data than the stream holds is refused before anything is allocated.
    /// </param>
    /// <returns>The statistics.</returns>
    /// <exception cref="ArgumentException"><paramref name="stream"/> is not readable.</exception>
    /// <exception cref="InvalidDataException">
    /// The stream is truncated, corrupt, of another format, of an unsupported version, or claims more channels
    /// than a C x C matrix can hold (46,340); the message names the file when the stream is a <see cref="FileStream"/>.
    /// </exception>
    public static ChannelStatistics ReadFrom(Stream stream) => ChannelStatisticsFormat.Read(stream);

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

    private static void CheckSquare(Matrix<double> m, int channels, string name)
    {
        Guard.NotNull(m, name);
        if (m.RowCount != channels || m.ColumnCount != channels)
        {
            throw new ArgumentException($"'{name}' is {Guard.Shape(m)} but must be {channels} x {channels} (the channel count).", name);
        }

        Guard.Finite(m, name);
    }

    private static void CheckVector(Vector<double> v, int channels, string name)
    {
        Guard.NotNull(v, name);
        if (v.Count != channels)
        {
            throw new ArgumentException($"'{name}' has length {v.Count} but must have length {channels} (the channel count).", name);
        }

        Guard.Finite(v, name);
    }
}
