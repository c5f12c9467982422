using TorchSharp;
using static Ldrf.Onnx.Tests.OnnxRuntimeReference;
using static TorchSharp.torch;

namespace Ldrf.Onnx.Tests;

/// <summary>
/// Every test model imported into a TorchSharp graph network computes what ONNX Runtime computes on the original
/// file, and the network exported again computes in ONNX Runtime what the network computes (1e-4 relative).
/// </summary>
public class OnnxModelTests
{
    [TestCaseSource(typeof(OnnxRuntimeReference), nameof(ModelNames))]
    public void The_imported_network_matches_onnx_runtime_and_its_export_matches_the_network(string file)
    {
        var path = Path.Combine(Models, file);
        using var network = OnnxModel.Load(path);
        var (inputName, shape) = Input(File.ReadAllBytes(path), batch: 2);
        var input = RandomInput(shape, seed: 7);

        var expected = Run(File.ReadAllBytes(path), input, shape);
        var actual = Forward(network, input, shape);
        var importError = RelativeError(actual, expected.Values);

        var exported = Path.Combine(TestContext.CurrentContext.WorkDirectory, "export-" + file);
        OnnxModel.Save(network, exported);
        var reexported = Run(File.ReadAllBytes(exported), input, shape);
        var exportError = RelativeError(reexported.Values, actual);
        TestContext.Out.WriteLine($"{file}: import {importError:E2}, export {exportError:E2} (max relative error against ONNX Runtime)");

        Assert.That(network.InputName, Is.EqualTo(inputName));
        Assert.That(network.OutputName, Is.EqualTo("scores"));
        Assert.That(reexported.Shape, Is.EqualTo(expected.Shape));
        Assert.That(importError, IsFinite.LessThan(1e-4));
        Assert.That(exportError, IsFinite.LessThan(1e-4));
    }

    [TestCase("efficient-opset13.onnx", "SiLU", "GELU", "PReLU", "Multiply", "Linear")]
    [TestCase("mobile-opset9.onnx", "ReLU6", "Hardswish", "Hardsigmoid", "Multiply", "Add")]
    [TestCase("mobile-opset17.onnx", "ReLU6", "Hardswish", "Hardsigmoid", "Multiply", "Add")]
    [TestCase("dense-opset13.onnx", "Concat", "PReLU", "AvgPool2d", "Sigmoid")]
    [TestCase("foreign-opset7.onnx", "BatchNorm2d", "Dropout", "Identity", "Add", "Tanh", "Hardsigmoid")]
    public void Exporter_patterns_become_one_node_each(string file, params string[] operations)
    {
        using var network = OnnxModel.Load(Path.Combine(Models, file));
        var present = network.Nodes.Select(n => n.Operation).ToHashSet();

        Assert.That(present, Is.SupersetOf(operations));
        Assert.That(present, Has.None.EqualTo("Erf").And.None.EqualTo("Div"));
    }

    internal static float[] Forward(nn.Module<Tensor, Tensor> network, float[] input, long[] shape)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        network.eval();
        return network.forward(torch.tensor(input, shape)).contiguous().data<float>().ToArray();
    }
}
