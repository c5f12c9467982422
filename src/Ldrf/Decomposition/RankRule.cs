using System.Globalization;
using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Decomposition;

/// <summary>How many embedding directions to keep: by an energy threshold on the spectrum, or a fixed rank.</summary>
public sealed class RankRule
{
    private RankRule(double energyThreshold, int? fixedRank)
    {
        EnergyThreshold = energyThreshold;
        FixedRank = fixedRank;
    }

    /// <summary>The energy fraction to keep when <see cref="FixedRank"/> is null.</summary>
    public double EnergyThreshold { get; }

    /// <summary>An explicit rank, or null to use <see cref="EnergyThreshold"/>.</summary>
    public int? FixedRank { get; }

    /// <summary>Keeps the smallest rank whose spectrum energy reaches <paramref name="threshold"/> of the total: the first r with σ₁² + … + σ_r² ≥ threshold · Σ σ².</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is not in (0, 1].</exception>
    public static RankRule Energy(double threshold)
    {
        ValidCapacity.CheckThreshold(threshold, nameof(threshold));
        return new RankRule(threshold, null);
    }

    /// <summary>Keeps exactly <paramref name="rank"/> directions (checked against the spectrum's length when applied).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rank"/> is less than 1.</exception>
    public static RankRule Fixed(int rank)
    {
        if (rank < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"'rank' must be at least 1 but is {rank}.");
        }

        return new RankRule(1.0, rank);
    }

    /// <summary>Keeps every direction with numerically non-zero energy (energy threshold 1).</summary>
    public static RankRule Full { get; } = new(1.0, null);

    /// <summary>Applies the rule to a descending spectrum.</summary>
    /// <param name="spectrum">Singular-value magnitudes, descending.</param>
    /// <param name="layer">A layer name for error messages.</param>
    /// <exception cref="ArgumentOutOfRangeException">A fixed rank exceeds the spectrum's length.</exception>
    public int Resolve(Vector<double> spectrum, string? layer = null)
    {
        Guard.NotNull(spectrum, nameof(spectrum));
        if (FixedRank is int r)
        {
            if (r > spectrum.Count)
            {
                throw new ArgumentOutOfRangeException("rank", r, Guard.Prefix(layer) + string.Create(CultureInfo.InvariantCulture,
                    $"the rank {r} exceeds the {spectrum.Count} directions of the decomposition."));
            }

            return r;
        }

        return ValidCapacity.FromEnergy(spectrum, EnergyThreshold);
    }

    /// <inheritdoc />
    public override string ToString() => FixedRank is int r
        ? string.Create(CultureInfo.InvariantCulture, $"rank {r}")
        : string.Create(CultureInfo.InvariantCulture, $"energy {EnergyThreshold}");
}
