using Ldrf.Numerics;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Recomposition;

/// <summary>
/// The kept features' block of a layer's patch statistics, G′_SS and H_S,:, taken once and shared by the ridge
/// solve and its errors (LDRF's patch recomposition; Channel Pruning's and ThiNet's rebuild).
/// </summary>
internal sealed class KeptPatches
{
    private readonly Matrix<double> _gram;
    private readonly Matrix<double> _cross;
    private readonly Vector<double> _sums;
    private readonly long _samples;

    /// <param name="patches">The patch statistics (F features).</param>
    /// <param name="features">The kept features S.</param>
    public KeptPatches(ChannelStatistics patches, int[] features)
    {
        var pruned = patches.PrunedGramView;
        var cross = patches.CrossView;
        var n = features.Length;
        _gram = Matrix<double>.Build.Dense(n, n, (i, l) => pruned.At(features[i], features[l]));
        _cross = Matrix<double>.Build.Dense(n, cross.ColumnCount, (i, l) => cross.At(features[i], l));
        _sums = Vector<double>.Build.Dense(n, i => patches.PrunedSumView[features[i]]);
        _samples = patches.SampleCount;
    }

    /// <summary>‖Tᵀp‖² summed over the samples: tr(TᵀGT) with G the original network's patch Gram.</summary>
    public static double Energy(ChannelStatistics patches, Matrix<double> target, INumericBackend backend) =>
        GramError.Quadratic(backend, target, patches.OriginalGramView, target);

    /// <summary>Tᵀs: the target response summed over the samples (s = Σ p), the intercept's right-hand side.</summary>
    public static Vector<double> TargetSums(ChannelStatistics patches, Matrix<double> target) =>
        target.TransposeThisAndMultiply(patches.OriginalSumView);

    /// <summary>H_S,: T: the right-hand side of the regression of the target response Tᵀp (T: F x out).</summary>
    public Matrix<double> CrossWith(Matrix<double> target, INumericBackend backend) => backend.Multiply(_cross, target);

    /// <summary>
    /// W′ = (G′_SS + λI)⁻¹ <paramref name="rhs"/>, with λ = <paramref name="absoluteLambda"/> or
    /// <paramref name="ridgeScale"/> · tr(G′_SS) / |S|.
    /// </summary>
    /// <param name="layerName">For error messages.</param>
    /// <param name="channels">How many channels S covers, for error messages.</param>
    /// <param name="rhs">H_S,: T from <see cref="CrossWith"/>.</param>
    /// <param name="ridgeScale">λ relative to the mean diagonal of G′_SS.</param>
    /// <param name="absoluteLambda">An absolute λ overriding the scale, or null.</param>
    /// <param name="backend">The numeric backend.</param>
    /// <returns>W′ (|S| x out) and λ.</returns>
    /// <exception cref="ArgumentException">The system is singular (the message names the layer).</exception>
    public (Matrix<double> Solution, double Lambda) Solve(
        string layerName, int channels, Matrix<double> rhs, double ridgeScale, double? absoluteLambda, INumericBackend backend)
    {
        var lambda = RidgeSystem.Lambda(_gram, ridgeScale, absoluteLambda);
        var solution = RidgeSystem.Solve(_gram, lambda, rhs, backend,
            ex => PatchLayout.Singular(layerName, channels, _gram.RowCount, lambda, _gram.Trace(), ex));
        return (solution, lambda);
    }

    /// <summary>
    /// As <see cref="Solve"/>, with an unpenalized intercept c: [[G′_SS + λI, s′_S], [s′_Sᵀ, N]] [W′; cᵀ] = [rhs; targetSumsᵀ].
    /// </summary>
    /// <returns>W′ (|S| x out), c (length out) and λ.</returns>
    public (Matrix<double> Solution, Vector<double> Intercept, double Lambda) SolveWithIntercept(
        string layerName, int channels, Matrix<double> rhs, Vector<double> targetSums, double ridgeScale, double? absoluteLambda, INumericBackend backend)
    {
        var lambda = RidgeSystem.Lambda(_gram, ridgeScale, absoluteLambda);
        var (solution, intercept) = RidgeSystem.SolveWithIntercept(_gram, lambda, _sums, _samples, rhs, targetSums, backend,
            ex => PatchLayout.Singular(layerName, channels, _gram.RowCount + 1, lambda, _gram.Trace(), ex));
        return (solution, intercept, lambda);
    }

    /// <summary>
    /// ‖Tᵀp − W′ᵀp′_S‖² / ‖Tᵀp‖² from the Grams alone: (energy − 2 tr(W′ᵀ H_S,: T) + tr(W′ᵀ G′_SS W′)) / energy;
    /// 0 when the target is identically zero.
    /// </summary>
    /// <param name="solution">W′.</param>
    /// <param name="rhs">H_S,: T for the same target, from <see cref="CrossWith"/>.</param>
    /// <param name="energy">tr(TᵀGT), from <see cref="Energy"/>.</param>
    /// <param name="backend">The numeric backend.</param>
    /// <param name="intercept">c from <see cref="SolveWithIntercept"/>, or null.</param>
    /// <param name="targetSums">Tᵀs for the same target (<see cref="TargetSums"/>); needed with an intercept.</param>
    /// <remarks>With an intercept the numerator gains N cᵀc − 2 cᵀTᵀs + 2 cᵀW′ᵀs′_S.</remarks>
    public double RelativeError(Matrix<double> solution, Matrix<double> rhs, double energy, INumericBackend backend,
        Vector<double>? intercept = null, Vector<double>? targetSums = null)
    {
        if (!(energy > 0))
        {
            return 0;
        }

        var fitted = GramError.Quadratic(backend, solution, _gram, solution);
        var crossTerm = GramError.Trace(rhs, solution);
        if (intercept is null)
        {
            return Math.Max(0, (energy - (2 * crossTerm) + fitted) / energy);
        }

        var numerator = energy - (2 * crossTerm) + fitted
            + (_samples * intercept.DotProduct(intercept))
            - (2 * intercept.DotProduct(targetSums ?? throw new ArgumentNullException(nameof(targetSums))))
            + (2 * intercept.DotProduct(solution.TransposeThisAndMultiply(_sums)));
        return Math.Max(0, numerator / energy);
    }
}
