using System.Text.Json.Serialization;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>
/// One operation of a <see cref="GraphModel"/>: its spec (whose path is the node's name) and the names of the nodes it
/// reads, in order (or the graph input's name).
/// </summary>
internal sealed record GraphNode(LayerSpec Op, string[] Inputs)
{
    /// <summary>The node's name: its spec's path, unique in its graph.</summary>
    [JsonIgnore]
    public string Name => Op.Path;
}
