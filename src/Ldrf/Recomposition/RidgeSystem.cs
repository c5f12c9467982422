using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Recomposition;

/// <summary>
/// The ridge solve every reconstruction shares: (G + λI) W = B through the backend's Cholesky, with λ relative
/// to G's mean diagonal unless given absolutely, so that one setting suits layers of any scale.
/// </summary>
internal static class RidgeSystem
{
    /// <summary>λ: <paramref name="absolute"/> if given, else <paramref name="scale"/> · tr(G) / n.</summary>
    public static double Lambda(Matrix<double> gram, double scale, double? absolute = null) =>
        absolute ?? (scale * gram.Trace() / gram.RowCount);

    /// <summary>Solves (G + λI) W = B; G is left unchanged.</summary>
    /// <param name="gram">G (n x n, symmetric positive semi-definite).</param>
    /// <param name="lambda">λ, added to the diagonal.</param>
    /// <param name="rhs">B (n x m).</param>
    /// <param name="backend">Does the Cholesky solve.</param>
    /// <param name="singular">Builds the caller's exception (naming its layer) when the system is not positive definite.</param>
    public static Matrix<double> Solve(Matrix<double> gram, double lambda, Matrix<double> rhs, INumericBackend backend, Func<ArgumentException, Exception> singular)
    {
        var system = gram.Clone();
        for (var i = 0; i < system.RowCount; i++)
        {
            system.At(i, i, system.At(i, i) + lambda);
        }

        try
        {
            return backend.SolvePositiveDefinite(system, rhs);
        }
        catch (ArgumentException ex)
        {
            throw singular(ex);
        }
    }

    /// <summary>
    /// Solves the ridge system augmented with a constant input, [[G + λI, s′], [s′ᵀ, N]] [W; cᵀ] = [B; bᵀ]:
    /// the intercept c is not penalized, and the matrix is positive definite for λ &gt; 0 and N &gt; 0.
    /// </summary>
    /// <param name="gram">G (n x n).</param>
    /// <param name="lambda">λ, added to G's diagonal.</param>
    /// <param name="sums">s′: the sums of the n inputs over the N samples.</param>
    /// <param name="samples">N.</param>
    /// <param name="rhs">B (n x m).</param>
    /// <param name="interceptRhs">b (length m): the target's sums over the samples.</param>
    /// <param name="backend">Does the Cholesky solve.</param>
    /// <param name="singular">Builds the caller's exception when the system is not positive definite.</param>
    /// <returns>W (n x m) and c (length m).</returns>
    public static (Matrix<double> Solution, Vector<double> Intercept) SolveWithIntercept(
        Matrix<double> gram, double lambda, Vector<double> sums, long samples, Matrix<double> rhs, Vector<double> interceptRhs,
        INumericBackend backend, Func<ArgumentException, Exception> singular)
    {
        var n = gram.RowCount;
        var system = Matrix<double>.Build.Dense(n + 1, n + 1);
        system.SetSubMatrix(0, 0, gram);
        for (var i = 0; i < n; i++)
        {
            system.At(i, i, system.At(i, i) + lambda);
            system.At(i, n, sums[i]);
            system.At(n, i, sums[i]);
        }

        system.At(n, n, samples);
        var augmentedRhs = Matrix<double>.Build.Dense(n + 1, rhs.ColumnCount);
        augmentedRhs.SetSubMatrix(0, 0, rhs);
        augmentedRhs.SetRow(n, interceptRhs);
        Matrix<double> full;
        try
        {
            full = backend.SolvePositiveDefinite(system, augmentedRhs);
        }
        catch (ArgumentException ex)
        {
            throw singular(ex);
        }

        return (full.SubMatrix(0, n, 0, rhs.ColumnCount), full.Row(n));
    }
}
