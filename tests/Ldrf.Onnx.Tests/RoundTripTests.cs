using Ldrf.Onnx.Protobuf;
using Google.Protobuf;
using static Ldrf.Onnx.Tests.OnnxRuntimeReference;

namespace Ldrf.Onnx.Tests;

/// <summary>
/// Import and export without TorchSharp modules: every test model, read into the graph model and written back as
/// ONNX, computes in ONNX Runtime what the original computes there. This checks the parsing (operators, attributes,
/// patterns, padding) and the writer against the same reference.
/// </summary>
public class RoundTripTests
{
    [TestCaseSource(typeof(OnnxRuntimeReference), nameof(ModelNames))]
    public void The_reexported_model_computes_the_original_in_onnx_runtime(string file)
    {
        var original = File.ReadAllBytes(Path.Combine(Models, file));
        var reexported = OnnxModel.Reexport(ModelProto.Parser.ParseFrom(original), file).ToByteArray();
        var (_, shape) = Input(original, batch: 2);
        var input = RandomInput(shape, seed: 1);

        var expected = Run(original, input, shape);
        var actual = Run(reexported, input, shape);

        Assert.That(actual.Shape, Is.EqualTo(expected.Shape));
        Assert.That(RelativeError(actual.Values, expected.Values), IsFinite.LessThan(1e-5));
    }
}
