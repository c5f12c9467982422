using Ldrf.Baselines;
using Ldrf.TorchSharp.Complexity;
using Ldrf.TorchSharp.Modules;
using Ldrf.TorchSharp.Numerics;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>Pruning networks with residual blocks: only the blocks' inner channels change.</summary>
public class ResidualNetworkTests
{
    // The producers inside the blocks; every other Conv2d keeps its width so each residual add stays valid.
    private static readonly string[] Inner = ["layer1.0.conv1", "layer1.1.conv1", "layer1.1.conv2"];

    private static NetworkPruningOptions Target(double target) =>
        new() { ChannelMultiple = 1, TargetFlopsReduction = target, UseCapacityBounds = false, MeasureLatency = false };

    [Test]
    public void Pruning_2x_changes_only_the_inner_channels_and_keeps_the_output_close()
    {
        using var network = TestNetworks.SmallResNet(redundant: true);
        var before = TestNetworks.Snapshot(network);
        using var result = new TorchSharpPruner().Prune(network, TestNetworks.Batches(6, 16), Target(2.0));

        var report = result.Report;
        TestContext.Out.WriteLine(report.ToString());
        var pruned = report.Layers.Where(l => l.ChannelsAfter < l.ChannelsBefore).Select(l => l.Path);
        Assert.That(pruned, Is.SubsetOf(Inner), "only the inner channels of the blocks may shrink");
        Assert.That(report.Layers.Where(l => Inner.Contains(l.Path)).Sum(l => l.ChannelsAfter), Is.LessThan(8 + 8 + 8));
        Assert.That(report.FlopsReduction, IsFinite.InRange(2.0 * 0.95, 2.0 * 1.05));
        Assert.That(report.FlopsAfter, Is.EqualTo(ModelComplexity.Count(result.Network, [3, 12, 12]).TotalFlops), "the report counts the network it returns");
        foreach (var path in Inner)
        {
            var row = report.Layers.Single(l => l.Path == path);
            Assert.That(row.CalibrationTime, Is.Not.Null, path);
            Assert.That(row.DecompositionTime, Is.Not.Null, path);
            Assert.That(row.SelectionTime, Is.Not.Null, path);
            Assert.That(row.RecompositionTime, Is.Not.Null, path);
        }

        using var x = TestNetworks.Batches(1, 64, seed: 99)[0];
        using var expected = network.forward(x);
        using var actual = result.Network.forward(x);
        var spreadError = TestNetworks.RelativeToSpread(actual, expected);
        TestContext.Out.WriteLine($"error relative to the spread {spreadError:0.0000}");

        // Measured on held-out inputs: 0.02 relative to the outputs' spread over inputs (the redundant pairs make
        // half the inner channels nearly recoverable). Dropping the same channels without reconstruction (next
        // test) gives about 2.7; 0.1 leaves room for round-off and seeds yet fails when a block's capture, fold or
        // recomposition goes wrong.
        Assert.That(spreadError, IsFinite.LessThan(0.1));

        var after = TestNetworks.Snapshot(network);
        foreach (var (name, values) in before)
        {
            Assert.That(after[name], Is.EqualTo(values), $"the caller's '{name}' must be unchanged bit for bit");
        }
    }

