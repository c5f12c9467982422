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
}
