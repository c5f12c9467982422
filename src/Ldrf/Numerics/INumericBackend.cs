using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Numerics;

/// <summary>
/// The heavy dense linear algebra that LDRF needs: products, symmetric eigendecomposition, SVD and
/// symmetric positive-definite solves. Every decomposition and recomposition step goes through one
/// instance of this interface, so the arithmetic can move to a faster engine (for example libtorch's
/// MKL-backed CPU build, in <c>Ldrf.TorchSharp</c>) without touching the algorithm.
/// </summary>
/// <remarks>
/// All matrices are double precision. Implementations must not modify their arguments and must be
/// safe to call from one thread at a time.
/// </remarks>
internal interface INumericBackend
{
    /// <summary>A short name for reports and logs, for example <c>"MathNet (managed)"</c>.</summary>
    string Name { get; }

    /// <summary>Returns the product <paramref name="a"/> * <paramref name="b"/>.</summary>
    Matrix<double> Multiply(Matrix<double> a, Matrix<double> b);

    /// <summary>Returns <paramref name="a"/> * <paramref name="b"/>ᵀ (a Gram or cross-covariance matrix when the columns are samples).</summary>
    Matrix<double> MultiplyTransposed(Matrix<double> a, Matrix<double> b);

    /// <summary>
    /// Eigendecomposition of a symmetric matrix: <c>A = V diag(values) Vᵀ</c> with the eigenvalues in
    /// descending order and the matching orthonormal eigenvectors as the columns of <c>V</c>.
    /// </summary>
    (Vector<double> Values, Matrix<double> Vectors) SymmetricEigen(Matrix<double> symmetric);

    /// <summary>
    /// Thin singular value decomposition <c>A = U diag(s) Vᵀ</c> with the singular values in descending
    /// order; <c>U</c> is m x k and <c>Vᵀ</c> is k x n with k = min(m, n).
    /// </summary>
    (Matrix<double> U, Vector<double> S, Matrix<double> VT) Svd(Matrix<double> a);

    /// <summary>
    /// Solves <paramref name="spd"/> * X = <paramref name="rhs"/> for a symmetric positive-definite matrix
    /// through its Cholesky factorization.
    /// </summary>
    /// <exception cref="ArgumentException">The matrix is not positive definite or the sizes do not match.</exception>
    Matrix<double> SolvePositiveDefinite(Matrix<double> spd, Matrix<double> rhs);
}
