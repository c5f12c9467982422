using Google.Protobuf;
using Ldrf.Onnx.Protobuf;
using static Ldrf.Onnx.Tests.OnnxRuntimeReference;

namespace Ldrf.Onnx.Tests;

/// <summary>
/// A real model not written here: the ImageNet-pretrained ResNet-18 trunk that CNTK exported at opset 8
/// (BatchNormalization with spatial, uneven pads [3, 3, 2, 2] and [1, 1, 0, 0], a fixed batch of 1), restored from
/// Microsoft.ML.DnnImageFeaturizer.ResNet18.
/// </summary>
public class PretrainedResNet18Tests
{
    private static readonly long[] OneImage = [1, 3, 224, 224];

    // The trunk takes 0-255 pixels minus the mean image; values of that size exercise it as images do.
    private static float[] Image(int seed) => [.. RandomInput(OneImage, seed).Select(v => 50 * v)];

    [Test]
    public void The_reexported_trunk_computes_the_original_in_onnx_runtime()
    {
        var original = File.ReadAllBytes(ResNet18);
        var reexported = OnnxModel.Reexport(ModelProto.Parser.ParseFrom(original), "ResNet18.onnx").ToByteArray();
        Assert.That(Input(original, batch: 1).Shape, Is.EqualTo(OneImage));
        var input = Image(seed: 3);

        var expected = Run(original, input, OneImage);
        var actual = Run(reexported, input, OneImage);

        Assert.That(actual.Shape, Is.EqualTo(expected.Shape));
        Assert.That(RelativeError(actual.Values, expected.Values), IsFinite.LessThan(1e-5));
    }

    [Test]
    public void The_imported_trunk_matches_onnx_runtime_on_two_images_and_its_export_matches_the_network()
    {
        using var network = OnnxModel.Load(ResNet18);
        var original = File.ReadAllBytes(ResNet18);
        float[][] images = [Image(seed: 11), Image(seed: 12)];
        long[] batch = [2, 3, 224, 224];

        // The original declares a batch of 1: ONNX Runtime runs it once per image.
        var expected = images.SelectMany(image => Run(original, image, OneImage).Values).ToArray();
        var actual = OnnxModelTests.Forward(network, [.. images.SelectMany(i => i)], batch);
        var importError = RelativeError(actual, expected);

        var exported = Path.Combine(TestContext.CurrentContext.WorkDirectory, "export-ResNet18.onnx");
        OnnxModel.Save(network, exported, [3, 224, 224]);
        var reexported = Run(File.ReadAllBytes(exported), [.. images.SelectMany(i => i)], batch);
        var exportError = RelativeError(reexported.Values, actual);
        TestContext.Out.WriteLine($"ResNet18.onnx: import {importError:E2}, export {exportError:E2} (max relative error against ONNX Runtime)");

        Assert.That((network.InputName, network.OutputName), Is.EqualTo(("Input247", "Pooling395_Output_0")));
        Assert.That(reexported.Shape, Is.EqualTo(new long[] { 2, 512, 1, 1 }));
        Assert.That(importError, IsFinite.LessThan(1e-4));
        Assert.That(exportError, IsFinite.LessThan(1e-4));
    }
}
