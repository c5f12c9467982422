using Ldrf.TorchSharp.Modules;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Serialization;
using Ldrf.TorchSharp.Tests.Reliability;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>
/// PyTorch files: <see cref="NetworkFile.LoadPyTorch"/> checks keys and shapes and names the file and the key
/// (catalogue A58 to A64; <see cref="NetworkFile.LoadSafetensors"/>: A68 to A70), and ExportPyTorch with <c>layoutOf</c> writes the original's layout at the pruned widths,
/// batch norms kept, which a module of the original's names and the pruned widths loads and runs to the same
/// outputs (catalogue A65 to A67 for layouts that do not correspond).
/// </summary>
public class PyTorchFileTests
{
    private string _folder = null!;

    [SetUp]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("ldrf-pytorch-").FullName;

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    private static PruningResult Pruned(nn.Module<Tensor, Tensor> network) => new TorchSharpPruner().Prune(network, TestNetworks.Batches(2),
        new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 1.5, UseCapacityBounds = false, MeasureLatency = false });

    private static int Width(nn.Module network, string key) => (int)network.state_dict()[key].shape[0];

    // ---- The export with the original's layout ----------------------------------------------------------------

    [Test]
    public void A_pruned_vgg_exported_with_its_layout_loads_into_the_original_names_at_the_pruned_widths_and_computes_the_same()
    {
        using var original = TestNetworks.SmallVgg();
        var originalBits = Expect.Bits(original);
        using var result = Pruned(original);
        var prunedBits = Expect.Bits(result.Network);
        var path = Path.Combine(_folder, "vgg.pt");
        result.Network.ExportPyTorch(path, layoutOf: original);

        var (c0, c3, c7, l0) = (Width(result.Network, "features.0.weight"), Width(result.Network, "features.3.weight"),
            Width(result.Network, "features.7.weight"), Width(result.Network, "classifier.0.weight"));
        Assert.That(c0 * c3 * c7 * l0, Is.LessThan(8 * 12 * 16 * 20), "the network was pruned");
        using var laidOut = SmallVggOfWidths(c0, c3, c7, l0);
        laidOut.LoadPyTorch(path); // refuses any missing, extra or differently shaped key
        Assert.That(laidOut.state_dict().Keys, Is.EqualTo(original.state_dict().Keys), "the original's keys, batch norms included");
        Assert.That(laidOut.state_dict().ContainsKey("features.7.bias"), Is.False, "no bias where the original had none");

        var state = laidOut.state_dict();
        Assert.That(state["features.1.weight"].eq(1).all().item<bool>(), Is.True, "identity-initialized batch norm");
        Assert.That(state["features.1.running_mean"].eq(0).all().item<bool>(), Is.True);
        Assert.That(state["features.0.bias"].eq(0).all().item<bool>(), Is.True, "the folded bias moved to the batch norm");
        AssertSameOutputs(laidOut, result.Network);
        Expect.SameBits(Expect.Bits(original), originalBits, "the layout is only read");
        Expect.SameBits(Expect.Bits(result.Network), prunedBits, "the pruned network is only read");
    }

    [Test]
    public void A_pruned_resnet_exported_with_its_layout_loads_with_its_blocks_and_downsample_batch_norms()
    {
        using var original = TestNetworks.SmallResNet();
        using var result = Pruned(original);
        var path = Path.Combine(_folder, "resnet.pt");
        result.Network.ExportPyTorch(path, layoutOf: original);

        var n = result.Network;
        using var laidOut = SmallResNetOfWidths(Width(n, "layer1.0.conv1.weight"), Width(n, "layer1.1.conv1.weight"), Width(n, "layer1.1.conv2.weight"));
        laidOut.LoadPyTorch(path);
        Assert.That(laidOut.state_dict().Keys, Is.EquivalentTo(original.state_dict().Keys));
        AssertSameOutputs(laidOut, result.Network);
    }

    [Test]
    public void An_unpruned_network_exported_with_its_own_layout_keeps_its_batch_norms_as_they_are()
    {
        using var network = TestNetworks.SmallVgg();
        var path = Path.Combine(_folder, "same.pt");
        network.ExportPyTorch(path, layoutOf: network);
        using var loaded = TestNetworks.SmallVgg(seed: 5);
        loaded.LoadPyTorch(path);
        Expect.SameBits(Expect.Bits(loaded), Expect.Bits(network), "every tensor as it was");
    }

    [Test]
    public void LoadPyTorch_loads_a_matching_file_exactly()
    {
        using var network = TestNetworks.SmallVgg();
        var path = Path.Combine(_folder, "net.pt");
        network.ExportPyTorch(path);
        using var other = TestNetworks.SmallVgg(seed: 9);
        other.LoadPyTorch(path);
        Expect.SameBits(Expect.Bits(other), Expect.Bits(network), "loaded");
        Assert.That(Directory.GetFiles(_folder), Is.EqualTo(new[] { path }), "no temporary file is left");
    }

    private static void AssertSameOutputs(nn.Module<Tensor, Tensor> actual, nn.Module<Tensor, Tensor> expected)
    {
        actual.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = TestNetworks.Batches(1, seed: 3)[0];
        var error = TestNetworks.RelativeError(actual.forward(x), expected.forward(x));
        TestContext.Progress.WriteLine($"relative error of the reloaded layout: {error:E2}");
        Assert.That(error, IsFinite.LessThan(1e-5), "the identity batch norms add only round-off");
    }

    // TestNetworks.SmallVgg's layer names with other widths, as a PyTorch user would write the class.
    private static Sequential SmallVggOfWidths(int c0, int c3, int c7, int l0) => nn.Sequential(
        ("features", nn.Sequential(
            ("0", nn.Conv2d(3, c0, 3, padding: 1)), ("1", nn.BatchNorm2d(c0)), ("2", nn.ReLU()),
            ("3", nn.Conv2d(c0, c3, 3, padding: 1)), ("4", nn.BatchNorm2d(c3)), ("5", nn.ReLU()), ("6", nn.MaxPool2d(2)),
            ("7", nn.Conv2d(c3, c7, 3, padding: 1, bias: false)), ("8", nn.ReLU()), ("9", nn.AvgPool2d(2)))),
        ("flatten", nn.Flatten()),
        ("classifier", nn.Sequential(("0", nn.Linear(c7 * 3 * 3, l0)), ("1", nn.ReLU()), ("2", nn.Dropout(0.5)), ("3", nn.Linear(l0, 5)))));

    // TestNetworks.SmallResNet's layer names with the pruned inner widths of its two blocks.
    private static Sequential SmallResNetOfWidths(int basic, int bottleneck1, int bottleneck2)
    {
        var relu0 = nn.ReLU();
        var block0 = new ResidualBlock(
            [("conv1", nn.Conv2d(8, basic, 3, 1, 1, bias: false)), ("bn1", nn.BatchNorm2d(basic)), ("relu", relu0),
             ("conv2", nn.Conv2d(basic, 8, 3, 1, 1, bias: false)), ("bn2", nn.BatchNorm2d(8))]);
        var relu1 = nn.ReLU();
        var block1 = new ResidualBlock(
            [("conv1", nn.Conv2d(8, bottleneck1, 1, bias: false)), ("bn1", nn.BatchNorm2d(bottleneck1)), ("relu", relu1),
             ("conv2", nn.Conv2d(bottleneck1, bottleneck2, 3, 2, 1, bias: false)), ("bn2", nn.BatchNorm2d(bottleneck2)), ("relu", relu1),
             ("conv3", nn.Conv2d(bottleneck2, 32, 1, bias: false)), ("bn3", nn.BatchNorm2d(32))],
            nn.Sequential(("0", nn.Conv2d(8, 32, 1, 2, bias: false)), ("1", nn.BatchNorm2d(32))));
        return nn.Sequential(
            ("conv1", nn.Conv2d(3, 8, 3, padding: 1, bias: false)), ("bn1", nn.BatchNorm2d(8)), ("relu", nn.ReLU()),
            ("layer1", nn.Sequential(("0", (nn.Module<Tensor, Tensor>)block0), ("1", block1))),
            ("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(32, 5)));
    }

    // ---- Bad input (docs/bad-input-catalogue.md) -----------------------------------------------------------------

    private static Sequential ConvFc(int conv = 4, bool extra = false, bool fc = true)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)> { ("conv", nn.Conv2d(3, conv, 3)) };
        if (fc)
        {
            layers.Add(("fc", nn.Linear(4, 2)));
        }

        if (extra)
        {
            layers.Add(("extra", nn.Linear(2, 2)));
        }

        return nn.Sequential(layers);
    }

    private string Saved(string name, nn.Module module)
    {
        var path = Path.Combine(_folder, name);
        module.save_py(path);
        return path;
    }

    [Test, Category("BadInput")]
    public void A58_a_state_dict_without_a_key_of_the_network_names_the_file_the_key_and_its_shape()
    {
        using var saved = ConvFc(fc: false);
        var path = Saved("no-fc.pt", saved);
        using var network = ConvFc();
        var before = Expect.Bits(network);
        Expect.Throws<InvalidDataException>(() => network.LoadPyTorch(path), $"'{path}'", "no tensor 'fc.weight'", "2 x 4", "1 more keys differ");
        Expect.SameBits(Expect.Bits(network), before, "a refused file changes nothing");
    }

    [Test, Category("BadInput")]
    public void A59_a_state_dict_with_a_key_the_network_lacks_names_the_file_the_key_and_its_shape()
    {
        using var saved = ConvFc(extra: true);
        var path = Saved("extra.pt", saved);
        using var network = ConvFc();
        Expect.Throws<InvalidDataException>(() => network.LoadPyTorch(path), $"'{path}'", "'extra.bias' (2)", "does not have");
    }

    [Test, Category("BadInput")]
    public void A60_a_tensor_of_another_shape_names_the_file_the_key_and_both_shapes_even_with_fewer_elements()
    {
        // PyBridge's load_py(strict: true) loads the 2-channel convolution into the 4-channel one without a word.
        using var narrow = ConvFc(conv: 2);
        var path = Saved("narrow.pt", narrow);
        using var network = ConvFc();
        Assert.That(() => network.load_py(path, strict: true), Throws.Nothing, "what PyBridge does");
        var before = Expect.Bits(network);
        Expect.Throws<InvalidDataException>(() => network.LoadPyTorch(path), $"'{path}'", "'conv.weight' is 2 x 3 x 3 x 3", "network's is 4 x 3 x 3 x 3");
        Expect.SameBits(Expect.Bits(network), before, "a refused file changes nothing");

        using var wide = ConvFc(conv: 6);
        var widePath = Saved("wide.pt", wide);
        Expect.Throws<InvalidDataException>(() => network.LoadPyTorch(widePath), $"'{widePath}'", "'conv.weight' is 6 x 3 x 3 x 3", "4 x 3 x 3 x 3");
    }

    [Test, Category("BadInput")]
    public void A61_an_ldrf_file_given_to_LoadPyTorch_says_it_is_an_ldrf_file_and_to_use_LoadLdrf()
    {
        using var network = TestNetworks.SmallVgg();
        var path = Path.Combine(_folder, "net.ldrf");
        network.SaveLdrf(path);
        var ex = Expect.Throws<InvalidDataException>(() => network.LoadPyTorch(path), $"'{path}'", "is an Ldrf network file", "NetworkFile.LoadLdrf");
        Assert.That(ex.Message, Does.Not.Contain("old PyTorch format"));
    }

    [Test, Category("BadInput")]
    public void A62_a_truncated_state_dict_names_the_file_not_the_zip_record()
    {
        using var network = ConvFc();
        var bytes = File.ReadAllBytes(Saved("whole.pt", network));
        foreach (var length in new[] { 4, 100, bytes.Length / 2, bytes.Length - 1 })
        {
            var path = Path.Combine(_folder, $"cut{length}.pt");
            File.WriteAllBytes(path, bytes[..length]);
            var ex = Expect.Throws<InvalidDataException>(() => network.LoadPyTorch(path), $"'{path}'", "is not a readable PyTorch state_dict file");
            Assert.That(ex.Message, Does.Not.StartWith("End of Central Directory"), $"cut at {length}");
        }
    }

    [Test, Category("BadInput")]
    public void A63_a_file_of_another_format_names_the_file_and_how_to_save_a_state_dict()
    {
        using var network = ConvFc();
        foreach (var (name, content) in new[] { ("text.pt", "not a state_dict"u8.ToArray()), ("empty.pt", Array.Empty<byte>()), ("legacy.pt", new byte[] { 0x80, 0x02, 0x8a, 0x0a, 0x6c }) })
        {
            var path = Path.Combine(_folder, name);
            File.WriteAllBytes(path, content);
            var ex = Expect.Throws<InvalidDataException>(() => network.LoadPyTorch(path), $"'{path}'", "is not a PyTorch state_dict file", "torch.save(model.state_dict(), path)");
            Assert.That(ex.Message, Does.Not.Contain("old PyTorch format"));
        }
    }

    [Test, Category("BadInput")]
    public void A64_a_missing_state_dict_file_names_the_path()
    {
        using var network = ConvFc();
        var path = Path.Combine(_folder, "missing.pt");
        var ex = Expect.Throws<FileNotFoundException>(() => network.LoadPyTorch(path), $"'{path}'");
        Assert.That(ex.FileName, Is.EqualTo(path));
    }

    [Test, Category("BadInput")]
    public void A65_a_layout_of_another_network_names_the_argument_and_the_layer()
    {
        using var network = TestNetworks.SmallVgg();
        using var result = Pruned(network);
        using var other = TestNetworks.SmallResNet();
        var path = Path.Combine(_folder, "x.pt");
        var ex = CallerArgument.Throws<ArgumentException>(typeof(NetworkFile), nameof(NetworkFile.ExportPyTorch), () => result.Network.ExportPyTorch(path, layoutOf: other), "'layoutOf' does not correspond to 'network'", "'conv1'");
        Assert.That(ex.ParamName, Is.EqualTo("layoutOf"));
        Assert.That(File.Exists(path), Is.False);

        // Same names, another kernel.
        using var kernel5 = nn.Sequential(("conv", nn.Conv2d(3, 4, 5)), ("fc", nn.Linear(4, 2)));
        using var kernel3 = ConvFc();
        CallerArgument.Throws<ArgumentException>(typeof(NetworkFile), nameof(NetworkFile.ExportPyTorch), () => kernel3.ExportPyTorch(path, layoutOf: kernel5), "layer 'conv' (Conv2d)", "kernel 5x5", "kernel 3x3");

        // A layer of the network that the layout lacks.
        using var longer = ConvFc(extra: true);
        CallerArgument.Throws<ArgumentException>(typeof(NetworkFile), nameof(NetworkFile.ExportPyTorch), () => longer.ExportPyTorch(path, layoutOf: kernel3), "layer 'extra' (Linear) of 'network' is not in 'layoutOf'");
    }

    [Test, Category("BadInput")]
    public void A66_a_convolution_bias_the_layout_cannot_hold_names_the_layer()
    {
        // The network's conv has a bias; the layout's has none and no batch norm after it to carry the bias.
        using var network = nn.Sequential(("conv", nn.Conv2d(3, 4, 3)), ("relu", nn.ReLU()));
        using var layout = nn.Sequential(("conv", nn.Conv2d(3, 4, 3, bias: false)), ("relu", nn.ReLU()));
        var path = Path.Combine(_folder, "bias.pt");
        var ex = CallerArgument.Throws<ArgumentException>(typeof(NetworkFile), nameof(NetworkFile.ExportPyTorch), () => network.ExportPyTorch(path, layoutOf: layout), "layer 'conv' (Conv2d)", "no batch norm follows it");
        Assert.That(ex.ParamName, Is.EqualTo("layoutOf"));

        // A batch norm in the layout after something other than a convolution cannot have been folded.
        using var plain = nn.Sequential(("conv", nn.Conv2d(3, 4, 3)), ("relu", nn.ReLU()));
        using var bnAfterRelu = nn.Sequential(("conv", nn.Conv2d(3, 4, 3)), ("relu", nn.ReLU()), ("bn", nn.BatchNorm2d(4)));
        CallerArgument.Throws<ArgumentException>(typeof(NetworkFile), nameof(NetworkFile.ExportPyTorch), () => plain.ExportPyTorch(path, layoutOf: bnAfterRelu), "layer 'bn' (BatchNorm2d)", "does not directly follow a Conv2d");
    }

    [Test, Category("BadInput")]
    public void A67_exporting_into_a_missing_folder_names_the_path_and_leaves_nothing()
    {
        using var network = TestNetworks.SmallVgg();
        var missing = Path.Combine(_folder, "missing");
        var path = Path.Combine(missing, "net.pt");
        Expect.Throws<DirectoryNotFoundException>(() => network.ExportPyTorch(path), $"'{path}'", "does not exist");
        Expect.Throws<DirectoryNotFoundException>(() => network.ExportPyTorch(path, layoutOf: network), $"'{path}'");
        Assert.That(Directory.Exists(missing), Is.False);
    }

    // ---- The safetensors twin -------------------------------------------------------------------------------------

    [Test]
    public void LoadSafetensors_loads_a_matching_file_exactly()
    {
        using var network = TestNetworks.SmallVgg();
        var path = Path.Combine(_folder, "net.safetensors");
        network.save_safetensors(path);
        using var other = TestNetworks.SmallVgg(seed: 9);
        other.LoadSafetensors(path);
        Expect.SameBits(Expect.Bits(other), Expect.Bits(network), "loaded");
    }

    [Test, Category("BadInput")]
    public void A68_a_safetensors_tensor_of_another_shape_names_the_file_the_key_and_both_shapes()
    {
        using var narrow = ConvFc(conv: 2);
        var path = Path.Combine(_folder, "narrow.safetensors");
        narrow.save_safetensors(path);
        using var network = ConvFc();
        var before = Expect.Bits(network);
        Expect.Throws<InvalidDataException>(() => network.LoadSafetensors(path), $"'{path}'", "'conv.weight' is 2 x 3 x 3 x 3", "network's is 4 x 3 x 3 x 3");
        Expect.SameBits(Expect.Bits(network), before, "a refused file changes nothing");
    }

    [Test, Category("BadInput")]
    public void A69_a_truncated_or_extended_safetensors_file_names_the_file()
    {
        using var network = ConvFc();
        var whole = Path.Combine(_folder, "whole.safetensors");
        network.save_safetensors(whole);
        var bytes = File.ReadAllBytes(whole);
        var headerEnd = 8 + (int)BitConverter.ToUInt64(bytes, 0);
        foreach (var cut in new[] { 0, 5, 12, headerEnd - 1, headerEnd + 3, bytes.Length - 1 })
        {
            var path = Path.Combine(_folder, $"cut{cut}.safetensors");
            File.WriteAllBytes(path, bytes[..cut]);
            Expect.Throws<InvalidDataException>(() => network.LoadSafetensors(path), $"'{path}'");
        }

        var extended = Path.Combine(_folder, "extended.safetensors");
        File.WriteAllBytes(extended, [.. bytes, 1, 2, 3]);
        Expect.Throws<InvalidDataException>(() => network.LoadSafetensors(extended), $"'{extended}'", "truncated or corrupt", $"the file has {bytes.Length + 3}");
    }

    [Test, Category("BadInput")]
    public void A70_a_file_of_another_format_given_to_LoadSafetensors_says_what_it_is()
    {
        using var network = ConvFc();
        var pt = Saved("net.pt", network);
        Expect.Throws<InvalidDataException>(() => network.LoadSafetensors(pt), $"'{pt}'", "is a PyTorch (torch.save) file", "LoadPyTorch");
        var ldrf = Path.Combine(_folder, "net.ldrf");
        using (var vgg = TestNetworks.SmallVgg())
        {
            vgg.SaveLdrf(ldrf);
        }

        Expect.Throws<InvalidDataException>(() => network.LoadSafetensors(ldrf), $"'{ldrf}'", "is an Ldrf network file", "NetworkFile.LoadLdrf");
        var text = Path.Combine(_folder, "text.safetensors");
        File.WriteAllText(text, "not safetensors at all");
        Expect.Throws<InvalidDataException>(() => network.LoadSafetensors(text), $"'{text}'", "is not a safetensors file");
        var missing = Path.Combine(_folder, "missing.safetensors");
        Assert.That(Expect.Throws<FileNotFoundException>(() => network.LoadSafetensors(missing), $"'{missing}'").FileName, Is.EqualTo(missing));
    }
}
