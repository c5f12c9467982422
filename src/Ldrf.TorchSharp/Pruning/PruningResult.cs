using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>The pruned network and the report. Dispose to release the network's tensors.</summary>
public sealed class PruningResult : IDisposable
{
    internal PruningResult(nn.Module<Tensor, Tensor> network, PruningReport report)
    {
        Network = network;
        Report = report;
    }

    /// <summary>
    /// The new, physically smaller network on the original's device, in evaluation mode, with batch norms
    /// folded: a Sequential with the original's paths when the original was a Sequential (a folded BatchNorm2d's path is
    /// gone), a <see cref="Graphs.GraphNetwork"/> with the original's node names when it was one (a folded BatchNorm2d's
    /// node is gone and its readers read the convolution). Its forward takes the same inputs and returns outputs of the
    /// same size as the original's.
    /// </summary>
    public nn.Module<Tensor, Tensor> Network { get; }

    /// <summary>Per-layer and total figures.</summary>
    public PruningReport Report { get; }

    /// <summary>Disposes <see cref="Network"/>.</summary>
    public void Dispose() => Network.Dispose();
}
