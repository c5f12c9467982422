using Ldrf.TorchSharp.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Graphs;

/// <summary>One node of a <see cref="GraphNetwork"/>, for inspection.</summary>
/// <param name="Name">The node's name; a node with a module holds it as the child module of this name, so its state_dict keys are <c>Name.weight</c> and so on.</param>
/// <param name="Operation">The operation: the module type ("Conv2d", "ReLU6", ...) or "Add", "Concat" or "Multiply".</param>
/// <param name="Inputs">The names of the nodes it reads, in order (or the network's <see cref="GraphNetwork.InputName"/>).</param>
public sealed record GraphNodeInfo(string Name, string Operation, IReadOnlyList<string> Inputs);

/// <summary>
/// A network of named nodes (TorchSharp modules, and the sum, channel concatenation and gate product of their
/// outputs) in topological order, with one input and one output. Built with <see cref="GraphNetworkBuilder"/>;
/// <c>NetworkFile.SaveLdrf</c>/<c>LoadLdrf</c> store and load it without the code that built it.
/// </summary>
/// <remarks>
/// The forward pass runs the nodes in order and frees each intermediate tensor after its last reader. Each module
/// is a child module under its node's name, so <c>train()</c>, <c>eval()</c>, <c>to(device)</c>, <c>parameters()</c> and
/// <c>state_dict()</c> (keys <c>node.weight</c>, <c>node.bias</c>, <c>node.running_mean</c>, ...) work as for any module.
/// </remarks>
public sealed class GraphNetwork : nn.Module<Tensor, Tensor>
{
    private readonly GraphExecutor _executor;
    private readonly Dictionary<string, string> _pyTorchNames;

    internal GraphNetwork(string inputName, IReadOnlyList<GraphNode> nodes, string outputName, IReadOnlyDictionary<string, nn.Module<Tensor, Tensor>> modules)
        : base(nameof(GraphNetwork))
    {
        InputName = inputName;
        OutputName = outputName;
        GraphNodes = [.. nodes];
        Modules = modules;
        Nodes = [.. nodes.Select(n => new GraphNodeInfo(n.Name, n.Op.TypeName, [.. n.Inputs]))];
        foreach (var node in GraphNodes)
        {
            if (modules.TryGetValue(node.Name, out var module))
            {
                register_module(node.Name, module);
            }
        }

        _pyTorchNames = nodes.Where(n => n.PyTorchName is not null).ToDictionary(n => n.Name, n => n.PyTorchName!, StringComparer.Ordinal);
        _executor = new GraphExecutor(GraphNodes, inputName, outputName, n => modules.GetValueOrDefault(n.Name));
    }

    /// <summary>The nodes in topological order (each after the nodes it reads).</summary>
    public IReadOnlyList<GraphNodeInfo> Nodes { get; }

    /// <summary>The name by which the first nodes read the network's input.</summary>
    public string InputName { get; }

    /// <summary>The node whose output is the network's output.</summary>
    public string OutputName { get; }

    /// <summary>The nodes with the specs they were built from (a module node's spec is read again from its module when the network is read).</summary>
    internal IReadOnlyList<GraphNode> GraphNodes { get; }

    /// <summary>The module of each node that has one, by node name.</summary>
    internal IReadOnlyDictionary<string, nn.Module<Tensor, Tensor>> Modules { get; }

    /// <summary>The executor over this network's own modules (for the tensors of chosen nodes).</summary>
    internal GraphExecutor Executor => _executor;

    /// <summary>
    /// The key of each state_dict entry in PyTorch files (<c>NetworkFile.ExportPyTorch</c>, <c>LoadPyTorch</c>,
    /// <c>LoadSafetensors</c>): <c>node.weight</c> is written under the node's PyTorch module path when it has one
    /// (<c>features_1_conv_0_0.weight</c> as <c>features.1.conv.0.0.weight</c>), else under its own name.
    /// </summary>
    internal string PyTorchKey(string key)
    {
        var dot = key.IndexOf('.', StringComparison.Ordinal);
        var node = dot < 0 ? key : key[..dot];
        return _pyTorchNames.TryGetValue(node, out var path) ? path + key[node.Length..] : key;
    }

    /// <summary>Runs the nodes in topological order.</summary>
    /// <param name="input">The network input (N x C x H x W for a CNN).</param>
    /// <returns>The output node's tensor.</returns>
    public override Tensor forward(Tensor input) => _executor.Forward(input);

    /// <summary>A new network for a graph's nodes: a module per node that has one, holding copies of <paramref name="state"/> (or initialized when it is null).</summary>
    internal static GraphNetwork Create(string inputName, IReadOnlyList<GraphNode> nodes, string outputName, IReadOnlyDictionary<string, Tensor>? state, ScalarType dtype, bool share = false)
    {
        var modules = new Dictionary<string, nn.Module<Tensor, Tensor>>(StringComparer.Ordinal);
        try
        {
            foreach (var node in nodes)
            {
                if (LayerModules.Create(node.Op, dtype) is { } module)
                {
                    modules[node.Name] = module;
                    if (state is not null)
                    {
                        LayerModules.LoadState(module, node.Name, state, share);
                    }
                }
            }

            return new GraphNetwork(inputName, nodes, outputName, modules);
        }
        catch
        {
            foreach (var module in modules.Values)
            {
                module.Dispose();
            }

            throw;
        }
    }
}
