using Ldrf.TorchSharp.Architecture;
using MathNet.Numerics.LinearAlgebra;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// One prunable layer of a BN-folded chain: the producer (Conv2d or Linear) whose output channels are pruned,
/// its consumer (the next Conv2d or Linear), and the index of the last layer before the consumer, whose output
/// is exactly what the consumer reads. <see cref="Group"/> is how many consumer weights each input channel
/// has per output: kh·kw for a Conv2d, H·W for a Linear after Flatten (each channel's spatial group), 1 for
/// a Linear after a Linear. The indices are positions in the top-level chain, or, when <see cref="Block"/> is
/// set, in the main branch of the residual block at that top-level position. <see cref="Locations"/> is the
/// number of output positions of the consumer per image (H·W of a Conv2d's output, 1 for a Linear).
/// </summary>
internal sealed record PrunableUnit(int Producer, int Consumer, int Capture, int Channels, int Group, long Locations, int? Block = null)
{
    /// <summary>
    /// Finds every unit of a BN-free chain; <paramref name="shapes"/> are the per-layer output shapes for an
    /// input of shape <paramref name="input"/>. A residual block's output width is fixed (the add needs it), so
    /// a layer feeding a block, or fed by one, is not a producer; inside a block's main branch every Conv2d or
    /// Linear but the last is.
    /// </summary>
    public static List<PrunableUnit> Find(IReadOnlyList<LayerSpec> layers, long[][] shapes, long[] input)
    {
        var units = FindInChain(layers, shapes, null);
        for (var b = 0; b < layers.Count; b++)
        {
            if (layers[b] is ResidualBlockSpec block)
            {
                var inner = ShapeInference.Outputs(block.Main, ShapeInference.Input(shapes, b, input), "layers");
                units.AddRange(FindInChain(block.Main, inner, b));
            }
        }

        // Front to back, as the network runs.
        return [.. units.OrderBy(u => u.Block ?? u.Producer).ThenBy(u => u.Producer)];
    }

    /// <summary>The chain holding this unit's layers: the top level or a block's main branch.</summary>
    public List<LayerSpec> Chain(List<LayerSpec> topLevel) => Block is int b ? ((ResidualBlockSpec)topLevel[b]).Main : topLevel;

    /// <summary>The producer's spec in <paramref name="topLevel"/>.</summary>
    public LayerSpec ProducerSpec(List<LayerSpec> topLevel) => Chain(topLevel)[Producer];

    /// <summary>The consumer's spec in <paramref name="topLevel"/>.</summary>
    public LayerSpec ConsumerSpec(List<LayerSpec> topLevel) => Chain(topLevel)[Consumer];

    private static List<PrunableUnit> FindInChain(IReadOnlyList<LayerSpec> layers, long[][] shapes, int? block)
    {
        var units = new List<PrunableUnit>();
        int? previous = null;
        for (var q = 0; q < layers.Count; q++)
        {
            if (layers[q] is ResidualBlockSpec)
            {
                previous = null;
                continue;
            }

            if (layers[q] is not (Conv2dSpec or LinearSpec))
            {
                continue;
            }

            if (previous is not int p)
            {
                previous = q;
                continue;
            }

            previous = q;
            var channels = layers[p] switch
            {
                Conv2dSpec c => c.OutChannels,
                LinearSpec l => l.OutFeatures,
                _ => throw new InvalidOperationException(),
            };
            var group = layers[q] switch
            {
                Conv2dSpec c => c.Kernel[0] * c.Kernel[1],
                LinearSpec l => checked((int)(shapes[q - 1].Aggregate(1L, (a, b) => a * b) / channels)),
                _ => throw new InvalidOperationException(),
            };
            var locations = layers[q] is Conv2dSpec ? shapes[q][1] * shapes[q][2] : 1;
            units.Add(new PrunableUnit(p, q, q - 1, channels, group, locations, block));
        }

        return units;
    }
}
