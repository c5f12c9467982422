using System.Collections.Concurrent;
using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Selection;

/// <summary>
/// Greedy forward selection: each step keeps the neuron that lets least squares recover the most of the
/// consumer's response read through the embedding, given the neurons already kept. Unlike a per-neuron score it
/// sees redundancy: a neuron that a kept one already explains adds nothing and is passed over.
/// </summary>
/// <remarks>
/// <para>
/// With the target response ỹ = (Q R)ᵀa of the original network and the pruned network's activations a′, the
/// response recoverable from a subset S is tr(B_Sᵀ G_SS⁻¹ B_S), with G = Σ a′a′ᵀ and B = Σ a′ỹᵀ = H (Q R)
/// (H = Σ a′aᵀ). Adding neuron c to S adds ‖B̃[c, :]‖² / G̃[c, c], where G̃ and B̃ are G and B with the kept
/// neurons projected out (Schur complements). Each step costs O(C · min(C, K)); nothing larger than B is formed.
/// </para>
/// <para>
/// This is a greedy answer to the ℓ0 selection problem of docs/method.md, "2. Selection"; neurons that are never active (zero
/// residual energy) are taken last, by decreasing activity.
/// </para>
/// </remarks>
/// <param name="backend">The numeric backend for H Q, (H Q) R and the factor of its Gram.</param>
internal sealed class GreedyResponseSelector(INumericBackend backend) : INeuronSelector
{
    // The size of one step's update (rows x (C + K) entries) from which its rows are split across the cores.
    private const long ParallelEntries = 1L << 20;

    private readonly INumericBackend _backend = backend ?? throw new ArgumentNullException(nameof(backend));

    /// <inheritdoc />
    /// <remarks>False: it reads the statistics and the embedding.</remarks>
    public bool UsesProducerWeights => false;

    /// <inheritdoc />
    public int[] Select(SelectionContext context, int keep)
    {
        Guard.NotNull(context, nameof(context));
        context.CheckKeep(keep);
        var result = Greedy(context, keep, gains: null).ToArray();
        Array.Sort(result);
        return result;
    }

    /// <summary>
    /// The layer's error at every width, from one greedy pass over all its neurons: <c>curve[k]</c> is the fraction
    /// of the recoverable response that the first k greedily kept neurons cannot recover (curve[0] = 1,
    /// curve[C] = 0, non-increasing). The width allocator reads it to spend a FLOPs budget where it costs least error.
    /// </summary>
    internal double[] ErrorCurve(SelectionContext context)
    {
        Guard.NotNull(context, nameof(context));
        var gains = new List<double>(context.Channels);
        Greedy(context, context.Channels, gains);
        var total = gains.Sum();
        var curve = new double[context.Channels + 1];
        var recovered = 0.0;
        curve[0] = 1;
        for (var k = 1; k <= context.Channels; k++)
        {
            recovered += k <= gains.Count ? gains[k - 1] : 0;
            curve[k] = total > 0 ? Math.Clamp(1 - (recovered / total), 0, 1) : 0;
        }

        curve[context.Channels] = 0;
        return curve;
    }

    // Keeps `keep` neurons in greedy order; with `gains`, records the response each one adds (the neurons taken
    // last by activity, which add nothing, are not recorded).
    private List<int> Greedy(SelectionContext context, int keep, List<double>? gains)
    {
        context.Statistics.EnsureSamples(context.LayerName, nameof(context));
        var c = context.Channels;
        var hq = _backend.Multiply(context.Statistics.CrossView, context.Embedding.Basis);
        var reader = context.Embedding.ReaderParts;
        var b = (reader.Columns <= c ? reader.LeftMultiply(_backend, hq) : RowFactor(hq, reader.Gram(_backend))).ToRowArrays();
        var g = context.Statistics.PrunedGramView.ToRowArrays();
        var k = b[0].Length;
        var activity = Enumerable.Range(0, c).Select(i => g[i][i]).ToArray();
        var floor = 1e-12 * Math.Max(activity.Max(), double.Epsilon);
        var explained = new double[c];
        for (var i = 0; i < c; i++)
        {
            explained[i] = b[i].Sum(v => v * v);
        }

        var kept = new List<int>(keep);
        var taken = new bool[c];
        while (kept.Count < keep)
        {
            var best = -1;
            var bestGain = double.NegativeInfinity;
            for (var i = 0; i < c; i++)
            {
                if (!taken[i] && g[i][i] > floor && explained[i] / g[i][i] > bestGain)
                {
                    (best, bestGain) = (i, explained[i] / g[i][i]);
                }
            }

            if (best < 0)
            {
                // The rest carry nothing the kept neurons do not: fill up by activity.
                kept.AddRange(Enumerable.Range(0, c).Where(i => !taken[i]).OrderByDescending(i => activity[i]).Take(keep - kept.Count));
                break;
            }

            kept.Add(best);
            gains?.Add(bestGain);
            taken[best] = true;
            Project(g, b, explained, taken, best, k);
        }

        return kept;
    }

    // The selection reads B = (H Q) R only through row operations and row norms, which a factor F with
    // F Fᵀ = B Bᵀ preserves; for a wide B (K > C: a 3 x 3 consumer, or a Linear after Flatten with
    // K = out · H · W) the C x C factor makes each step O(C²) instead of O(C·K), and B is never formed.
    // It needs R only through R Rᵀ (r x r), which a factored reader gives without forming R.
    private Matrix<double> RowFactor(Matrix<double> hq, Matrix<double> readerGram)
    {
        var gram = _backend.MultiplyTransposed(_backend.Multiply(hq, readerGram), hq);
        var (values, vectors) = _backend.SymmetricEigen(gram);
        var factor = vectors.Clone();
        for (var j = 0; j < values.Count; j++)
        {
            factor.SetColumn(j, vectors.Column(j) * Math.Sqrt(Math.Max(values[j], 0.0)));
        }

        return factor;
    }

    // Projects neuron p out of every other neuron's residual: G̃ -= u uᵀ, B̃ -= u B̃[p, :] / √G̃pp, u = G̃[:, p] / √G̃pp.
    // Each row's update reads only row p (kept, so never updated itself) and writes only its own row, so the rows are
    // split across the cores for a large layer (VGG-16's 4096-wide classifier: 1,664 steps over two 4096 x 4096 arrays)
    // with the same numbers as one loop.
    private static void Project(double[][] g, double[][] b, double[] explained, bool[] taken, int p, int k)
    {
        var c = g.Length;
        var pivot = g[p][p];
        var gp = (double[])g[p].Clone();
        var bp = b[p];
        void Rows(int from, int to)
        {
            for (var i = from; i < to; i++)
            {
                if (taken[i])
                {
                    continue;
                }

                var f = gp[i] / pivot;
                if (f == 0)
                {
                    continue;
                }

                DenseKernels.SubtractScaled(g[i], f, gp);
                explained[i] = DenseKernels.SubtractScaledSquaredNorm(b[i].AsSpan(0, k), f, bp);
            }
        }

        if (Environment.ProcessorCount == 1 || (long)c * (c + k) < ParallelEntries)
        {
            Rows(0, c);
            return;
        }

        Parallel.ForEach(Partitioner.Create(0, c, Math.Max(64, c / (4 * Environment.ProcessorCount))), range => Rows(range.Item1, range.Item2));
    }
}
