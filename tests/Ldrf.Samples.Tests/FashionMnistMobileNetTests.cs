using Ldrf.Samples.Common.Models;
using Ldrf.TorchSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;

namespace Ldrf.Samples.Tests;

public class FashionMnistMobileNetTests
{
    [Test]
    public void A_forward_pass_maps_N_images_to_N_by_10_logits()
    {
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(1);
        var model = FashionMnistMobileNet.Create();
        model.eval();
        using var noGrad = torch.no_grad();
        var logits = model.forward(torch.randn(3, 1, 28, 28));
        Assert.That(logits.shape, Is.EqualTo(new long[] { 3, 10 }));
    }

    [Test]
    public void The_network_is_a_graph_of_inverted_residual_blocks_with_residual_adds_and_a_squeeze_excitation_gate()
    {
        using var model = FashionMnistMobileNet.Create();
        var nodes = model.Nodes.ToDictionary(n => n.Name);
        var convolutions = model.named_children().Where(c => c.module is Conv2d).ToDictionary(c => c.name, c => (Conv2d)c.module);
        Assert.Multiple(() =>
        {
            // The adds read the block input and the projection's batch norm; the blocks that change width or stride have none.
            Assert.That(nodes["b2_add"].Inputs, Is.EqualTo(new[] { "b1_project_bn", "b2_project_bn" }));
            Assert.That(nodes["b4_add"].Inputs, Is.EqualTo(new[] { "b3_project_bn", "b4_project_bn" }));
            Assert.That(nodes.Keys, Has.None.EqualTo("b1_add").And.None.EqualTo("b3_add"));
            Assert.That(nodes["b4_se_scale"].Inputs, Is.EqualTo(new[] { "b4_dw_relu", "b4_se_gate" }));
            Assert.That(nodes["b4_dw_relu"].Operation, Is.EqualTo(nodes["b1_expand_relu"].Operation));
            Assert.That(model.OutputName, Is.EqualTo("fc"));

            // Depthwise 3 x 3 on the expanded channels (expansion 4); every width a multiple of 16 (libtorch's oneDNN, see docs/troubleshooting.md).
            foreach (var (block, inChannels, stride) in new[] { ("b1", 16, 2), ("b2", 32, 1), ("b3", 32, 2), ("b4", 64, 1) })
            {
                var dw = convolutions[block + "_dw"];
                Assert.That((dw.weight!.shape[0], dw.groups, dw.stride[0]), Is.EqualTo((inChannels * FashionMnistMobileNet.Expansion, inChannels * FashionMnistMobileNet.Expansion, stride)), block);
            }

            Assert.That(convolutions.Values.SelectMany(c => new[] { c.weight!.shape[0], c.weight.shape[1] * c.groups }).Where(w => w > 1).All(w => w % 16 == 0), Is.True);
        });
    }

    [Test]
    public void A_saved_network_loads_back_with_the_same_outputs()
    {
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(2);
        var model = FashionMnistMobileNet.Create();
        model.eval();
        var path = Path.Combine(Path.GetTempPath(), "ldrf-mobilenet-" + Guid.NewGuid().ToString("N") + ".bin");
        try
        {
            model.save(path);
            var loaded = FashionMnistMobileNet.Load(path);
            var input = torch.randn(2, 1, 28, 28);
            using var noGrad = torch.no_grad();
            Assert.That(loaded, Is.TypeOf<GraphNetwork>());
            Assert.That(loaded.training, Is.False);
            Assert.That(loaded.forward(input).eq(model.forward(input)).all().item<bool>(), Is.True, "bit-identical outputs");
        }
        finally
        {
            File.Delete(path);
        }

        Assert.That(() => FashionMnistMobileNet.Load(path), Throws.TypeOf<FileNotFoundException>().With.Message.Contains(path));
    }
}
