using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>
/// Runs a graph's nodes in topological order on built modules, freeing each intermediate tensor after its last
/// reader, and returns the output together with the tensors of chosen nodes (the points the statistics read).
/// <see cref="Graphs.GraphNetwork"/>'s forward and the pruner use the same executor.
/// </summary>
internal sealed class GraphExecutor
{
    private readonly GraphNode[] _nodes;
    private readonly nn.Module<Tensor, Tensor>?[] _modules;
    private readonly int[][] _inputs;
    private readonly int[] _lastReader;
    private readonly Dictionary<string, int> _index;

    /// <param name="nodes">The nodes in topological order.</param>
    /// <param name="inputName">The graph input's name.</param>
    /// <param name="outputName">The output node's name.</param>
    /// <param name="moduleOf">The built module of a node, or null for a node without one (see <see cref="LayerModules.Apply"/>).</param>
    public GraphExecutor(IReadOnlyList<GraphNode> nodes, string inputName, string outputName, Func<GraphNode, nn.Module<Tensor, Tensor>?> moduleOf)
    {
        _nodes = [.. nodes];
        InputName = inputName;
        OutputName = outputName;
        _index = new Dictionary<string, int>(StringComparer.Ordinal) { [inputName] = -1 };
        _modules = new nn.Module<Tensor, Tensor>?[_nodes.Length];
        _inputs = new int[_nodes.Length][];
        _lastReader = new int[_nodes.Length];
        for (var i = 0; i < _nodes.Length; i++)
        {
            _inputs[i] = [.. _nodes[i].Inputs.Select(name => _index.TryGetValue(name, out var k) ? k : throw new InvalidOperationException($"Node '{_nodes[i].Name}' reads '{name}', which no earlier node gives."))];
            _index[_nodes[i].Name] = i;
            _modules[i] = moduleOf(_nodes[i]);
            _lastReader[i] = i;
            foreach (var k in _inputs[i].Where(k => k >= 0))
            {
                _lastReader[k] = i;
            }
        }

        if (!_index.ContainsKey(outputName))
        {
            throw new InvalidOperationException($"The output '{outputName}' is not a node of the graph.");
        }
    }

    /// <summary>The graph input's name.</summary>
    public string InputName { get; }

    /// <summary>The output node's name.</summary>
    public string OutputName { get; }

    /// <summary>The network's output.</summary>
    public Tensor Forward(Tensor input) => Run(input, [])[OutputName];

    /// <summary>
    /// Runs the graph and returns the tensors of <see cref="OutputName"/> and of every name in
    /// <paramref name="capture"/> (node names, or <see cref="InputName"/> for <paramref name="input"/> itself). The
    /// returned tensors are the caller's to dispose, except <paramref name="input"/>; two names may give the same tensor
    /// (an identity node returns its input).
    /// </summary>
    /// <exception cref="KeyNotFoundException">A name to capture is not in the graph.</exception>
    public Dictionary<string, Tensor> Run(Tensor input, IReadOnlyCollection<string> capture) => Run(-1, input, [.. capture, OutputName]);

    /// <summary>
    /// Runs the nodes after <paramref name="from"/> (a node no later node reads past, or <see cref="InputName"/>) on its
    /// output <paramref name="value"/>, up to the last node of <paramref name="capture"/>, and returns the tensors of
    /// <paramref name="capture"/> (<paramref name="from"/> itself gives <paramref name="value"/>); the others as for <see cref="Run(Tensor, IReadOnlyCollection{string})"/>.
    /// </summary>
    /// <exception cref="KeyNotFoundException">A name is not in the graph.</exception>
    /// <exception cref="ArgumentException">A name to capture comes before <paramref name="from"/>.</exception>
    public Dictionary<string, Tensor> RunFrom(string from, Tensor value, IReadOnlyCollection<string> capture) =>
        Run(_index.TryGetValue(from, out var k) ? k : throw new KeyNotFoundException($"No node '{from}' in the graph."), value, capture);

    /// <summary>Whether node <paramref name="name"/>'s output is the only tensor that the nodes after it read from it or before it (a cut of the graph).</summary>
    public bool IsCut(string name)
    {
        var k = _index[name];
        for (var i = k + 1; i < _nodes.Length; i++)
        {
            if (_inputs[i].Any(j => j < k))
            {
                return false;
            }
        }

        return _index[OutputName] >= k;
    }

    private Dictionary<string, Tensor> Run(int from, Tensor input, IReadOnlyCollection<string> names)
    {
        var keep = new bool[_nodes.Length];
        var last = from;
        foreach (var name in names)
        {
            var k = _index.TryGetValue(name, out var found) ? found : throw new KeyNotFoundException($"No node '{name}' in the graph.");
            if (k < from)
            {
                throw new ArgumentException($"Node '{name}' comes before '{(from < 0 ? InputName : _nodes[from].Name)}', where the run starts.", nameof(names));
            }

            if (k > from)
            {
                keep[k] = true;
                last = Math.Max(last, k);
            }
        }

        var values = new Tensor?[_nodes.Length];
        try
        {
            for (var i = from + 1; i <= last; i++)
            {
                var inputs = _inputs[i].Select(k => k <= from ? input : values[k]!).ToArray();
                values[i] = LayerModules.Apply(_nodes[i].Op, _modules[i], inputs);
                foreach (var k in _inputs[i].Append(i).Distinct())
                {
                    if (k > from && _lastReader[k] == i && !keep[k])
                    {
                        Release(values, k, input);
                    }
                }
            }

            // Values read only by nodes after the last one run are not needed.
            for (var k = from + 1; k <= last; k++)
            {
                if (values[k] is not null && !keep[k])
                {
                    Release(values, k, input);
                }
            }

            var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var name in names)
            {
                var k = _index[name];
                result[name] = k <= from ? input : values[k]!;
            }

            return result;
        }
        catch
        {
            for (var k = 0; k < values.Length; k++)
            {
                if (values[k] is not null)
                {
                    Release(values, k, input);
                }
            }

            throw;
        }
    }

    // A module may return its input itself (an identity, dropout in evaluation mode): such a tensor is freed only
    // when no live value is the same object, and the caller's input never.
    private static void Release(Tensor?[] values, int k, Tensor input)
    {
        var tensor = values[k]!;
        values[k] = null;
        if (!ReferenceEquals(tensor, input) && !values.Any(v => ReferenceEquals(v, tensor)))
        {
            tensor.Dispose();
        }
    }
}
