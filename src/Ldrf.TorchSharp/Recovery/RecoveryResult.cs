using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Recovery;

/// <summary>Why a recovery run stopped.</summary>
public enum RecoveryStopReason
{
    /// <summary>Every epoch ran (or <see cref="RecoveryOptions.MaxSteps"/> was reached).</summary>
    Completed,

    /// <summary><see cref="RecoveryOptions.Patience"/> evaluations in a row did not improve the held-out loss.</summary>
    NoImprovement,

    /// <summary>A training loss was NaN or infinite (the learning rate is too high, say); the best weights so far are returned.</summary>
    NotFinite,
}

/// <summary>The recovered network and how the run went. Dispose to release the network's tensors.</summary>
public sealed class RecoveryResult : IDisposable
{
    internal RecoveryResult(nn.Module<Tensor, Tensor> network) => Network = network;

    /// <summary>
    /// A new network with the pruned network's architecture (a Sequential for a chain, a <see cref="Graphs.GraphNetwork"/> for a
    /// graph; batch norms folded into their convolutions, if it had any) and
    /// the weights that gave the lowest held-out distillation loss, on the pruned network's device, in evaluation mode:
    /// the given weights bit for bit when no epoch improved on them (<see cref="KeptGivenWeights"/>).
    /// </summary>
    public nn.Module<Tensor, Tensor> Network { get; }

    /// <summary>Images trained on.</summary>
    public int TrainingImages { get; init; }

    /// <summary>Images held out to choose the best weights.</summary>
    public int HeldOutImages { get; init; }

    /// <summary>The given pruned network's distillation loss on the held-out images: T² · KL(softmax(t / T) ‖ softmax(s / T)), averaged over images.</summary>
    public double HeldOutDistillationLossBefore { get; init; }

    /// <summary>The returned network's held-out distillation loss; never above <see cref="HeldOutDistillationLossBefore"/>.</summary>
    public double HeldOutDistillationLossAfter { get; init; }

    /// <summary>The fraction of held-out images on which the given pruned network's top class is the original's.</summary>
    public double HeldOutAgreementBefore { get; init; }

    /// <summary>The same fraction for the returned network.</summary>
    public double HeldOutAgreementAfter { get; init; }

    /// <summary>Optimizer steps taken.</summary>
    public int Steps { get; init; }

    /// <summary>Epochs begun (the last may be partial).</summary>
    public int Epochs { get; init; }

    /// <summary>The epoch whose weights were returned; 0 when they are the given weights.</summary>
    public int BestEpoch { get; init; }

    /// <summary>Whether no epoch improved the held-out loss, so that <see cref="Network"/> holds the given weights, bit for bit.</summary>
    public bool KeptGivenWeights => BestEpoch == 0;

    /// <summary>Why the run stopped.</summary>
    public RecoveryStopReason StopReason { get; init; }

    /// <summary>Wall-clock time of the run, targets and evaluations included.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Disposes <see cref="Network"/>.</summary>
    public void Dispose() => Network.Dispose();
}
