using System.Text;
using System.Text.Json;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Serialization;
using Ldrf.TorchSharp.Tests.Reliability;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

public class SerializationTests
{
    private string _folder = null!;

    [SetUp]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("ldrf-tests-").FullName;

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    private static PruningResult Pruned(nn.Module<Tensor, Tensor> network) => new TorchSharpPruner().Prune(network, TestNetworks.Batches(2),
        new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 1.5, UseCapacityBounds = false, MeasureLatency = false });

    [Test]
    public void A_pruned_network_round_trips_exactly_without_the_code_that_built_it()
    {
        using var network = TestNetworks.SmallVgg();
        using var result = Pruned(network);
        var path = Path.Combine(_folder, "pruned.ldrf");
        result.Network.SaveLdrf(path);

        using var loaded = NetworkFile.LoadLdrf(path);
        Assert.That(loaded.state_dict().Keys, Is.EqualTo(result.Network.state_dict().Keys));
        Assert.That(TestNetworks.Snapshot(loaded), Is.EqualTo(TestNetworks.Snapshot(result.Network)));
        using var x = TestNetworks.Batches(1, seed: 3)[0];
        using var expected = result.Network.forward(x);
        using var actual = loaded.forward(x);
        Assert.That(TestNetworks.Same(actual, expected), Is.True, "bit-identical outputs");
        Assert.That(loaded.training, Is.False);
    }

    [Test]
    public void An_unpruned_network_with_batch_norm_round_trips_too()
    {
        using var network = TestNetworks.SmallVgg();
        var path = Path.Combine(_folder, "original.ldrf");
        network.SaveLdrf(path);
        using var loaded = NetworkFile.LoadLdrf(path);
        using var x = TestNetworks.Batches(1, seed: 3)[0];
        using var expected = network.forward(x);
        using var actual = loaded.forward(x);
        Assert.That(TestNetworks.Same(actual, expected), Is.True);
    }

    [Test]
    public void A_double_precision_network_prunes_and_round_trips_in_double_precision()
    {
        using var network = TestNetworks.SmallVgg();
        network.to(ScalarType.Float64);
        using var result = Pruned(network);
        Assert.That(result.Network.parameters().All(p => p.dtype == ScalarType.Float64), Is.True, "the type is taken from the network");
        var path = Path.Combine(_folder, "double.ldrf");
        network.SaveLdrf(path);
        using var loaded = NetworkFile.LoadLdrf(path);
        using var x = TestNetworks.Batches(1, seed: 3)[0].to(ScalarType.Float64);
        using var expected = network.forward(x);
        using var actual = loaded.forward(x);
        Assert.That(TestNetworks.Same(actual, expected), Is.True);
    }

    [Test, Category("BadInput")]
    public void A_truncated_or_corrupt_file_names_the_path()
    {
        using var network = TestNetworks.SmallVgg();
        var path = Path.Combine(_folder, "net.ldrf");
        network.SaveLdrf(path);
        var bytes = File.ReadAllBytes(path);

        foreach (var length in new[] { 4, 14, 100, bytes.Length - 10 })
        {
            var truncated = Path.Combine(_folder, $"truncated{length}.ldrf");
            File.WriteAllBytes(truncated, bytes[..length]);
            var ex = Assert.Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(truncated));
            Assert.That(ex!.Message, Does.Contain(truncated), $"cut at {length}");
        }

        var corrupt = Path.Combine(_folder, "corrupt.ldrf");
        var flipped = (byte[])bytes.Clone();
        flipped[^20] ^= 0xFF;
        File.WriteAllBytes(corrupt, flipped);
        var hash = Assert.Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(corrupt));
        Assert.That(hash!.Message, Does.Contain(corrupt).And.Contain("corrupt"));

        var other = Path.Combine(_folder, "other.bin");
        File.WriteAllText(other, "not a network at all");
        Assert.That(Assert.Throws<InvalidDataException>(() => NetworkFile.LoadLdrf(other))!.Message, Does.Contain(other));
        Assert.Throws<FileNotFoundException>(() => NetworkFile.LoadLdrf(Path.Combine(_folder, "missing.ldrf")));
    }

    [Test, Category("BadInput")]
    public void Every_flipped_byte_is_refused_or_loads_the_same_network()
    {
        using var network = TestNetworks.SmallVgg();
        var path = Path.Combine(_folder, "net.ldrf");
        network.SaveLdrf(path);
        var bytes = File.ReadAllBytes(path);
        var expectedBits = Expect.Bits(network);
        var expectedArchitecture = Architecture(network);

        // Every byte of the fixed header and the description, every 97th byte of the weights, every byte of the hash.
        var weightsStart = 24 + BitConverter.ToInt32(bytes, 12);
        var positions = Enumerable.Range(0, bytes.Length)
            .Where(i => i < weightsStart || i >= bytes.Length - 32 || (i - weightsStart) % 97 == 0)
            .ToList();
        var flippedPath = Path.Combine(_folder, "flipped.ldrf");
        var refused = 0;
        foreach (var i in positions)
        {
            var mask = (byte)(1 << (i % 8));
            bytes[i] ^= mask;
            File.WriteAllBytes(flippedPath, bytes);
            bytes[i] ^= mask;
            try
            {
                using var loaded = NetworkFile.LoadLdrf(flippedPath);
                Expect.SameBits(Expect.Bits(loaded), expectedBits, $"byte {i} flipped and loaded");
                Assert.That(Architecture(loaded), Is.EqualTo(expectedArchitecture), $"byte {i} flipped and loaded");
            }
            catch (InvalidDataException ex)
            {
                Assert.That(ex.Message, Does.Contain($"'{flippedPath}'"), $"byte {i}");
                refused++;
            }
        }

        TestContext.Progress.WriteLine($"{refused} of {positions.Count} flipped bytes refused ({bytes.Length}-byte file).");
    }

    [Test, Category("BadInput")]
    public void Architecture_edits_that_loaded_silently_in_version_1_are_refused()
    {
        using var network = TestNetworks.SmallVgg();
        var path = Path.Combine(_folder, "net.ldrf");
        network.SaveLdrf(path);
        var text = Encoding.Latin1.GetString(File.ReadAllBytes(path));
        foreach (var (from, to) in new[] { ("\"padding\":[1,1]", "\"padding\":[2,2]"), ("\"eps\":1E-05", "\"eps\":1E-03") })
        {
            Assert.That(text, Does.Contain(from), "the edit applies to this network");
            var edited = Path.Combine(_folder, "edited.ldrf");
            File.WriteAllBytes(edited, Encoding.Latin1.GetBytes(text.Replace(from, to, StringComparison.Ordinal)));
            Assert.That(() => NetworkFile.LoadLdrf(edited),
                Throws.InstanceOf<InvalidDataException>().With.Message.Contains($"'{edited}'").And.Message.Contains("SHA-256"), to);
        }
    }

    private static string Architecture(nn.Module network) => JsonSerializer.Serialize(NetworkReader.Read(network, "network"));

    [Test]
    public void The_state_exports_in_pytorch_format_and_loads_back()
    {
        using var network = TestNetworks.SmallVgg();
        using var result = Pruned(network);
        var ldrf = Path.Combine(_folder, "pruned.ldrf");
        var py = Path.Combine(_folder, "pruned.pt");
        result.Network.SaveLdrf(ldrf);
        result.Network.ExportPyTorch(py);
        Assert.That(new FileInfo(py).Length, Is.GreaterThan(0));

        // A same-shaped network with other weights takes the exported state and then equals the pruned one.
        using var target = NetworkFile.LoadLdrf(ldrf);
        using (no_grad())
        {
            foreach (var p in target.parameters())
            {
                p.zero_();
            }
        }

        target.load_py(py);
        Assert.That(TestNetworks.Snapshot(target), Is.EqualTo(TestNetworks.Snapshot(result.Network)));
    }
}
