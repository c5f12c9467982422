using Ldrf.Decomposition;
using Ldrf.Recomposition;
using Ldrf.Selection;

namespace Ldrf;

/// <summary>Checks every value of <see cref="LdrfOptions"/> at once (registered by <c>AddLdrf</c>; used by the pruner's constructors).</summary>
internal sealed class LdrfOptionsValidator : OptionsValidator<LdrfOptions>
{
    public static readonly LdrfOptionsValidator Instance = new();

    protected override void Check(LdrfOptions options, Failures failures)
    {
        failures.Defined(options.Embedding, nameof(LdrfOptions.Embedding));
        failures.Require(options.EnergyThreshold is > 0 and <= 1, nameof(LdrfOptions.EnergyThreshold), options.EnergyThreshold, "in (0, 1]");
        failures.FiniteNonNegative(options.RidgeScale, nameof(LdrfOptions.RidgeScale));
        if (options.Lambda is double lambda)
        {
            failures.FiniteNonNegative(lambda, nameof(LdrfOptions.Lambda));
        }

        failures.Defined(options.Selection, nameof(LdrfOptions.Selection));
        failures.Defined(options.Recomposition, nameof(LdrfOptions.Recomposition));
    }
}
