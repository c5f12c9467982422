namespace Ldrf.Baselines;

/// <summary>Checks every value of <see cref="BaselineOptions"/> at once (registered by <c>AddLdrf</c>; used by <see cref="BaselinePruners.Create(BaselineKind, BaselineOptions)"/>).</summary>
internal sealed class BaselineOptionsValidator : OptionsValidator<BaselineOptions>
{
    public static readonly BaselineOptionsValidator Instance = new();

    protected override void Check(BaselineOptions options, Failures failures) =>
        failures.FiniteNonNegative(options.RidgeScale, nameof(BaselineOptions.RidgeScale));
}
