using Ldrf.TorchSharp.Architecture;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// One run of channels in a tensor of the graph: <see cref="Channels"/> consecutive channels of channel space
/// <see cref="Space"/> (the output channels of one source, or of the graph input). A tensor is a list of these: one for
/// a plain feature map, several after a concat.
/// </summary>
internal sealed record ChannelSegment(int Space, int Channels);

/// <summary>
/// A channel-dependency group: the output channels of one source (a Conv2d with groups = 1 or a Linear), every node
/// whose channels must be pruned with them (lockstep), and every node that reads them (consumers). Pruning the group
/// keeps the same channels everywhere: the source's output rows, the lockstep members' channels and the consumers'
/// input columns.
/// </summary>
/// <param name="Name">The group's name: its source's node name.</param>
/// <param name="Space">The source's channel space; tensors name their channels by it (see <see cref="ChannelGroups.Layout"/>).</param>
/// <param name="Channels">The source's output channels.</param>
/// <param name="Spaces">Every channel space pruned with the group: the source's and each gate producer's.</param>
/// <param name="Lockstep">Nodes whose channels follow the group's: depthwise Conv2d (filters indexed), BatchNorm2d not folded, PReLU with a slope per channel, and SE gate producers (output rows indexed).</param>
/// <param name="Consumers">The Conv2d and Linear nodes that read the group's channels (possibly in a slice of a concat).</param>
/// <param name="CoupledBy">Why the group is kept whole (null when it is prunable).</param>
internal sealed record ChannelGroup(
    string Name, int Space, int Channels, IReadOnlyList<int> Spaces, IReadOnlyList<string> Lockstep, IReadOnlyList<string> Consumers, string? CoupledBy)
{
    /// <summary>Whether the group can be pruned (nothing couples it to other channels).</summary>
    public bool Prunable => CoupledBy is null;
}

/// <summary>
/// The channel-dependency analysis of a BN-folded <see cref="GraphModel"/>: which output channels can be pruned
/// independently (the prunable groups) and which are coupled and kept whole, and, for every node, how its output's
/// channels are laid out in channel spaces (so that a group's channels can be found in a concat's output).
/// </summary>
/// <remarks>
/// <para>
/// Every Conv2d that is not depthwise and every Linear opens a channel space (its output channels); so does the graph
/// input. Channel-following nodes (batch norm, activations, PReLU, pooling, dropout, identity, a depthwise Conv2d, the
/// gated input of a Multiply) pass their input's layout on; a Concat joins its inputs' layouts; a Flatten keeps the
/// layout, each channel becoming H·W features. An Add ties its inputs' spaces together and so does a Multiply (its
/// gate's producer, whose channels multiply the gated ones, is pruned in lockstep).
/// </para>
/// <para>
/// A set of tied spaces is one group when it has exactly one source that is not a gate producer and nothing couples
/// it: an Add (a residual sum needs equal widths on both sides: kept whole, as for chains), a grouped (not depthwise)
/// Conv2d, the graph output (its width is the network's contract), the graph input, or an operation the pruner cannot
/// rewrite.
/// </para>
/// </remarks>
internal sealed class ChannelGroups
{
    private readonly Dictionary<string, List<ChannelSegment>> _layouts;
    private readonly Dictionary<string, long> _featuresPerChannel;

    private ChannelGroups(List<ChannelGroup> groups, Dictionary<string, List<ChannelSegment>> layouts, Dictionary<string, long> featuresPerChannel)
    {
        Groups = groups;
        _layouts = layouts;
        _featuresPerChannel = featuresPerChannel;
    }

    /// <summary>Every group, prunable or coupled, in the order of their sources in the graph.</summary>
    public IReadOnlyList<ChannelGroup> Groups { get; }

    /// <summary>Whether <paramref name="group"/> is kept whole because a residual Add ties it to other sources (a residual stream's source).</summary>
    public static bool TiedByResidualAdd(ChannelGroup group) => group.CoupledBy?.StartsWith(ResidualAdd, StringComparison.Ordinal) == true;

    private const string ResidualAdd = "residual Add";

    /// <summary>The prunable groups, front to back.</summary>
    public IReadOnlyList<ChannelGroup> Prunable => [.. Groups.Where(g => g.Prunable)];

    /// <summary>How the channels of node (or input) <paramref name="name"/>'s output are laid out in channel spaces.</summary>
    public IReadOnlyList<ChannelSegment> Layout(string name) => _layouts[name];

    /// <summary>How many features each channel of node <paramref name="name"/>'s output spans: 1 for a feature map, H·W after a Flatten.</summary>
    public long FeaturesPerChannel(string name) => _featuresPerChannel[name];

