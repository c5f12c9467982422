using Ldrf.TorchSharp.Architecture;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Serialization;

/// <summary>
/// Lays a pruned network's weights out as the network it was pruned from: the original's layers and names at the
/// pruned widths, each batch norm that was folded away put back identity-initialized with the folded bias.
/// </summary>
internal static class PyTorchLayout
{
    /// <summary>A new CPU network with <paramref name="layoutOf"/>'s layers and <paramref name="network"/>'s widths and weights.</summary>
    /// <exception cref="ArgumentException">The layouts do not correspond (ParamName <c>layoutOf</c>, the message names the layer).</exception>
    public static Sequential Build(nn.Module<Tensor, Tensor> network, nn.Module<Tensor, Tensor> layoutOf)
    {
        var pruned = NetworkReader.Read(network, nameof(network));
        var original = NetworkReader.Read(layoutOf, nameof(layoutOf));
        var byPath = new Dictionary<string, LayerSpec>(StringComparer.Ordinal);
        foreach (var spec in pruned.Concat(LayerSpec.Leaves(pruned)))
        {
            byPath.TryAdd(spec.Path, spec); // a ReLU shared inside a block's main branch appears at each of its uses
        }

        var dtype = network.parameters().FirstOrDefault()?.dtype ?? ScalarType.Float32;
        using var scope = NewDisposeScope(); // the tensors made here; the network's own are only read
        var mapper = new Mapper(byPath, network.state_dict(), dtype);
        var layers = mapper.Map(original);
        if (byPath.Keys.FirstOrDefault(path => !mapper.Used.Contains(path)) is { } extra)
        {
            throw new ArgumentException(
                $"'{nameof(layoutOf)}' does not correspond to '{nameof(network)}': layer '{extra}' ({byPath[extra].TypeName}) of '{nameof(network)}' is not in '{nameof(layoutOf)}'.",
                nameof(layoutOf));
        }

        return NetworkBuilder.Build(layers, mapper.State, CPU, dtype).Root;
    }

