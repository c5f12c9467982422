using System.Text.Json.Serialization;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>
/// One operation of a <see cref="GraphModel"/>: its spec (whose path is the node's name), the names of the nodes it
/// reads, in order (or the graph input's name), and, for a graph that mirrors a PyTorch model, the module's dotted
/// path there (its state_dict prefix in PyTorch files; null means the node's name).
/// </summary>
internal sealed record GraphNode(
    LayerSpec Op,
    string[] Inputs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PyTorchName = null)
{
    /// <summary>The node's name: its spec's path, unique in its graph.</summary>
    [JsonIgnore]
    public string Name => Op.Path;
}
