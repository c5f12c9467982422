using Ldrf.TorchSharp.Complexity;
using Ldrf.TorchSharp.Graphs;
using Ldrf.TorchSharp.Models;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Serialization;
using Ldrf.TorchSharp.Tests;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Ldrf.TorchVision.Tests;

/// <summary>
/// VGG-16, ResNet-18/50 and MobileNetV2 match torchvision: the same state_dict entries, the same function (checked
/// against logits that torchvision computed), and a state_dict file in PyTorch's format or safetensors loads into them
/// strictly; VGG-16 and ResNet-50 are pruned at 224 x 224 (ResNet-50 to 3x, VGG-16 to 5x).
/// </summary>
/// <remarks>
/// The state_dict files of the pruning tests are written here with TorchSharp.PyBridge and read back, rather
/// than shipped from PyTorch: VGG-16's is 528 MB and ResNet-50's 98 MB, too large for the repository, and CI
/// has no Python. What a file from PyTorch would add is covered by the other two checks, which compare with
/// data that torchvision itself wrote (torchvision-reference.json, small): every entry's name, shape and dtype,
/// and the logits for deterministic weights. torchvision_reference.py also exports real torchvision state_dicts
/// for the experiment harness, which loads them with the same load_py.
/// </remarks>
public class TorchVisionModelsTests
{
    private static Sequential Create(string model) => model switch
    {
        "vgg16" => TorchVisionModels.Vgg16(),
        "vgg16_bn" => TorchVisionModels.Vgg16(batchNorm: true),
        "resnet18" => TorchVisionModels.ResNet18(),
        "resnet50" => TorchVisionModels.ResNet50(),
        _ => throw new ArgumentOutOfRangeException(nameof(model), model, null),
    };

    [TestCase("vgg16")]
    [TestCase("vgg16_bn")]
    [TestCase("resnet18")]
    [TestCase("resnet50")]
    public void The_state_dict_has_torchvisions_names_shapes_and_types(string model)
    {
        using var network = Create(model);
        var actual = network.state_dict().Select(e => (e.Key, Shape: string.Join("x", e.Value.shape), DType: DType(e.Value.dtype))).ToList();
        var expected = TorchVisionReference.StateDict(model).Select(e => (e.Name, Shape: string.Join("x", e.Shape), e.DType)).ToList();
        Assert.That(actual, Is.EquivalentTo(expected));
    }

    [TestCase("vgg16")]
    [TestCase("vgg16_bn")]
    [TestCase("resnet18")]
    [TestCase("resnet50")]
    public void With_the_same_weights_it_computes_torchvisions_logits(string model)
    {
        using var network = Create(model);
        TorchVisionReference.Fill(network);
        network.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = network.forward(TorchVisionReference.Input())[0];
        var expected = torch.tensor(TorchVisionReference.Logits(model));

        // float32 through 16 to 50 layers, by torch 1.13 there and libtorch 2.10 here: measured 1e-7 to 1e-6;
        // a wrong stride, padding, pool or epsilon moves the logits by far more than 1e-4.
        var error = (logits - expected).norm().item<float>() / expected.norm().item<float>();
        TestContext.Out.WriteLine($"{model}: relative difference {error:E2}");
        Assert.That(error, IsFinite.LessThan(1e-4));
    }

    [Test]
    public void MobileNetV2_has_torchvisions_state_dict_under_its_node_names()
    {
        using var network = TorchVisionModels.MobileNetV2();
        var actual = network.state_dict().Select(e => (Key: network.PyTorchKey(e.Key), Shape: string.Join("x", e.Value.shape), DType: DType(e.Value.dtype))).ToList();
        var expected = TorchVisionReference.StateDict("mobilenet_v2").Select(e => (e.Name, Shape: string.Join("x", e.Shape), e.DType)).ToList();
        Assert.That(actual, Is.EquivalentTo(expected));
        Assert.That(network.state_dict().Keys, Does.Contain("features_1_conv_0_0.weight").And.Contain("classifier_1.bias"), "node names are the paths with '_' for '.'");
        Assert.That(network.Nodes.Single(n => n.Name == "features_1_conv_0_0").Operation, Is.EqualTo("Conv2d"));
        Assert.That(network.Nodes.Where(n => n.Operation == "Add").Select(n => n.Name), Is.EqualTo(new[]
        {
            "features_3_add", "features_5_add", "features_6_add", "features_8_add", "features_9_add", "features_10_add",
            "features_12_add", "features_13_add", "features_15_add", "features_16_add",
        }), "a residual add where the stride is 1 and the width unchanged, as in torchvision");
    }