    private sealed class Mapper(Dictionary<string, LayerSpec> pruned, Dictionary<string, Tensor> source, ScalarType dtype)
    {
        public HashSet<string> Used { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, Tensor> State { get; } = new(StringComparer.Ordinal);

        // The bias each folded-away batch norm must carry, by the batch norm's path.
        private readonly Dictionary<string, Tensor> _carried = new(StringComparer.Ordinal);

        public List<LayerSpec> Map(List<LayerSpec> chain)
        {
            var layers = new List<LayerSpec>(chain.Count);
            for (var i = 0; i < chain.Count; i++)
            {
                var next = i + 1 < chain.Count ? chain[i + 1] : null;
                layers.Add(chain[i] switch
                {
                    ResidualBlockSpec block => Block(block),
                    Conv2dSpec conv => Conv(conv, next is BatchNorm2dSpec bn && !pruned.ContainsKey(bn.Path) ? bn : null),
                    BatchNorm2dSpec bn => BatchNorm(bn, i > 0 ? chain[i - 1] : null),
                    LinearSpec linear => Linear(linear),
                    var other => Same(other),
                });
            }

            return layers;
        }

        private ResidualBlockSpec Block(ResidualBlockSpec block)
        {
            var counterpart = Counterpart<ResidualBlockSpec>(block);
            if (counterpart.ReluAfterAdd != block.ReluAfterAdd)
            {
                throw Mismatch(block, $"a ReLU after the add is {block.ReluAfterAdd} in 'layoutOf' but {counterpart.ReluAfterAdd} in 'network'");
            }

            return block with { Main = Map(block.Main), Shortcut = Map(block.Shortcut) };
        }

        // foldedInto: the batch norm after this convolution that the pruner folded away; it takes the bias.
        private Conv2dSpec Conv(Conv2dSpec conv, BatchNorm2dSpec? foldedInto)
        {
            var p = Counterpart<Conv2dSpec>(conv);
            if (!p.Kernel.SequenceEqual(conv.Kernel) || !p.Stride.SequenceEqual(conv.Stride) || !p.Padding.SequenceEqual(conv.Padding)
                || !p.Dilation.SequenceEqual(conv.Dilation) || p.PaddingMode != conv.PaddingMode)
            {
                throw Mismatch(conv, $"its kernel, stride, padding or dilation differ ({Describe(conv)} in 'layoutOf', {Describe(p)} in 'network')");
            }

            State[conv.Path + ".weight"] = source[conv.Path + ".weight"];
            var bias = p.HasBias ? source[conv.Path + ".bias"] : null;
            if (foldedInto is not null)
            {
                _carried[foldedInto.Path] = bias ?? zeros(p.OutChannels, dtype);
                bias = null;
            }
            else if (bias is not null && !conv.HasBias)
            {
                throw Mismatch(conv, "it has a bias in 'network' but none in 'layoutOf', and no batch norm follows it there to carry the bias");
            }

            if (conv.HasBias)
            {
                State[conv.Path + ".bias"] = bias ?? zeros(p.OutChannels, dtype);
            }

            return conv with { InChannels = p.InChannels, OutChannels = p.OutChannels };
        }

        private BatchNorm2dSpec BatchNorm(BatchNorm2dSpec bn, LayerSpec? before)
        {
            if (pruned.ContainsKey(bn.Path))
            {
                var kept = Counterpart<BatchNorm2dSpec>(bn);
                foreach (var key in source.Keys.Where(k => k.StartsWith(bn.Path + ".", StringComparison.Ordinal)))
                {
                    State[key] = source[key];
                }

                return bn with { Channels = kept.Channels };
            }

            if (before is not Conv2dSpec || !_carried.TryGetValue(bn.Path, out var bias))
            {
                throw Mismatch(bn, "it is a BatchNorm2d in 'layoutOf' that is not in 'network' and does not directly follow a Conv2d it could have been folded into");
            }

            // Identity in evaluation mode: (x - mean) / sqrt(var + eps) * weight + bias = x + b.
            var channels = (int)bias.shape[0];
            State[bn.Path + ".running_var"] = full(channels, 1.0 - bn.Eps, ScalarType.Float64).to(dtype);
            State[bn.Path + ".num_batches_tracked"] = tensor(0L);
            if (bn.Affine)
            {
                State[bn.Path + ".weight"] = ones(channels, dtype);
                State[bn.Path + ".bias"] = bias;
                State[bn.Path + ".running_mean"] = zeros(channels, dtype);
            }
            else
            {
                State[bn.Path + ".running_mean"] = -bias;
            }

            return bn with { Channels = channels };
        }

        private LinearSpec Linear(LinearSpec linear)
        {
            var p = Counterpart<LinearSpec>(linear);
            if (p.HasBias && !linear.HasBias)
            {
                throw Mismatch(linear, "it has a bias in 'network' but none in 'layoutOf'");
            }

            State[linear.Path + ".weight"] = source[linear.Path + ".weight"];
            if (linear.HasBias)
            {
                State[linear.Path + ".bias"] = p.HasBias ? source[linear.Path + ".bias"] : zeros(p.OutFeatures, dtype);
            }

            return linear with { InFeatures = p.InFeatures, OutFeatures = p.OutFeatures };
        }

        // A layer without weights (ReLU, pooling, Dropout, Flatten) is taken as the original has it.
        private LayerSpec Same(LayerSpec spec)
        {
            Counterpart<LayerSpec>(spec); // the network must have it, of the same type
            return spec;
        }

        private T Counterpart<T>(LayerSpec spec)
            where T : LayerSpec
        {
            if (!pruned.TryGetValue(spec.Path, out var counterpart))
            {
                throw Mismatch(spec, "'network' has no layer of that path");
            }

            if (counterpart.GetType() != spec.GetType())
            {
                throw Mismatch(spec, $"it is a {spec.TypeName} in 'layoutOf' but a {counterpart.TypeName} in 'network'");
            }

            Used.Add(spec.Path);
            return (T)counterpart;
        }

        private static ArgumentException Mismatch(LayerSpec spec, string what) =>
            new($"'layoutOf' does not correspond to 'network' at layer '{spec.Path}' ({spec.TypeName}): {what}.", "layoutOf");

        private static string Describe(Conv2dSpec c) =>
            $"kernel {string.Join("x", c.Kernel)}, stride {string.Join("x", c.Stride)}, padding {string.Join("x", c.Padding)}, dilation {string.Join("x", c.Dilation)}, {c.PaddingMode}";
    }
}
