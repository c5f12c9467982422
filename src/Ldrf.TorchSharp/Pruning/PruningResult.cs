using TorchSharp.Modules;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>The pruned network and the report. Dispose to release the network's tensors.</summary>
public sealed class PruningResult : IDisposable
{
    internal PruningResult(Sequential network, PruningReport report)
    {
        Network = network;
        Report = report;
    }

    /// <summary>
    /// The new, physically smaller network on the original's device, in evaluation mode, with batch norms
    /// folded and the original's Sequential paths (a folded BatchNorm2d's path is gone). Its forward takes the
    /// same inputs and returns outputs of the same size as the original's.
    /// </summary>
    public Sequential Network { get; }

    /// <summary>Per-layer and total figures.</summary>
    public PruningReport Report { get; }

    /// <summary>Disposes <see cref="Network"/>.</summary>
    public void Dispose() => Network.Dispose();
}
