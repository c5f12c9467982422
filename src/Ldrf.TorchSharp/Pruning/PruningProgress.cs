namespace Ldrf.TorchSharp.Pruning;

/// <summary>The stages of a pruning run.</summary>
public enum PruningStage
{
    /// <summary>Estimating each layer's valid capacity on the original network (only for a FLOPs target).</summary>
    MeasuringCapacity,

    /// <summary>Calibrating and pruning one layer.</summary>
    PruningLayer,

    /// <summary>Running the pruned network beside the original on the held-out calibration images.</summary>
    CheckingOutput,

    /// <summary>Timing both networks on the CPU.</summary>
    MeasuringLatency,

    /// <summary>Finished.</summary>
    Completed,
}

/// <summary>Progress of a pruning run, reported to an <see cref="IProgress{T}"/>.</summary>
/// <param name="Stage">What is happening.</param>
/// <param name="LayerPath">The layer being pruned, or null outside <see cref="PruningStage.PruningLayer"/>.</param>
/// <param name="Step">Steps done within the stage (calibration batches or layers).</param>
/// <param name="StepCount">Steps in the stage.</param>
public sealed record PruningProgress(PruningStage Stage, string? LayerPath, int Step, int StepCount);
