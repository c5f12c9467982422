using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>Small seeded CNNs and data for the adapter's tests.</summary>
/// <remarks>
/// <see cref="SmallVgg"/> and <see cref="SmallResNet"/> are narrower than the default channel multiple (16), so tests
/// that prune them set <c>ChannelMultiple = 1</c> (every width allowed; their convolutions' input widths stay at or
/// below 16, which libtorch computes right). <see cref="WideVgg"/> has widths that the default prunes.
/// </remarks>
internal static class TestNetworks
{
    /// <summary>
    /// A VGG-style chain on 3 x 12 x 12 inputs with widths the default channel multiple can prune: features =
    /// [conv 3→64, ReLU, conv 64→96, ReLU, maxpool 2, conv 96→128, ReLU, avgpool 2], Flatten, classifier = [Linear
    /// 128·3·3→64, ReLU, Linear 64→5]; redundant channels as in <see cref="SmallVgg"/>.
    /// </summary>
    public static Sequential WideVgg(long seed = 1)
    {
        torch.random.manual_seed(seed);
        var features = nn.Sequential(
            ("0", nn.Conv2d(3, 64, 3, padding: 1)), ("1", nn.ReLU()),
            ("2", nn.Conv2d(64, 96, 3, padding: 1)), ("3", nn.ReLU()), ("4", nn.MaxPool2d(2)),
            ("5", nn.Conv2d(96, 128, 3, padding: 1)), ("6", nn.ReLU()), ("7", nn.AvgPool2d(2)));
        var classifier = nn.Sequential(("0", nn.Linear(128 * 3 * 3, 64)), ("1", nn.ReLU()), ("2", nn.Linear(64, 5)));
        var network = nn.Sequential(("features", features), ("flatten", nn.Flatten()), ("classifier", classifier));
        Initialize(network, redundant: true, outputs: 5);
        network.eval();
        return network;
    }

