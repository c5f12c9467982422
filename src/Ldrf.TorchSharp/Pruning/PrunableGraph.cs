using Ldrf.Allocation;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Complexity;
using MathNet.Numerics.LinearAlgebra;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// How one consumer reads a group: through node <see cref="Input"/>'s output (the tensor whose statistics are taken),
/// each of the group's channels spanning <see cref="FeaturesPerChannel"/> input features (H·W for a Linear after a
/// Flatten, else 1), with <see cref="Group"/> weights per channel and output (kh·kw for a Conv2d, the features per
/// channel for a Linear) and <see cref="Locations"/> output positions per image.
/// </summary>
internal sealed record ConsumerRead(string Consumer, string Input, long FeaturesPerChannel, int Group, long Locations);

/// <summary>
/// The consumers of a group that read the same tensor through the same window (same kernel, stride, padding and
/// dilation): their weights stack side by side into one request, so that one selection serves them all.
/// </summary>
internal sealed record ConsumerClass(IReadOnlyList<ConsumerRead> Reads)
{
    /// <summary>The tensor every read of the class takes its statistics at.</summary>
    public string Input => Reads[0].Input;

    /// <summary>The first read: its window stands for the whole class (patch statistics).</summary>
    public ConsumerRead Lead => Reads[0];
}

/// <summary>
/// The graph as the pruner's collaborators see it: the BN-folded graph (not owned here), every node's output shape for
/// one image, the channel-dependency groups, the prunable ones front to back with their names (their source's name)
/// and their consumers in classes (the first class the one the selection is made on), and the device and type it runs in.
/// </summary>
internal sealed class PrunableGraph
{
    private readonly Dictionary<int, int> _originalWidths;

    private PrunableGraph(GraphModel folded, long[] imageShape, Dictionary<string, long[]> shapes, ChannelGroups analysis, Device device, ScalarType dtype)
    {
        Folded = folded;
        ImageShape = imageShape;
        Shapes = shapes;
        Analysis = analysis;
        Groups = analysis.Prunable;
        Names = [.. Groups.Select(g => g.Name)];
        Classes = [.. Groups.Select(Classify)];
        Device = device;
        Dtype = dtype;
        _originalWidths = [];
        foreach (var name in shapes.Keys)
        {
            foreach (var segment in analysis.Layout(name))
            {
                _originalWidths[segment.Space] = segment.Channels;
            }
        }
    }

    /// <summary>The original graph with batch norms folded; the caller owns it.</summary>
    public GraphModel Folded { get; }

    /// <summary>C x H x W of one calibration image.</summary>
    public long[] ImageShape { get; }

    /// <summary>Each node's (and the input's) output shape for one image.</summary>
    public Dictionary<string, long[]> Shapes { get; }

    /// <summary>Every group, prunable or coupled.</summary>
    public ChannelGroups Analysis { get; }

    /// <summary>The prunable groups, front to back.</summary>
    public IReadOnlyList<ChannelGroup> Groups { get; }

    /// <summary>Each prunable group's name: its source's name.</summary>
    public List<string> Names { get; }

    /// <summary>Each prunable group's consumers in classes; the first class gives the most response values per image (weights times output positions).</summary>
    public List<IReadOnlyList<ConsumerClass>> Classes { get; }

    public Device Device { get; }

    public ScalarType Dtype { get; }

    /// <summary>Each channel space's width in the original network.</summary>
    public int OriginalWidth(int space) => _originalWidths[space];

    /// <summary>Analyses <paramref name="folded"/> and finds its prunable groups.</summary>
    /// <param name="folded">The BN-folded graph.</param>
    /// <param name="shapes">Each node's output shape for one image (and the input's).</param>
    /// <param name="imageShape">C x H x W of one calibration image.</param>
    /// <param name="device">The network's device.</param>
    /// <param name="dtype">The network's parameter type.</param>
    /// <param name="networkParam">The caller's network argument, named when nothing is prunable.</param>
    /// <param name="residualStreams">Whether residual streams are prunable groups (see <see cref="ChannelGroups.Analyze"/>).</param>
    /// <exception cref="ArgumentException">Nothing is prunable (named after <paramref name="networkParam"/>).</exception>
    public static PrunableGraph Create(GraphModel folded, Dictionary<string, long[]> shapes, long[] imageShape, Device device, ScalarType dtype, string networkParam, bool residualStreams = false)
    {
        var analysis = ChannelGroups.Analyze(folded, shapes, residualStreams);
        if (analysis.Prunable.Count == 0)
        {
            var coupled = analysis.Groups.Count == 0 ? "it has no Conv2d or Linear output channels to prune"
                : "every group of output channels is coupled: " + string.Join("; ", analysis.Groups.Select(g => $"'{g.Name}' by {g.CoupledBy}"));
            throw new ArgumentException(
                $"'{networkParam}' has no prunable layer ({coupled}; the first layer's inputs and the last layer's outputs keep their size).",
                networkParam);
        }

        return new PrunableGraph(folded, imageShape, shapes, analysis, device, dtype);
    }

