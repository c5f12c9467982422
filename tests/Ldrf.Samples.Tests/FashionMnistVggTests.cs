using Ldrf.Samples.Common.Models;
using TorchSharp;
using TorchSharp.Modules;

namespace Ldrf.Samples.Tests;

public class FashionMnistVggTests
{
    [Test]
    public void A_forward_pass_maps_N_images_to_N_by_10_logits()
    {
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(1);
        var model = FashionMnistVgg.Create();
        model.eval();
        using var noGrad = torch.no_grad();
        var logits = model.forward(torch.randn(3, 1, 28, 28));
        Assert.That(logits.shape, Is.EqualTo(new long[] { 3, 10 }));
    }

    [Test]
    public void The_network_is_nested_sequentials_of_standard_layers_with_8_conv_bn_relu_triples()
    {
        using var model = FashionMnistVgg.Create();
        var children = model.named_children().ToList();
        Assert.That(children.Select(c => c.name), Is.EqualTo(new[] { "features", "classifier" }));
        var features = ((Sequential)children[0].module).named_children().ToList();
        var convs = features.Select((c, i) => (c, i)).Where(t => t.c.module is Conv2d).ToList();
        Assert.That(convs, Has.Count.EqualTo(8));
        var widths = new List<long>();
        foreach (var (child, i) in convs)
        {
            var conv = (Conv2d)child.module;
            Assert.Multiple(() =>
            {
                Assert.That(conv.weight!.shape[2..], Is.EqualTo(new long[] { 3, 3 }), child.name);
                Assert.That(features[i + 1].module, Is.TypeOf<BatchNorm2d>(), child.name);
                Assert.That(features[i + 2].module, Is.TypeOf<ReLU>(), child.name);
            });
            widths.Add(conv.weight!.shape[0]);
        }

        Assert.That(widths, Is.EqualTo(new long[] { 32, 32, 64, 64, 128, 128, 256, 256 }));
        Assert.That(features.Count(c => c.module is MaxPool2d), Is.EqualTo(4));
        var classifier = ((Sequential)children[1].module).named_children().Select(c => c.module.GetType()).ToList();
        Assert.That(classifier, Is.EqualTo(new[] { typeof(Flatten), typeof(Dropout), typeof(Linear), typeof(ReLU), typeof(Dropout), typeof(Linear) }));
    }

    [Test]
    public void Padding_keeps_the_spatial_size_through_each_convolution()
    {
        using var scope = torch.NewDisposeScope();
        var model = FashionMnistVgg.Create(new FashionMnistVggOptions { Widths = [4, 4], HiddenUnits = 0, Dropout = 0 });
        var features = (Sequential)model.named_children().First().module;
        var output = features.forward(torch.zeros(2, 1, 28, 28));
        Assert.That(output.shape, Is.EqualTo(new long[] { 2, 4, 14, 14 }));
        Assert.That(model.named_children().Last().module.named_children().Select(c => c.name), Is.EqualTo(new[] { "flatten", "fc2" }));
    }

    [Test]
    public void A_saved_network_loads_back_with_the_same_outputs()
    {
        using var scope = torch.NewDisposeScope();
        var options = new FashionMnistVggOptions { Widths = [4, 4, 8, 8], HiddenUnits = 16 };
        torch.random.manual_seed(2);
        var model = FashionMnistVgg.Create(options);
        model.eval();
        var path = Path.Combine(Path.GetTempPath(), "ldrf-vgg-" + Guid.NewGuid().ToString("N") + ".bin");
        try
        {
            model.save(path);
            var loaded = FashionMnistVgg.Load(path, options);
            var input = torch.randn(2, 1, 28, 28);
            using var noGrad = torch.no_grad();
            Assert.That(loaded.training, Is.False);
            Assert.That(loaded.forward(input).allclose(model.forward(input)), Is.True);
        }
        finally
        {
            File.Delete(path);
        }

        Assert.That(() => FashionMnistVgg.Load(path), Throws.TypeOf<FileNotFoundException>().With.Message.Contains(path));
    }

    [Test]
    public void Options_reject_bad_shapes()
    {
        var options = new FashionMnistVggOptions();
        Assert.Multiple(() =>
        {
            Assert.That(() => options.Widths = [8, 8, 8], Throws.ArgumentException.With.Message.Contains("3"));
            Assert.That(() => options.Widths = [8, 0], Throws.ArgumentException);
            Assert.That(() => options.Dropout = 1.0, Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => options.HiddenUnits = -1, Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }
}
