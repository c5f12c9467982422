using Ldrf.Numerics;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Recomposition;

/// <summary>
/// Relative reconstruction errors computed from the accumulated statistics alone.
/// </summary>
/// <remarks>
/// For a target map T (C x m) read from the original activations A, and a fit P (C′ x m) plus an
/// intercept c (length m) read from the survivors' activations A′_S, with O = A Aᵀ, H = A′_S Aᵀ,
/// G = A′_S A′_Sᵀ, s = A1 and s′ = A′_S 1:
/// ‖TᵀA − PᵀA′_S − c1ᵀ‖² = tr(TᵀOT) − 2 tr(PᵀHT) + tr(PᵀGP) + N cᵀc − 2 cᵀTᵀs + 2 cᵀPᵀs′,
/// and the denominator is ‖TᵀA‖² = tr(TᵀOT). The difference of large terms loses relative accuracy
/// near zero, so tiny results are round-off and negative ones are clamped to 0.
/// </remarks>
internal static class GramError
{
    public static double Relative(INumericBackend backend, ChannelStatistics statistics,
        int[] kept, Matrix<double> target, Matrix<double> fit, Vector<double>? intercept)
    {
        var o = statistics.OriginalGramView;
        var h = Rows(statistics.CrossView, kept);
        var g = Select(statistics.PrunedGramView, kept);
        var denominator = Quadratic(backend, target, o, target);
        if (!(denominator > 0))
        {
            return 0.0;
        }

        var numerator = denominator - (2 * Quadratic(backend, fit, h, target)) + Quadratic(backend, fit, g, fit);
        if (intercept is not null)
        {
            numerator += InterceptTerms(statistics, intercept,
                intercept.DotProduct(target.TransposeThisAndMultiply(statistics.OriginalSumView)),
                intercept.DotProduct(fit.TransposeThisAndMultiply(PrunedSums(statistics, kept))));
        }

        return Math.Max(0.0, numerator / denominator);
    }

    /// <summary>
    /// The same error for the target M and the fit P = S M, from W = M Mᵀ: tr(MᵀOM) = tr(O W), tr(PᵀHM) = tr(Sᵀ H W) and
    /// tr(PᵀGP) = tr(Sᵀ G S W), so that a huge M (C x K) is multiplied once, for M c, instead of three times.
    /// </summary>
    /// <param name="backend">The products.</param>
    /// <param name="statistics">The layer's statistics.</param>
    /// <param name="kept">The survivors.</param>
    /// <param name="target">M, C x K.</param>
    /// <param name="targetGram">W = M Mᵀ.</param>
    /// <param name="map">S, C′ x C.</param>
    /// <param name="intercept">c (length K), or null.</param>
    public static double RelativeOfMap(INumericBackend backend, ChannelStatistics statistics, int[] kept, Matrix<double> target, Matrix<double> targetGram,
        Matrix<double> map, Vector<double>? intercept)
    {
        var h = Rows(statistics.CrossView, kept);
        var g = Select(statistics.PrunedGramView, kept);
        var denominator = Trace(statistics.OriginalGramView, targetGram);
        if (!(denominator > 0))
        {
            return 0.0;
        }

        var mapGram = backend.Multiply(map, targetGram);
        var numerator = denominator - (2 * Trace(h, mapGram)) + Trace(backend.Multiply(g, map), mapGram);
        if (intercept is not null)
        {
            // cᵀMᵀs and cᵀ(SM)ᵀs′ through M c (length C).
            var read = target.Multiply(intercept);
            numerator += InterceptTerms(statistics, intercept, read.DotProduct(statistics.OriginalSumView),
                map.Multiply(read).DotProduct(PrunedSums(statistics, kept)));
        }

        return Math.Max(0.0, numerator / denominator);
    }

    // N cᵀc − 2 cᵀTᵀs + 2 cᵀPᵀs′, given the last two dot products.
    private static double InterceptTerms(ChannelStatistics statistics, Vector<double> intercept, double targetSums, double fitSums) =>
        (statistics.SampleCount * intercept.DotProduct(intercept)) - (2 * targetSums) + (2 * fitSums);

    // s′: the survivors' sums over the samples.
    private static Vector<double> PrunedSums(ChannelStatistics statistics, int[] kept) =>
        Vector<double>.Build.Dense(kept.Length, i => statistics.PrunedSumView[kept[i]]);

    /// <summary>tr(Xᵀ M Y) for X (p x m), M (p x q), Y (q x m), in the cheaper of its two forms.</summary>
    /// <remarks>
    /// Both forms cost p·q·m multiplications, but Σ (M Y) ∘ X forms a p x m product and Σ M ∘ (X Yᵀ) a p x q
    /// one, which is far smaller for wide X and Y (m above q: the consumer's weights, m up to out · H · W).
    /// </remarks>
    internal static double Quadratic(INumericBackend backend, Matrix<double> x, Matrix<double> m, Matrix<double> y) =>
        x.ColumnCount > y.RowCount
            ? Trace(m, backend.MultiplyTransposed(x, y))
            : Trace(backend.Multiply(m, y), x);

    /// <summary>Σᵢⱼ a[i, j] b[i, j] = tr(aᵀ b).</summary>
    /// <remarks>Over the storage, without the pointwise product: a and b can be C x K with K in the hundreds of thousands.</remarks>
    internal static double Trace(Matrix<double> a, Matrix<double> b) =>
        DenseKernels.Dot(a.AsColumnMajorArray() ?? a.ToColumnMajorArray(), b.AsColumnMajorArray() ?? b.ToColumnMajorArray());

    internal static Matrix<double> Rows(Matrix<double> m, int[] rows) =>
        Matrix<double>.Build.Dense(rows.Length, m.ColumnCount, (i, j) => m.At(rows[i], j));

    internal static Matrix<double> Select(Matrix<double> m, int[] index) =>
        Matrix<double>.Build.Dense(index.Length, index.Length, (i, j) => m.At(index[i], index[j]));
}
