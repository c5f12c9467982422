using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>Small seeded CNNs and data for the adapter's tests.</summary>
internal static class TestNetworks
{
    /// <summary>
    /// A VGG-style chain on 3 x 12 x 12 inputs: features = [conv 3→8, BN, ReLU, conv 8→12, BN, ReLU, maxpool 2,
    /// conv 12→16, ReLU, avgpool 2], then Flatten, classifier = [Linear 16·3·3→20, ReLU, Dropout, Linear 20→5].
    /// BN running statistics are set to non-trivial values so that folding is tested for real.
    /// </summary>
    public static Sequential SmallVgg(long seed = 1)
    {
        torch.random.manual_seed(seed);
        var features = nn.Sequential(
            ("0", nn.Conv2d(3, 8, 3, padding: 1)),
            ("1", nn.BatchNorm2d(8)),
            ("2", nn.ReLU()),
            ("3", nn.Conv2d(8, 12, 3, padding: 1)),
            ("4", nn.BatchNorm2d(12)),
            ("5", nn.ReLU()),
            ("6", nn.MaxPool2d(2)),
            ("7", nn.Conv2d(12, 16, 3, padding: 1, bias: false)),
            ("8", nn.ReLU()),
            ("9", nn.AvgPool2d(2)));
        var classifier = nn.Sequential(
            ("0", nn.Linear(16 * 3 * 3, 20)),
            ("1", nn.ReLU()),
            ("2", nn.Dropout(0.5)),
            ("3", nn.Linear(20, 5)));
        var network = nn.Sequential(("features", features), ("flatten", nn.Flatten()), ("classifier", classifier));
        using (no_grad())
        {
            foreach (var (_, module) in network.named_modules())
            {
                if (module is BatchNorm2d bn)
                {
                    var c = bn.running_mean!.shape[0];
                    bn.running_mean.copy_(torch.randn(c) * 0.1);
                    bn.running_var!.copy_(torch.rand(c) + 0.5);
                    bn.weight!.copy_(torch.rand(c) + 0.5);
                    bn.bias!.copy_(torch.randn(c) * 0.1);
                }
            }
        }

        network.eval();
        return network;
    }

    /// <summary>Seeded calibration batches of 3 x 12 x 12 images.</summary>
    public static List<Tensor> Batches(int count, int batchSize = 8, long seed = 7, int size = 12)
    {
        var generator = new Generator((ulong)seed);
        return Enumerable.Range(0, count).Select(_ => torch.randn([batchSize, 3, size, size], generator: generator)).ToList();
    }

    /// <summary>Every parameter and buffer as float arrays, keyed by name (for bit-for-bit comparisons).</summary>
    public static Dictionary<string, float[]> Snapshot(nn.Module network) =>
        network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32).cpu().data<float>().ToArray());

    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.equal(b).all().item<bool>();

    public static double RelativeError(Tensor actual, Tensor expected)
    {
        using var scope = torch.NewDisposeScope();
        return (actual - expected).norm().item<float>() / expected.norm().item<float>();
    }
}
