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
    /// <param name="share">Whether the modules take views of the state's CPU tensors instead of copies (see <see cref="LayerModules.LoadState"/>).</param>
    public static BuiltNetwork Build(IReadOnlyList<LayerSpec> specs, IReadOnlyDictionary<string, Tensor>? state, Device device, ScalarType dtype, bool share = false)
    {
        return LayerModules.PreservingRng(() =>
        {
            var leaves = new List<nn.Module<Tensor, Tensor>>(specs.Count);
            var root = new Node();
            foreach (var spec in specs)
            {
                var module = spec is ResidualBlockSpec block ? CreateBlock(block, state, dtype, share) : CreateLeaf(spec, state, dtype, share);
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
        });
    }

    private static nn.Module<Tensor, Tensor> CreateLeaf(LayerSpec spec, IReadOnlyDictionary<string, Tensor>? state, ScalarType dtype, bool share)
    {
        var module = LayerModules.Create(spec, dtype) ?? throw new InvalidOperationException($"Layer '{spec.Path}' ({spec.TypeName}) has no module of its own and cannot be part of a chain.");
        if (state is not null)
        {
            LayerModules.LoadState(module, spec.Path, state, share);
        }

        return module;
    }

    // The main branch's layers keep their child names (a repeated name is the same module again); the shortcut
    // becomes the "downsample" Sequential, nested as its paths say.
    private static ResidualBlock CreateBlock(ResidualBlockSpec block, IReadOnlyDictionary<string, Tensor>? state, ScalarType dtype, bool share)
    {
        var modules = new Dictionary<string, nn.Module<Tensor, Tensor>>(StringComparer.Ordinal);
        var main = new List<(string, nn.Module<Tensor, Tensor>)>();
        foreach (var spec in block.Main)
        {
            var name = spec.Path[(block.Path.Length + 1)..];
            if (!modules.TryGetValue(name, out var module))
            {
                module = CreateLeaf(spec, state, dtype, share);
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
                node.Add(spec.Path[prefix.Length..], CreateLeaf(spec, state, dtype, share));
            }

            downsample = node.ToSequential();
        }

        return new ResidualBlock(main, downsample, block.ReluAfterAdd);
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
