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

    [TestCase("mobile-opset9.onnx")]
    [TestCase("mobile-opset13.onnx")]
    public void A_clip_to_bounds_other_than_relu6_imports_as_a_clamp_and_matches_onnx_runtime(string file)
    {
        // Clip(0, 6) in the committed file, edited to [-0.5, 1] in both its forms (attributes before opset 11, inputs after).
        var model = Ldrf.Onnx.Protobuf.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(Models, file)));
        var clip = model.Graph.Node.First(n => n.OpType == "Clip");
        if (clip.Attribute.Count > 0)
        {
            clip.Attribute.Single(a => a.Name == "min").F = -0.5f;
            clip.Attribute.Single(a => a.Name == "max").F = 1f;
        }
        else
        {
            // PyTorch writes the bounds as Constant nodes.
            foreach (var (boundName, bound) in new[] { (clip.Input[1], -0.5f), (clip.Input[2], 1f) })
            {
                var value = model.Graph.Node.Single(n => n.OpType == "Constant" && n.Output[0] == boundName).Attribute.Single(a => a.Name == "value").T;
                value.RawData = Google.Protobuf.ByteString.CopyFrom(BitConverter.GetBytes(bound));
                value.FloatData.Clear();
            }
        }

        var bytes = Google.Protobuf.MessageExtensions.ToByteArray(model);
        using var network = OnnxModel.Load(new MemoryStream(bytes), file);
        var (_, shape) = Input(bytes, batch: 2);
        var input = RandomInput(shape, seed: 11);
        var expected = Run(bytes, input, shape);
        var unedited = Run(File.ReadAllBytes(Path.Combine(Models, file)), input, shape);

        Assert.That(network.Nodes.Select(n => n.Operation), Does.Contain("Hardtanh"));
        Assert.That(RelativeError(expected.Values, unedited.Values), IsFinite.GreaterThan(1e-3), "the edit changed what the model computes");
        Assert.That(RelativeError(Forward(network, input, shape), expected.Values), IsFinite.LessThan(1e-4));
    }

    internal static float[] Forward(nn.Module<Tensor, Tensor> network, float[] input, long[] shape)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        network.eval();
        return network.forward(torch.tensor(input, shape)).contiguous().data<float>().ToArray();
    }
}