    /// <summary>
    /// A VGG-style chain on 3 x 12 x 12 inputs: features = [conv 3→8, BN, ReLU, conv 8→12, BN, ReLU, maxpool 2,
    /// conv 12→16, ReLU, avgpool 2], then Flatten, classifier = [Linear 16·3·3→20, ReLU, Dropout, Linear 20→5].
    /// BN running statistics are set to non-trivial values so that folding is tested for real.
    /// </summary>
    /// <remarks>
    /// With <paramref name="redundant"/>, every Conv2d and Linear but the last gets weights of rank half its
    /// outputs (W = U V), so its channels are correlated the way a trained network's are; a random full-rank
    /// network has no redundancy for any pruning method to exploit.
    /// </remarks>
    public static Sequential SmallVgg(long seed = 1, bool redundant = false)
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
        Initialize(network, redundant, outputs: 5);
        network.eval();
        return network;
    }

    /// <summary>
    /// A small ResNet on 3 x 12 x 12 inputs: conv1 3→8, BN, ReLU, then layer1 = [a basic block 8→8 (identity
    /// shortcut), a bottleneck 8→(8)→32 with stride 2 and a 1 x 1 downsample], AdaptiveAvgPool2d(1), Flatten,
    /// fc 32→5. Initialized like <see cref="SmallVgg"/> (redundant pairs of channels when asked).
    /// </summary>
    public static Sequential SmallResNet(long seed = 1, bool redundant = false)
    {
        torch.random.manual_seed(seed);
        var layer1 = nn.Sequential(
            ("0", (nn.Module<Tensor, Tensor>)Modules.ResidualBlock.Basic(8, 8)),
            ("1", Modules.ResidualBlock.Bottleneck(8, 8, stride: 2)));
        var network = nn.Sequential(
            ("conv1", nn.Conv2d(3, 8, 3, padding: 1, bias: false)),
            ("bn1", nn.BatchNorm2d(8)),
            ("relu", nn.ReLU()),
            ("layer1", layer1),
            ("avgpool", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(32, 5)));
        Initialize(network, redundant, outputs: 5);
        network.eval();
        return network;
    }

    // He initialization (TorchSharp's default shrinks the signal with depth, leaving outputs nearly constant) and
    // non-trivial batch-norm statistics, so that folding is tested for real.
    internal static void Initialize(nn.Module network, bool redundant, int outputs)
    {
        using (no_grad())
        {
            foreach (var (_, module) in network.named_modules())
            {
                if (module is Conv2d or Linear)
                {
                    var parameters = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
                    var w = parameters["weight"];
                    var rows = w.shape[0];
                    var fanIn = w.numel() / rows;
                    var flat = torch.randn(rows, fanIn) * Math.Sqrt(2.0 / fanIn);
                    var bias = torch.randn(rows) * 0.05;
                    if (redundant && rows != outputs)
                    {
                        // Channel 2k+1 is a positive multiple of channel 2k plus 5% noise: ReLU keeps the multiple, so
                        // the pair carries nearly one channel's information, like correlated filters of a trained net.
                        var scale = (torch.rand(rows / 2, 1) + 0.5);
                        var odd = (flat[TensorIndex.Slice(0, rows, 2)] * scale) + (torch.randn(rows / 2, fanIn) * 0.05 * Math.Sqrt(2.0 / fanIn));
                        flat[TensorIndex.Slice(1, rows, 2)] = odd;
                        bias[TensorIndex.Slice(1, rows, 2)] = bias[TensorIndex.Slice(0, rows, 2)] * scale.squeeze(1);
                    }

                    w.copy_(flat.reshape(w.shape));
                    if (parameters.TryGetValue("bias", out var b))
                    {
                        b.copy_(bias);
                    }
                }

                if (module is BatchNorm2d bn)
                {
                    var c = bn.running_mean!.shape[0];
                    // Redundant networks get a shift-free BN (a positive scale per channel) so the pairs stay proportional.
                    bn.running_mean.copy_(redundant ? torch.zeros(c) : torch.randn(c) * 0.1);
                    bn.running_var!.copy_(torch.rand(c) + 0.5);
                    bn.weight!.copy_(torch.rand(c) + 0.5);
                    bn.bias!.copy_(redundant ? torch.zeros(c) : torch.randn(c) * 0.1);
                }
            }
        }
    }

    /// <summary>
    /// Seeded batches of 3 x size x size images. Image-like: a 4 x 4 random pattern upsampled bilinearly plus a
    /// little noise, so neighbouring pixels correlate as in real images (white noise has no structure to keep).
    /// </summary>
    public static List<Tensor> Batches(int count, int batchSize = 8, long seed = 7, int size = 12)
    {
        var generator = new Generator((ulong)seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            using var coarse = torch.randn([batchSize, 3, 4, 4], generator: generator);
            using var smooth = nn.functional.interpolate(coarse, [size, size], mode: InterpolationMode.Bilinear, align_corners: false);
            using var noise = torch.randn([batchSize, 3, size, size], generator: generator);
            return smooth + (noise * 0.1);
        }).ToList();
    }

    /// <summary>Every parameter and buffer as float arrays, keyed by name (for bit-for-bit comparisons).</summary>
    public static Dictionary<string, float[]> Snapshot(nn.Module network) =>
        network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32).cpu().data<float>().ToArray());

    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.equal(b).all().item<bool>();

    /// <summary>‖actual − expected‖ / ‖expected‖.</summary>
    public static double RelativeError(Tensor actual, Tensor expected)
    {
        using var scope = torch.NewDisposeScope();
        return (actual - expected).norm().item<float>() / expected.norm().item<float>();
    }

    /// <summary>
    /// ‖y₃₂ − y₆₄‖ / ‖y₆₄‖: how far <paramref name="network"/>'s float32 output on <paramref name="x"/>, computed under
    /// the process's libtorch settings, is from the same network's output in float64, which no float32 kernel
    /// (oneDNN's included) computes. The network is converted to float64 and back, which is exact.
    /// </summary>
    public static double Float64RelativeError(nn.Module<Tensor, Tensor> network, Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var y32 = network.forward(x).to(ScalarType.Float64);
        network.to(ScalarType.Float64);
        try
        {
            var y64 = network.forward(x.to(ScalarType.Float64));
            return (y32 - y64).norm().item<double>() / y64.norm().item<double>();
        }
        finally
        {
            network.to(ScalarType.Float32);
        }
    }

    /// <summary>
    /// ‖actual − expected‖ / ‖expected − mean over the batch‖: the error relative to how much the outputs vary
    /// between inputs, so that a large common offset cannot make a poor network look close.
    /// </summary>
    public static double RelativeToSpread(Tensor actual, Tensor expected)
    {
        using var scope = torch.NewDisposeScope();
        return (actual - expected).norm().item<float>() / (expected - expected.mean([0], keepdim: true)).norm().item<float>();
    }
}
