using Ldrf.TorchSharp.Graphs;
using Ldrf.TorchSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static Ldrf.Onnx.Tests.OnnxRuntimeReference;
using static TorchSharp.torch;

namespace Ldrf.Onnx.Tests;

/// <summary>
/// Networks built in code (the builder's whole vocabulary, and a chain with residual blocks) are written as ONNX files
/// that ONNX Runtime runs to the network's outputs; bad arguments are refused by name and write nothing.
/// </summary>
public class ExportTests
{
    /// <summary>Every operation the builder takes that the imported test models do not already cover, on 3 x 16 x 16.</summary>
    internal static GraphNetwork Zoo()
    {
        torch.random.manual_seed(5);
        var g = new GraphNetworkBuilder("pixels");
        var stem = g.Layer("stem", nn.Conv2d(3, 16, 3, padding: 1), g.Input);
        var gelu = g.Layer("gelu_tanh", nn.GELU(GELU.Approximate.tanh), stem);
        // Not Hardtanh: TorchSharp 0.107's Hardtanh(min, max).forward returns its input unchanged.
        var clamp = g.Layer("relu6", nn.ReLU6(), g.Layer("gelu", nn.GELU(), gelu));
        var tanh = g.Layer("tanh", nn.Tanh(), g.Layer("dilated", nn.Conv2d(16, 16, 3, padding: 2, dilation: 2), clamp));
        var silu = g.Layer("silu", nn.SiLU(), g.Layer("grouped", nn.Conv2d(16, 16, 3, padding: 1, groups: 4), clamp));
        var swish = g.Layer("hardswish", nn.Hardswish(), g.Layer("prelu", nn.PReLU(1), silu));
        var sum = g.Sum("sum3", tanh, swish, g.Layer("drop", nn.Dropout(0.3), g.Layer("id", nn.Identity(), clamp)));
        var cat = g.Concat("cat", sum, g.Layer("leaky", nn.LeakyReLU(0.2), sum));
        var pooled = g.Layer("maxpool", nn.MaxPool2d(3, 2, 1, dilation: 1, ceil_mode: true), cat);
        var avg = g.Layer("avgpool", nn.AvgPool2d(3, 2, 1, ceil_mode: true, count_include_pad: false), pooled);

        // A squeeze-excitation gate from a Linear (N x C) and one from a 1 x 1 convolution (N x C x 1 x 1).
        var squeeze = g.Layer("squeeze_flat", nn.Flatten(), g.Layer("squeeze", nn.AdaptiveAvgPool2d(1), avg));
        var gate = g.Layer("gate", nn.Hardsigmoid(), g.Layer("excite", nn.Linear(32, 32), g.Layer("squeeze_act", nn.ReLU(), squeeze)));
        var gated = g.Multiply("se", avg, gate);
        var gate2 = g.Layer("gate2", nn.Sigmoid(), g.Layer("excite2", nn.Conv2d(32, 32, 1), g.Layer("squeeze2", nn.AdaptiveAvgPool2d(1), gated)));
        var head = g.Layer("flat", nn.Flatten(), g.Layer("pool", nn.AdaptiveAvgPool2d(1), g.Multiply("se2", gated, gate2)));
        var network = g.Build(g.Layer("classes", nn.Linear(32, 10), head));
        network.eval();
        return network;
    }

    [Test]
    public void A_built_graph_with_every_operation_runs_in_onnx_runtime_as_in_torchsharp()
    {
        using var network = Zoo();
        var path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "zoo.onnx");
        OnnxModel.Save(network, path, [3, 16, 16]);
        long[] shape = [2, 3, 16, 16];
        var input = RandomInput(shape, seed: 2);

        var expected = OnnxModelTests.Forward(network, input, shape);
        var (actual, actualShape) = Run(File.ReadAllBytes(path), input, shape);