    [Test]
    public void MobileNetV2_with_the_same_weights_computes_torchvisions_logits()
    {
        using var network = TorchVisionModels.MobileNetV2();
        TorchVisionReference.Fill(network, network.PyTorchKey);
        network.eval();

        // In float64: MobileNetV2 has 24-channel inputs, a width that libtorch's float32 oneDNN convolutions compute
        // wrongly on this project's CPUs (docs/troubleshooting.md); float64 never goes through them.
        network.to(ScalarType.Float64);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = network.forward(TorchVisionReference.Input().to(ScalarType.Float64))[0].to(ScalarType.Float32);
        var expected = torch.tensor(TorchVisionReference.Logits("mobilenet_v2"));

        // As for the ResNets: torchvision's float32 round-off is far below 1e-4; a wrong stride, padding, group or ReLU6 is far above.
        var error = (logits - expected).norm().item<float>() / expected.norm().item<float>();
        TestContext.Out.WriteLine($"mobilenet_v2: relative difference {error:E2}");
        Assert.That(error, IsFinite.LessThan(1e-4));
    }

    [Test]
    public void MobileNetV2_exports_and_loads_PyTorch_files_under_torchvisions_keys()
    {
        var file = Path.Combine(Path.GetTempPath(), $"ldrf-mobilenet-{Guid.NewGuid():N}.pt");
        try
        {
            using var source = TorchVisionModels.MobileNetV2(classes: 10);
            TorchVisionReference.Fill(source, source.PyTorchKey);
            source.ExportPyTorch(file);
            var written = PyTorchUnpickler.UnpickleStateDict(file);
            var keys = written.Keys.Cast<string>().ToList();
            foreach (var tensor in written.Values.Cast<Tensor>())
            {
                tensor.Dispose();
            }

            Assert.That(keys, Is.EquivalentTo(TorchVisionReference.StateDict("mobilenet_v2").Select(e => e.Name).Where(k => !k.StartsWith("classifier.1", StringComparison.Ordinal)).Concat(["classifier.1.weight", "classifier.1.bias"])));

            using var target = TorchVisionModels.MobileNetV2(classes: 10);
            target.LoadPyTorch(file);
            var loaded = target.state_dict();
            foreach (var (name, tensor) in source.state_dict())
            {
                Assert.That(TestNetworks.Same(loaded[name], tensor), Is.True, $"'{name}' must load bit for bit");
            }

            // The torchvision paths survive an .ldrf file and a rebuild from the graph model (as after pruning).
            source.SaveLdrf(file + ".ldrf");
            using var reloaded = (GraphNetwork)NetworkFile.LoadLdrf(file + ".ldrf");
            using var model = Ldrf.TorchSharp.Architecture.GraphModel.FromNetwork(source, "network");
            using var folded = model.FoldBatchNorm("network");
            using var rebuilt = folded.Build(CPU, ScalarType.Float32);
            Assert.That(reloaded.PyTorchKey("features_1_conv_0_0.weight"), Is.EqualTo("features.1.conv.0.0.weight"));
            Assert.That(((GraphNetwork)rebuilt.Network).PyTorchKey("features_1_conv_1.bias"), Is.EqualTo("features.1.conv.1.bias"));
        }
        finally
        {
            File.Delete(file);
            File.Delete(file + ".ldrf");
        }
    }

    [Test]
    public void A_ResNet50_state_dict_in_PyTorch_format_loads_strictly_and_prunes_3x_at_224()
    {
        // Loaded as docs/getting-started.md shows it.
        PruneFromFile(() => TorchVisionModels.ResNet50(), "pt", (network, file) => network.save_py(file), ReadmeUsageTests.LoadResNet50LikeGettingStarted,
            target: 3.0, calibrationImages: 8, maxError: 0.1);
    }

