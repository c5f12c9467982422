using Ldrf.TorchSharp.Architecture;
using MathNet.Numerics.LinearAlgebra;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// How a prunable unit's weights are read for the core (matricized by channel) and how the core's answer is written
/// back into the chain: the one place that knows the layout the layer pruners' matrices follow.
/// </summary>
internal static class UnitWeights
{
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
    public static void Apply(this PrunableUnit unit, ChainModel model, int[] kept, Matrix<double> consumerWeights, Vector<double>? biasCorrection)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var chain = unit.Chain(model.Layers);
        var producer = chain[unit.Producer];
        var consumer = chain[unit.Consumer];
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
        newShape[1] = consumer is LinearSpec ? (long)kept.Length * unit.Group : kept.Length;
        var m = tensor(consumerWeights.ToRowMajorArray(), [kept.Length, outputs, unit.Group], ScalarType.Float64, device);
        model.Replace(consumer.Path + ".weight", m.permute(1, 0, 2).reshape(newShape).to(dtype).contiguous().DetachFromDisposeScope());

        var hasBias = consumer switch { Conv2dSpec c => c.HasBias, LinearSpec l => l.HasBias, _ => false };
        if (biasCorrection is not null)
        {
            // The consumer sums its K = out · Group responses per output, so the correction does too.
            var correction = tensor(biasCorrection.ToArray(), [outputs, unit.Group], ScalarType.Float64, device).sum(1);
            var bias = hasBias ? model.State[consumer.Path + ".bias"].to(ScalarType.Float64) + correction : correction;
            model.Replace(consumer.Path + ".bias", bias.to(dtype).DetachFromDisposeScope());
            hasBias = true;
        }

        chain[unit.Producer] = producer switch
        {
            Conv2dSpec c => c with { OutChannels = kept.Length },
            LinearSpec l => l with { OutFeatures = kept.Length },
            _ => producer,
        };
        chain[unit.Consumer] = consumer switch
        {
            Conv2dSpec c => c with { InChannels = kept.Length, HasBias = hasBias },
            LinearSpec l => l with { InFeatures = kept.Length * unit.Group, HasBias = hasBias },
            _ => consumer,
        };
    }
}
