using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Pruning;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>The channel-dependency analysis on small graphs written as data (no weights needed), with their shapes.</summary>
public class ChannelGroupsTests
{
    [Test]
    public void Inverted_residual_prunes_the_expansion_with_its_depthwise_conv_and_keeps_the_residual_whole()
    {
        var graph = new Graph()
            .Conv("stem", "input", 3, 16, 16)
            .Conv("expand", "stem", 16, 64, 16, kernel: 1)
            .Act("act1", "expand", 64, 16)
            .Conv("dw", "act1", 64, 64, 16, groups: 64)
            .Act("act2", "dw", 64, 16)
            .Conv("project", "act2", 64, 16, 16, kernel: 1)
            .Op(new AddSpec("add"), [16, 16, 16], "project", "stem")
            .Conv("head", "add", 16, 32, 16, kernel: 1);
        var groups = graph.Analyze();

        var expand = groups.Groups.Single(g => g.Name == "expand");
        Assert.That((expand.Prunable, expand.Channels), Is.EqualTo((true, 64)));
        Assert.That(expand.Lockstep, Is.EqualTo(new[] { "dw" }), "the depthwise conv's filters follow the expansion's channels");
        Assert.That(expand.Consumers, Is.EqualTo(new[] { "project" }));
        Assert.That(groups.Groups.Single(g => g.Name == "stem").CoupledBy, Does.Contain("residual Add 'add'"));
        Assert.That(groups.Groups.Single(g => g.Name == "project").CoupledBy, Does.Contain("residual Add 'add'"));
        Assert.That(groups.Groups.Single(g => g.Name == "head").CoupledBy, Is.EqualTo("the graph output"));
        Assert.That(groups.Groups.Select(g => g.Name), Does.Not.Contain("dw"), "a depthwise conv is no source");
    }

    [Test]
    public void A_residual_stream_is_one_group_when_asked_its_sources_in_lockstep_and_its_readers_consumers()
    {
        // Two blocks on one stream: stem + project1 = add1, add1 + project2 = add2, read by both expansions and the head.
        var graph = new Graph()
            .Conv("stem", "input", 3, 16, 16)
            .Conv("expand1", "stem", 16, 64, 16, kernel: 1)
            .Act("act1", "expand1", 64, 16)
            .Conv("project1", "act1", 64, 16, 16, kernel: 1)
            .Op(new AddSpec("add1"), [16, 16, 16], "project1", "stem")
            .Conv("expand2", "add1", 16, 64, 16, kernel: 1)
            .Act("act2", "expand2", 64, 16)
            .Conv("project2", "act2", 64, 16, 16, kernel: 1)
            .Op(new AddSpec("add2"), [16, 16, 16], "add1", "project2")
            .Conv("head", "add2", 16, 32, 16, kernel: 1);
        var groups = graph.Analyze(residualStreams: true);

        var stream = groups.Groups.Single(g => g.Name == "stem");
        Assert.Multiple(() =>
        {
            Assert.That(stream.Prunable, Is.True);
            Assert.That(stream.Lockstep, Is.EqualTo(new[] { "project1", "project2" }), "the other sources' outputs follow the stream's channels");
            Assert.That(stream.Consumers, Is.EquivalentTo(new[] { "expand1", "expand2", "head" }));
            Assert.That(stream.Spaces, Has.Count.EqualTo(3), "the stem's space and both projections'");
            Assert.That(groups.Groups.Select(g => g.Name), Does.Not.Contain("project1").And.Not.Contain("project2"), "a stream's other sources are no groups of their own");
            Assert.That(groups.Prunable.Select(g => g.Name), Is.EqualTo(new[] { "stem", "expand1", "expand2" }));
        });

        // Without the option the same stream is kept whole, each source naming the Add that ties it.
        var whole = graph.Analyze();
        Assert.That(whole.Groups.Where(g => g.Name is "stem" or "project1" or "project2").Select(g => g.CoupledBy), Has.All.Contains("residual Add"));
    }

    [Test]
    public void Dense_block_gives_each_producer_its_slice_of_every_concat_after_it()
    {
        var graph = new Graph()
            .Conv("stem", "input", 3, 16, 16)
            .Conv("c1", "stem", 16, 8, 16)
            .Op(new ConcatSpec("cat1"), [24, 16, 16], "stem", "c1")
            .Op(new BatchNorm2dSpec("bn", 24, 1e-5, 0.1, true), [24, 16, 16], "cat1")
            .Act("act", "bn", 24, 16)
            .Conv("c2", "act", 24, 8, 16)
            .Op(new ConcatSpec("cat2"), [32, 16, 16], "cat1", "c2")
            .Conv("out", "cat2", 32, 10, 16, kernel: 1);
        var groups = graph.Analyze();

        var stem = groups.Groups.Single(g => g.Name == "stem");
        Assert.That(stem.Prunable, Is.True);
        Assert.That(stem.Consumers, Is.EqualTo(new[] { "c1", "c2", "out" }));
        Assert.That(stem.Lockstep, Is.EqualTo(new[] { "bn" }), "a batch norm after a concat cannot fold: its channels follow each slice");
        var c1 = groups.Groups.Single(g => g.Name == "c1");
        Assert.That(c1.Consumers, Is.EqualTo(new[] { "c2", "out" }));
        Assert.That(groups.Slices("cat2", c1, _ => 8), Is.EqualTo(new[] { (8, 8) }), "c1's slice of cat2 starts after stem's");
        Assert.That(groups.Slices("cat2", c1, s => s == stem.Space ? 5 : 8), Is.EqualTo(new[] { (5, 8) }), "and moves when stem is pruned");
        Assert.That(groups.Groups.Single(g => g.Name == "c2").Consumers, Is.EqualTo(new[] { "out" }));
    }