    [Test]
    public void A_VGG16_state_dict_in_safetensors_loads_strictly_and_prunes_5x_at_224()
    {
        PruneFromFile(() => TorchVisionModels.Vgg16(), "safetensors", (network, file) => network.save_safetensors(file), file =>
        {
            var network = TorchVisionModels.Vgg16();
            network.load_safetensors(file, strict: true);
            network.eval();
            return network;
        }, target: 5.0, calibrationImages: 4, maxError: 0.5);
    }

    private static void PruneFromFile(
        Func<Sequential> create, string extension, Action<Sequential, string> save, Func<string, Sequential> load, double target, int calibrationImages, double maxError)
    {
        var file = Path.Combine(Path.GetTempPath(), $"ldrf-torchvision-{Guid.NewGuid():N}.{extension}");
        try
        {
            using var source = create();
            TorchVisionReference.Fill(source);
            save(source, file);
            using var network = load(file);
            var loaded = network.state_dict();
            foreach (var (name, tensor) in source.state_dict())
            {
                Assert.That(TestNetworks.Same(loaded[name], tensor), Is.True, $"'{name}' must load bit for bit");
            }

            // The source's tensors serve as the copy to check that pruning leaves the caller's network untouched.
            var batches = TestNetworks.Batches(calibrationImages / 2, 2, size: 224);
            var options = new NetworkPruningOptions { TargetFlopsReduction = target, UseCapacityBounds = false, MeasureLatency = false };
            var watch = System.Diagnostics.Stopwatch.StartNew();
            using var result = new TorchSharpPruner().Prune(network, batches, options);
            TestContext.Out.WriteLine($"pruned in {watch.Elapsed.TotalSeconds:0.0} s");
            TestContext.Out.WriteLine(result.Report.ToString());

            Assert.That(result.Report.FlopsReduction, IsFinite.InRange(target * 0.95, target * 1.05));
            var counted = ModelComplexity.Count(result.Network, [3, 224, 224]);
            Assert.That(counted.TotalFlops, Is.EqualTo(result.Report.FlopsAfter), "the report counts the network it returns");
            Assert.That(counted.TotalParameters, Is.LessThan(ModelComplexity.Count(network, [3, 224, 224]).TotalParameters));

            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var x = TestNetworks.Batches(1, 2, seed: 99, size: 224)[0];
            var reference = network.forward(x);
            var pruned = result.Network.forward(x);
            Assert.That(pruned.shape, Is.EqualTo(new long[] { 2, 1000 }));
            var error = TestNetworks.RelativeError(pruned, reference);
            TestContext.Out.WriteLine($"relative output error on held-out images {error:0.0000}");
            // A pruned network that lost the input's information (a constant output) is at 1.0, one with unrelated
            // outputs of the same size near 1.4. Measured here under libtorch's defaults with widths in multiples of 16
            // (detailed test log): 0.036 for ResNet-50 at 3x, whose shortcuts carry each block's input unpruned, 0.32
            // for VGG-16 at 5x from only 4 calibration images (every layer pruned); the bounds (0.1, 0.5) leave room
            // for other machines and libtorch builds and stay far below 1, and the float64 check below catches NaN
            // and the kernel defect, which the old run passed as "NaN < 0.1".
            Assert.That(error, IsFinite.LessThan(maxError));

            // Under libtorch's default settings (oneDNN on) the pruned float32 network computes its own float64 output:
            // measured 4.4e-7 (ResNet-50 3x) and 1.9e-7 (VGG-16 5x) relative; the oneDNN defect gave errors of 0.2 or NaN.
            var float64Error = TestNetworks.Float64RelativeError(result.Network, x);
            TestContext.Out.WriteLine($"float32 (libtorch defaults) against float64: {float64Error:E2}");
            Assert.That(float64Error, IsFinite.LessThan(1e-4));

            var after = network.state_dict();
            foreach (var (name, tensor) in source.state_dict())
            {
                Assert.That(TestNetworks.Same(after[name], tensor), Is.True, $"the caller's '{name}' must be unchanged");
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string DType(ScalarType type) => type switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Int64 => "int64",
        _ => type.ToString(),
    };
}
