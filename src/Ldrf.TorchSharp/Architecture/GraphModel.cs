using Ldrf.TorchSharp.Complexity;
using Ldrf.TorchSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;
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

    /// <summary>
    /// Reads a network's architecture and takes its state as views of the network's own tensors (no copy; the network
    /// is left untouched: a graph model never writes into a state tensor, it replaces it, and <see cref="Build"/> copies).
    /// </summary>
    /// <param name="network">A <see cref="GraphNetwork"/>, or a Sequential (possibly nested, with residual blocks) of the supported layers.</param>
    /// <param name="paramName">The caller's argument name, for messages.</param>
    /// <exception cref="ArgumentException">
    /// A module is unsupported, the network is disposed, a parameter or buffer holds NaN or infinity, or a batch
    /// norm's running variance is negative (the message names the tensor, its shape and the first bad entry).
    /// </exception>
    public static GraphModel FromNetwork(nn.Module network, string paramName)
    {
        ArgumentNullException.ThrowIfNull(network, paramName);
        if (network is GraphNetwork graph)
        {
            return Checked(new GraphModel(graph.InputName, Describe(graph, paramName), graph.OutputName, NetworkReader.ShareState(network)), paramName);
        }

        var chain = NetworkReader.Read(network, paramName);
        return Checked(FromChain(chain, NetworkReader.ShareState(network)), paramName);
    }

    /// <summary>
    /// A graph network's nodes, each module node described again from its module (its hyperparameters as they are
    /// now; a disposed module is refused by name).
    /// </summary>
    /// <exception cref="ArgumentException">A module has been disposed.</exception>
    public static List<GraphNode> Describe(GraphNetwork network, string paramName) =>
        [.. network.GraphNodes.Select(n => network.Modules.TryGetValue(n.Name, out var module)
            ? n with { Op = LayerModules.Describe(module, n.Name, paramName, inGraph: true)! }
            : n)];

    private static GraphModel Checked(GraphModel model, string paramName)
    {
        try
        {
            StateValues.Check(model.State, model.Nodes.Select(n => n.Op), paramName);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
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

    /// <summary>
    /// A copy with every BatchNorm2d folded into the Conv2d it reads when nothing else reads that convolution
    /// (exact in evaluation mode up to round-off; see <see cref="BatchNormFolding.Fold"/>). The batch norm's node is
    /// gone and its readers read the convolution; a batch norm that does not qualify stays a node.
    /// </summary>
    /// <exception cref="ArgumentException">A batch norm's running variance plus its eps is zero in some channel (it cannot be folded); the message names it.</exception>
    public GraphModel FoldBatchNorm(string paramName)
    {
        var folded = Clone();
        try
        {
            var output = OutputName;
            foreach (var bn in Nodes.Where(n => n.Op is BatchNorm2dSpec).Select(n => (BatchNorm2dSpec)n.Op).ToList())
            {
                var source = folded[bn.Path].Inputs[0];
                if (source == InputName || folded[source].Op is not Conv2dSpec conv || folded.Consumers(source).Count != 1 || source == output)
                {
                    continue;
                }

                folded.Replace(BatchNormFolding.Fold(folded.State, conv, bn, paramName));
                folded.Nodes.RemoveAt(folded.IndexOf(bn.Path));
                for (var i = 0; i < folded.Nodes.Count; i++)
                {
                    if (folded.Nodes[i].Inputs.Contains(bn.Path, StringComparer.Ordinal))
                    {
                        folded.Nodes[i] = folded.Nodes[i] with { Inputs = [.. folded.Nodes[i].Inputs.Select(x => x == bn.Path ? source : x)] };
                    }
                }

                output = output == bn.Path ? source : output;
            }

            return output == OutputName ? folded : new GraphModel(InputName, folded.Nodes, output, folded.State, folded.ChainLayout);
        }
        catch
        {
            folded.Dispose();
            throw;
        }
    }

    /// <summary>The output shape of every node (and of the input) for one image of shape <paramref name="imageShape"/> (C x H x W).</summary>
    /// <exception cref="ArgumentException">A node cannot take its inputs; the message names the node and the shapes.</exception>
    public Dictionary<string, long[]> Shapes(long[] imageShape, string paramName) => ShapeInference.Outputs(this, imageShape, paramName);

    /// <summary>Counts FLOPs and parameters for one image (a row per node; see <see cref="ModelComplexity"/> for the convention).</summary>
    public ComplexityReport Complexity(long[] imageShape, string paramName) => ModelComplexity.Count(this, imageShape, paramName);

    /// <summary>
    /// Builds new modules (evaluation mode) holding copies of the state: the chain's Sequential with its original
    /// paths when the model was read from a chain, else a <see cref="GraphNetwork"/>.
    /// </summary>
    /// <param name="device">The device of the new network.</param>
    /// <param name="dtype">The type of its parameters.</param>
    /// <param name="share">
    /// Whether the modules take views of the state's CPU tensors instead of copies: for networks that only run
    /// inference while this model lives (see <see cref="LayerModules.LoadState"/>); a network handed to a caller copies.
    /// </param>
    public BuiltGraph Build(Device device, ScalarType dtype, bool share = false)
    {
        if (ChainLayout is null)
        {
            var network = LayerModules.PreservingRng(() => GraphNetwork.Create(InputName, Nodes, OutputName, State, dtype, share));
            if (device.type != DeviceType.CPU)
            {
                network.to(device);
            }

            network.eval();
            return new BuiltGraph(network, network.Executor);
        }

        var built = NetworkBuilder.Build([.. ChainLayout.Select(Resolve).OfType<LayerSpec>()], State, device, dtype, share);
        var modules = built.Root.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        var executor = new GraphExecutor(Nodes, InputName, OutputName, node =>
            modules.GetValueOrDefault(BasePath(node.Name)) is nn.Module<Tensor, Tensor> module && node.Op is not (AddSpec or ConcatSpec or MultiplySpec)
                ? module
                : null);
        return new BuiltGraph(built.Root, executor);
    }

    // A layout layer as the nodes now have it (null when folded away); a residual block's branches likewise.
    private LayerSpec? Resolve(LayerSpec spec)
    {
        if (spec is ResidualBlockSpec block)
        {
            return block with { Main = [.. block.Main.Select(Resolve).OfType<LayerSpec>()], Shortcut = [.. block.Shortcut.Select(Resolve).OfType<LayerSpec>()] };
        }

        var index = Nodes.FindIndex(n => n.Name == spec.Path);
        return index < 0 ? null : Nodes[index].Op;
    }

    // The module path of a node read from a chain ("layer1.0.relu#2" is module "layer1.0.relu" again).
    private static string BasePath(string name)
    {
        var hash = name.LastIndexOf('#');
        return hash < 0 ? name : name[..hash];
    }

    /// <summary>
    /// A copy of the nodes and layout whose state holds views of the same tensors (no copy of their memory): every
    /// change to a graph model replaces a tensor (<see cref="Replace(string, Tensor)"/>) and never writes into one, so
    /// the copy and this model change independently. Pruning VGG-16 keeps three graph models alive; sharing spares two
    /// copies of its 0.55 GB of weights.
    /// </summary>
    public GraphModel Clone()
    {
        return new GraphModel(
            InputName,
            [.. Nodes.Select(n => n with { Inputs = [.. n.Inputs] })],
            OutputName,
            State.ToDictionary(kv => kv.Key, kv => kv.Value.alias().DetachFromDisposeScope(), StringComparer.Ordinal),
            ChainLayout is null ? null : [.. ChainLayout.Select(Copy)]);
    }

    /// <summary>Replaces (and disposes) a state tensor.</summary>
    public void Replace(string key, Tensor value) => StateValues.Replace(State, key, value);

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

/// <summary>A built graph: the network (a Sequential for chain input, else a <see cref="GraphNetwork"/>) and an executor over its modules.</summary>
/// <remarks>Disposing it disposes <see cref="Network"/>, and with it every module.</remarks>
internal sealed record BuiltGraph(nn.Module<Tensor, Tensor> Network, GraphExecutor Executor) : IDisposable
{
    public void Dispose() => Network.Dispose();
}
