using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Decomposition;

/// <summary>
/// The truncated SVD that the decomposers need, B ≈ U_r S_r W_rᵀ for a C x K matrix B, as U_r and the reader
/// R = S_r W_rᵀ. For K ≥ C it comes from the eigendecomposition of the C x C Gram B Bᵀ = U S² Uᵀ and
/// R = U_rᵀ B; for K &lt; C from the thin SVD.
/// </summary>
/// <remarks>
/// A consumer usually has far more weights per channel than channels (K = out · kh · kw, or out · H · W for a
/// Linear after Flatten: 512 x 200,704 for VGG-16's classifier), and the decomposers never need W itself, so
/// two products and a C x C eigendecomposition replace the full SVD of the C x K matrix. Singular values come
/// out as √max(λ, 0): below about √ε · s₁ they are round-off rather than the true values, which no energy
/// threshold short of 1 can tell apart. At full rank U_r U_rᵀ = I, so Q R reproduces B exactly.
/// </remarks>
internal static class GramSvd
{
    /// <summary>U_r (C x r), R = U_rᵀ B (r x K) and all min(C, K) singular values, descending.</summary>
    public static (Matrix<double> Left, Matrix<double> Reader, Vector<double> Spectrum) Truncated(
        INumericBackend backend, Matrix<double> b, RankRule rank, string? layerName)
    {
        if (b.ColumnCount < b.RowCount)
        {
            // Tall B (a Linear read by a few outputs): the thin SVD costs C·K², less than a C x C eigendecomposition.
            var (u, s, wt) = backend.Svd(b);
            var rank1 = rank.Resolve(s, layerName);
            var reader = DecomposerChecks.Rows(wt, rank1);
            for (var i = 0; i < rank1; i++)
            {
                reader.SetRow(i, reader.Row(i) * s[i]);
            }

            return (DecomposerChecks.Columns(u, rank1), reader, s);
        }

        var (values, vectors) = backend.SymmetricEigen(backend.MultiplyTransposed(b, b));
        var spectrum = Vector<double>.Build.Dense(b.RowCount, i => Math.Sqrt(Math.Max(values[i], 0.0)));
        var r = rank.Resolve(spectrum, layerName);
        var left = DecomposerChecks.Columns(vectors, r);
        return (left, backend.Multiply(left.Transpose(), b), spectrum);
    }
}
