using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests.Baselines;

/// <summary>
/// A synthetic 3 x 3 convolution consumer with explicit, unfolded input patches: feature f = c·9 + j, j the
/// kernel position (row-major), sampled at 10 random output locations per image with zero padding 1, like an
/// unfold of the consumer's input. The pruned network's activations are the original's plus a perturbation.
/// </summary>
internal sealed class ConvLayerData
{
    public const int Positions = 9;
    private const int Size = 8;
    private const int LocationsPerImage = 10;

    private ConvLayerData(Matrix<double> original, Matrix<double> pruned, double[,,] weights)
    {
        OriginalPatches = original;
        PrunedPatches = pruned;
        Weights = weights;
    }

    /// <summary>p: F x n, the original network's patches.</summary>
    public Matrix<double> OriginalPatches { get; }

    /// <summary>p′: F x n, the pruned-so-far network's patches at the same locations.</summary>
    public Matrix<double> PrunedPatches { get; }

    /// <summary>W[o, c, j].</summary>
    public double[,,] Weights { get; }

    public int Outputs => Weights.GetLength(0);

    public int Channels => Weights.GetLength(1);

    /// <summary>The core's matricization, built straight from W: M[c, o·9 + j] = W[o, c, j].</summary>
    public Matrix<double> ConsumerWeights => Matrix<double>.Build.Dense(Channels, Outputs * Positions, (c, k) => Weights[k / Positions, c, k % Positions]);

    /// <summary>W_p[c·9 + j, o] = W[o, c, j], built straight from W.</summary>
    public Matrix<double> PatchWeights => Matrix<double>.Build.Dense(Channels * Positions, Outputs, (f, o) => Weights[o, f / Positions, f % Positions]);

    /// <summary>The original output y = W_pᵀ p, out x n.</summary>
    public Matrix<double> Output => PatchWeights.TransposeThisAndMultiply(OriginalPatches);

    /// <summary>Channel c's contribution to the output from the pruned patches, out x n.</summary>
    public Matrix<double> Contribution(int c) =>
        PatchWeights.SubMatrix(c * Positions, Positions, 0, Outputs).TransposeThisAndMultiply(PrunedPatches.SubMatrix(c * Positions, Positions, 0, PrunedPatches.ColumnCount));

    public ChannelStatistics PatchStatistics => TestData.Stats(PrunedPatches, OriginalPatches);

    /// <summary>Channel statistics of the sampled centre pixels (what LDRF would get for this layer).</summary>
    public ChannelStatistics ChannelStatistics
    {
        get
        {
            var centre = Positions / 2;
            var rows = Enumerable.Range(0, Channels).Select(c => (c * Positions) + centre).ToArray();
            return TestData.Stats(TestData.Rows(PrunedPatches, rows), TestData.Rows(OriginalPatches, rows));
        }
    }

    public LayerPruningRequest Request(int keep, string name = "features.3") =>
        new(name, ConsumerWeights, ChannelStatistics) { KeepCount = keep, PatchStatistics = PatchStatistics };

    /// <summary>
    /// Builds the layer. Channels mix a few smooth base maps (so they are correlated, as real feature maps are);
    /// <paramref name="noiseChannels"/> are silent (zero) in the original network but carry independent noise in
    /// the pruned one, so they have no effect on the original output.
    /// </summary>
    public static ConvLayerData Create(int channels, int outputs, int images, int seed, double perturbation = 0.3, int[]? noiseChannels = null)
    {
        var random = new Random(seed);
        var mixing = TestData.Gaussian(channels, 3, seed + 1);
        var weights = new double[outputs, channels, Positions];
        var w = TestData.Gaussian(outputs, channels * Positions, seed + 2);
        for (var o = 0; o < outputs; o++)
        {
            for (var c = 0; c < channels; c++)
            {
                for (var j = 0; j < Positions; j++)
                {
                    weights[o, c, j] = w[o, (c * Positions) + j];
                }
            }
        }

        var noise = new HashSet<int>(noiseChannels ?? []);
        var features = channels * Positions;
        var original = Matrix<double>.Build.Dense(features, images * LocationsPerImage);
        var pruned = Matrix<double>.Build.Dense(features, images * LocationsPerImage);
        for (var image = 0; image < images; image++)
        {
            var bases = Enumerable.Range(0, 3).Select(r => Smooth(TestData.Gaussian(Size, Size, seed + 100 + (3 * image) + r))).ToArray();
            var a = new Matrix<double>[channels];
            var aPruned = new Matrix<double>[channels];
            for (var c = 0; c < channels; c++)
            {
                var pre = Matrix<double>.Build.Dense(Size, Size, 0.2);
                for (var r = 0; r < 3; r++)
                {
                    pre += mixing[c, r] * bases[r];
                }

                var jitter = perturbation * TestData.Gaussian(Size, Size, seed + 10_000 + (channels * image) + c);
                a[c] = noise.Contains(c) ? Matrix<double>.Build.Dense(Size, Size) : pre.PointwiseMaximum(0.0);
                aPruned[c] = noise.Contains(c) ? (jitter + 0.5).PointwiseMaximum(0.0) : (pre + jitter).PointwiseMaximum(0.0);
            }

            for (var s = 0; s < LocationsPerImage; s++)
            {
                var row = random.Next(Size);
                var col = random.Next(Size);
                var column = (image * LocationsPerImage) + s;
                for (var c = 0; c < channels; c++)
                {
                    for (var j = 0; j < Positions; j++)
                    {
                        var (y, x) = (row + (j / 3) - 1, col + (j % 3) - 1);
                        var inside = y >= 0 && y < Size && x >= 0 && x < Size;
                        original[(c * Positions) + j, column] = inside ? a[c][y, x] : 0;
                        pruned[(c * Positions) + j, column] = inside ? aPruned[c][y, x] : 0;
                    }
                }
            }
        }

        return new ConvLayerData(original, pruned, weights);
    }

    private static Matrix<double> Smooth(Matrix<double> m) => Matrix<double>.Build.Dense(m.RowCount, m.ColumnCount, (i, j) =>
    {
        var sum = 0.0;
        var count = 0;
        for (var di = -1; di <= 1; di++)
        {
            for (var dj = -1; dj <= 1; dj++)
            {
                if (i + di >= 0 && i + di < m.RowCount && j + dj >= 0 && j + dj < m.ColumnCount)
                {
                    sum += m[i + di, j + dj];
                    count++;
                }
            }
        }

        return 2 * sum / count;
    });
}