    /// <summary>
    /// Where the channels of <paramref name="group"/> sit in node (or input) <paramref name="name"/>'s output, given every
    /// space's current width (<paramref name="width"/>; a pruned space is narrower): (first channel, channels) per run.
    /// </summary>
    public IReadOnlyList<(int Offset, int Channels)> Slices(string name, ChannelGroup group, Func<int, int> width)
    {
        var slices = new List<(int, int)>();
        var offset = 0;
        foreach (var segment in _layouts[name])
        {
            var w = width(segment.Space);
            if (group.Spaces.Contains(segment.Space))
            {
                slices.Add((offset, w));
            }

            offset += w;
        }

        return slices;
    }

    /// <summary>Analyses <paramref name="graph"/> (batch norms folded where they can be).</summary>
    /// <param name="graph">The graph.</param>
    /// <param name="shapes">Each node's output shape for one image (C x H x W, or F after a Flatten or Linear), by node name.</param>
    /// <param name="residualStreams">
    /// Whether the channels that residual Adds tie together (a residual stream: the stem's or a shortcut's output and
    /// every block output added to it) form one prunable group: its first source in the graph names it, the other
    /// sources' output rows are pruned in lockstep, and every node reading the stream is a consumer. False keeps them whole.
    /// </param>
    public static ChannelGroups Analyze(GraphModel graph, IReadOnlyDictionary<string, long[]> shapes, bool residualStreams = false)
    {
        var spaces = new SpaceSet();
        var layouts = new Dictionary<string, List<ChannelSegment>>(StringComparer.Ordinal);
        var perChannel = new Dictionary<string, long>(StringComparer.Ordinal);
        var sourceOf = new Dictionary<int, string>();
        var gates = new HashSet<int>();
        var lockstep = new List<(string Node, List<ChannelSegment> Layout)>();
        var consumers = new List<(string Node, List<ChannelSegment> Layout)>();

        var inputSpace = spaces.Open();
        var inputShape = shapes.TryGetValue(graph.InputName, out var s) ? s : null;
        layouts[graph.InputName] = [new ChannelSegment(inputSpace, checked((int)(inputShape?[0] ?? 0)))];
        perChannel[graph.InputName] = 1;

        foreach (var node in graph.Nodes)
        {
            var inputs = node.Inputs.Select(i => layouts[i]).ToList();
            var first = inputs.Count > 0 ? inputs[0] : [];
            var p = node.Inputs.Length > 0 ? perChannel[node.Inputs[0]] : 1;
            List<ChannelSegment> output;
            switch (node.Op)
            {
                case Conv2dSpec conv when conv.IsDepthwise:
                    lockstep.Add((node.Name, first));
                    output = first;
                    break;
                case Conv2dSpec conv when conv.Groups == 1:
                    consumers.Add((node.Name, first));
                    output = [Source(conv.OutChannels)];
                    break;
                case Conv2dSpec conv:
                    // A grouped convolution mixes channels within fixed blocks: neither side can lose channels freely.
                    var reason = $"grouped Conv2d '{node.Name}' (groups = {conv.Groups})";
                    CoupleAll(first, reason);
                    output = [Source(conv.OutChannels)];
                    spaces.Couple(output[0].Space, reason);
                    break;
                case LinearSpec linear:
                    consumers.Add((node.Name, first));
                    output = [Source(linear.OutFeatures)];
                    p = 1;
                    break;
                case BatchNorm2dSpec or PReluSpec { Parameters: > 1 }:
                    lockstep.Add((node.Name, first));
                    output = first;
                    break;
                case ReluSpec or ActivationSpec or PReluSpec or MaxPool2dSpec or AvgPool2dSpec or AdaptiveAvgPool2dSpec or DropoutSpec or IdentitySpec:
                    output = first;
                    break;
                case FlattenSpec:
                    output = first;
                    var shape = shapes[node.Inputs[0]];
                    p *= shape.Skip(1).Aggregate(1L, (a, b) => a * b);
                    break;
                case ConcatSpec when inputs.All(l => l.Count > 0) && node.Inputs.All(i => perChannel[i] == 1):
                    output = [.. inputs.SelectMany(l => l)];
                    break;
                case AddSpec:
                    Tie(inputs, $"{ResidualAdd} '{node.Name}'", gate: false, couple: !residualStreams);
                    output = first;
                    break;
                case MultiplySpec when inputs.Count == 2:
                    // The gate's channels multiply the gated ones: pruned together, the gate's producer in lockstep.
                    Tie(inputs, $"Multiply '{node.Name}'", gate: true, couple: false);
                    output = first;
                    break;
                default:
                    var why = $"'{node.Name}' ({node.Op.TypeName}), which the pruner cannot rewrite";
                    foreach (var input in inputs)
                    {
                        CoupleAll(input, why);
                    }

                    output = shapes.TryGetValue(node.Name, out var o) && o.Length > 0 ? [Source(checked((int)o[0]))] : [];
                    foreach (var segment in output)
                    {
                        spaces.Couple(segment.Space, why);
                    }

                    break;
            }

            layouts[node.Name] = output;
            perChannel[node.Name] = p;

            ChannelSegment Source(int channels)
            {
                var space = spaces.Open();
                sourceOf[space] = node.Name;
                return new ChannelSegment(space, channels);
            }
        }

        spaces.Couple(inputSpace, "the graph input");
        CoupleAll(layouts[graph.OutputName], "the graph output");

        var groups = new List<ChannelGroup>();
        var widths = layouts.Values.SelectMany(l => l).GroupBy(x => x.Space).ToDictionary(g => g.Key, g => g.First().Channels);
        var streamSources = new HashSet<int>();
        foreach (var (space, source) in sourceOf.OrderBy(kv => graph.IndexOf(kv.Value)))
        {
            if (gates.Contains(space) || streamSources.Contains(space))
            {
                continue;
            }

            var root = spaces.Find(space);
            var tied = sourceOf.Keys.Where(k => spaces.Find(k) == root).ToList();
            var others = tied.Where(k => k != space && !gates.Contains(k)).ToList();
            var coupledBy = spaces.Reason(root);
            if (coupledBy is null && others.Count > 0)
            {
                if (residualStreams)
                {
                    // A residual stream: this first source names the group, the others follow it like gate producers.
                    streamSources.UnionWith(others);
                }
                else
                {
                    coupledBy = $"tied to {string.Join(", ", others.Select(o => "'" + sourceOf[o] + "'"))}";
                }
            }

            // The spaces pruned with this one: its gates' and, for a residual stream, its other sources'.
            var stream = residualStreams && coupledBy is null;
            var followers = tied.Where(k => k != space && (gates.Contains(k) || stream)).ToList();
            var members = followers.Select(k => sourceOf[k])
                .Concat(lockstep.Where(l => l.Layout.Any(x => tied.Contains(x.Space))).Select(l => l.Node))
                .Distinct().OrderBy(graph.IndexOf).ToList();
            var readers = consumers.Where(c => c.Layout.Any(x => tied.Contains(x.Space))).Select(c => c.Node).Distinct().ToList();
            if (coupledBy is null && readers.Count == 0)
            {
                coupledBy = "nothing reads its channels";
            }

            // A node reading the channels twice (a concat of a tensor with itself) would need one answer for two slices.
            var twice = consumers.Concat(lockstep).FirstOrDefault(c => c.Layout.Count(x => tied.Contains(x.Space)) > 1).Node;
            if (coupledBy is null && twice is not null)
            {
                coupledBy = $"'{twice}' reads its channels twice";
            }

            groups.Add(new ChannelGroup(source, space, widths.GetValueOrDefault(space), [space, .. followers], members, readers, coupledBy));
        }

        return new ChannelGroups(groups, layouts, perChannel);

        void CoupleAll(List<ChannelSegment> layout, string reason)
        {
            foreach (var segment in layout)
            {
                spaces.Couple(segment.Space, reason);
            }
        }

        // Ties each input's channels to the first input's, run by run; inputs laid out differently are all coupled, and
        // with `couple` so are inputs from different sources (`what` names the node in the reason).
        void Tie(List<List<ChannelSegment>> inputs, string what, bool gate, bool couple)
        {
            var first = inputs[0];
            var aligned = inputs.All(l => l.Count == first.Count && l.Zip(first).All(z => z.First.Channels == z.Second.Channels));
            var distinct = inputs.SelectMany(l => l).Select(x => spaces.Find(x.Space)).Distinct().Count();
            for (var k = 1; k < inputs.Count; k++)
            {
                foreach (var segment in inputs[k])
                {
                    if (gate && !first.Any(x => x.Space == segment.Space))
                    {
                        gates.Add(segment.Space);
                    }
                }

                if (!aligned)
                {
                    continue;
                }

                for (var q = 0; q < first.Count; q++)
                {
                    spaces.Union(first[q].Space, inputs[k][q].Space);
                }
            }

            if (!aligned)
            {
                foreach (var input in inputs)
                {
                    CoupleAll(input, what + " of inputs laid out differently");
                }
            }
            else if (couple && distinct > 1)
            {
                CoupleAll(first, what);
            }
        }
    }

    /// <summary>Union-find over channel spaces, each root carrying the first reason its set is coupled.</summary>
    private sealed class SpaceSet
    {
        private readonly List<int> _parent = [];
        private readonly Dictionary<int, string> _reasons = [];

        public int Open()
        {
            _parent.Add(_parent.Count);
            return _parent.Count - 1;
        }

        public int Find(int space)
        {
            while (_parent[space] != space)
            {
                _parent[space] = _parent[_parent[space]];
                space = _parent[space];
            }

            return space;
        }

        public void Union(int a, int b)
        {
            var (ra, rb) = (Find(a), Find(b));
            if (ra == rb)
            {
                return;
            }

            _parent[rb] = ra;
            if (!_reasons.ContainsKey(ra) && _reasons.TryGetValue(rb, out var reason))
            {
                _reasons[ra] = reason;
            }
        }

        public void Couple(int space, string reason) => _reasons.TryAdd(Find(space), reason);

        public string? Reason(int space) => _reasons.GetValueOrDefault(Find(space));
    }
}
