using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Statistics;

/// <summary>
/// Accumulates the <see cref="ChannelStatistics"/> of one layer's C channels in double precision, a batch of
/// samples at a time, without keeping any activation.
/// </summary>
/// <remarks>
/// <para>
/// For a batch, <c>pruned</c> holds the full-width activations a′ of the pruned-so-far network (C x n, one
/// column per sample) and <c>original</c> the activations a of the original network at the same inputs. When
/// nothing has been pruned yet (the first layer, or a run without propagation) pass the same matrix twice.
/// <see cref="ToStatistics"/> takes a snapshot for the layer pruners.
/// </para>
/// <para>
/// Statistics of disjoint shards of the data (accumulated on other threads or machines, perhaps written with
/// <see cref="ChannelStatistics.WriteTo"/>) combine with <see cref="Merge"/> into the statistics of the union up
/// to the order of the floating-point additions: a merged result is one pass over the data with its additions
/// grouped by shard, so it differs from a single pass by round-off (equal bit for bit only when every partial sum
/// is exact, as with small integers).
/// </para>
/// <para>
/// Thread safety: every member may be called from several threads. The per-batch products are computed outside
/// the lock and added under it, so concurrent <see cref="Accumulate"/> and <see cref="Merge"/> calls are safe and
/// a snapshot always holds whole batches. The order of the additions then depends on scheduling, so bit-for-bit
/// reproducibility needs one writer (or one accumulator per thread, merged in a fixed order).
/// </para>
/// </remarks>
public sealed class ChannelStatisticsAccumulator
{
    private readonly Matrix<double> _prunedGram;
    private readonly Matrix<double> _cross;
    private readonly Matrix<double> _originalGram;
    private readonly Vector<double> _prunedSum;
    private readonly Vector<double> _originalSum;
    private readonly INumericBackend _backend;
    private readonly object _gate = new();
    private long _sampleCount;

    /// <summary>Creates an empty accumulator for a layer with <paramref name="channels"/> channels.</summary>
    /// <param name="channels">The number of channels C (1 to 46,340, the most whose C x C matrix fits one array).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> is less than 1 or more than 46,340.</exception>
    public ChannelStatisticsAccumulator(int channels)
        : this(channels, null)
    {
    }

    /// <summary>Creates an empty accumulator for a layer with <paramref name="channels"/> channels.</summary>
    /// <param name="channels">The number of channels C (1 to 46,340, the most whose C x C matrix fits one array).</param>
    /// <param name="backend">Computes the per-batch products; defaults to <see cref="MathNetNumericBackend"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> is less than 1 or more than 46,340.</exception>
    internal ChannelStatisticsAccumulator(int channels, INumericBackend? backend)
    {
        if (channels < 1 || channels > ChannelStatistics.MaxChannels)
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels,
                $"'channels' must be at least 1 and at most {ChannelStatistics.MaxChannels} (a C x C matrix must fit one array) but is {channels}.");
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
    /// Adds the sums of <paramref name="shard"/>, statistics of other samples of the same layer, and returns this
    /// accumulator: the statistics of both sets of samples, up to the order of the floating-point additions.
    /// </summary>
    /// <param name="shard">Statistics of the same layer (same channel count), for example read from another machine's file.</param>
    /// <returns>This accumulator.</returns>
    /// <exception cref="ArgumentException">The channel counts differ.</exception>
    public ChannelStatisticsAccumulator Merge(ChannelStatistics shard)
    {
        Guard.NotNull(shard, nameof(shard));
        if (shard.Channels != Channels)
        {
            throw new ArgumentException(
                $"'shard' has {shard.Channels} channels but this accumulator has {Channels}; only statistics of the same layer merge.",
                nameof(shard));
        }

        if (shard.SampleCount > 0)
        {
            Add(shard.PrunedGramView, shard.CrossView, shard.OriginalGramView, shard.PrunedSumView, shard.OriginalSumView, shard.SampleCount);
        }

        return this;
    }

    /// <summary>The statistics accumulated so far: a copy, taken under the lock, that later additions leave unchanged.</summary>
    /// <returns>The statistics of every whole batch added before the call.</returns>
    public ChannelStatistics ToStatistics()
    {
        lock (_gate)
        {
            return new ChannelStatistics(_prunedGram.Clone(), _cross.Clone(), _originalGram.Clone(), _prunedSum.Clone(), _originalSum.Clone(), _sampleCount);
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
}
