using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ldrf.Testing;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Complexity;
using Ldrf.TorchSharp.Graphs;
using Ldrf.TorchSharp.Serialization;
using Ldrf.TorchSharp.Tests.Reliability;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

public class GraphNetworkTests
{
    private static readonly long[] Image = [3, 12, 12];

    [Test, Category("BadInput")]
    public void Builder_refuses_bad_names_with_the_name()
    {
        var g = new GraphNetworkBuilder();
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Layer), () => g.Layer("features.0", nn.ReLU(), g.Input), "'features.0'", "'.'");
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Layer), () => g.Layer(" ", nn.ReLU(), g.Input), "non-empty");
        g.Layer("a", nn.ReLU(), g.Input);
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Layer), () => g.Layer("a", nn.ReLU(), g.Input), "'a'", "taken");
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Sum), () => g.Sum("input", "a", "a"), "'input'", "input's name");
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), ".ctor", () => _ = new GraphNetworkBuilder("x.y"), "'x.y'");
        Assert.That(g.Build("a").Nodes.Select(n => n.Name), Is.EqualTo(new[] { "a" }), "a refused call adds nothing");
    }

    [Test, Category("BadInput")]
    public void Builder_refuses_unknown_inputs_and_outputs_naming_the_node()
    {
        var g = new GraphNetworkBuilder();
        var a = g.Layer("a", nn.ReLU(), g.Input);
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Layer), () => g.Layer("b", nn.ReLU(), "nowhere"), "'b'", "'nowhere'", "a");
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Concat), () => g.Concat("c", a, "nowhere"), "'c'", "'nowhere'");
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Multiply), () => g.Multiply("m", a, "gate"), "'m'", "'gate'");
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Build), () => g.Build("b"), "'b'", "a");
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Build), () => g.Build(g.Input), "'input'");
        using var network = g.Build(a);
        Assert.Throws<InvalidOperationException>(() => g.Layer("late", nn.ReLU(), a), "the modules belong to the built network");
    }

    [Test, Category("BadInput")]
    public void Builder_refuses_sums_and_concats_of_fewer_than_two_inputs()
    {
        var g = new GraphNetworkBuilder();
        var a = g.Layer("a", nn.ReLU(), g.Input);
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Sum), () => g.Sum("s", a), "'s'", "at least two", "has 1");
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Concat), () => g.Concat("c"), "'c'", "at least two", "has 0");
    }

    [Test, Category("BadInput")]
    public void Builder_refuses_unsupported_modules_naming_node_type_and_the_supported_list()
    {
        var g = new GraphNetworkBuilder();
        using var softmax = nn.Softmax(1);
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Layer), () => g.Layer("probabilities", softmax, g.Input), "'probabilities'", "Softmax", "Conv2d (any groups", "GELU", "Concat");
        using var nested = nn.Sequential(nn.ReLU());
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Layer), () => g.Layer("block", nested, g.Input), "'block'", "Sequential");
        using var inplace = nn.ReLU(inplace: true);
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Layer), () => g.Layer("act", inplace, g.Input), "'act'", "inplace");
        var shared = nn.ReLU6();
        g.Layer("first", shared, g.Input);
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Layer), () => g.Layer("second", shared, "first"), "'second'", "'first'");
        var disposed = nn.Conv2d(3, 16, 1);
        disposed.Dispose();
        CallerArgument.Throws<ArgumentException>(typeof(GraphNetworkBuilder), nameof(GraphNetworkBuilder.Layer), () => g.Layer("conv", disposed, g.Input), "disposed", "'conv.weight'");
    }

    [Test]
    public void Nodes_list_names_operations_and_inputs_in_topological_order()
    {
        using var network = TestGraphs.EfficientNet();
        var scale = network.Nodes.Single(n => n.Name == "se_scale");
        Assert.That((scale.Operation, scale.Inputs), Is.EqualTo(("Multiply", (IReadOnlyList<string>)["dw_act", "se_gate"])));
        Assert.That(network.Nodes.Single(n => n.Name == "dw_act").Operation, Is.EqualTo("SiLU"));
        var seen = new HashSet<string> { network.InputName };
        Assert.That(network.Nodes.All(n => n.Inputs.All(seen.Contains) && seen.Add(n.Name)), Is.True);
        Assert.That(network.OutputName, Is.EqualTo("fc"));
        Assert.That(network.state_dict().Keys, Does.Contain("dw.weight").And.Contain("dw_bn.running_var"));
    }

    [Test]
    public void Inverted_residual_forward_equals_the_hand_written_computation()
    {
        using var network = TestGraphs.InvertedResidual();
        var m = new Hand(network);
        Tensor Block(string b, Tensor x, int stride) =>
            m.Bn(b + "_project_bn", m.Conv(b + "_project", Relu6(m.Bn(b + "_dw_bn", m.Conv(b + "_dw", Relu6(m.Bn(b + "_expand_bn", m.Conv(b + "_expand", x))), stride, 1, 64)))));
        AssertForward(network, x =>
        {
            var stem = Relu6(m.Bn("stem_bn", m.Conv("stem", x, padding: 1)));
            return m.Head(Block("b2", stem + Block("b1", stem, 1), 2));
        });
    }

    [Test]
    public void Dense_block_forward_equals_the_hand_written_computation()
    {
        using var network = TestGraphs.DenseBlock();
        var m = new Hand(network);
        AssertForward(network, x =>
        {
            var stem = m.Conv("stem", x, padding: 1).relu();
            var cat1 = cat([stem, m.Conv("l1", stem, padding: 1).relu()], 1);
            var cat2 = cat([cat1, m.Conv("l2", cat1, padding: 1).relu()], 1);
            return m.Head(nn.functional.avg_pool2d(m.Conv("transition", cat2).relu(), 2));
        });
    }

    [Test]
    public void Inception_block_forward_equals_the_hand_written_computation()
    {
        using var network = TestGraphs.Inception();
        var m = new Hand(network);
        AssertForward(network, x =>
        {
            var stem = m.Bn("stem_bn", m.Conv("stem", x, padding: 1)).relu();
            var a = m.Conv("a", stem).relu();
            var b = m.Conv("b2", m.Conv("b1", stem).relu(), padding: 1).relu();
            var c = m.Conv("c", nn.functional.max_pool2d(stem, 3, 1, 1)).relu();
            return m.Head(cat([a, b, c], 1));
        });
    }

    [Test]
    public void EfficientNet_block_forward_equals_the_hand_written_computation()
    {
        using var network = TestGraphs.EfficientNet();
        var m = new Hand(network);
        AssertForward(network, x =>
        {
            var stem = Silu(m.Bn("stem_bn", m.Conv("stem", x, padding: 1)));
            var expand = Silu(m.Bn("expand_bn", m.Conv("expand", stem)));
            var dw = Silu(m.Bn("dw_bn", m.Conv("dw", expand, padding: 1, groups: 64)));
            var gate = m.Conv("se_expand", Silu(m.Conv("se_reduce", dw.mean([2, 3], keepdim: true)))).sigmoid();
            var project = m.Bn("project_bn", m.Conv("project", dw * gate));
            return m.Head(Silu(m.Bn("top_bn", m.Conv("top", stem + project))));
        });
    }

    [Test]
    public void Leaky_resnet_forward_equals_the_hand_written_computation()
    {
        using var network = TestGraphs.LeakyResNet();
        var m = new Hand(network);
        static Tensor Leaky(Tensor x) => where(x.ge(0), x, x * 0.1);
        AssertForward(network, x =>
        {
            var stem = Leaky(m.Bn("stem_bn", m.Conv("stem", x, padding: 1)));
            var r1 = m.Bn("r1_conv2_bn", m.Conv("r1_conv2", Leaky(m.Bn("r1_conv1_bn", m.Conv("r1_conv1", stem, padding: 1))), padding: 1));
            var out1 = Leaky(stem + r1);
            var r2 = m.Bn("r2_conv2_bn", m.Conv("r2_conv2", Leaky(m.Bn("r2_conv1_bn", m.Conv("r2_conv1", out1, 2, 1))), padding: 1));
            return m.Head(Leaky(r2 + m.Bn("r2_down_bn", m.Conv("r2_down", out1, 2))));
        });
    }

    [Test]
    public void Every_supported_module_is_rebuilt_from_its_description_with_identical_outputs()
    {
        torch.random.manual_seed(3);
        var g = new GraphNetworkBuilder("image");
        var x = g.Layer("dilated", nn.Conv2d(3, 16, 3, padding: 2, dilation: 2, padding_mode: PaddingModes.Reflect), g.Input);
        x = g.Layer("prelu", nn.PReLU(16), x);
        var grouped = g.Layer("grouped", nn.Conv2d(16, 32, 3, padding: 1, groups: 4, padding_mode: PaddingModes.Replicate), x);
        var activations = new (string Name, nn.Module<Tensor, Tensor> Module)[]
        {
            ("gelu", nn.GELU(GELU.Approximate.tanh)), ("gelu_exact", nn.GELU()), ("hardswish", nn.Hardswish()), ("hardtanh", nn.Hardtanh(-0.5, 0.5)),
            ("tanh", nn.Tanh()), ("leaky", nn.LeakyReLU(0.2)), ("relu", nn.ReLU()), ("relu6", nn.ReLU6()), ("identity", nn.Identity()),
            ("dropout", nn.Dropout(0.3)), ("shared_prelu", nn.PReLU(1)),
        };
        foreach (var (name, module) in activations)
        {
            grouped = g.Layer(name, module, grouped);
        }

        var pooled = g.Layer("avg", nn.AvgPool2d(3, 2, 1, count_include_pad: false), g.Layer("max", nn.MaxPool2d(2, 1), grouped));
        var squeeze = g.Layer("squeeze_flat", nn.Flatten(), g.Layer("squeeze", nn.AdaptiveAvgPool2d(1), pooled));
        var gate = g.Layer("gate", nn.Hardsigmoid(), g.Layer("excite", nn.Linear(16, 32), g.Layer("silu", nn.SiLU(), g.Layer("reduce", nn.Linear(32, 16), squeeze))));
        var scaled = g.Multiply("scaled", pooled, gate);
        var head = g.Layer("fc", nn.Linear(32, 5), g.Layer("flat", nn.Flatten(), g.Layer("pool", nn.AdaptiveAvgPool2d(1), g.Layer("bn", nn.BatchNorm2d(32), scaled))));
        using var network = g.Build(g.Layer("sigmoid", nn.Sigmoid(), head));
        TestNetworks.Initialize(network, redundant: false, outputs: 5);
        network.eval();

        using var model = GraphModel.FromNetwork(network, "network");
        Assert.That(model["grouped"].Op, Is.InstanceOf<Conv2dSpec>().With.Property("Groups").EqualTo(4).And.Property("PaddingMode").EqualTo(PaddingModes.Replicate));
        Assert.That(model["gelu"].Op, Is.EqualTo(new ActivationSpec("gelu", ActivationKind.Gelu, 1)));
        Assert.That(model["hardtanh"].Op, Is.EqualTo(new ActivationSpec("hardtanh", ActivationKind.Clamp, -0.5, 0.5)));
        Assert.That(model.Shapes(Image, "x")["scaled"], Is.EqualTo(new long[] { 32, 6, 6 }), "an N x C gate from a Linear scales every position");
        using var built = model.Build(CPU, ScalarType.Float32);
        Assert.That(built.Network.state_dict().Keys, Is.EqualTo(network.state_dict().Keys));
        using var input = TestNetworks.Batches(1)[0];
        using var expected = network.forward(input);
        using var actual = built.Network.forward(input);
        Assert.That(expected.shape, Is.EqualTo(new long[] { 8, 5 }));
        Assert.That(TestNetworks.Same(actual, expected), Is.True, "each module created from its spec computes what the original computes");
    }

    [Test]
    public void A_hard_sigmoid_with_its_own_slope_and_offset_computes_them()
    {
        // ONNX's HardSigmoid has alpha and beta of its own (0.2 and 0.5 by default), which torch's module cannot hold.
        using var model = new GraphModel("x", [new GraphNode(new ActivationSpec("gate", ActivationKind.Hardsigmoid, 0.2, 0.5), ["x"])], "gate", []);
        using var built = model.Build(CPU, ScalarType.Float32);
        using var x = torch.linspace(-4, 4, 17);
        using var expected = (x * 0.2 + 0.5).clamp(0.0, 1.0);
        using var actual = built.Network.forward(x);
        Assert.That(TestNetworks.Same(actual, expected), Is.True);
        using var again = GraphModel.FromNetwork(built.Network, "network");
        Assert.That(again["gate"].Op, Is.EqualTo(model["gate"].Op));
    }

    [Test]
    public void Shapes_and_complexity_follow_the_graph()
    {
        using var network = TestGraphs.InvertedResidual();
        using var model = GraphModel.FromNetwork(network, "network");
        var shapes = model.Shapes(Image, "x");
        Assert.That(shapes["b1_add"], Is.EqualTo(new long[] { 16, 12, 12 }));
        Assert.That(shapes["b2_dw"], Is.EqualTo(new long[] { 64, 6, 6 }));
        Assert.That(shapes["fc"], Is.EqualTo(new long[] { 5 }));
        var report = model.Complexity(Image, "x");
        Assert.That(report["b1_dw"].Flops, Is.EqualTo(64L * 9 * 12 * 12), "a depthwise conv costs one input channel per output");
        Assert.That(report["b1_dw"].Parameters, Is.EqualTo(64L * 9));
        Assert.That(report["b2_dw"].Flops, Is.EqualTo(64L * 9 * 6 * 6));
        Assert.That(report["b1_add"].Flops + report["b1_expand_act"].Flops, Is.Zero, "element-wise work costs nothing, as for chains");
        long expected = (16L * 3 * 9 * 144) + (64L * 16 * 144) + (64L * 9 * 144) + (16L * 64 * 144) + (64L * 16 * 144) + (64L * 9 * 36) + (32L * 64 * 36) + (32L * 5);
        Assert.That(report.TotalFlops, Is.EqualTo(expected));

        using var dense = TestGraphs.DenseBlock();
        using var denseModel = GraphModel.FromNetwork(dense, "network");
        var denseShapes = denseModel.Shapes(Image, "x");
        Assert.That((denseShapes["cat1"][0], denseShapes["cat2"][0], denseShapes["transition_pool"][1]), Is.EqualTo((48L, 64L, 6L)));
        Assert.That(denseModel.Complexity(Image, "x")["l2"].Flops, Is.EqualTo(16L * 48 * 9 * 144));
        Assert.That(denseModel.Consumers("cat1").Select(n => n.Name), Is.EqualTo(new[] { "l2", "cat2" }));
    }

    [Test, Category("BadInput")]
    public void Shape_inference_names_the_node_whose_inputs_do_not_fit()
    {
        var g = new GraphNetworkBuilder();
        var a = g.Layer("a", nn.Conv2d(3, 16, 3, padding: 1), g.Input);
        var b = g.Layer("b", nn.Conv2d(3, 16, 3, stride: 2, padding: 1), g.Input);
        using var network = g.Build(g.Concat("joined", a, b));
        using var model = GraphModel.FromNetwork(network, "network");
        var ex = Assert.Throws<ArgumentException>(() => model.Shapes(Image, "x"))!;
        Assert.That(ex.Message, Does.Contain("'joined'").And.Contain("16 x 12 x 12 from 'a'").And.Contain("16 x 6 x 6 from 'b'"));
    }

    [Test]
    public void Folding_batch_norms_on_a_graph_keeps_the_eval_output([Values("InvertedResidual", "EfficientNet", "LeakyResNet")] string kind)
    {
        using var network = Graph(kind);
        using var model = GraphModel.FromNetwork(network, "network");
        using var folded = model.FoldBatchNorm("network");
        Assert.That(folded.Nodes.Select(n => n.Op).OfType<BatchNorm2dSpec>(), Is.Empty);
        Assert.That(model.Nodes.Select(n => n.Op).OfType<BatchNorm2dSpec>(), Is.Not.Empty, "the original model is untouched");
        Assert.That(folded.State.Keys.Where(k => k.Contains("_bn.", StringComparison.Ordinal)), Is.Empty);
        using var built = folded.Build(CPU, ScalarType.Float32);
        Assert.That(built.Network, Is.InstanceOf<GraphNetwork>());
        using var x = TestNetworks.Batches(1)[0];
        using var expected = network.forward(x);
        using var actual = built.Network.forward(x);
        Assert.That(TestNetworks.RelativeError(actual, expected), IsFinite.LessThan(1e-5));
    }

    [Test]
    public void A_batch_norm_after_a_convolution_read_elsewhere_stays()
    {
        var g = new GraphNetworkBuilder();
        var conv = g.Layer("conv", nn.Conv2d(3, 16, 3, padding: 1), g.Input);
        var bn = g.Layer("bn", nn.BatchNorm2d(16), conv);
        using var network = g.Build(g.Sum("add", conv, bn));
        network.eval();
        using var model = GraphModel.FromNetwork(network, "network");
        using var folded = model.FoldBatchNorm("network");
        Assert.That(folded.Nodes.Select(n => n.Name), Is.EqualTo(new[] { "conv", "bn", "add" }));
    }

    [Test]
    public void Executor_returns_chosen_nodes_and_frees_the_rest()
    {
        using var network = TestGraphs.DenseBlock();
        using var x = TestNetworks.Batches(1)[0];
        using var expected = network.forward(x);
        var outputs = network.Executor.Run(x, ["cat1", "input"]);
        Assert.That(outputs.Keys, Is.EquivalentTo(new[] { "cat1", "input", "fc" }));
        Assert.That(ReferenceEquals(outputs["input"], x), Is.True);
        Assert.That(outputs["cat1"].shape, Is.EqualTo(new long[] { 8, 48, 12, 12 }));
        Assert.That(TestNetworks.Same(outputs["fc"], expected), Is.True);
        outputs["cat1"].Dispose();
        outputs["fc"].Dispose();
    }

    [Test]
    public void Forward_and_captures_leave_no_tensor_alive([Values("InvertedResidual", "DenseBlock", "Inception", "EfficientNet", "LeakyResNet")] string kind)
    {
        using var network = Graph(kind);
        using var x = TestNetworks.Batches(1)[0];
        network.forward(x).Dispose(); // one-time initialization
        var start = Expect.LiveTensors();
        using (var output = network.forward(x))
        {
            Assert.That(Expect.LiveTensors() - start, Is.EqualTo(1), "only the output is alive after a forward");
        }

        var captured = network.Executor.Run(x, [.. network.Nodes.Select(n => n.Name)]);
        Assert.That(Expect.LiveTensors() - start, Is.GreaterThan(network.Nodes.Count / 2), "the probe sees the captured tensors");
        foreach (var tensor in captured.Values.Distinct())
        {
            tensor.Dispose();
        }

        Assert.That(Expect.LiveTensors() - start, Is.Zero, "every intermediate tensor is freed after its last reader");
    }

    [Test]
    public void Chain_and_residual_network_reads_into_a_graph_and_builds_back_the_same_sequential()
    {
        using var network = TestNetworks.SmallResNet();
        using var model = GraphModel.FromNetwork(network, "network");
        var names = model.Nodes.Select(n => n.Name).ToList();
        Assert.That(names, Does.Contain("layer1.0.add").And.Contain("layer1.1.relu#2").And.Contain("layer1.1.relu#3").And.Contain("layer1.1.downsample.0"));
        Assert.That(model["layer1.0.add"].Inputs, Is.EqualTo(new[] { "layer1.0.bn2", "relu" }), "an identity shortcut reads the block input");
        Assert.That(model["layer1.1.add"].Inputs, Is.EqualTo(new[] { "layer1.1.bn3", "layer1.1.downsample.1" }));
        using var built = model.Build(CPU, ScalarType.Float32);
        var rebuilt = built.Network as Sequential;
        Assert.That(rebuilt, Is.Not.Null);
        Assert.That(Describe(rebuilt!), Is.EqualTo(Describe(network)), "same module tree");
        Assert.That(rebuilt!.state_dict().Keys, Is.EqualTo(network.state_dict().Keys));
        using var x = TestNetworks.Batches(1)[0];
        using var expected = network.forward(x);
        using var actual = rebuilt.forward(x);
        using var executed = built.Executor.Forward(x);
        Assert.That(TestNetworks.Same(actual, expected), Is.True);
        Assert.That(TestNetworks.Same(executed, expected), Is.True, "the executor runs the built Sequential's modules node by node");
    }

    [Test]
    public void Folded_chain_builds_as_the_chain_without_its_batch_norms()
    {
        using var network = TestNetworks.SmallResNet();
        using var model = GraphModel.FromNetwork(network, "network");
        using var folded = model.FoldBatchNorm("network");
        using var chain = ChainModel.FromNetwork(network, "network");
        using var chainFolded = chain.FoldBatchNorm("network");
        using var built = folded.Build(CPU, ScalarType.Float32);
        using var expectedNetwork = chainFolded.Build(CPU, ScalarType.Float32);
        Assert.That(built.Network.state_dict().Keys, Is.EqualTo(expectedNetwork.Root.state_dict().Keys));
        using var x = TestNetworks.Batches(1)[0];
        using var expected = expectedNetwork.Root.forward(x);
        using var actual = built.Network.forward(x);
        Assert.That(TestNetworks.Same(actual, expected), Is.True, "one folding arithmetic for chains and graphs");
    }

    [Test]
    public void Clone_and_replace_leave_the_original_alone()
    {
        using var network = TestGraphs.InvertedResidual();
        using var model = GraphModel.FromNetwork(network, "network");
        using var copy = model.Clone();
        var conv = (Conv2dSpec)copy["b1_expand"].Op;
        copy.Replace(conv with { OutChannels = 32 });
        copy.Replace("b1_expand.weight", zeros(32, 16, 1, 1));
        Assert.That(((Conv2dSpec)model["b1_expand"].Op).OutChannels, Is.EqualTo(64));
        Assert.That(model.State["b1_expand.weight"].shape[0], Is.EqualTo(64));
        Assert.That(((Conv2dSpec)copy["b1_expand"].Op).OutChannels, Is.EqualTo(32));
    }

    [TestCase("InvertedResidual")]
    [TestCase("DenseBlock")]
    [TestCase("Inception")]
    [TestCase("EfficientNet")]
    [TestCase("LeakyResNet")]
    public void Saved_graph_loads_without_the_code_that_built_it_with_identical_outputs(string kind)
    {
        using var network = Graph(kind);
        InTempFile(path =>
        {
            network.SaveLdrf(path);
            Assert.That(File.Exists(path + ".tmp"), Is.False);
            using var loaded = NetworkFile.LoadLdrf(path);
            var graph = loaded as GraphNetwork;
            Assert.That(graph, Is.Not.Null);
            Assert.That(graph!.Nodes, Is.EqualTo(network.Nodes).Using<GraphNodeInfo>((a, b) => a.Name == b.Name && a.Operation == b.Operation && a.Inputs.SequenceEqual(b.Inputs)));
            Assert.That((graph.InputName, graph.OutputName, graph.training), Is.EqualTo((network.InputName, network.OutputName, false)));
            Assert.That(TestNetworks.Snapshot(graph), Is.EqualTo(TestNetworks.Snapshot(network)));
            using var x = TestNetworks.Batches(1)[0];
            using var expected = network.forward(x);
            using var actual = graph.forward(x);
            Assert.That(TestNetworks.Same(actual, expected), Is.True);
        });
    }

    [Test]
    public void A_version_2_chain_file_still_loads()
    {
        using var network = TestNetworks.SmallResNet();
        InTempFile(path =>
        {
            network.SaveLdrf(path);
            var bytes = File.ReadAllBytes(path);
            var jsonLength = BitConverter.ToInt32(bytes, 12);
            var json = Encoding.UTF8.GetString(bytes, 24, jsonLength);
            Assert.That(json, Does.Contain("\"groups\":1"));

            // What version 2 wrote: the same chain without groups.
            var old = Encoding.UTF8.GetBytes(json.Replace(",\"groups\":1", string.Empty, StringComparison.Ordinal));
            using var stream = new MemoryStream();
            using (var writer = new BinaryWriter(stream))
            {
                writer.Write(bytes.AsSpan(0, 8));
                writer.Write(2);
                writer.Write(old.Length);
                writer.Write(BitConverter.ToInt64(bytes, 16));
                writer.Write(old);
                writer.Write(bytes.AsSpan(24 + jsonLength, bytes.Length - 24 - jsonLength - 32));
                writer.Write(SHA256.HashData(stream.ToArray()));
                File.WriteAllBytes(path, stream.ToArray());
            }

            using var loaded = NetworkFile.LoadLdrf(path);
            Assert.That(loaded, Is.InstanceOf<Sequential>());
            using var x = TestNetworks.Batches(1)[0];
            using var expected = network.forward(x);
            using var actual = loaded.forward(x);
            Assert.That(TestNetworks.Same(actual, expected), Is.True);
        });
    }

    [Test]
    public void Complexity_of_a_graph_network_counts_its_nodes()
    {
        using var network = TestGraphs.EfficientNet();
        using var model = GraphModel.FromNetwork(network, "network");
        var report = ModelComplexity.Count(network, [2, 3, 12, 12]);
        Assert.That(report.TotalFlops, Is.EqualTo(model.Complexity(Image, "x").TotalFlops));
        Assert.That(report["se_scale"].OutputShape, Is.EqualTo(new long[] { 64, 12, 12 }));
        Assert.That(report.TotalParameters, Is.EqualTo(network.parameters().Sum(p => p.numel())));
    }

    [Test]
    public void Conv_specs_written_before_groups_read_as_one_group()
    {
        const string json = """{"type":"Conv2d","Path":"c","InChannels":3,"OutChannels":16,"Kernel":[3,3],"Stride":[1,1],"Padding":[1,1],"Dilation":[1,1],"PaddingMode":0,"HasBias":true}""";
        var spec = (Conv2dSpec)JsonSerializer.Deserialize<LayerSpec>(json)!;
        Assert.That(spec.Groups, Is.EqualTo(1));
        var depthwise = new Conv2dSpec("d", 16, 16, [3, 3], [1, 1], [1, 1], [1, 1], PaddingModes.Zeros, false, 16);
        Assert.That(JsonSerializer.Deserialize<LayerSpec>(JsonSerializer.Serialize<LayerSpec>(depthwise)), Is.InstanceOf<Conv2dSpec>().With.Property("Groups").EqualTo(16));
        LayerSpec gelu = new ActivationSpec("g", ActivationKind.Gelu, 1);
        Assert.That(JsonSerializer.Serialize(gelu), Does.Contain("\"Gelu\""));
        Assert.That(JsonSerializer.Deserialize<LayerSpec>(JsonSerializer.Serialize(gelu)), Is.EqualTo(gelu));
    }

    private static void InTempFile(Action<string> body)
    {
        var path = Path.Combine(Path.GetTempPath(), $"ldrf-graph-{Guid.NewGuid():N}.ldrf");
        try
        {
            body(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static GraphNetwork Graph(string kind) => kind switch
    {
        "InvertedResidual" => TestGraphs.InvertedResidual(),
        "DenseBlock" => TestGraphs.DenseBlock(),
        "Inception" => TestGraphs.Inception(),
        "EfficientNet" => TestGraphs.EfficientNet(),
        _ => TestGraphs.LeakyResNet(),
    };

    private static Tensor Relu6(Tensor x) => x.clamp(0.0, 6.0);

    private static Tensor Silu(Tensor x) => x * x.sigmoid();

    private static string Describe(nn.Module module) =>
        string.Join("\n", module.named_modules().Select(m => $"{m.name}: {m.module.GetType().Name}"));

    private static void AssertForward(GraphNetwork network, Func<Tensor, Tensor> byHand)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = TestNetworks.Batches(1)[0];
        var expected = byHand(x);
        var actual = network.forward(x);
        Assert.That(actual.shape, Is.EqualTo(new long[] { 8, 5 }));
        Assert.That(TestNetworks.RelativeError(actual, expected), IsFinite.LessThan(1e-5));
    }

    // The nodes' weights applied with TorchSharp's functional ops, so the graph's wiring is checked against code written out by hand.
    private sealed class Hand(GraphNetwork network)
    {
        private readonly Dictionary<string, nn.Module> _children = network.named_children().ToDictionary(c => c.name, c => c.module);

        public Tensor Conv(string name, Tensor x, int stride = 1, int padding = 0, int groups = 1)
        {
            var conv = (Conv2d)_children[name];
            return nn.functional.conv2d(x, conv.weight!, conv.bias, strides: [stride, stride], padding: [padding, padding], groups: groups);
        }

        public Tensor Bn(string name, Tensor x)
        {
            var bn = (BatchNorm2d)_children[name];
            var scale = bn.weight! / (bn.running_var! + bn.eps).sqrt();
            return ((x - bn.running_mean!.reshape(1, -1, 1, 1)) * scale.reshape(1, -1, 1, 1)) + bn.bias!.reshape(1, -1, 1, 1);
        }

        public Tensor Head(Tensor x)
        {
            var fc = (Linear)_children["fc"];
            return x.mean([2, 3]).matmul(fc.weight!.t()) + fc.bias!;
        }
    }
}
