using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>
/// Any supported network as data: named operation nodes in topological order, the edges between them, and an owned
/// state dictionary keyed as the network's state_dict (<c>node.weight</c>, <c>node.running_mean</c>, ...). Chains
/// and residual-block networks read into it as well as graph networks, so the pruner works on one representation;
/// the pruner edits copies, never the caller's modules, and builds new modules from it.
/// </summary>
/// <remarks>
/// A residual block becomes its main branch's nodes, its shortcut's nodes, an <see cref="AddSpec"/> named
/// <c>block.add</c> and, when a ReLU follows the add, a <see cref="ReluSpec"/> named <c>block.relu</c>. Node names are
/// unique: a module path met again (a ReLU shared inside a main branch, or the block's own <c>relu</c> when the main
/// branch already has one) is named <c>path#2</c>, <c>path#3</c>, .... A network read from a chain keeps the chain in
/// <see cref="ChainLayout"/>, so that it is built back as the same Sequential with the same paths.
/// </remarks>
internal sealed class GraphModel : IDisposable
{
    /// <summary>The name of the graph input when the network does not name it.</summary>
    public const string DefaultInputName = "input";

    public GraphModel(string inputName, List<GraphNode> nodes, string outputName, Dictionary<string, Tensor> state, List<LayerSpec>? chainLayout = null)
    {
        InputName = inputName;
        Nodes = nodes;
        OutputName = outputName;
        State = state;
        ChainLayout = chainLayout;
    }

    /// <summary>The name the first nodes read their input by.</summary>
    public string InputName { get; }

    /// <summary>The nodes in topological order (every node after the nodes it reads).</summary>
    public List<GraphNode> Nodes { get; }

    /// <summary>The node whose output is the network's output.</summary>
    public string OutputName { get; }

    /// <summary>Parameters and buffers by state_dict name, owned by this model.</summary>
    public Dictionary<string, Tensor> State { get; }

    /// <summary>
    /// The chain this model was read from (null for a graph network): used only to build the output as a Sequential
    /// with the original paths. Its layers are looked up among the nodes by path, so edits to the nodes show.
    /// </summary>
    public List<LayerSpec>? ChainLayout { get; }

    /// <summary>The node with this name.</summary>
    /// <exception cref="KeyNotFoundException">No node has this name.</exception>
    public GraphNode this[string name] => Nodes[IndexOf(name)];

    /// <summary>The position of the node with this name in <see cref="Nodes"/>.</summary>
    /// <exception cref="KeyNotFoundException">No node has this name.</exception>
    public int IndexOf(string name)
    {
        var index = Nodes.FindIndex(n => n.Name == name);
        return index >= 0 ? index : throw new KeyNotFoundException($"No node '{name}' in the graph.");
    }

    /// <summary>The nodes that read node (or input) <paramref name="name"/>, in topological order.</summary>
    public IReadOnlyList<GraphNode> Consumers(string name) => [.. Nodes.Where(n => n.Inputs.Contains(name, StringComparer.Ordinal))];

    /// <summary>Reads a network's architecture and copies its state (the network is left untouched).</summary>
    /// <param name="network">A Sequential (possibly nested, with residual blocks) of the supported layers.</param>
    /// <param name="paramName">The caller's argument name, for messages.</param>
    /// <exception cref="ArgumentException">
    /// A module is unsupported, the network is disposed, a parameter or buffer holds NaN or infinity, or a batch
    /// norm's running variance is negative (the message names the tensor, its shape and the first bad entry).
    /// </exception>
    public static GraphModel FromNetwork(nn.Module network, string paramName)
    {
        ArgumentNullException.ThrowIfNull(network, paramName);
        var chain = NetworkReader.Read(network, paramName);
        var state = NetworkReader.CopyState(network);
        try
        {
            StateValues.Check(state, LayerSpec.Leaves(chain), paramName);
        }
        catch
        {
            DisposeAll(state);
            throw;
        }

        return FromChain(chain, state);
    }

    /// <summary>The graph of a chain (residual blocks included); takes ownership of <paramref name="state"/>.</summary>
    public static GraphModel FromChain(List<LayerSpec> chain, Dictionary<string, Tensor> state)
    {
        var taken = new HashSet<string>(StringComparer.Ordinal);
        var inputName = DefaultInputName;
        var paths = LayerSpec.Leaves(chain).Select(l => l.Path).ToHashSet(StringComparer.Ordinal);
        while (paths.Contains(inputName))
        {
            inputName = "_" + inputName;
        }

        taken.Add(inputName);
        var nodes = new List<GraphNode>();
        var current = inputName;
        foreach (var spec in chain)
        {
            if (spec is not ResidualBlockSpec block)
            {
                current = AddNode(nodes, taken, spec, current);
                continue;
            }

            var main = current;
            foreach (var layer in block.Main)
            {
                main = AddNode(nodes, taken, layer, main);
            }

            var shortcut = current;
            foreach (var layer in block.Shortcut)
            {
                shortcut = AddNode(nodes, taken, layer, shortcut);
            }

            current = AddNode(nodes, taken, new AddSpec(block.Path + ".add"), main, shortcut);
            if (block.ReluAfterAdd)
            {
                current = AddNode(nodes, taken, new ReluSpec(block.Path + ".relu"), current);
            }
        }

        return new GraphModel(inputName, nodes, current, state, [.. chain.Select(Copy)]);
    }

    /// <summary>An independent copy (nodes, layout and cloned tensors).</summary>
    public GraphModel Clone()
    {
        using var noGrad = no_grad();
        return new GraphModel(
            InputName,
            [.. Nodes.Select(n => n with { Inputs = [.. n.Inputs] })],
            OutputName,
            State.ToDictionary(kv => kv.Key, kv => kv.Value.clone().DetachFromDisposeScope(), StringComparer.Ordinal),
            ChainLayout is null ? null : [.. ChainLayout.Select(Copy)]);
    }

    /// <summary>Replaces (and disposes) a state tensor.</summary>
    public void Replace(string key, Tensor value)
    {
        if (State.TryGetValue(key, out var old))
        {
            old.Dispose();
        }

        State[key] = value;
    }

    /// <summary>Replaces the operation of the node named <paramref name="op"/>.Path, keeping its inputs.</summary>
    /// <exception cref="KeyNotFoundException">No node has this name.</exception>
    public void Replace(LayerSpec op)
    {
        var index = IndexOf(op.Path);
        Nodes[index] = Nodes[index] with { Op = op };
    }

    public void Dispose()
    {
        DisposeAll(State);
        State.Clear();
    }

    private static string AddNode(List<GraphNode> nodes, HashSet<string> taken, LayerSpec spec, params string[] inputs)
    {
        var name = spec.Path;
        for (var k = 2; !taken.Add(name); k++)
        {
            name = spec.Path + "#" + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        nodes.Add(new GraphNode(name == spec.Path ? spec : spec with { Path = name }, inputs));
        return name;
    }

    private static LayerSpec Copy(LayerSpec spec) => spec is ResidualBlockSpec block ? block.DeepCopy() : spec;

    private static void DisposeAll(Dictionary<string, Tensor> state)
    {
        foreach (var t in state.Values)
        {
            t.Dispose();
        }
    }
}
