using Ldrf.Numerics;

namespace Ldrf.Selection;

/// <summary>
/// Uniform random selection (the Mittal et al. 2018 baseline when followed by reconstruction). The
/// random stream is seeded by <c>seed</c> mixed with a stable hash of the layer's name, so each layer
/// gets its own subset and runs are reproducible.
/// </summary>
/// <param name="seed">The seed.</param>
internal sealed class RandomSelector(int seed) : INeuronSelector
{
    /// <summary>The seed.</summary>
    public int Seed { get; } = seed;

    /// <inheritdoc />
    /// <remarks>False: the choice depends on the seed alone.</remarks>
    public bool UsesProducerWeights => false;

    /// <inheritdoc />
    public int[] Select(SelectionContext context, int keep)
    {
        Guard.NotNull(context, nameof(context));
        context.CheckKeep(keep);
        var random = new Random(unchecked(Seed ^ (int)StableHash(context.LayerName)));
        var indices = Enumerable.Range(0, context.Channels).ToArray();

        // Partial Fisher–Yates: the first 'keep' slots become a uniform random subset.
        for (var i = 0; i < keep; i++)
        {
            var j = random.Next(i, indices.Length);
            (indices[i], indices[j]) = (indices[j], indices[i]);
        }

        var kept = indices[..keep];
        Array.Sort(kept);
        return kept;
    }

    // string.GetHashCode is randomized per process, so use FNV-1a for reproducibility.
    private static uint StableHash(string text)
    {
        var hash = 2166136261u;
        foreach (var ch in text)
        {
            hash = (hash ^ ch) * 16777619u;
        }

        return hash;
    }
}
