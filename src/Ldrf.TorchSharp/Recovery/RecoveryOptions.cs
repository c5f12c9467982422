using static TorchSharp.torch;

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
/// How <see cref="RecoveryTrainer"/> trains a pruned network against the original. Setters accept any value;
/// <see cref="RecoveryTrainer.Recover"/> checks them all (an <see cref="ArgumentException"/> naming every invalid option),
/// and <c>AddLdrfTorchSharp</c> registers a validator that reports every invalid option at once.
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
    /// <summary>Passes over the training images (at least 1, default 10); the run may stop earlier (<see cref="MaxSteps"/>, <see cref="Patience"/>).</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>At most this many optimizer steps in all (at least 1), or null for <see cref="Epochs"/> full passes (default). The held-out split is also evaluated after the last step.</summary>
    public int? MaxSteps { get; set; }

    /// <summary>Images per optimizer step (at least 1, default 64).</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>The peak learning rate (finite and above 0; default 1e-4, for Adam).</summary>
    public double LearningRate { get; set; } = 1e-4;

    /// <summary>The optimizer (default <see cref="RecoveryOptimizer.Adam"/>).</summary>
    public RecoveryOptimizer Optimizer { get; set; }

    /// <summary>The learning-rate schedule (default <see cref="RecoverySchedule.Cosine"/>).</summary>
    public RecoverySchedule Schedule { get; set; }

    /// <summary>SGD's Nesterov momentum, in [0, 1) (default 0.9; 0 is plain SGD); Adam ignores it.</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>
    /// The distillation temperature T (finite and above 0, default 4): the loss is T² · KL(softmax(t / T) ‖ softmax(s / T))
    /// between the original's outputs t and the pruned network's s, so a higher T also matches how the original ranks
    /// the wrong classes.
    /// </summary>
    public double Temperature { get; set; } = 4;

    /// <summary>The weight of the cross-entropy with the labels, added to the distillation loss when labels are given (finite and at least 0, default 1).</summary>
    public double LabelWeight { get; set; } = 1;

    /// <summary>
    /// The fraction of the given images held out of training, in (0, 1) (default 0.1, at least one image): the pruned
    /// network is evaluated on them before training and after every epoch, and the best weights are returned.
    /// </summary>
    public double HeldOutFraction { get; set; } = 0.1;

    /// <summary>Stop after this many evaluations in a row without a better held-out loss (at least 1, default 3), or null to run every epoch.</summary>
    public int? Patience { get; set; } = 3;

    /// <summary>The seed of the held-out split and of the batch order (default 0): the same seed, networks and images give the same recovered network.</summary>
    public int Seed { get; set; }

    /// <summary>
    /// For measurement (the harness's accuracy along a recovery run; internal): called on the training thread with the
    /// optimizer steps done, the run's step count and the network being trained, before the first step and after every
    /// step. The returned network gives no view of the weights along the way, hence this hook. The observer must not
    /// change the network or its mode; it draws nothing from the run's generator and keeps no gradients, so the run is
    /// the same with or without it.
    /// </summary>
    internal Action<int, int, nn.Module<Tensor, Tensor>>? StepObserver { get; set; }
}
