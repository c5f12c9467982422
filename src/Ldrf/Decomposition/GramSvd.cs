using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Decomposition;

/// <summary>
/// The truncated SVD that the decomposers need, B ≈ U_r S_r W_rᵀ for a C x K matrix B = L M (L a C x C transform of
/// the consumer's weights M, or none), as U_r and the reader R = S_r W_rᵀ. For K ≥ C it comes from the
/// eigendecomposition of the C x C Gram B Bᵀ = U S² Uᵀ and R = U_rᵀ B; for K &lt; C from the thin SVD.
/// </summary>
/// <remarks>
/// A consumer usually has far more weights per channel than channels (K = out · kh · kw, or out · H · W for a
/// Linear after Flatten: 512 x 200,704 for VGG-16's classifier), and the decomposers never need W itself, so
/// two products and a C x C eigendecomposition replace the full SVD of the C x K matrix. For a huge consumer
/// (<see cref="EmbeddingReader.IsHuge"/>) neither B nor R is formed: B Bᵀ = L (M Mᵀ) Lᵀ and R = (U_rᵀ L) M is kept as
/// its factors. Singular values come out as √max(λ, 0): below about √ε · s₁ they are round-off rather than the true
/// values, which no energy threshold short of 1 can tell apart. At full rank U_r U_rᵀ = I, so Q R reproduces B exactly.
/// </remarks>
internal static class GramSvd
{
    /// <summary>U_r (C x r), R = U_rᵀ B (r x K) and all min(C, K) singular values, descending, for B = <paramref name="transform"/> · <paramref name="weights"/>.</summary>
    /// <param name="backend">The products and the decompositions.</param>
    /// <param name="weights">M, C x K.</param>
    /// <param name="transform">L, C x C, or null for B = M.</param>
    /// <param name="rank">Chooses r from the spectrum.</param>
    /// <param name="layerName">For messages.</param>
    public static (Matrix<double> Left, EmbeddingReader Reader, Vector<double> Spectrum) Truncated(
        INumericBackend backend, Matrix<double> weights, Matrix<double>? transform, RankRule rank, string? layerName)
    {
        if (EmbeddingReader.IsHuge(weights))
        {
            var weightsGram = backend.MultiplyTransposed(weights, weights);
            var gram = transform is null ? weightsGram : backend.MultiplyTransposed(backend.Multiply(transform, weightsGram), transform);
            var (left, spectrum) = Leading(backend, gram, rank, layerName);
            var map = transform is null ? left.Transpose() : backend.Multiply(left.Transpose(), transform);
            return (left, EmbeddingReader.Factored(backend, map, weights, weightsGram), spectrum);
        }

        var b = transform is null ? weights : backend.Multiply(transform, weights);
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

            return (DecomposerChecks.Columns(u, rank1), EmbeddingReader.Formed(reader), s);
        }

        var (leading, singularValues) = Leading(backend, backend.MultiplyTransposed(b, b), rank, layerName);
        return (leading, EmbeddingReader.Formed(backend.Multiply(leading.Transpose(), b)), singularValues);
    }

    // The leading r eigenvectors of the Gram B Bᵀ and B's singular values √max(λ, 0), descending.
    private static (Matrix<double> Left, Vector<double> Spectrum) Leading(INumericBackend backend, Matrix<double> gram, RankRule rank, string? layerName)
    {
        var (values, vectors) = backend.SymmetricEigen(gram);
        var spectrum = Vector<double>.Build.Dense(gram.RowCount, i => Math.Sqrt(Math.Max(values[i], 0.0)));
        var r = rank.Resolve(spectrum, layerName);
        return (DecomposerChecks.Columns(vectors, r), spectrum);
    }
}
