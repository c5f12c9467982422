namespace Ldrf.TorchSharp.Recovery;

/// <summary>The stages of a recovery run.</summary>
public enum RecoveryStage
{
    /// <summary>Running the original network once over every image to get the targets.</summary>
    ComputingTargets,

    /// <summary>An optimizer step on the pruned network's copy.</summary>
    Training,

    /// <summary>Evaluating the copy on the held-out images (before training and after every epoch).</summary>
    Evaluating,

    /// <summary>Finished.</summary>
    Completed,
}

/// <summary>Progress of a recovery run, reported to an <see cref="IProgress{T}"/>.</summary>
/// <param name="Stage">What is happening.</param>
/// <param name="Epoch">The epoch (1-based; 0 before training).</param>
/// <param name="Step">Steps done within the stage: optimizer steps so far in <see cref="RecoveryStage.Training"/>, images in the others.</param>
/// <param name="StepCount">Steps in the stage: the run's optimizer steps in <see cref="RecoveryStage.Training"/>, images in the others.</param>
/// <param name="Loss">The loss of the latest step (<see cref="RecoveryStage.Training"/>) or the held-out distillation loss (<see cref="RecoveryStage.Evaluating"/>, once evaluated); otherwise null.</param>
public sealed record RecoveryProgress(RecoveryStage Stage, int Epoch, int Step, int StepCount, double? Loss);
