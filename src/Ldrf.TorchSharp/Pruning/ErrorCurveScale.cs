namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// What puts the layers' error curves on one scale for <see cref="WidthAllocationKind.ErrorCurves"/>: each layer's own
/// response (the one-pass curves), or the network's output, measured by pruning each group alone.
/// </summary>
internal enum ErrorCurveScale
{
    /// <summary>Each curve is the fraction of its own layer's embedded response lost: layers weigh alike.</summary>
    Layer,

    /// <summary>
    /// Each layer's curve is scaled by the squared relative output error measured with that layer alone pruned to
    /// its uniform width, over the curve's value there: one probe per layer.
    /// </summary>
    OutputAtOneWidth,

    /// <summary>Each layer's curve is the squared relative output error measured with it alone pruned, at every allowed width.</summary>
    OutputAtEveryWidth,
}
