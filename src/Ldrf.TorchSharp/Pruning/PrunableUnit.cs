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
/// set, in the main branch of the residual block at that top-level position.
/// </summary>
internal sealed record PrunableUnit(int Producer, int Consumer, int Capture, int Channels, int Group, int? Block = null)
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
            units.Add(new PrunableUnit(p, q, q - 1, channels, group, block));
        }

        return units;
    }

    /// <summary>The consumer's weights matricized by input channel: C x (out · Group), columns (output, group position).</summary>
    public static Matrix<double> ConsumerMatrix(Tensor weight, int channels)
    {
        using var scope = NewDisposeScope();
        var m = weight.detach().reshape(weight.shape[0], channels, -1).permute(1, 0, 2).reshape(channels, -1).to(ScalarType.Float64).cpu().contiguous();
        return Matrix<double>.Build.DenseOfRowMajor(channels, (int)m.shape[1], m.data<double>().ToArray());
    }

    /// <summary>The producer's weights matricized by output channel: C x (in · kh · kw).</summary>
    public static Matrix<double> ProducerMatrix(Tensor weight)
    {
        using var scope = NewDisposeScope();
        var m = weight.detach().reshape(weight.shape[0], -1).to(ScalarType.Float64).cpu().contiguous();
        return Matrix<double>.Build.DenseOfRowMajor((int)m.shape[0], (int)m.shape[1], m.data<double>().ToArray());
    }

    /// <summary>
    /// Applies a layer's pruning to the chain: keeps the producer's output channels <paramref name="kept"/>,
    /// gives the consumer the new weights M′ (C′ x K, same column order as <see cref="ConsumerMatrix"/>) and
    /// adds the bias correction (length K, summed over each output's group) to the consumer's bias.
    /// </summary>
    public void Apply(ChainModel model, int[] kept, Matrix<double> consumerWeights, Vector<double>? biasCorrection)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var chain = Chain(model.Layers);
        var producer = chain[Producer];
        var consumer = chain[Consumer];
        var producerWeight = model.State[producer.Path + ".weight"];
        var consumerWeight = model.State[consumer.Path + ".weight"];
        var device = producerWeight.device;
        var dtype = producerWeight.dtype;
        var index = tensor(kept.Select(k => (long)k).ToArray(), ScalarType.Int64, device);

        model.Replace(producer.Path + ".weight", producerWeight.index_select(0, index).contiguous().DetachFromDisposeScope());
        if (model.State.TryGetValue(producer.Path + ".bias", out var producerBias))
        {
            model.Replace(producer.Path + ".bias", producerBias.index_select(0, index).contiguous().DetachFromDisposeScope());
        }

        var outputs = consumerWeight.shape[0];
        var newShape = consumerWeight.shape.ToArray();
        newShape[1] = consumer is LinearSpec ? (long)kept.Length * Group : kept.Length;
        var m = tensor(consumerWeights.ToRowMajorArray(), [kept.Length, outputs, Group], ScalarType.Float64, device);
        model.Replace(consumer.Path + ".weight", m.permute(1, 0, 2).reshape(newShape).to(dtype).contiguous().DetachFromDisposeScope());

        var hasBias = consumer switch { Conv2dSpec c => c.HasBias, LinearSpec l => l.HasBias, _ => false };
        if (biasCorrection is not null)
        {
            // The consumer sums its K = out · Group responses per output, so the correction does too.
            var correction = tensor(biasCorrection.ToArray(), [outputs, Group], ScalarType.Float64, device).sum(1);
            var bias = hasBias ? model.State[consumer.Path + ".bias"].to(ScalarType.Float64) + correction : correction;
            model.Replace(consumer.Path + ".bias", bias.to(dtype).DetachFromDisposeScope());
            hasBias = true;
        }

        chain[Producer] = producer switch
        {
            Conv2dSpec c => c with { OutChannels = kept.Length },
            LinearSpec l => l with { OutFeatures = kept.Length },
            _ => producer,
        };
        chain[Consumer] = consumer switch
        {
            Conv2dSpec c => c with { InChannels = kept.Length, HasBias = hasBias },
            LinearSpec l => l with { InFeatures = kept.Length * Group, HasBias = hasBias },
            _ => consumer,
        };
    }
}
