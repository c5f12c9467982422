namespace Ldrf.TorchSharp.Recovery;

/// <summary>Checks every value of <see cref="RecoveryOptions"/> at once (registered by <c>AddLdrfTorchSharp</c>; used by <see cref="RecoveryTrainer.Recover"/>).</summary>
internal sealed class RecoveryOptionsValidator : OptionsValidator<RecoveryOptions>
{
    public static readonly RecoveryOptionsValidator Instance = new();

    protected override void Check(RecoveryOptions options, Failures failures)
    {
        failures.Require(options.Epochs >= 1, nameof(RecoveryOptions.Epochs), options.Epochs, "at least 1");
        if (options.MaxSteps is int steps)
        {
            failures.Require(steps >= 1, nameof(RecoveryOptions.MaxSteps), steps, "at least 1 (or null for whole epochs)");
        }

        failures.Require(options.BatchSize >= 1, nameof(RecoveryOptions.BatchSize), options.BatchSize, "at least 1");
        failures.Require(options.LearningRate > 0 && !double.IsInfinity(options.LearningRate), nameof(RecoveryOptions.LearningRate), options.LearningRate, "a finite number above 0");
        failures.Defined(options.Optimizer, nameof(RecoveryOptions.Optimizer));
        failures.Defined(options.Schedule, nameof(RecoveryOptions.Schedule));
        failures.Require(options.Momentum is >= 0 and < 1, nameof(RecoveryOptions.Momentum), options.Momentum, "in [0, 1)");
        failures.Require(options.Temperature > 0 && !double.IsInfinity(options.Temperature), nameof(RecoveryOptions.Temperature), options.Temperature, "a finite number above 0");
        failures.FiniteNonNegative(options.LabelWeight, nameof(RecoveryOptions.LabelWeight));
        failures.Require(options.HeldOutFraction is > 0 and < 1, nameof(RecoveryOptions.HeldOutFraction), options.HeldOutFraction, "in (0, 1)");
        if (options.Patience is int patience)
        {
            failures.Require(patience >= 1, nameof(RecoveryOptions.Patience), patience, "at least 1 (or null to run every epoch)");
        }
    }
}
