using Ldrf.Onnx.Protobuf;
using static Ldrf.Onnx.Tests.OnnxRuntimeReference;

namespace Ldrf.Onnx.Tests;

/// <summary>Files that are not ONNX, cut short, or use what the importer does not support are refused by name.</summary>
public class BadInputTests
{
    [TestCase("bad-not-onnx.onnx")]
    [TestCase("bad-truncated.onnx")]
    public void A_file_that_is_not_a_whole_onnx_model_is_invalid_data_naming_the_file(string file)
    {
        var path = Path.Combine(Models, file);
        var ex = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(path))!;
        Assert.That(ex.Message, Does.Contain(path));
    }

    [Test]
    public void An_empty_stream_is_invalid_data_naming_the_source()
    {
        using var stream = new MemoryStream();
        var ex = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(stream, "empty upload"))!;
        Assert.That(ex.Message, Does.Contain("'empty upload' is not an ONNX model"));
    }

    [Test]
    public void A_missing_file_names_the_path()
    {
        var path = Path.Combine(Models, "no-such-model.onnx");
        var ex = Assert.Throws<FileNotFoundException>(() => OnnxModel.Load(path))!;
        Assert.That(ex.Message, Does.Contain(path));
    }

    [Test]
    public void An_unsupported_operator_names_the_file_node_operator_opset_and_what_is_supported()
    {
        var path = Path.Combine(Models, "bad-unsupported-opset13.onnx");
        var ex = Assert.Throws<NotSupportedException>(() => OnnxModel.Load(path))!;
        Assert.That(ex.Message, Does.Contain(path).And.Contain("'/Softmax' (Softmax, opset 13)")
            .And.Contain("supported: Conv, BatchNormalization"));
    }

    [Test]
    public void An_unknown_attribute_names_the_node_the_attribute_and_the_known_ones()
    {
        var model = Model("plain-opset13.onnx");
        var conv = model.Graph.Node.First(n => n.OpType == "Conv");
        conv.Attribute.Add(new AttributeProto { Name = "mystery", Type = AttributeProto.Types.AttributeType.Int, I = 1 });

        var ex = Assert.Throws<NotSupportedException>(() => OnnxModel.Reexport(model, "edited.onnx"))!;
        Assert.That(ex.Message, Does.Contain("edited.onnx").And.Contain($"'{conv.Name}' (Conv, opset 13)").And.Contain("'mystery'")
            .And.Contain("auto_pad, dilations, group, kernel_shape, pads, strides"));
    }

    [Test]
    public void Batch_normalization_per_position_is_refused_with_the_supported_spatial_value()
    {
        var model = Model("foreign-opset7.onnx");
        model.Graph.Node.First(n => n.OpType == "BatchNormalization").Attribute.Single(a => a.Name == "spatial").I = 0;

        var ex = Assert.Throws<NotSupportedException>(() => OnnxModel.Reexport(model, "edited.onnx"))!;
        Assert.That(ex.Message, Does.Contain("spatial = 0").And.Contain("opset 7").And.Contain("supported: spatial = 1"));
    }

    [Test]
    public void Uneven_padding_that_a_window_reaches_is_refused_with_both_pads()
    {
        var model = Model("foreign-opset11.onnx");
        var pads = model.Graph.Node.First(n => n.OpType == "Conv" && n.Attribute.Any(a => a.Name == "pads" && a.Ints[2] == 0))
            .Attribute.Single(a => a.Name == "pads");
        pads.Ints[0] = 0;
        pads.Ints[2] = 1;

        var ex = Assert.Throws<NotSupportedException>(() => OnnxModel.Reexport(model, "edited.onnx"))!;
        Assert.That(ex.Message, Does.Contain("padding 0 before and 1 after").And.Contain("height"));
    }

    [Test]
    public void A_clip_to_other_bounds_than_relu_and_relu6_is_refused_with_the_bounds()
    {
        var model = Model("mobile-opset9.onnx");
        model.Graph.Node.First(n => n.OpType == "Clip").Attribute.Single(a => a.Name == "max").F = 1;

        var ex = Assert.Throws<NotSupportedException>(() => OnnxModel.Reexport(model, "edited.onnx"))!;
        Assert.That(ex.Message, Does.Contain("(Clip, opset 9)").And.Contain("Clip to [0, 1]").And.Contain("[0, 6]"));
    }

    [Test]
    public void A_weight_kept_in_an_external_file_is_refused_by_tensor_name()
    {
        var model = Model("plain-opset13.onnx");
        var weight = model.Graph.Initializer[0];
        weight.DataLocation = TensorProto.Types.DataLocation.External;

        var ex = Assert.Throws<NotSupportedException>(() => OnnxModel.Reexport(model, "edited.onnx"))!;
        Assert.That(ex.Message, Does.Contain("edited.onnx").And.Contain($"'{weight.Name}'").And.Contain("external"));
    }

    [Test]
    public void Calibration_images_of_the_wrong_shape_for_an_imported_model_are_named_by_the_pruner()
    {
        using var network = OnnxModel.Load(Path.Combine(Models, "plain-opset13.onnx"));
        using var gray = global::TorchSharp.torch.randn(8, 1, 16, 16);

        var ex = CallerArgument.Throws<ArgumentException>(typeof(Ldrf.TorchSharp.Pruning.TorchSharpPruner), "Prune",
            () => new Ldrf.TorchSharp.Pruning.TorchSharpPruner().Prune(network, [gray], new() { TargetFlopsReduction = 1.2 }),
            "'0_Conv'", "3 channels", "1 x 16 x 16");
        Assert.That(ex.ParamName, Is.EqualTo("calibrationBatches"));
    }

    private static ModelProto Model(string file) => ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(Models, file)));
}
