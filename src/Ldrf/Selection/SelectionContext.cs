using System.Globalization;
using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Selection;

/// <summary>Everything a neuron selector may look at for one layer.</summary>
public sealed class SelectionContext
{
    /// <summary>Creates a context and checks that its parts describe the same C channels.</summary>
    /// <param name="layerName">The layer's name, used in error messages.</param>
    /// <param name="consumerWeights">M, C x K.</param>
    /// <param name="statistics">The layer's calibration statistics.</param>
    /// <param name="embedding">The layer's embedding.</param>
    /// <param name="producerWeights">Optional P: the producer's weights matricized by output channel, C x (inChannels · kh · kw).</param>
    /// <exception cref="ArgumentException">The channel counts disagree.</exception>
    public SelectionContext(string layerName, Matrix<double> consumerWeights, ChannelStatistics statistics, Embedding embedding, Matrix<double>? producerWeights = null)
    {
        Guard.NotNull(layerName, nameof(layerName));
        Guard.NotNull(consumerWeights, nameof(consumerWeights), layerName);
        Guard.NotNull(statistics, nameof(statistics), layerName);
        Guard.NotNull(embedding, nameof(embedding), layerName);
        var c = consumerWeights.RowCount;
        if (statistics.Channels != c || embedding.Channels != c)
        {
            throw new ArgumentException(
                Guard.Prefix(layerName) + $"'consumerWeights' has {c} rows, the statistics {statistics.Channels} channels and the embedding {embedding.Channels} rows; all must equal C.",
                nameof(statistics));
        }

        if (producerWeights is not null)
        {
            Guard.Rows(producerWeights, c, nameof(producerWeights), "one row per output channel of the producer", layerName);
        }

        LayerName = layerName;
        ConsumerWeights = consumerWeights;
        Statistics = statistics;
        Embedding = embedding;
        ProducerWeights = producerWeights;
    }

    /// <summary>The layer's name.</summary>
    public string LayerName { get; }

    /// <summary>M, C x K.</summary>
    public Matrix<double> ConsumerWeights { get; }

    /// <summary>The layer's calibration statistics.</summary>
    public ChannelStatistics Statistics { get; }

    /// <summary>The layer's embedding.</summary>
    public Embedding Embedding { get; }

    /// <summary>P, C x (inChannels · kh · kw), or null when the caller did not supply it.</summary>
    public Matrix<double>? ProducerWeights { get; }

    /// <summary>The number of channels C.</summary>
    public int Channels => ConsumerWeights.RowCount;

    /// <summary>Throws unless 1 ≤ <paramref name="keep"/> ≤ C.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="keep"/> is out of range.</exception>
    public void CheckKeep(int keep)
    {
        if (keep < 1 || keep > Channels)
        {
            throw new ArgumentOutOfRangeException(nameof(keep), keep, Guard.Prefix(LayerName) + string.Create(CultureInfo.InvariantCulture,
                $"'keep' must be between 1 and the layer's {Channels} channels but is {keep}."));
        }
    }

    /// <summary>The <paramref name="keep"/> indices with the largest scores (ties to the lower index), sorted ascending.</summary>
    internal static int[] TopK(IReadOnlyList<double> scores, int keep)
    {
        var kept = Enumerable.Range(0, scores.Count)
            .OrderByDescending(i => scores[i])
            .ThenBy(i => i)
            .Take(keep)
            .ToArray();
        Array.Sort(kept);
        return kept;
    }
}
