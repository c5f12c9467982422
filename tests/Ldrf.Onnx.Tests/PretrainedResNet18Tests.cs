using Google.Protobuf;
using Ldrf.Onnx.Protobuf;
using static Ldrf.Onnx.Tests.OnnxRuntimeReference;

namespace Ldrf.Onnx.Tests;

/// <summary>
/// A real model not written here: the ImageNet-pretrained ResNet-18 trunk that CNTK exported at opset 8
/// (BatchNormalization with spatial, uneven pads [3, 3, 2, 2] and [1, 1, 0, 0]), restored from
/// Microsoft.ML.DnnImageFeaturizer.ResNet18.
/// </summary>
public class PretrainedResNet18Tests
{
    [Test]
    public void The_reexported_trunk_computes_the_original_in_onnx_runtime()
    {
        var original = File.ReadAllBytes(ResNet18);
        var reexported = OnnxModel.Reexport(ModelProto.Parser.ParseFrom(original), "ResNet18.onnx").ToByteArray();
        var (_, shape) = Input(original, batch: 1);
        Assert.That(shape, Is.EqualTo(new long[] { 1, 3, 224, 224 }));
        var input = RandomInput(shape, seed: 3).Select(v => 50 * v).ToArray(); // the trunk takes 0-255 pixels minus the mean

        var expected = Run(original, input, shape);
        var actual = Run(reexported, input, shape);

        Assert.That(actual.Shape, Is.EqualTo(expected.Shape));
        Assert.That(RelativeError(actual.Values, expected.Values), IsFinite.LessThan(1e-5));
    }
}