    /// <summary>
    /// The weights of <paramref name="consumers"/> (a class of group <paramref name="j"/>'s consumers) in <paramref name="model"/> (the
    /// original or the pruned-so-far graph, whose spaces have the widths <paramref name="width"/> gives), matricized by
    /// the group's channels and stacked side by side: C x Σ (out · Group).
    /// </summary>
    public Matrix<double> ConsumerMatrix(GraphModel model, int j, ConsumerClass consumers, Func<int, int> width)
    {
        var group = Groups[j];
        var blocks = consumers.Reads.Select(read =>
        {
            using var scope = NewDisposeScope();
            var (offset, channels) = Analysis.Slices(read.Input, group, width)[0];
            var weight = model.State[read.Consumer + ".weight"];
            var slice = weight.narrow(1, offset * read.FeaturesPerChannel, channels * read.FeaturesPerChannel);
            return GroupWeights.ConsumerMatrix(slice, channels);
        }).ToList();
        return blocks.Count == 1 ? blocks[0] : blocks.Aggregate((a, b) => a.Append(b));
    }

    /// <summary>Group <paramref name="j"/>'s source weights in <paramref name="model"/>, matricized by output channel.</summary>
    public Matrix<double> SourceMatrix(GraphModel model, int j) => GroupWeights.ProducerMatrix(model.State[Names[j] + ".weight"]);

    /// <summary>
    /// FLOPs = Σ cost · in′ · out′ over every Conv2d and Linear node, with the widths that pruning changes linked to
    /// their groups: a consumer reading several groups (a concat) is one term per run of channels, a depthwise Conv2d
    /// costs its kernel per channel of its group, and a grouped Conv2d is fixed.
    /// </summary>
    public List<ComputeLayer> ComputeLayers()
    {
        var groupOf = new Dictionary<int, string>();
        foreach (var group in Groups)
        {
            foreach (var space in group.Spaces)
            {
                groupOf[space] = group.Name;
            }
        }

        var result = new List<ComputeLayer>();
        foreach (var node in Folded.Nodes)
        {
            if (node.Op is not (Conv2dSpec or LinearSpec))
            {
                continue;
            }

            var cost = (double)ModelComplexity.CostPerPair(node.Op, Shapes[node.Name]);
            var input = Analysis.Layout(node.Inputs[0]);
            var perChannel = Analysis.FeaturesPerChannel(node.Inputs[0]);
            var output = Analysis.Layout(node.Name);
            switch (node.Op)
            {
                case Conv2dSpec { IsDepthwise: true }:
                    result.AddRange(input.Select(s => new ComputeLayer(node.Name, cost, null, 1, groupOf.GetValueOrDefault(s.Space), s.Channels)));
                    break;
                case Conv2dSpec { Groups: > 1 } conv:
                    result.Add(new ComputeLayer(node.Name, cost / conv.Groups, null, conv.InChannels, null, conv.OutChannels));
                    break;
                default:
                    var outLink = groupOf.GetValueOrDefault(output[0].Space);
                    var outChannels = output[0].Channels;
                    result.AddRange(input.Select(s => new ComputeLayer(node.Name, cost * perChannel, groupOf.GetValueOrDefault(s.Space), s.Channels, outLink, outChannels)));
                    break;
            }
        }

        return result;
    }

    // Consumers reading the same tensor through the same window stack. The class the selection is made on comes first:
    // the one whose response has the most terms per image (its weights times its output positions), so that a
    // classifier after global pooling (many weights, one position: as many samples as images) does not choose a
    // residual stream's channels over the convolutions that read it at every position.
    private IReadOnlyList<ConsumerClass> Classify(ChannelGroup group)
    {
        var reads = group.Consumers.Select(name =>
        {
            var node = Folded[name];
            var input = node.Inputs[0];
            var perChannel = Analysis.FeaturesPerChannel(input);
            return node.Op switch
            {
                Conv2dSpec c => new ConsumerRead(name, input, perChannel, c.Kernel[0] * c.Kernel[1], Shapes[name][1] * Shapes[name][2]),
                _ => new ConsumerRead(name, input, perChannel, checked((int)perChannel), 1),
            };
        });
        return [.. reads
            .GroupBy(r => (r.Input, Window(Folded[r.Consumer].Op)))
            .Select(g => new ConsumerClass([.. g]))
            .OrderByDescending(c => c.Reads.Sum(r => (double)Weights(r) * r.Locations))];

        long Weights(ConsumerRead r) => (long)group.Channels * r.Group * Outputs(Folded[r.Consumer].Op);
    }

    /// <summary>A consumer's outputs: a Conv2d's output channels or a Linear's output features.</summary>
    public static int Outputs(LayerSpec op) => op switch
    {
        Conv2dSpec c => c.OutChannels,
        LinearSpec l => l.OutFeatures,
        _ => 0,
    };

    // The consumer's view of its input: reads with equal windows see the same patches.
    private static string Window(LayerSpec op) => op switch
    {
        Conv2dSpec c => $"conv {string.Join(',', c.Kernel)} {string.Join(',', c.Stride)} {string.Join(',', c.Padding)} {string.Join(',', c.Dilation)} {c.PaddingMode}",
        _ => "linear",
    };
}