    [Test]
    public void Squeeze_excitation_gate_producer_is_pruned_in_lockstep_with_the_gated_channels()
    {
        var graph = new Graph()
            .Conv("stem", "input", 3, 16, 16)
            .Conv("expand", "stem", 16, 32, 16, kernel: 1)
            .Conv("dw", "expand", 32, 32, 16, groups: 32)
            .Op(new AdaptiveAvgPool2dSpec("pool", [1, 1]), [32, 1, 1], "dw")
            .Conv("squeeze", "pool", 32, 8, 1, kernel: 1)
            .Act("act", "squeeze", 8, 1)
            .Conv("excite", "act", 8, 32, 1, kernel: 1)
            .Op(new ActivationSpec("gate", ActivationKind.Sigmoid), [32, 1, 1], "excite")
            .Op(new MultiplySpec("scale"), [32, 16, 16], "dw", "gate")
            .Conv("project", "scale", 32, 16, 16, kernel: 1);
        var groups = graph.Analyze();

        var expand = groups.Groups.Single(g => g.Name == "expand");
        Assert.That(expand.Prunable, Is.True);
        Assert.That(expand.Lockstep, Is.EqualTo(new[] { "dw", "excite" }));
        Assert.That(expand.Consumers, Is.EqualTo(new[] { "squeeze", "project" }));
        Assert.That(groups.Groups.Single(g => g.Name == "squeeze").Consumers, Is.EqualTo(new[] { "excite" }));
        Assert.That(groups.Groups.Select(g => g.Name), Does.Not.Contain("excite"), "the gate producer is no group of its own");
    }

    [Test]
    public void Grouped_convolution_couples_both_sides_and_a_linear_after_flatten_reads_spatial_features()
    {
        var graph = new Graph()
            .Conv("a", "input", 3, 16, 8)
            .Conv("grouped", "a", 16, 16, 8, groups: 4)
            .Conv("b", "grouped", 16, 16, 8)
            .Op(new FlattenSpec("flatten"), [16 * 8 * 8], "b")
            .Op(new LinearSpec("fc", 16 * 8 * 8, 10, true), [10], "flatten");
        var groups = graph.Analyze();

        Assert.That(groups.Groups.Single(g => g.Name == "a").CoupledBy, Does.Contain("grouped Conv2d 'grouped' (groups = 4)"));
        Assert.That(groups.Groups.Single(g => g.Name == "grouped").CoupledBy, Does.Contain("grouped Conv2d"));
        var b = groups.Groups.Single(g => g.Name == "b");
        Assert.That((b.Prunable, b.Consumers.Single()), Is.EqualTo((true, "fc")));
        Assert.That(groups.FeaturesPerChannel("flatten"), Is.EqualTo(64), "each channel spans its 8 x 8 positions");
    }

    /// <summary>A graph written as data: nodes and each node's shape for one 3 x H x W image.</summary>
    private sealed class Graph
    {
        private readonly List<GraphNode> _nodes = [];
        private readonly Dictionary<string, long[]> _shapes = new() { ["input"] = [3, 16, 16] };

        public Graph Conv(string name, string input, int inChannels, int outChannels, long size, int kernel = 3, int groups = 1) =>
            Op(new Conv2dSpec(name, inChannels, outChannels, [kernel, kernel], [1, 1], [kernel / 2, kernel / 2], [1, 1], PaddingModes.Zeros, true, groups),
                [outChannels, size, size], input);

        public Graph Act(string name, string input, int channels, long size) =>
            Op(new ActivationSpec(name, ActivationKind.Silu), [channels, size, size], input);

        public Graph Op(LayerSpec op, long[] shape, params string[] inputs)
        {
            _nodes.Add(new GraphNode(op, inputs));
            _shapes[op.Path] = shape;
            return this;
        }

        public ChannelGroups Analyze(bool residualStreams = false)
        {
            using var model = new GraphModel("input", _nodes, _nodes[^1].Name, []);
            return ChannelGroups.Analyze(model, _shapes, residualStreams);
        }
    }
}
