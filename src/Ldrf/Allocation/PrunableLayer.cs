namespace Ldrf.Allocation;

/// <summary>A layer whose output channels may be pruned.</summary>
/// <param name="Name">A unique name (for example the module path).</param>
/// <param name="Channels">Its channel count C.</param>
/// <param name="Capacity">Its valid capacity r (1 ≤ r ≤ C): the allocator never keeps fewer.</param>
internal sealed record PrunableLayer(string Name, int Channels, int Capacity);
