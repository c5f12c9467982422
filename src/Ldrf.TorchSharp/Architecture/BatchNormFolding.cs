using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>The folding of a BatchNorm2d into the Conv2d it reads, shared by the chain and the graph models.</summary>
internal static class BatchNormFolding
{
    /// <summary>
    /// Folds <paramref name="bn"/> into <paramref name="conv"/> in <paramref name="state"/> (exact in evaluation mode up
    /// to round-off): W′ = W · γ/√(σ²+ε) per output channel, b′ = (b − μ) · γ/√(σ²+ε) + β, computed in float64. The
    /// batch norm's tensors are removed from the state.
    /// </summary>
    /// <returns>The convolution's new spec (it now has a bias).</returns>
    /// <exception cref="ArgumentException">The running variance plus eps is zero in some channel (the scale would be infinite); the message names the batch norm and the channel.</exception>
    public static Conv2dSpec Fold(Dictionary<string, Tensor> state, Conv2dSpec conv, BatchNorm2dSpec bn, string paramName)
    {
        using (NewDisposeScope())
        {
            var zero = state[bn.Path + ".running_var"].to(ScalarType.Float64).add(bn.Eps).le(0).nonzero();
            if (zero.shape[0] > 0)
            {
                throw new ArgumentException(
                    $"BatchNorm2d '{bn.Path}' of '{paramName}' has running_var + eps = 0 in channel {zero[0, 0].item<long>()}; it cannot be folded into '{conv.Path}'.",
                    paramName);
            }
        }

        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var weight = state[conv.Path + ".weight"];
            var dtype = weight.dtype;
            var mean = state[bn.Path + ".running_mean"].to(ScalarType.Float64);
            var variance = state[bn.Path + ".running_var"].to(ScalarType.Float64);
            var scale = (variance + bn.Eps).rsqrt();
            var shift = -mean * scale;
            if (bn.Affine)
            {
                var gamma = state[bn.Path + ".weight"].to(ScalarType.Float64);
                scale = scale * gamma;
                shift = (shift * gamma) + state[bn.Path + ".bias"].to(ScalarType.Float64);
            }

            // The weight's first dimension is the output channel for any groups.
            var newWeight = (weight.to(ScalarType.Float64) * scale.reshape(-1, 1, 1, 1)).to(dtype);
            var newBias = conv.HasBias ? (state[conv.Path + ".bias"].to(ScalarType.Float64) * scale) + shift : shift;
            StateValues.Replace(state, conv.Path + ".weight", newWeight.DetachFromDisposeScope());
            StateValues.Replace(state, conv.Path + ".bias", newBias.to(dtype).DetachFromDisposeScope());
        }

        foreach (var key in state.Keys.Where(k => k.StartsWith(bn.Path + ".", StringComparison.Ordinal)).ToList())
        {
            state[key].Dispose();
            state.Remove(key);
        }

        return conv with { HasBias = true };
    }
}
