using Ldrf.TorchSharp.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>A network built from specs: the nested Sequential and its top-level layers in forward order (one per spec; a residual block is one).</summary>
/// <remarks>Disposing it disposes <see cref="Root"/>, and with it every layer.</remarks>
internal sealed record BuiltNetwork(Sequential Root, IReadOnlyList<nn.Module<Tensor, Tensor>> Leaves) : IDisposable
{
    public void Dispose() => Root.Dispose();
}

/// <summary>
/// Builds new TorchSharp modules from a chain of <see cref="LayerSpec"/> and a state dictionary. Paths become
/// nested Sequentials again ("features.3" is child "3" of child "features"), so state_dict names match.
/// </summary>
internal static class NetworkBuilder
{
    /// <summary>Builds the network in evaluation mode.</summary>
    /// <param name="specs">The chain.</param>
    /// <param name="state">Parameters and buffers by state_dict name (copied into the new modules), or null to leave them initialized.</param>
    /// <param name="device">The device of the new network.</param>
    /// <param name="dtype">The floating-point type of its parameters.</param>
    public static BuiltNetwork Build(IReadOnlyList<LayerSpec> specs, IReadOnlyDictionary<string, Tensor>? state, Device device, ScalarType dtype)
    {
        // Module constructors draw their initial weights from the global generator; restore it so that
        // pruning or loading never changes the caller's random sequence.
        using var rng = torch.random.get_rng_state();
        try
        {
            var leaves = new List<nn.Module<Tensor, Tensor>>(specs.Count);
            var root = new Node();
            foreach (var spec in specs)
            {
                var module = spec is ResidualBlockSpec block ? CreateBlock(block, state, dtype) : CreateLeaf(spec, state, dtype);
                leaves.Add(module);
                root.Add(spec.Path, module);
            }

            var sequential = root.ToSequential();
            if (device.type != DeviceType.CPU)
            {
                sequential.to(device);
            }

            sequential.eval();
            return new BuiltNetwork(sequential, leaves);
        }
        finally
        {
            torch.random.set_rng_state(rng);
        }
    }

    private static nn.Module<Tensor, Tensor> CreateLeaf(LayerSpec spec, IReadOnlyDictionary<string, Tensor>? state, ScalarType dtype)
    {
        var module = CreateScoped(spec, dtype);
        if (state is not null)
        {
            CopyState(module, spec.Path, state);
        }

        return module;
    }

    // The main branch's layers keep their child names (a repeated name is the same module again); the shortcut
    // becomes the "downsample" Sequential, nested as its paths say.
    private static ResidualBlock CreateBlock(ResidualBlockSpec block, IReadOnlyDictionary<string, Tensor>? state, ScalarType dtype)
    {
        var modules = new Dictionary<string, nn.Module<Tensor, Tensor>>(StringComparer.Ordinal);
        var main = new List<(string, nn.Module<Tensor, Tensor>)>();
        foreach (var spec in block.Main)
        {
            var name = spec.Path[(block.Path.Length + 1)..];
            if (!modules.TryGetValue(name, out var module))
            {
                module = CreateLeaf(spec, state, dtype);
                modules[name] = module;
            }

            main.Add((name, module));
        }

        Sequential? downsample = null;
        if (block.Shortcut.Count > 0)
        {
            var prefix = block.Path + "." + ResidualBlock.DownsampleName + ".";
            var node = new Node();
            foreach (var spec in block.Shortcut)
            {
                node.Add(spec.Path[prefix.Length..], CreateLeaf(spec, state, dtype));
            }

            downsample = node.ToSequential();
        }

        return new ResidualBlock(main, downsample, block.ReluAfterAdd);
    }

    // TorchSharp's initializers leave temporary tensors to the finalizer (Conv2d with a bias leaves one each);
    // a scope frees them at once, and the module's own parameters and buffers are taken out of it first.
    private static nn.Module<Tensor, Tensor> CreateScoped(LayerSpec spec, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var module = Create(spec, dtype);
        scope.Detach(module.parameters());
        scope.Detach(module.buffers());
        return module;
    }

