using Ldrf.Samples.Common.Models;
using static TorchSharp.torch;

namespace Ldrf.Experiments;

/// <summary>A shipped network the harness prunes, with the names of its result files and its section of docs/results.md.</summary>
/// <param name="Id">Command-line id (<c>--model</c>).</param>
/// <param name="ResultsName">File name stem of its records, run info and plots in the output folder.</param>
/// <param name="Title">The network's name in plot titles and headings.</param>
/// <param name="CheckpointName">The shipped checkpoint in samples/data.</param>
/// <param name="Load">Loads the checkpoint (evaluation mode, CPU).</param>
/// <param name="RecoveryGoals">The recovery issue's goals: at each FLOPs reduction, how many points below the unpruned accuracy recovery should end.</param>
/// <param name="PrunedLayers">What the pruned layers are, for its section of docs/results.md (the VGG's section has no such line).</param>
internal sealed record ExperimentModel(
    string Id, string ResultsName, string Title, string CheckpointName, Func<string, nn.Module<Tensor, Tensor>> Load, IReadOnlyList<(double Target, double Points)> RecoveryGoals,
    string PrunedLayers = "")
{
    /// <summary>Whether the residual streams (the channels tied by the residual Adds) are pruned as groups of their own.</summary>
    public bool PruneResidualStreams { get; init; }

    /// <summary>The width-allocation issue's goals: at each FLOPs reduction, the accuracy before fine-tuning LDRF with allocated widths should reach.</summary>
    public IReadOnlyList<(double Target, double Accuracy)> AllocationGoals { get; init; } = [];

    public const string VggId = "vgg";
    public const string ResNetId = "resnet";

    /// <summary>The default: the VGG whose results are the first section of docs/results.md and the README headline.</summary>
    public static readonly ExperimentModel Vgg = new(VggId, "fashion-mnist", "FashionMnistVgg", "fashion-mnist-vgg.bin", path => FashionMnistVgg.Load(path), [(3, 0.3), (5, 0.8)])
    {
        AllocationGoals = [(3, 0.928), (5, 0.920)],
    };

    /// <summary>The small ResNet (basic blocks); the pruners prune the blocks' inner channels.</summary>
    public static readonly ExperimentModel ResNet = new(ResNetId, "fashion-mnist-resnet", "FashionMnistResNet", "fashion-mnist-resnet.bin", path => FashionMnistResNet.Load(path), [(3, 0.8)],
        "output channels are the inner channels of the residual blocks (block outputs, shortcuts and the stem keep their widths)")
    {
        AllocationGoals = [(3, 0.905)],
    };

    /// <summary>The same ResNet with its residual streams pruned too: the stem's and every block's outputs with the shortcuts.</summary>
    public static readonly ExperimentModel ResNetStreams = new("resnet-streams", "fashion-mnist-resnet-streams", "FashionMnistResNet (residual streams pruned)", "fashion-mnist-resnet.bin",
        path => FashionMnistResNet.Load(path), [(3, 0.8)],
        "output channels are the inner channels of the residual blocks and each stage's residual stream (the stem's or the downsampling shortcut's outputs with every block output added to them, pruned together)")
    {
        AllocationGoals = [(3, 0.905)],
        PruneResidualStreams = true,
    };

    /// <summary>
    /// The small MobileNetV2-style graph network (inverted residual blocks, depthwise convolutions, a squeeze-excitation gate);
    /// the pruners prune each block's expanded channels (with its depthwise convolution and gate in lockstep) and the head.
    /// </summary>
    public static readonly ExperimentModel MobileNet = new("mobilenet", "fashion-mnist-mobilenet", "FashionMnistMobileNet", "fashion-mnist-mobilenet.bin", path => FashionMnistMobileNet.Load(path), [],
        "output channels are the expanded channels of the inverted residual blocks, each group pruned with its depthwise convolution (and, in `b4`, the squeeze-excitation gate's outputs) in lockstep, and the head's (the residual adds couple the block outputs, which keep their widths; the stem's 16 channels are already the 16-channel minimum and the gate's squeeze `b4_se_reduce` kept its 64 in these runs: the raw records have every row's widths)");

    /// <summary>Every model, in the order of their sections in docs/results.md.</summary>
    public static IReadOnlyList<ExperimentModel> All { get; } = [Vgg, ResNet, ResNetStreams, MobileNet];

    /// <exception cref="ArgumentException">An unknown id; the message lists the known ones.</exception>
    public static ExperimentModel FromId(string id) => All.FirstOrDefault(m => m.Id == id)
        ?? throw new ArgumentException($"Unknown model '{id}'; known: {string.Join(", ", All.Select(m => m.Id))}.", nameof(id));
}
