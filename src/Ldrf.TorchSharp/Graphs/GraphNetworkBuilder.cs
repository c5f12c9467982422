using Ldrf.TorchSharp.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Graphs;

/// <summary>
/// Builds a <see cref="GraphNetwork"/> node by node: each call adds a node that reads earlier nodes (or the input) and
/// returns its name, so the nodes come out in topological order.
/// </summary>
/// <example>
/// An inverted residual block:
/// <code>
/// var g = new GraphNetworkBuilder();
/// var expand = g.Layer("expand", nn.Conv2d(16, 64, 1), g.Input);
/// var act = g.Layer("act", nn.ReLU6(), expand);
/// var dw = g.Layer("dw", nn.Conv2d(64, 64, 3, padding: 1, groups: 64), act);
/// var project = g.Layer("project", nn.Conv2d(64, 16, 1), g.Layer("act2", nn.ReLU6(), dw));
/// var network = g.Build(g.Sum("add", g.Input, project));
/// </code>
/// </example>
public sealed class GraphNetworkBuilder
{
    private readonly List<GraphNode> _nodes = [];
    private readonly Dictionary<string, nn.Module<Tensor, Tensor>> _modules = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private bool _built;

    /// <summary>Starts a graph whose input is called <paramref name="inputName"/>.</summary>
    /// <param name="inputName">The input's name, by which nodes read it; non-empty and without '.'.</param>
    /// <exception cref="ArgumentException"><paramref name="inputName"/> is empty or contains '.'.</exception>
    public GraphNetworkBuilder(string inputName = GraphModel.DefaultInputName)
    {
        CheckName(inputName, nameof(inputName));
        Input = inputName;
        _names.Add(inputName);
    }

    /// <summary>The input's name.</summary>
    public string Input { get; }

    /// <summary>Adds a TorchSharp module as a node reading one earlier node.</summary>
    /// <param name="name">The node's name: unique, non-empty and without '.' (it becomes the module's name in the state_dict).</param>
    /// <param name="module">
    /// The module, held by the network from now on (one node per module): Conv2d (any groups, dilation and padding
    /// mode), BatchNorm2d (with running statistics), ReLU, ReLU6, Hardtanh, LeakyReLU, PReLU, SiLU, Hardswish,
    /// Hardsigmoid, Sigmoid, Tanh, GELU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout, Identity, Flatten
    /// (start_dim 1, end_dim -1) or Linear; activations and dropout with <c>inplace: false</c>. A Hardtanh node
    /// computes the clamp its bounds say (TorchSharp 0.107's Hardtanh module returns its input unchanged).
    /// </param>
    /// <param name="input">The node (or <see cref="Input"/>) it reads.</param>
    /// <returns><paramref name="name"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">
    /// The name is empty, contains '.' or is taken; the module is of an unsupported type or setting (the message names
    /// the node, the type and what is supported), disposed, or already a node; or the input is unknown.
    /// </exception>
    /// <exception cref="InvalidOperationException"><see cref="Build"/> has been called.</exception>
    public string Layer(string name, nn.Module<Tensor, Tensor> module, string input) => AddLayer(name, module, input, null);

    /// <summary>
    /// Adds a module that mirrors the module at <paramref name="pyTorchPath"/> of a PyTorch model: the node is named
    /// by the path with '_' for '.', and PyTorch files hold its tensors under the path (see <see cref="GraphNetwork"/>).
    /// </summary>
    internal string PyTorchLayer(string pyTorchPath, nn.Module<Tensor, Tensor> module, string input) =>
        AddLayer(pyTorchPath.Replace('.', '_'), module, input, pyTorchPath);

    private string AddLayer(string name, nn.Module<Tensor, Tensor> module, string input, string? pyTorchPath)
    {
        CheckOpen();
        CheckNewName(name);
        ArgumentNullException.ThrowIfNull(module);
        CheckInputs(name, nameof(input), input);
        if (_modules.FirstOrDefault(m => ReferenceEquals(m.Value, module)) is { Key: not null } owner)
        {
            throw new ArgumentException(
                $"Node '{name}': this {module.GetType().Name} is already node '{owner.Key}'; every node needs its own module (create another one).",
                nameof(module));
        }

        var spec = LayerModules.Describe(module, name, nameof(module), inGraph: true)
            ?? throw new ArgumentException(
                $"Node '{name}': module type {module.GetType().Name} is not supported; supported are {LayerModules.GraphTypes}, and the builder's Sum, Concat and Multiply.",
                nameof(module));

        // TorchSharp 0.107's Hardtanh.forward returns its input unchanged; the node computes the clamp its bounds say.
        return Add(spec, [input], module is global::TorchSharp.Modules.Hardtanh hardtanh ? new Modules.Clamp(hardtanh.min_val, hardtanh.max_val) : module, pyTorchPath);
    }

