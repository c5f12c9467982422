using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests;

/// <summary>
/// A synthetic deep ReLU chain of dense layers, built with MathNet only, and the front-to-back pruning
/// loop that an adapter runs on a real network: this is the whole-network test bed.
/// </summary>
internal sealed class DeepChain
{
    public DeepChain(int inputs, int[] hidden, int outputs, int seed)
    {
        var widths = new[] { inputs }.Concat(hidden).Append(outputs).ToArray();
        Weights = new List<Matrix<double>>();
        Biases = new List<Vector<double>>();
        for (var l = 0; l + 1 < widths.Length; l++)
        {
            var fanIn = widths[l];
            var fanOut = widths[l + 1];

            // Low-rank structure plus noise, so the layers have a meaningful valid capacity.
            var lowRank = TestData.Gaussian(fanOut, 6, seed + (10 * l)) * TestData.Gaussian(6, fanIn, seed + (10 * l) + 1) / Math.Sqrt(6 * fanIn);
            var noise = TestData.Gaussian(fanOut, fanIn, seed + (10 * l) + 2) * (0.35 / Math.Sqrt(fanIn));
            Weights.Add((lowRank + noise) * Math.Sqrt(2));
            Biases.Add(TestData.Gaussian(fanOut, 1, seed + (10 * l) + 3).Column(0) * 0.1);
        }
    }

    private DeepChain(List<Matrix<double>> weights, List<Vector<double>> biases)
    {
        Weights = weights;
        Biases = biases;
    }

    /// <summary>Weights[l] is out x in; layer l's output is relu(W x + b) except for the last layer.</summary>
    public List<Matrix<double>> Weights { get; }

    public List<Vector<double>> Biases { get; }

    public int HiddenLayers => Weights.Count - 1;

    public DeepChain Clone() => new(Weights.Select(w => w.Clone()).ToList(), Biases.Select(b => b.Clone()).ToList());

    /// <summary>Activations after each layer: [0..HiddenLayers-1] hidden (after ReLU), last = network output.</summary>
    public List<Matrix<double>> Forward(Matrix<double> x)
    {
        var outputs = new List<Matrix<double>>();
        var a = x;
        for (var l = 0; l < Weights.Count; l++)
        {
            var z = Weights[l] * a;
            for (var j = 0; j < z.ColumnCount; j++)
            {
                z.SetColumn(j, z.Column(j) + Biases[l]);
            }

            a = l + 1 < Weights.Count ? z.PointwiseMaximum(0.0) : z;
            outputs.Add(a);
        }

        return outputs;
    }

    /// <summary>Consumer of hidden layer l, matricized by input channel: M = W[l+1]ᵀ (C x K).</summary>
    public Matrix<double> Consumer(int l) => Weights[l + 1].Transpose();

    /// <summary>Keeps channels <paramref name="kept"/> of hidden layer l and installs the consumer's new weights.</summary>
    public void Apply(int l, int[] kept, Matrix<double> consumer, Vector<double>? biasCorrection)
    {
        Weights[l] = TestData.Rows(Weights[l], kept);
        Biases[l] = Vector<double>.Build.Dense(kept.Length, i => Biases[l][kept[i]]);
        Weights[l + 1] = consumer.Transpose();
        if (biasCorrection is not null)
        {
            Biases[l + 1] = Biases[l + 1] + biasCorrection;
        }
    }

    /// <summary>
    /// Prunes every hidden layer front to back. With propagation, each layer's statistics pair the pruned
    /// network's activations with the original's; without it, the original's are used for both.
    /// </summary>
    public DeepChain Prune(ILayerPruner pruner, Matrix<double> calibration, int keep, bool propagate, List<int[]>? keptSets = null)
    {
        var original = Forward(calibration);
        var pruned = Clone();
        for (var l = 0; l < HiddenLayers; l++)
        {
            var current = propagate ? pruned.Forward(calibration)[l] : original[l];
            var stats = TestData.Stats(current, original[l]);
            var result = pruner.Prune(new LayerPruningRequest($"dense{l}", Consumer(l), stats)
            {
                KeepCount = keep,
                ProducerWeights = Weights[l],
            });
            keptSets?.Add(result.KeptChannels);
            pruned.Apply(l, result.KeptChannels, result.ConsumerWeights, result.BiasCorrection);
        }

        return pruned;
    }

    /// <summary>The same selections with no reconstruction: the consumer just drops the pruned inputs.</summary>
    public DeepChain Drop(IReadOnlyList<int[]> keptSets)
    {
        var pruned = Clone();
        for (var l = 0; l < HiddenLayers; l++)
        {
            pruned.Apply(l, keptSets[l], TestData.Rows(pruned.Consumer(l), keptSets[l]), null);
        }

        return pruned;
    }

    public double RelativeOutputError(DeepChain pruned, Matrix<double> x)
    {
        var expected = Forward(x)[^1];
        var actual = pruned.Forward(x)[^1];
        return TestData.SquaredNorm(actual - expected) / TestData.SquaredNorm(expected);
    }
}
