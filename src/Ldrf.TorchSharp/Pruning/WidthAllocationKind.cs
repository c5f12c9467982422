namespace Ldrf.TorchSharp.Pruning;

/// <summary>How a FLOPs target (<see cref="NetworkPruningOptions.TargetFlopsReduction"/>) becomes per-layer widths.</summary>
public enum WidthAllocationKind
{
    /// <summary>The same fraction of every prunable layer's channels (within the channel multiple and, when on, the capacity bounds).</summary>
    Uniform,

    /// <summary>
    /// Widths chosen by LDRF's error curves: for every layer, from the original network's calibration statistics,
    /// the fraction of its embedded response that k channels cannot recover, for every k (one greedy response
    /// selection per layer); the FLOPs budget goes where it costs the least error per FLOP
    /// (docs/method.md, "Width allocation and channel multiples").
    /// </summary>
    ErrorCurves,

    /// <summary>
    /// Widths from one global ranking of every channel by the magnitude (L2 norm) of its producer's folded weights,
    /// as global magnitude pruning chooses them; for comparison with <see cref="ErrorCurves"/>.
    /// </summary>
    GlobalMagnitude,
}