    [Test]
    public void Pruning_the_residual_streams_reaches_a_target_the_inner_channels_cannot_and_keeps_the_output_close()
    {
        using var network = TestNetworks.SmallResNet(redundant: true);
        var before = TestNetworks.Snapshot(network);
        var batches = TestNetworks.Batches(6, 16);
        const double target = 6.0;
        var inner = Assert.Throws<ArgumentOutOfRangeException>(() => new TorchSharpPruner().Prune(network, batches, Target(target)).Dispose())!;
        Assert.That(inner.Message, Does.Contain("unreachable").And.Contain("'options.PruneResidualStreams'"), "the inner channels alone cannot reach it, and the message names the option that would");
        TestContext.Out.WriteLine(inner.Message);

        var options = Target(target);
        options.PruneResidualStreams = true;
        using var result = new TorchSharpPruner().Prune(network, batches, options);
        var report = result.Report;
        TestContext.Out.WriteLine(report.ToString());
        var shrunk = report.Layers.Where(l => l.ChannelsAfter < l.ChannelsBefore).Select(l => l.Path).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(report.FlopsReduction, IsFinite.InRange(target, target * 1.05));
            Assert.That(report.FlopsAfter, Is.EqualTo(ModelComplexity.Count(result.Network, [3, 12, 12]).TotalFlops), "the report counts the network it returns");

            // The first stage's stream: the stem, the basic block's last conv (added to it) and, after the bottleneck's
            // stride, the second stream: its last conv and the downsampling shortcut, all narrower than they were.
            Assert.That(shrunk, Is.SupersetOf(new[] { "conv1", "layer1.0.conv2" }));
            Assert.That(shrunk, Is.SupersetOf(new[] { "layer1.1.conv3", "layer1.1.downsample.0" }).Or.Not.Contains("layer1.1.conv3"));
            Assert.That(report.Groups.Single(g => g.Source == "conv1").Prunable, Is.True);
        });

        using var x = TestNetworks.Batches(1, 64, seed: 99)[0];
        using var expected = network.forward(x);
        using var actual = result.Network.forward(x);
        var spreadError = TestNetworks.RelativeToSpread(actual, expected);
        using var dropped = new TorchSharpPruner(BaselinePruners.Create(BaselineKind.L1Norm)).Prune(network, batches, options);
        using var droppedOutput = dropped.Network.forward(x);
        var droppedError = TestNetworks.RelativeToSpread(droppedOutput, expected);
        TestContext.Out.WriteLine($"error relative to the spread {spreadError:0.0000} (L1 without reconstruction: {droppedError:0.0000}); held-out output error {report.HeldOutOutputError:0.0000}");

        // Measured: 0.30 against 4.8 for the L1-norm baseline, which drops channels without refitting their readers.
        Assert.That(spreadError, IsFinite.LessThan(0.5));
        Assert.That(spreadError, IsFinite.LessThan(droppedError / 3), "the stream's readers are refitted to the kept channels");
        var after = TestNetworks.Snapshot(network);
        Assert.That(before.All(p => after[p.Key].SequenceEqual(p.Value)), "the caller's network is unchanged bit for bit");
    }

    [Test]
    public void Reconstruction_beats_dropping_the_same_inner_channels()
    {
        using var network = TestNetworks.SmallResNet(redundant: true);
        var batches = TestNetworks.Batches(6, 16);
        using var ldrf = new TorchSharpPruner().Prune(network, batches, Target(2.0));
        using var dropped = new TorchSharpPruner(BaselinePruners.Create(BaselineKind.L1Norm, options: null, backend: new TorchNumericBackend())).Prune(network, batches, Target(2.0));
        using var x = TestNetworks.Batches(1, 64, seed: 99)[0];
        using var expected = network.forward(x);
        using var withLdrf = ldrf.Network.forward(x);
        using var withL1 = dropped.Network.forward(x);
        var (ldrfError, l1Error) = (TestNetworks.RelativeToSpread(withLdrf, expected), TestNetworks.RelativeToSpread(withL1, expected));
        TestContext.Out.WriteLine($"LDRF {ldrfError:0.0000}, L1 norm without reconstruction {l1Error:0.0000}");
        Assert.That(ldrfError, IsFinite.LessThan(l1Error));
    }

    [Test]
    public void Keeping_every_channel_reproduces_the_network()
    {
        using var network = TestNetworks.SmallResNet();
        var options = new NetworkPruningOptions { ChannelMultiple = 1, PerLayerKeepRatios = Inner.ToDictionary(p => p, _ => 1.0), MeasureLatency = false };
        using var result = new TorchSharpPruner(new LdrfOptions { EnergyThreshold = 1.0, RidgeScale = 1e-9 }).Prune(network, TestNetworks.Batches(4, 16), options);
        using var x = TestNetworks.Batches(1, 32, seed: 99)[0];
        using var expected = network.forward(x);
        using var actual = result.Network.forward(x);

        // Full rank and a negligible ridge: folding, capturing inside the blocks and rebuilding them are exact up to
        // float32 round-off.
        Assert.That(TestNetworks.RelativeToSpread(actual, expected), IsFinite.LessThan(1e-3));
        Assert.That(result.Network.named_children().Select(c => c.name), Is.EqualTo(network.named_children().Select(c => c.name).Where(n => n != "bn1")),
            "the same layout, with the batch norms folded away");
    }

    [TestCase(BaselineKind.ThiNet)]
    [TestCase(BaselineKind.ChannelPruning)]
    public void Baselines_prune_the_same_inner_channels(BaselineKind kind)
    {
        using var network = TestNetworks.SmallResNet(redundant: true);
        using var result = new TorchSharpPruner(BaselinePruners.Create(kind, options: null, backend: new TorchNumericBackend()))
            .Prune(network, TestNetworks.Batches(6, 16), Target(2.0));
        Assert.That(result.Report.Layers.Where(l => l.ChannelsAfter < l.ChannelsBefore).Select(l => l.Path), Is.SubsetOf(Inner));
        Assert.That(result.Report.FlopsReduction, IsFinite.InRange(2.0 * 0.95, 2.0 * 1.05));
        using var x = TestNetworks.Batches(1, 4, seed: 99)[0];
        using var y = result.Network.forward(x);
        Assert.That(y.shape, Is.EqualTo(new long[] { 4, 5 }));
        Assert.That(isfinite(y).all().item<bool>(), Is.True);
    }

    [Test]
    public void A_pruned_residual_network_saves_and_loads_exactly()
    {
        using var network = TestNetworks.SmallResNet(redundant: true);
        using var result = new TorchSharpPruner().Prune(network, TestNetworks.Batches(4, 16), Target(2.0));
        var path = Path.Combine(Path.GetTempPath(), $"ldrf-resnet-{Guid.NewGuid():N}.ldrf");
        try
        {
            result.Network.SaveLdrf(path);
            using var loaded = NetworkFile.LoadLdrf(path);
            using var x = TestNetworks.Batches(1, 8, seed: 5)[0];
            using var expected = result.Network.forward(x);
            using var actual = loaded.forward(x);
            Assert.That(TestNetworks.Same(actual, expected), Is.True);
            Assert.That(loaded.named_modules().Count(m => m.module is ResidualBlock), Is.EqualTo(2));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Complexity_counts_a_block_by_hand()
    {
        // Basic(4, 8, stride 2) on 4 x 8 x 8: conv1 8·4·9 MACs at each of 4 x 4 outputs, conv2 8·8·9 at 4 x 4,
        // the 1 x 1 downsample 8·4 at 4 x 4; parameters: the three weights and the three batch norms' scale and shift.
        using var network = nn.Sequential(("block", ResidualBlock.Basic(4, 8, stride: 2)));
        var counts = ModelComplexity.Count(network, [4, 8, 8]);
        Assert.That(counts["block.conv1"].Flops, Is.EqualTo(8 * 4 * 9 * 16));
        Assert.That(counts["block.conv2"].Flops, Is.EqualTo(8 * 8 * 9 * 16));
        Assert.That(counts["block.downsample.0"].Flops, Is.EqualTo(8 * 4 * 16));
        Assert.That(counts.TotalFlops, Is.EqualTo((8 * 4 * 9 * 16) + (8 * 8 * 9 * 16) + (8 * 4 * 16)));
        Assert.That(counts.TotalParameters, Is.EqualTo((8 * 4 * 9) + (8 * 8 * 9) + (8 * 4) + (3 * 2 * 8)));
        Assert.That(counts["block.conv2"].OutputShape, Is.EqualTo(new long[] { 8, 4, 4 }));
    }

    [Test]
    [Category("BadInput")]
    public void A_block_whose_branches_disagree_is_refused_with_its_path()
    {
        // The main branch widens 4 -> 8 channels but the shortcut is the identity: the add cannot work.
        using var block = new ResidualBlock([("conv1", nn.Conv2d(4, 8, 3, padding: 1))]);
        using var network = nn.Sequential(("stem", nn.Conv2d(3, 4, 3, padding: 1)), ("block", block), ("flatten", nn.Flatten()), ("fc", nn.Linear(8 * 6 * 6, 2)));
        var error = Assert.Throws<ArgumentException>(() => new TorchSharpPruner().Prune(network, TestNetworks.Batches(1, 4, size: 6), Target(1.5)));
        Assert.That(error!.Message, Does.Contain("'block.add'").And.Contain("8 x 6 x 6").And.Contain("4 x 6 x 6"));
        Assert.That(error.ParamName, Is.EqualTo("calibrationBatches"));
    }

    [Test]
    [Category("BadInput")]
    public void A_block_nested_in_a_main_branch_is_refused_with_its_path()
    {
        using var inner = ResidualBlock.Basic(4, 4);
        using var block = new ResidualBlock([("conv1", nn.Conv2d(4, 4, 3, padding: 1)), ("inner", inner)]);
        using var network = nn.Sequential(("stem", nn.Conv2d(3, 4, 3, padding: 1)), ("block", block));
        var error = Assert.Throws<ArgumentException>(() => ModelComplexity.Count(network, [3, 6, 6]));
        Assert.That(error!.Message, Does.Contain("block.inner"));
    }

    [Test]
    public void Block_layouts_have_torchvisions_names()
    {
        using var basic = ResidualBlock.Basic(4, 8, stride: 2);
        using var bottleneck = ResidualBlock.Bottleneck(16, 4);
        Assert.That(basic.state_dict().Keys.Where(k => k.EndsWith(".weight", StringComparison.Ordinal) || k == "conv1.weight"),
            Is.EquivalentTo(new[] { "conv1.weight", "bn1.weight", "conv2.weight", "bn2.weight", "downsample.0.weight", "downsample.1.weight" }));
        Assert.That(bottleneck.state_dict().Keys.Where(k => k.EndsWith(".weight", StringComparison.Ordinal)),
            Is.EquivalentTo(new[] { "conv1.weight", "bn1.weight", "conv2.weight", "bn2.weight", "conv3.weight", "bn3.weight" }), "16 = 4 x 4 channels in and out: an identity shortcut");
        Assert.Throws<ArgumentException>(() => new ResidualBlock([("a", nn.ReLU()), ("a", nn.ReLU())]));
    }

    [Test]
    public void A_block_frees_its_intermediates_and_still_trains()
    {
        // A forward pass inside a caller's dispose scope must not keep every activation of the block alive (ResNet-50
        // at batch 32 held more than 6 GB that way); gradients must still reach the first layer.
        torch.random.manual_seed(3);
        using var block = ResidualBlock.Bottleneck(8, 4, stride: 2);
        block.eval();
        using var x = torch.randn(2, 8, 6, 6);
        using var scope = torch.NewDisposeScope();
        var y = block.forward(x);
        Assert.That(scope.DisposablesCount, Is.EqualTo(1), "only the output is left in the caller's scope");
        Assert.That(x.IsInvalid, Is.False, "the block's input is the caller's");

        var expected = ManualForward(block, x);
        Assert.That(TestNetworks.RelativeError(y, expected), IsFinite.LessThan(1e-6));
        y.sum().backward();
        var grad = ((Conv2d)block.MainBranch[0].Module).weight.grad;
        Assert.That(grad, Is.Not.Null);
        Assert.That(grad!.abs().sum().item<float>(), IsFinite.GreaterThan(0f), "the first layer receives a gradient");
    }

    [Test]
    public void The_pruned_network_shares_no_memory_with_the_callers()
    {
        // Pruning reads the caller's tensors without copying them; the network it returns must own its own.
        using var network = TestNetworks.SmallResNet(redundant: true);
        var before = TestNetworks.Snapshot(network);
        using var result = new TorchSharpPruner().Prune(network, TestNetworks.Batches(6, 16), Target(2.0));
        using (torch.no_grad())
        {
            foreach (var p in result.Network.parameters())
            {
                p.fill_(0);
            }
        }

        Assert.That(TestNetworks.Snapshot(network), Is.EqualTo(before), "zeroing the pruned network leaves the caller's unchanged");
    }

    // relu(main(x) + downsample(x)) from the block's own layers, one at a time.
    private static Tensor ManualForward(ResidualBlock block, Tensor x)
    {
        var main = x;
        foreach (var (_, module) in block.MainBranch)
        {
            main = module.forward(main);
        }

        return nn.functional.relu(main + block.Downsample!.forward(x));
    }
}
