using Ldrf.TorchSharp.Complexity;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>
/// A chain network as data: layer specs plus an owned state dictionary (state_dict names). The pruner edits
/// copies of this, never the caller's modules, and builds new TorchSharp modules from it.
/// </summary>
internal sealed class ChainModel : IDisposable
{
    public ChainModel(List<LayerSpec> layers, Dictionary<string, Tensor> state)
    {
        Layers = layers;
        State = state;
    }

    public List<LayerSpec> Layers { get; }

    public Dictionary<string, Tensor> State { get; }

    /// <summary>Reads a network's architecture and copies its state (the network is left untouched).</summary>
    /// <exception cref="ArgumentException">
    /// A module is unsupported, the network is disposed, a parameter or buffer holds NaN or infinity, or a batch
    /// norm's running variance is negative (the message names the tensor, its shape and the first bad entry).
    /// </exception>
    public static ChainModel FromNetwork(nn.Module network, string paramName)
    {
        var layers = NetworkReader.Read(network, paramName);
        var model = new ChainModel(layers, NetworkReader.CopyState(network));
        try
        {
            StateValues.Check(model.State, LayerSpec.Leaves(layers), paramName);
        }
        catch
        {
            model.Dispose();
            throw;
        }

        return model;
    }

    /// <summary>
    /// A copy with every BatchNorm2d folded into the Conv2d before it (exact in evaluation mode up to
    /// round-off): W′ = W · γ/√(σ²+ε) per output channel, b′ = (b − μ) · γ/√(σ²+ε) + β, computed in float64.
    /// </summary>
    /// <exception cref="ArgumentException">A BatchNorm2d does not directly follow a Conv2d.</exception>
    public ChainModel FoldBatchNorm(string paramName)
    {
        using var noGrad = no_grad();
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, value) in State)
        {
            state[key] = value.clone().DetachFromDisposeScope();
        }

        try
        {
            return new ChainModel(Fold(Layers, state, paramName), state);
        }
        catch
        {
            foreach (var t in state.Values)
            {
                t.Dispose();
            }

            throw;
        }
    }

    // Folds one chain; a residual block's main branch and shortcut are chains of their own.
    private static List<LayerSpec> Fold(List<LayerSpec> chain, Dictionary<string, Tensor> state, string paramName)
    {
        var layers = new List<LayerSpec>();
        foreach (var spec in chain)
        {
            if (spec is ResidualBlockSpec block)
            {
                layers.Add(block with { Main = Fold(block.Main, state, paramName), Shortcut = Fold(block.Shortcut, state, paramName) });
                continue;
            }

            if (spec is not BatchNorm2dSpec bn)
            {
                layers.Add(spec);
                continue;
            }

            if (layers.Count == 0 || layers[^1] is not Conv2dSpec conv)
            {
                throw new ArgumentException(
                    $"BatchNorm2d '{bn.Path}' must directly follow a Conv2d to be folded, but follows " +
                    (layers.Count == 0 ? "nothing in its chain." : $"'{layers[^1].Path}' ({layers[^1].TypeName})."),
                    paramName);
            }

            layers[^1] = BatchNormFolding.Fold(state, conv, bn, paramName);
        }

        return layers;
    }

    /// <summary>An independent copy (specs and cloned tensors).</summary>
    public ChainModel Clone()
    {
        using var noGrad = no_grad();
        return new ChainModel([.. Layers.Select(l => l is ResidualBlockSpec block ? block.DeepCopy() : l)], State.ToDictionary(kv => kv.Key, kv => kv.Value.clone().DetachFromDisposeScope(), StringComparer.Ordinal));
    }

    /// <summary>Builds new modules (evaluation mode) holding copies of the state.</summary>
    public BuiltNetwork Build(Device device, ScalarType dtype) => NetworkBuilder.Build(Layers, State, device, dtype);

    /// <summary>Counts FLOPs and parameters for one image.</summary>
    public ComplexityReport Complexity(long[] imageShape, string paramName) => ModelComplexity.Count(Layers, imageShape, paramName);

    /// <summary>Replaces (and disposes) a state tensor.</summary>
    public void Replace(string key, Tensor value) => StateValues.Replace(State, key, value);

    public void Dispose()
    {
        foreach (var t in State.Values)
        {
            t.Dispose();
        }

        State.Clear();
    }
}
