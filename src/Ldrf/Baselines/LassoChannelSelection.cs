using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Baselines;

/// <summary>
/// He et al.'s channel selection: the LASSO over per-channel coefficients β of the consumer's output,
/// with the l1 penalty raised until exactly the requested number of coefficients is non-zero.
/// </summary>
/// <remarks>
/// The problem min_β ½‖y − Σ_c β_c x̃_c‖² + α‖β‖₁, with x̃_c = x′_c / ‖W_c‖_F (the paper's normalization
/// ‖W_c‖_F = 1), is solved by cyclic coordinate descent on its Gram form ½βᵀK̃β − b̃ᵀβ (K̃ = DKD, b̃ = Db,
/// D = diag(1/‖W_c‖_F)): β_c ← soft(b̃_c − Σ_{d≠c} K̃_cd β_d, α) / K̃_cc. β = 0 is optimal for
/// α ≥ α_max = max |b̃_c|; α is bisected geometrically in [1e-12 α_max, α_max] with warm starts until the
/// support has exactly the requested size. The support size is not strictly monotone in α, so if bisection
/// ends without an exact hit the largest-support solution is ranked by |β_c|·√K̃_cc (the size of the scaled
/// contribution) and channels outside the support by their contribution energy K_cc.
/// Channels with zero weights or no activity (‖W_c‖ = 0 or K_cc = 0) never enter the LASSO.
/// </remarks>
internal static class LassoChannelSelection
{
    private const int MaxBisections = 100;
    private const int MaxSweeps = 5000;

    public static (int[] Kept, double Alpha, bool Exact) Select(Matrix<double> k, Vector<double> b, double outputEnergy, Vector<double> weightNorms, int keep,
        CancellationToken cancellationToken = default)
    {
        var c = k.RowCount;
        var scale = Vector<double>.Build.Dense(c, i => weightNorms[i] > 0 && k.At(i, i) > 0 ? 1 / weightNorms[i] : 0);
        var active = Enumerable.Range(0, c).Where(i => scale[i] > 0).ToArray();
        var kt = Matrix<double>.Build.Dense(c, c, (i, d) => scale[i] * k.At(i, d) * scale[d]);
        var bt = Vector<double>.Build.Dense(c, i => scale[i] * b[i]);
        var alphaMax = active.Length == 0 ? 0 : active.Max(i => Math.Abs(bt[i]));

        // Converged when no coordinate moves its contribution by more than 1e-7 of ‖y‖ (in energy: 1e-14 ‖y‖²).
        var tolerance = 1e-14 * outputEnergy;

        if (keep >= c || alphaMax <= 0 || active.Length <= keep)
        {
            // Nothing to search: every usable channel is kept and the rest is filled by contribution energy.
            var none = Vector<double>.Build.Dense(c);
            return (Rank(none, kt, k, keep), 0, false);
        }

        // Bisect log α between a penalty that keeps (nearly) every channel and α_max, which keeps none.
        var beta = Vector<double>.Build.Dense(c);
        var gradient = Vector<double>.Build.Dense(c);
        var lo = 1e-12 * alphaMax;
        var hi = alphaMax;
        Vector<double>? best = null;
        var bestAlpha = lo;
        for (var step = 0; step < MaxBisections && hi / lo > 1 + 1e-12; step++)
        {
            var mid = Math.Sqrt(lo * hi);
            Solve(kt, bt, active, mid, beta, gradient, tolerance, cancellationToken);
            var count = Count(beta);
            if (count == keep)
            {
                return (Rank(beta, kt, k, keep), mid, true);
            }

            if (count > keep)
            {
                lo = mid;
                best = beta.Clone();
                bestAlpha = mid;
            }
            else
            {
                hi = mid;
            }
        }

        if (best is null)
        {
            // Even the smallest penalty kept too few: rank its solution and fill by contribution energy.
            Solve(kt, bt, active, lo, beta, gradient, tolerance, cancellationToken);
            best = beta;
        }

        return (Rank(best, kt, k, keep), bestAlpha, false);
    }

    /// <summary>Coordinate descent from the current β (warm start); keeps gradient = K̃β up to date.</summary>
    internal static void Solve(Matrix<double> kt, Vector<double> bt, int[] active, double alpha, Vector<double> beta, Vector<double> gradient,
        double tolerance, CancellationToken cancellationToken)
    {
        var c = kt.RowCount;
        for (var sweep = 0; sweep < MaxSweeps; sweep++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var maxChange = 0.0;
            foreach (var i in active)
            {
                var kii = kt.At(i, i);
                var old = beta[i];
                var rho = bt[i] - gradient[i] + (kii * old);
                var updated = rho > alpha ? (rho - alpha) / kii : rho < -alpha ? (rho + alpha) / kii : 0.0;
                var delta = updated - old;
                if (delta == 0)
                {
                    continue;
                }

                beta[i] = updated;
                for (var d = 0; d < c; d++)
                {
                    gradient[d] += kt.At(d, i) * delta;
                }

                // The change of the scaled contribution's energy, in the units of K̃.
                maxChange = Math.Max(maxChange, delta * delta * kii);
            }

            if (maxChange <= tolerance)
            {
                return;
            }
        }
    }

    private static int Count(Vector<double> beta) => beta.Count(v => v != 0);

    private static int[] Rank(Vector<double> beta, Matrix<double> kt, Matrix<double> k, int keep)
    {
        var kept = Enumerable.Range(0, beta.Count)
            .OrderByDescending(i => beta[i] != 0)
            .ThenByDescending(i => Math.Abs(beta[i]) * Math.Sqrt(kt.At(i, i)))
            .ThenByDescending(i => k.At(i, i))
            .ThenBy(i => i)
            .Take(keep)
            .ToArray();
        Array.Sort(kept);
        return kept;
    }
}