    /// <summary>Adds the element-wise sum of two or more nodes of equal shape (a residual add).</summary>
    /// <param name="name">The node's name: unique, non-empty and without '.'.</param>
    /// <param name="inputs">The nodes (or <see cref="Input"/>) it adds, at least two.</param>
    /// <returns><paramref name="name"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The name is invalid or taken, fewer than two inputs are given, or an input is unknown.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Build"/> has been called.</exception>
    public string Sum(string name, params string[] inputs) => Joined(new AddSpec(name), inputs, "Sum");

    /// <summary>Adds the concatenation of two or more feature maps along the channels (dimension 1), in the order given.</summary>
    /// <param name="name">The node's name: unique, non-empty and without '.'.</param>
    /// <param name="inputs">The nodes (or <see cref="Input"/>) it joins, at least two, of equal height and width.</param>
    /// <returns><paramref name="name"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The name is invalid or taken, fewer than two inputs are given, or an input is unknown.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Build"/> has been called.</exception>
    public string Concat(string name, params string[] inputs) => Joined(new ConcatSpec(name), inputs, "Concat");

    /// <summary>
    /// Adds <paramref name="input"/> times <paramref name="gate"/>: a per-channel gate (N x C x 1 x 1, or N x C from a
    /// Linear) broadcast over height and width, as in squeeze-excitation, or a gate of the input's own shape.
    /// </summary>
    /// <param name="name">The node's name: unique, non-empty and without '.'.</param>
    /// <param name="input">The gated node (or <see cref="Input"/>).</param>
    /// <param name="gate">The gate's node.</param>
    /// <returns><paramref name="name"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The name is invalid or taken, or an input is unknown.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Build"/> has been called.</exception>
    public string Multiply(string name, string input, string gate)
    {
        CheckOpen();
        CheckNewName(name);
        CheckInputs(name, nameof(input), input);
        CheckInputs(name, nameof(gate), gate);
        return Add(new MultiplySpec(name), [input, gate], null);
    }

    /// <summary>
    /// Builds the network, which holds the modules given to <see cref="Layer"/> (in the mode they are in). Shapes
    /// are checked when the network runs or is pruned, where the input size is known.
    /// </summary>
    /// <param name="output">The node whose output is the network's output.</param>
    /// <returns>The network.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="output"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="output"/> is not a node.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Build"/> has been called before (its modules belong to that network).</exception>
    public GraphNetwork Build(string output)
    {
        CheckOpen();
        ArgumentNullException.ThrowIfNull(output);
        if (!_nodes.Any(n => n.Name == output))
        {
            throw new ArgumentException(
                $"The output '{output}' is not a node; the nodes are: {(_nodes.Count == 0 ? "none yet" : string.Join(", ", _nodes.Select(n => n.Name)))}.",
                nameof(output));
        }

        _built = true;
        return new GraphNetwork(Input, _nodes, output, _modules);
    }

    private string Joined(LayerSpec spec, string[] inputs, string method)
    {
        CheckOpen();
        CheckNewName(spec.Path);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Length < 2)
        {
            throw new ArgumentException($"Node '{spec.Path}' ({method}) needs at least two inputs but has {inputs.Length}.", nameof(inputs));
        }

        CheckInputs(spec.Path, nameof(inputs), inputs);
        return Add(spec, [.. inputs], null);
    }

    private string Add(LayerSpec spec, string[] inputs, nn.Module<Tensor, Tensor>? module, string? pyTorchPath = null)
    {
        _nodes.Add(new GraphNode(spec, inputs, pyTorchPath));
        _names.Add(spec.Path);
        if (module is not null)
        {
            _modules[spec.Path] = module;
        }

        return spec.Path;
    }

    private void CheckOpen()
    {
        if (_built)
        {
            throw new InvalidOperationException("This builder has built its network already; its modules belong to that network. Start a new GraphNetworkBuilder.");
        }
    }

    private void CheckNewName(string name)
    {
        CheckName(name, nameof(name));
        if (_names.Contains(name))
        {
            throw new ArgumentException(
                name == Input ? $"Node name '{name}' is the input's name." : $"Node name '{name}' is taken by an earlier node.",
                nameof(name));
        }
    }

    private static void CheckName(string name, string paramName)
    {
        ArgumentNullException.ThrowIfNull(name, paramName);
        if (string.IsNullOrWhiteSpace(name) || name.Contains('.', StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"Node name '{name}' is invalid: it must be non-empty and without '.', because it becomes a module name (state_dict keys are 'name.weight').",
                paramName);
        }
    }

    private void CheckInputs(string node, string paramName, params string[] inputs)
    {
        foreach (var input in inputs)
        {
            ArgumentNullException.ThrowIfNull(input, paramName);
            if (!_names.Contains(input))
            {
                throw new ArgumentException(
                    $"Node '{node}' reads '{input}', which is neither the input '{Input}' nor an earlier node" +
                    (_nodes.Count == 0 ? "." : $"; the earlier nodes are: {string.Join(", ", _nodes.Select(n => n.Name))}."),
                    paramName);
            }
        }
    }
}
