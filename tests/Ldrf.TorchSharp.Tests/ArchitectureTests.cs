using Ldrf.TorchSharp.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

public class ArchitectureTests
{
    [Test]
    public void Reader_flattens_nested_sequentials_into_paths_in_forward_order()
    {
        using var network = TestNetworks.SmallVgg();
        var specs = NetworkReader.Read(network, "network");
        Assert.That(specs.Select(s => s.Path), Is.EqualTo(new[]
        {
            "features.0", "features.1", "features.2", "features.3", "features.4", "features.5", "features.6", "features.7",
            "features.8", "features.9", "flatten", "classifier.0", "classifier.1", "classifier.2", "classifier.3",
        }));
        var pool = (MaxPool2dSpec)specs[6];
        Assert.That(pool.Stride, Is.EqualTo(new[] { 2, 2 }), "a max pool without stride strides by its kernel");
        var conv = (Conv2dSpec)specs[7];
        Assert.That((conv.InChannels, conv.OutChannels, conv.HasBias, conv.Padding[0]), Is.EqualTo((12, 16, false, 1)));
    }

    [Test]
    public void Rebuilt_network_has_the_same_state_names_and_output()
    {
        using var network = TestNetworks.SmallVgg();
        using var model = GraphModel.FromNetwork(network, "network");
        var built = model.Build(CPU, ScalarType.Float32);
        using var root = built.Network;
        Assert.That(root.state_dict().Keys, Is.EquivalentTo(network.state_dict().Keys));
        using var x = TestNetworks.Batches(1)[0];
        using var expected = network.forward(x);
        using var actual = root.forward(x);
        Assert.That(TestNetworks.Same(actual, expected), Is.True, "same weights, same modules: bit-identical output");
    }

    [Test]
    public void Folding_batch_norm_keeps_the_eval_mode_output()
    {
        using var network = TestNetworks.SmallVgg();
        using var model = GraphModel.FromNetwork(network, "network");
        using var folded = model.FoldBatchNorm("network");
        Assert.That(folded.Nodes.Select(n => n.Op).OfType<BatchNorm2dSpec>(), Is.Empty);
        Assert.That(folded.Nodes.Select(n => n.Op).OfType<Conv2dSpec>().Select(c => c.HasBias), Is.EqualTo(new[] { true, true, false }), "the BN shift becomes a bias");
        var built = folded.Build(CPU, ScalarType.Float32);
        using var root = built.Network;
        using var x = TestNetworks.Batches(1)[0];
        using var expected = network.forward(x);
        using var actual = root.forward(x);

        // Folding is exact algebra; float32 round-off of a few layers stays around 1e-6 relative.
        Assert.That(TestNetworks.RelativeError(actual, expected), IsFinite.LessThan(1e-5));
    }

    [Test]
    public void Building_restores_the_global_random_generator()
    {
        using var network = TestNetworks.SmallVgg();
        using var model = GraphModel.FromNetwork(network, "network");
        torch.random.manual_seed(5);
        using var expected = torch.rand(4);
        torch.random.manual_seed(5);
        using var root = model.Build(CPU, ScalarType.Float32).Network;
        using var actual = torch.rand(4);
        Assert.That(TestNetworks.Same(actual, expected), Is.True);
    }
}
