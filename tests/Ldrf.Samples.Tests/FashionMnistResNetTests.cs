using Ldrf.Samples.Common.Models;
using Ldrf.TorchSharp.Modules;
using TorchSharp;
using TorchSharp.Modules;

namespace Ldrf.Samples.Tests;

public class FashionMnistResNetTests
{
    [Test]
    public void A_forward_pass_maps_N_images_to_N_by_10_logits()
    {
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(1);
        var model = FashionMnistResNet.Create();
        model.eval();
        using var noGrad = torch.no_grad();
        var logits = model.forward(torch.randn(3, 1, 28, 28));
        Assert.That(logits.shape, Is.EqualTo(new long[] { 3, 10 }));
    }

    [Test]
    public void The_network_is_a_stem_three_stages_of_basic_blocks_and_a_pooled_linear_head()
    {
        using var model = FashionMnistResNet.Create(new FashionMnistResNetOptions { BlocksPerStage = 3 });
        var children = model.named_children().ToList();
        Assert.That(children.Select(c => c.name),
            Is.EqualTo(new[] { "conv1", "bn1", "relu", "layer1", "layer2", "layer3", "avgpool", "flatten", "fc" }));
        Assert.That(children[6].module, Is.TypeOf<AdaptiveAvgPool2d>());
        var widths = new[] { 16, 32, 64 };
        for (int stage = 0; stage < 3; stage++)
        {
            var blocks = ((Sequential)children[3 + stage].module).named_children().ToList();
            Assert.That(blocks.Select(b => b.name), Is.EqualTo(new[] { "0", "1", "2" }), $"layer{stage + 1}");
            for (int b = 0; b < blocks.Count; b++)
            {
                var block = (ResidualBlock)blocks[b].module;
                var conv1 = (Conv2d)block.MainBranch[0].Module;
                var conv2 = (Conv2d)block.MainBranch[3].Module;
                bool first = b == 0 && stage > 0;
                Assert.Multiple(() =>
                {
                    Assert.That(conv1.weight!.shape[0], Is.EqualTo(widths[stage]), $"layer{stage + 1}.{b}");
                    Assert.That(conv2.weight!.shape[0], Is.EqualTo(widths[stage]), $"layer{stage + 1}.{b}");
                    Assert.That(conv1.stride, Is.EqualTo(first ? new long[] { 2, 2 } : new long[] { 1, 1 }), $"layer{stage + 1}.{b}");
                    Assert.That(block.Downsample is not null, Is.EqualTo(first), $"layer{stage + 1}.{b} has a downsample shortcut");
                });
            }
        }

        // torchvision's parameter names, so the layout reads like a torchvision ResNet.
        var names = model.state_dict().Keys.ToList();
        Assert.That(names, Does.Contain("layer2.0.downsample.0.weight").And.Contain("layer3.2.bn2.running_mean").And.Contain("fc.bias"));
        Assert.That(((Linear)children[8].module).weight!.shape, Is.EqualTo(new long[] { 10, 64 }));
    }

    [Test]
    public void Stages_halve_the_resolution_after_the_first()
    {
        using var scope = torch.NewDisposeScope();
        var model = FashionMnistResNet.Create(new FashionMnistResNetOptions { Widths = [4, 8, 12], BlocksPerStage = 1 });
        model.eval();
        var x = torch.zeros(2, 1, 28, 28);
        var sizes = new List<long[]>();
        foreach (var (name, module) in model.named_children())
        {
            x = ((torch.nn.Module<torch.Tensor, torch.Tensor>)module).forward(x);
            if (name.StartsWith("layer", StringComparison.Ordinal))
            {
                sizes.Add(x.shape);
            }
        }

        Assert.That(sizes, Is.EqualTo(new[] { new long[] { 2, 4, 28, 28 }, [2, 8, 14, 14], [2, 12, 7, 7] }));
        Assert.That(x.shape, Is.EqualTo(new long[] { 2, 10 }));
    }

    [Test]
    public void A_saved_network_loads_back_with_the_same_outputs()
    {
        using var scope = torch.NewDisposeScope();
        var options = new FashionMnistResNetOptions { Widths = [4, 8, 8], BlocksPerStage = 1 };
        torch.random.manual_seed(2);
        var model = FashionMnistResNet.Create(options);
        model.eval();
        var path = Path.Combine(Path.GetTempPath(), "ldrf-resnet-" + Guid.NewGuid().ToString("N") + ".bin");
        try
        {
            model.save(path);
            var loaded = FashionMnistResNet.Load(path, options);
            var input = torch.randn(2, 1, 28, 28);
            using var noGrad = torch.no_grad();
            Assert.That(loaded.training, Is.False);
            Assert.That(loaded.forward(input).allclose(model.forward(input)), Is.True);
        }
        finally
        {
            File.Delete(path);
        }

        Assert.That(() => FashionMnistResNet.Load(path), Throws.TypeOf<FileNotFoundException>().With.Message.Contains(path));
    }

    [Test]
    public void Options_reject_bad_shapes()
    {
        var options = new FashionMnistResNetOptions();
        Assert.Multiple(() =>
        {
            Assert.That(() => options.Widths = [8, 8], Throws.ArgumentException.With.Message.Contains("2"));
            Assert.That(() => options.Widths = [8, 0, 8], Throws.ArgumentException);
            Assert.That(() => options.BlocksPerStage = 0, Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }
}