    private static nn.Module<Tensor, Tensor> Create(LayerSpec spec, ScalarType dtype) => spec switch
    {
        Conv2dSpec c => nn.Conv2d(c.InChannels, c.OutChannels, (c.Kernel[0], c.Kernel[1]), (c.Stride[0], c.Stride[1]),
            (c.Padding[0], c.Padding[1]), (c.Dilation[0], c.Dilation[1]), c.PaddingMode, c.Groups, c.HasBias, dtype: dtype),
        BatchNorm2dSpec b => BatchNorm(b, dtype),
        ReluSpec => nn.ReLU(),
        MaxPool2dSpec m => nn.MaxPool2d((m.Kernel[0], m.Kernel[1]), (m.Stride[0], m.Stride[1]), (m.Padding[0], m.Padding[1]), (m.Dilation[0], m.Dilation[1]), m.CeilMode),
        AvgPool2dSpec a => nn.AvgPool2d((a.Kernel[0], a.Kernel[1]), (a.Stride[0], a.Stride[1]), (a.Padding[0], a.Padding[1]), a.CeilMode, a.CountIncludePad, a.DivisorOverride),
        DropoutSpec d => nn.Dropout(d.P),
        FlattenSpec => nn.Flatten(),
        AdaptiveAvgPool2dSpec a => nn.AdaptiveAvgPool2d((a.OutputSize[0], a.OutputSize[1])),
        LinearSpec l => nn.Linear(l.InFeatures, l.OutFeatures, l.HasBias, dtype: dtype),
        _ => throw new InvalidOperationException($"Unknown layer spec {spec.GetType().Name} at '{spec.Path}'."),
    };

    // Created without a dtype, as users create it, so the integer num_batches_tracked buffer keeps its type.
    private static nn.Module<Tensor, Tensor> BatchNorm(BatchNorm2dSpec spec, ScalarType dtype)
    {
        var bn = nn.BatchNorm2d(spec.Channels, spec.Eps, spec.Momentum ?? 0.1, spec.Affine, true);
        return dtype == ScalarType.Float32 ? bn : bn.to(dtype);
    }

    private static void CopyState(nn.Module module, string path, IReadOnlyDictionary<string, Tensor> state)
    {
        using var noGrad = no_grad();
        foreach (var (name, target) in module.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(module.named_buffers()))
        {
            var key = path + "." + name;
            if (!state.TryGetValue(key, out var source))
            {
                throw new InvalidOperationException($"No tensor '{key}' for layer '{path}'.");
            }

            if (!source.shape.SequenceEqual(target.shape))
            {
                throw new InvalidOperationException(
                    $"Tensor '{key}' is {NetworkReader.Shape(source.shape)} but layer '{path}' needs {NetworkReader.Shape(target.shape)}.");
            }

            target.copy_(source);
        }
    }

    private sealed class Node
    {
        private readonly List<(string Name, nn.Module<Tensor, Tensor>? Module, Node? Child)> _items = [];

        /// <summary>Adds a module under a dotted path relative to this node ("features.3").</summary>
        public void Add(string path, nn.Module<Tensor, Tensor> module)
        {
            var node = this;
            var parts = path.Split('.');
            for (var i = 0; i < parts.Length - 1; i++)
            {
                node = node.Child(parts[i]);
            }

            node._items.Add((parts[^1], module, null));
        }

        // Consecutive layers of one container share its node: a chain visits each container in one stretch.
        public Node Child(string name)
        {
            if (_items.Count > 0 && _items[^1].Child is { } last && _items[^1].Name == name)
            {
                return last;
            }

            var node = new Node();
            _items.Add((name, null, node));
            return node;
        }

        public Sequential ToSequential() =>
            nn.Sequential(_items.Select(i => (i.Name, i.Child is null ? i.Module! : (nn.Module<Tensor, Tensor>)i.Child.ToSequential())));
    }
}
