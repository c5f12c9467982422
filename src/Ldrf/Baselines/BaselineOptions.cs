using System.Globalization;
using Ldrf.Recomposition;

namespace Ldrf.Baselines;

/// <summary>
/// Options of the baselines built by <see cref="BaselinePruners.Create(BaselineKind, BaselineOptions)"/>. Setters accept any value;
/// <see cref="BaselinePruners.Create(BaselineKind, BaselineOptions)"/> checks them all (an <see cref="ArgumentException"/> naming every invalid option),
/// and <c>AddLdrf</c> registers a validator that reports every invalid option at once.
/// </summary>
public sealed class BaselineOptions
{
    /// <summary>
    /// The ridge λ of every least-squares fit relative to the mean diagonal of its Gram matrix (≥ 0); default
    /// 1e-4, the same relative damping as LDRF's recomposition (<see cref="LdrfOptions.RidgeScale"/>),
    /// so that the baselines and LDRF are compared at equal regularization.
    /// </summary>
    public double RidgeScale { get; set; } = RidgeRecomposer.DefaultRidgeScale;

    /// <summary>The seed of <see cref="BaselineKind.RandomLeastSquares"/>; default 0.</summary>
    public int Seed { get; set; }

    /// <summary>
    /// Whether ThiNet rebuilds the survivors' filters by full least squares over their patches (as Channel
    /// Pruning does) instead of the paper's one scale per surviving channel; default false (the paper).
    /// Setting it separates ThiNet's selection rule from its reconstruction in an ablation.
    /// </summary>
    public bool ThiNetRebuildFilters { get; set; }

    /// <summary>Returns an independent copy.</summary>
    public BaselineOptions Clone() => (BaselineOptions)MemberwiseClone();


    // The baseline pruners' own constructors take a ridge scale directly and refuse a bad one at once.
    internal static double CheckRidgeScale(double value, string name)
    {
        if (!(value >= 0) || double.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(name, value, string.Create(CultureInfo.InvariantCulture, $"'{name}' must be finite and non-negative but is {value}."));
        }

        return value;
    }
}
