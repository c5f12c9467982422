using System.Globalization;
using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Decomposition;

/// <summary>
/// The valid capacity r of a layer: how many embedding directions carry its information. No layer should
/// keep fewer than r neurons (fewer cannot linearly carry an r-dimensional embedding).
/// </summary>
internal static class ValidCapacity
{
    /// <summary>
    /// The default energy threshold, 0.999: keep the directions that hold 99.9% of Σσ². It drops only the
    /// tail that round-off and dead or duplicated channels produce, while staying far from the accuracy
    /// cliff; lower it to trade accuracy for slimmer layers.
    /// </summary>
    public const double DefaultEnergyThreshold = 0.999;

    /// <summary>Relative size below which a spectrum value counts as numerically zero.</summary>
    internal const double NumericalZero = 1e-12;

    /// <summary>
    /// The smallest r such that σ₁² + … + σ_r² ≥ <paramref name="threshold"/> · Σσ², capped at the numerical
    /// rank (the number of σ above 1e-12 · σ₁) and at least 1.
    /// </summary>
    /// <param name="spectrum">Singular-value magnitudes (non-negative), descending.</param>
    /// <param name="threshold">The energy fraction in (0, 1]; 1 gives the numerical rank.</param>
    /// <exception cref="ArgumentException">The spectrum is empty, negative, unsorted or not finite, or the threshold is out of range.</exception>
    public static int FromEnergy(Vector<double> spectrum, double threshold)
    {
        Guard.NotNull(spectrum, nameof(spectrum));
        CheckThreshold(threshold, nameof(threshold));
        if (spectrum.Count == 0)
        {
            throw new ArgumentException("'spectrum' is empty (length 0).", nameof(spectrum));
        }

        Guard.Finite(spectrum, nameof(spectrum));
        for (var i = 0; i < spectrum.Count; i++)
        {
            if (spectrum[i] < 0 || (i > 0 && spectrum[i] > spectrum[i - 1]))
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"'spectrum' (length {spectrum.Count}) must be non-negative and descending; entry {i} is {spectrum[i]}."), nameof(spectrum));
            }
        }

        var numericalRank = 0;
        var total = 0.0;
        for (var i = 0; i < spectrum.Count; i++)
        {
            if (spectrum[i] > NumericalZero * spectrum[0])
            {
                numericalRank++;
            }

            total += spectrum[i] * spectrum[i];
        }

        if (total == 0)
        {
            return 1;
        }

        var cumulative = 0.0;
        var r = 0;
        while (r < spectrum.Count && cumulative < threshold * total)
        {
            cumulative += spectrum[r] * spectrum[r];
            r++;
        }

        return Math.Max(1, Math.Min(r, numericalRank));
    }

    internal static void CheckThreshold(double threshold, string paramName)
    {
        if (!(threshold > 0 && threshold <= 1))
        {
            throw new ArgumentOutOfRangeException(paramName, threshold,
                string.Create(CultureInfo.InvariantCulture, $"'{paramName}' must be in (0, 1] but is {threshold}."));
        }
    }
}
