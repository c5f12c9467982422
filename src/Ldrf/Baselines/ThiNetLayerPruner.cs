using Ldrf.Numerics;
using Ldrf.Recomposition;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Baselines;

/// <summary>
/// ThiNet (J.-H. Luo, J. Wu, W. Lin, "ThiNet: A Filter Level Pruning Method for Deep Neural Network
/// Compression", ICCV 2017, arXiv 1707.06342): greedy channel removal by the consumer's output error on
/// sampled locations, then least-squares rescaling of the survivors. Needs
/// <see cref="LayerPruningRequest.PatchStatistics"/>.
/// </summary>
/// <remarks>
/// <para>
/// With x′_c the contribution of channel c to the consumer's output in the pruned-so-far network and y the
/// original network's output (see <see cref="LayerPruningRequest.PatchStatistics"/>), the error of keeping S is
/// E(S) = ‖y − Σ_{c∈S} x′_c‖² = ‖y‖² − 2 Σ_{c∈S} b_c + Σ_{c,d∈S} K_cd, summed over sampled locations and
/// output channels, with K and b computed from the patch Grams. Starting from S = all channels, the greedy
/// step removes the channel c ∈ S with the least increase E(S∖c) − E(S) = 2 b_c − 2 Σ_{d∈S} K_cd + K_cc
/// (ties to the lower index) until the keep count is reached. Without propagation (pruned = original) this is
/// exactly the paper's rule: the removed set T minimizes ‖Σ_{c∈T} x_c‖² greedily. The paper samples one random
/// output channel per location; summing over all output channels is the same objective in expectation, without
/// the sampling noise. O(C²) after K and b.
/// </para>
/// <para>
/// Reconstruction, as in the paper (§3.3): one scale per survivor, w = argmin ‖y − Σ_{c∈S} w_c x′_c‖² + λ‖w‖²
/// = (K_SS + λI)⁻¹ b_S with λ = ridgeScale · tr(K_SS)/|S|, so M′[i, :] = w_i M[S_i, :]. Channels that never
/// contribute (K_cc = 0) keep the scale 1. With <see cref="RebuildFilters"/> the survivors' filters are instead
/// refitted by full least squares over their patches, as <see cref="ChannelPruningLayerPruner"/> does (on the channel
/// statistics where there are fewer than 2 patch samples per unknown).
/// </para>
/// <para>
/// <see cref="LayerPruningResult.RelativeOutputError"/> is the consumer's true output error on the sampled
/// patches, ‖y − ŷ‖² / ‖y‖²; there is no embedding, so the LDRF diagnostics
/// (<see cref="LayerPruningResult.ValidCapacity"/>, <see cref="LayerPruningResult.RelativeEmbeddingError"/>) are null.
/// Without a keep count every channel is kept (and rescaled).
/// </para>
/// </remarks>
internal sealed class ThiNetLayerPruner : ILayerPruner
{
    private readonly INumericBackend _backend;

    /// <summary>Creates the baseline.</summary>
    /// <param name="ridgeScale">λ relative to the mean diagonal of the fitted Gram (≥ 0); default <see cref="RidgeRecomposer.DefaultRidgeScale"/>.</param>
    /// <param name="rebuildFilters">Refit the survivors' filters by least squares over their patches instead of rescaling them.</param>
    /// <param name="backend">The numeric backend; default <see cref="MathNetNumericBackend"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ridgeScale"/> is negative or not finite.</exception>
    public ThiNetLayerPruner(double ridgeScale = RidgeRecomposer.DefaultRidgeScale, bool rebuildFilters = false, INumericBackend? backend = null)
    {
        RidgeScale = BaselineOptions.CheckRidgeScale(ridgeScale, nameof(ridgeScale));
        RebuildFilters = rebuildFilters;
        _backend = backend ?? MathNetNumericBackend.Instance;
    }

    /// <summary>λ relative to the mean diagonal of the fitted Gram.</summary>
    public double RidgeScale { get; }

