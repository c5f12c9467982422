using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Numerics;
using MathNet.Numerics.LinearAlgebra;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// How a group's weights are read for the core (matricized by channel) and how the core's answer is written back into
/// a graph: the source's output rows and every lockstep member's channels are indexed by the kept channels, and each
/// consumer's columns for the group are replaced by its new weights (the one place that knows the layout the layer
/// pruners' matrices follow and where a group's channels sit in each node).
/// </summary>
internal static class GroupWeights
{
    /// <summary>The consumer's weights matricized by input channel: C x (out · Group), columns (output, group position).</summary>
    public static Matrix<double> ConsumerMatrix(Tensor weight, int channels)
    {
        using var scope = NewDisposeScope();
        // One copy into the managed matrix, converting to float64 on the way (a 25,088-input classifier's is 0.8 GB).
        return TorchNumericBackend.ToMatrix(weight.detach().reshape(weight.shape[0], channels, -1).permute(1, 0, 2).reshape(channels, -1));
    }

    /// <summary>The producer's weights matricized by output channel: C x (in · kh · kw).</summary>
    public static Matrix<double> ProducerMatrix(Tensor weight)
    {
        using var scope = NewDisposeScope();
        return TorchNumericBackend.ToMatrix(weight.detach().reshape(weight.shape[0], -1));
    }

    /// <summary>
    /// Keeps channels <paramref name="kept"/> of group <paramref name="group"/> in <paramref name="model"/>, whose channel
    /// spaces have the widths <paramref name="width"/> gives (the group's still whole), and gives each consumer of
    /// <paramref name="answers"/> its new weights M′ (C′ x out·Group, as <see cref="PrunableGraph.ConsumerMatrix"/> lays
    /// them out) and bias correction (out·Group, summed over each output's group).
    /// </summary>
    public static void Apply(
        GraphModel model, ChannelGroups analysis, ChannelGroup group, int[] kept, Func<int, int> width,
        IReadOnlyDictionary<ConsumerRead, (Matrix<double> Weights, Vector<double>? BiasCorrection)> answers)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();

        // The source and each gate producer: their outputs are the group's channels.
        foreach (var name in new[] { group.Name }.Concat(group.Lockstep.Where(n => model[n].Op is LinearSpec or Conv2dSpec { IsDepthwise: false })))
        {
            var channels = width(group.Space);
            IndexRows(model, name, ["weight", "bias"], [(0, channels)], kept);
            model.Replace(model[name].Op switch
            {
                Conv2dSpec c => c with { OutChannels = kept.Length },
                LinearSpec l => l with { OutFeatures = kept.Length },
                var op => op,
            });
        }

        // The channel-following members: their channels are the group's wherever their input holds them.
        foreach (var name in group.Lockstep)
        {
            var node = model[name];
            var slices = analysis.Slices(node.Inputs[0], group, width);
            var removed = slices.Sum(s => s.Channels) - (slices.Count * kept.Length);
            switch (node.Op)
            {
                case Conv2dSpec { IsDepthwise: true } c:
                    IndexRows(model, name, ["weight", "bias"], slices, kept);
                    model.Replace(c with { InChannels = c.InChannels - removed, OutChannels = c.OutChannels - removed, Groups = c.Groups - removed });
                    break;
                case BatchNorm2dSpec b:
                    IndexRows(model, name, ["weight", "bias", "running_mean", "running_var"], slices, kept);
                    model.Replace(b with { Channels = b.Channels - removed });
                    break;
                case PReluSpec p:
                    IndexRows(model, name, ["weight"], slices, kept);
                    model.Replace(p with { Parameters = p.Parameters - removed });
                    break;
            }
        }

        foreach (var (read, answer) in answers)
        {
            RewriteConsumer(model, analysis, group, read, width, answer.Weights, answer.BiasCorrection);
        }
    }

    // Keeps, in dimension 0 of each of the node's tensors `keys` (those it has), the channels outside the slices and
    // each slice's kept channels in the order given.
    private static void IndexRows(GraphModel model, string node, string[] keys, IReadOnlyList<(int Offset, int Channels)> slices, int[] kept)
    {
        foreach (var key in keys.Select(k => node + "." + k))
        {
            if (!model.State.TryGetValue(key, out var value))
            {
                continue;
            }

            var index = tensor(KeptIndex(value.shape[0], slices, kept, 1), ScalarType.Int64, value.device);
            model.Replace(key, value.index_select(0, index).contiguous().DetachFromDisposeScope());
        }
    }

    /// <summary>The indices kept of <paramref name="total"/> channels (times <paramref name="perChannel"/> features each): all outside the slices, and in each slice its kept channels.</summary>
    private static long[] KeptIndex(long total, IReadOnlyList<(int Offset, int Channels)> slices, int[] kept, long perChannel)
    {
        var index = new List<long>();
        var position = 0L;
        foreach (var (offset, channels) in slices.OrderBy(s => s.Offset))
        {
            for (var f = position; f < offset * perChannel; f++)
            {
                index.Add(f);
            }

            foreach (var k in kept)
            {
                for (var f = 0L; f < perChannel; f++)
                {
                    index.Add(((offset + k) * perChannel) + f);
                }
            }

            position = (offset + channels) * perChannel;
        }

        for (var f = position; f < total; f++)
        {
            index.Add(f);
        }

        return [.. index];
    }

    private static void RewriteConsumer(
        GraphModel model, ChannelGroups analysis, ChannelGroup group, ConsumerRead read, Func<int, int> width, Matrix<double> weights, Vector<double>? biasCorrection)
    {
        var node = model[read.Consumer];
        var (offset, channels) = analysis.Slices(read.Input, group, width)[0];
        var weight = model.State[read.Consumer + ".weight"];
        var (device, dtype) = (weight.device, weight.dtype);
        var outputs = weight.shape[0];
        var p = read.FeaturesPerChannel;
        var blockShape = weight.shape.ToArray();
        blockShape[1] = weights.RowCount * p;
        // Read straight from the matrix's storage, converted to the network's type and device in the first copy.
        var block = TorchNumericBackend.View(weights).to(dtype, device).reshape(weights.RowCount, outputs, read.Group)
            .permute(1, 0, 2).reshape(blockShape);
        var before = weight.narrow(1, 0, offset * p);
        var after = weight.narrow(1, (offset + channels) * p, weight.shape[1] - ((offset + channels) * p));
        model.Replace(read.Consumer + ".weight", cat([before, block, after], 1).contiguous().DetachFromDisposeScope());

        var hasBias = node.Op switch { Conv2dSpec c => c.HasBias, LinearSpec l => l.HasBias, _ => false };
        if (biasCorrection is not null)
        {
            // The consumer sums its out · Group responses per output, so the correction does too.
            var correction = tensor(biasCorrection.ToArray(), [outputs, read.Group], ScalarType.Float64, device).sum(1);
            var bias = hasBias ? model.State[read.Consumer + ".bias"].to(ScalarType.Float64) + correction : correction;
            model.Replace(read.Consumer + ".bias", bias.to(dtype).DetachFromDisposeScope());
            hasBias = true;
        }

        var removed = channels - weights.RowCount;
        model.Replace(node.Op switch
        {
            Conv2dSpec c => c with { InChannels = c.InChannels - removed, HasBias = hasBias },
            LinearSpec l => l with { InFeatures = l.InFeatures - checked((int)(removed * p)), HasBias = hasBias },
            var op => op,
        });
    }
}