        Assert.That(Input(File.ReadAllBytes(path), batch: 2), Is.EqualTo(("pixels", new long[] { 2, 3, 16, 16 })));
        Assert.That(OutputDimensions(File.ReadAllBytes(path)), Is.EqualTo(new long[] { -1, 10 }));
        Assert.That(actualShape, Is.EqualTo(new long[] { 2, 10 }));
        Assert.That(RelativeError(actual, expected), IsFinite.LessThan(1e-4));
    }

    [Test]
    public void A_chain_with_residual_blocks_runs_in_onnx_runtime_as_in_torchsharp_and_imports_back()
    {
        torch.random.manual_seed(3);
        using var network = TorchVisionModels.ResNet18(classes: 10);
        network.eval();
        var path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "resnet18-chain.onnx");
        OnnxModel.Save(network, path);
        long[] shape = [2, 3, 32, 32];
        var input = RandomInput(shape, seed: 4);

        var expected = OnnxModelTests.Forward(network, input, shape);
        var (actual, _) = Run(File.ReadAllBytes(path), input, shape);
        using var imported = OnnxModel.Load(path);
        var back = OnnxModelTests.Forward(imported, input, shape);

        Assert.That(RelativeError(actual, expected), IsFinite.LessThan(1e-4));
        Assert.That(RelativeError(back, expected), IsFinite.LessThan(1e-4));
    }

    [Test]
    public void Adaptive_pooling_to_a_size_that_divides_the_input_is_written_as_average_pooling_given_the_image_shape()
    {
        torch.random.manual_seed(6);
        var g = new GraphNetworkBuilder();
        var pooled = g.Layer("pool", nn.AdaptiveAvgPool2d(2), g.Layer("act", nn.ReLU(), g.Layer("conv", nn.Conv2d(3, 16, 3, padding: 1), g.Input)));
        using var network = g.Build(g.Layer("fc", nn.Linear(64, 5), g.Layer("flat", nn.Flatten(), pooled)));
        network.eval();
        var path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "adaptive.onnx");
        long[] shape = [2, 3, 8, 12];

        CallerArgument.Throws<ArgumentException>(typeof(OnnxModel), nameof(OnnxModel.Save), () => OnnxModel.Save(network, path), "'pool'", "imageShape");
        OnnxModel.Save(network, path, [3, 8, 12]);
        var input = RandomInput(shape, seed: 6);
        var (actual, _) = Run(File.ReadAllBytes(path), input, shape);

        Assert.That(RelativeError(actual, OnnxModelTests.Forward(network, input, shape)), IsFinite.LessThan(1e-4));
    }

    [Test]
    public void A_node_without_an_onnx_form_names_the_network_argument_and_the_node_and_writes_nothing()
    {
        var g = new GraphNetworkBuilder();
        using var network = g.Build(g.Layer("mirror", nn.Conv2d(3, 16, 3, padding: 1, padding_mode: PaddingModes.Reflect), g.Input));
        var path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "refused.onnx");

        CallerArgument.Throws<ArgumentException>(typeof(OnnxModel), nameof(OnnxModel.Save), () => OnnxModel.Save(network, path),
            "'mirror'", "Conv2d", "Reflect");
        Assert.That(File.Exists(path) || File.Exists(path + ".tmp"), Is.False);
    }

    [Test]
    public void An_image_shape_that_is_not_three_positive_sizes_is_refused_by_name()
    {
        using var network = Zoo();
        CallerArgument.Throws<ArgumentException>(typeof(OnnxModel), nameof(OnnxModel.Save),
            () => OnnxModel.Save(network, "unused.onnx", [16, 16]), "imageShape", "C, H, W");
    }

    [Test]
    public void An_image_shape_the_network_cannot_take_names_the_argument_and_the_node()
    {
        using var network = Zoo();
        CallerArgument.Throws<ArgumentException>(typeof(OnnxModel), nameof(OnnxModel.Save),
            () => OnnxModel.Save(network, "unused.onnx", [4, 16, 16]), "'stem'");
    }

    [Test]
    public void Saving_into_a_missing_folder_names_the_path_and_creates_nothing()
    {
        using var network = Zoo();
        var folder = Path.Combine(TestContext.CurrentContext.WorkDirectory, "missing-" + Guid.NewGuid().ToString("N"));
        var path = Path.Combine(folder, "model.onnx");

        var ex = Assert.Throws<DirectoryNotFoundException>(() => OnnxModel.Save(network, path))!;
        Assert.That(ex.Message, Does.Contain(path));
        Assert.That(Directory.Exists(folder), Is.False);
    }

    [Test]
    public void Saving_leaves_the_network_untouched()
    {
        using var network = Zoo();
        var before = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        OnnxModel.Save(network, Path.Combine(TestContext.CurrentContext.WorkDirectory, "untouched.onnx"));

        foreach (var (key, value) in network.state_dict())
        {
            Assert.That(value.equal(before[key]).all().item<bool>(), Is.True, key);
        }
    }
}
