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

        // tr(TᵀOT) = Σ O ∘ (T Tᵀ) and likewise for the other terms: for a wide T (m > C, the consumer's weights)
        // the m-side products shrink to C x C instead of C x m results.
        var wide = target.ColumnCount > target.RowCount;
        var denominator = wide ? Trace(o, backend.MultiplyTransposed(target, target)) : Trace(backend.Multiply(o, target), target);
        if (!(denominator > 0))
        {
            return 0.0;
        }

        var numerator = denominator
            - (2 * (wide ? Trace(h, backend.MultiplyTransposed(fit, target)) : Trace(backend.Multiply(h, target), fit)))
            + (wide ? Trace(g, backend.MultiplyTransposed(fit, fit)) : Trace(backend.Multiply(g, fit), fit));
        if (intercept is not null)
        {
            var sPrime = Vector<double>.Build.Dense(kept.Length, i => statistics.PrunedSumView[kept[i]]);
            numerator += (statistics.SampleCount * intercept.DotProduct(intercept))
                - (2 * intercept.DotProduct(target.TransposeThisAndMultiply(statistics.OriginalSumView)))
                + (2 * intercept.DotProduct(fit.TransposeThisAndMultiply(sPrime)));
        }

        return Math.Max(0.0, numerator / denominator);
    }

    /// <summary>Σᵢⱼ a[i, j] b[i, j] = tr(aᵀ b).</summary>
    /// <remarks>Over the storage, without the pointwise product: a and b can be C x K with K in the hundreds of thousands.</remarks>
    internal static double Trace(Matrix<double> a, Matrix<double> b) =>
        DenseKernels.Dot(a.AsColumnMajorArray() ?? a.ToColumnMajorArray(), b.AsColumnMajorArray() ?? b.ToColumnMajorArray());

    internal static Matrix<double> Rows(Matrix<double> m, int[] rows) =>
        Matrix<double>.Build.Dense(rows.Length, m.ColumnCount, (i, j) => m.At(rows[i], j));

    internal static Matrix<double> Select(Matrix<double> m, int[] index) =>
        Matrix<double>.Build.Dense(index.Length, index.Length, (i, j) => m.At(index[i], index[j]));
}