    /// <summary>Whether the survivors' filters are refitted by least squares instead of rescaled.</summary>
    public bool RebuildFilters { get; }

    /// <inheritdoc />
    public bool UsesPatchStatistics => true;

    /// <inheritdoc />
    /// <remarks>False: the selection reads the patch statistics.</remarks>
    public bool UsesProducerWeights => false;

    /// <inheritdoc />
    public LayerPruningResult Prune(LayerPruningRequest request, CancellationToken cancellationToken = default)
    {
        PruneChecks.Check(request);
        cancellationToken.ThrowIfCancellationRequested();
        var problem = PatchContributions.Create(request, _backend, "ThiNet");
        cancellationToken.ThrowIfCancellationRequested();
        var c = problem.Channels;
        var kept = GreedyKeep(problem.ContributionGram, problem.ContributionCross, request.KeepCount ?? c, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();

        Matrix<double> weights;
        double lambda;
        double error;
        if (RebuildFilters)
        {
            (weights, lambda, error) = problem.Rebuild(kept, RidgeScale, _backend);
        }
        else
        {
            Vector<double> scales;
            (scales, lambda) = Rescale(problem, kept);
            var m = request.ConsumerWeights;
            weights = Matrix<double>.Build.Dense(kept.Length, m.ColumnCount, (i, j) => scales[i] * m.At(kept[i], j));
            error = problem.RelativeError(kept, scales);
        }

        return new LayerPruningResult
        {
            LayerName = request.LayerName,
            KeptChannels = kept,
            ConsumerWeights = weights,
            RelativeOutputError = error,
            Lambda = lambda,
        };
    }

    /// <summary>The greedy removal on the contribution Gram K and cross b; returns the kept channels, ascending.</summary>
    internal static int[] GreedyKeep(Matrix<double> k, Vector<double> b, int keep, CancellationToken cancellationToken = default)
    {
        var c = k.RowCount;
        var inSet = Enumerable.Repeat(true, c).ToArray();

        // rowSums[c] = Σ_{d∈S} K[c, d], updated as channels leave.
        var rowSums = new double[c];
        for (var i = 0; i < c; i++)
        {
            for (var d = 0; d < c; d++)
            {
                rowSums[i] += k.At(i, d);
            }
        }

        for (var removed = 0; removed < c - keep; removed++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var best = -1;
            var bestIncrease = double.PositiveInfinity;
            for (var i = 0; i < c; i++)
            {
                if (!inSet[i])
                {
                    continue;
                }

                var increase = (2 * b[i]) - (2 * rowSums[i]) + k.At(i, i);
                if (best < 0 || increase < bestIncrease)
                {
                    best = i;
                    bestIncrease = increase;
                }
            }

            inSet[best] = false;
            for (var i = 0; i < c; i++)
            {
                rowSums[i] -= k.At(i, best);
            }
        }

        return Enumerable.Range(0, c).Where(i => inSet[i]).ToArray();
    }

    private (Vector<double> Scales, double Lambda) Rescale(PatchContributions problem, int[] kept)
    {
        var k = problem.ContributionGram;
        var scales = Vector<double>.Build.Dense(kept.Length, 1.0);
        var active = Enumerable.Range(0, kept.Length).Where(i => k.At(kept[i], kept[i]) > 0).ToArray();
        if (active.Length == 0)
        {
            return (scales, 0);
        }

        var n = active.Length;
        var system = Matrix<double>.Build.Dense(n, n, (i, l) => k.At(kept[active[i]], kept[active[l]]));
        var lambda = RidgeSystem.Lambda(system, RidgeScale);
        var rhs = Matrix<double>.Build.Dense(n, 1, (i, _) => problem.ContributionCross[kept[active[i]]]);
        var w = RidgeSystem.Solve(system, lambda, rhs, _backend,
            ex => PatchLayout.Singular(problem.LayerName, kept.Length, n, lambda, system.Trace(), ex));

        for (var i = 0; i < n; i++)
        {
            scales[active[i]] = w.At(i, 0);
        }

        return (scales, lambda);
    }
}
