using Ldrf.Samples.Common.Models;
using TorchSharp.Modules;

namespace Ldrf.Experiments;

/// <summary>A shipped network the harness prunes, with the names of its result files and its section of docs/results.md.</summary>
/// <param name="Id">Command-line id (<c>--model</c>).</param>
/// <param name="ResultsName">File name stem of its records, run info and plots in the output folder.</param>
/// <param name="Title">The network's name in plot titles and headings.</param>
/// <param name="CheckpointName">The shipped checkpoint in samples/data.</param>
/// <param name="Load">Loads the checkpoint (evaluation mode, CPU).</param>
/// <param name="RecoveryGoals">The recovery issue's goals: at each FLOPs reduction, how many points below the unpruned accuracy recovery should end.</param>
internal sealed record ExperimentModel(
    string Id, string ResultsName, string Title, string CheckpointName, Func<string, Sequential> Load, IReadOnlyList<(double Target, double Points)> RecoveryGoals)
{
    public const string VggId = "vgg";
    public const string ResNetId = "resnet";

    /// <summary>The default: the VGG whose results are the first section of docs/results.md and the README headline.</summary>
    public static readonly ExperimentModel Vgg = new(VggId, "fashion-mnist", "FashionMnistVgg", "fashion-mnist-vgg.bin", path => FashionMnistVgg.Load(path), [(3, 0.3), (5, 0.8)]);

    /// <summary>The small ResNet (basic blocks); the pruners prune the blocks' inner channels.</summary>
    public static readonly ExperimentModel ResNet = new(ResNetId, "fashion-mnist-resnet", "FashionMnistResNet", "fashion-mnist-resnet.bin", path => FashionMnistResNet.Load(path), [(3, 0.8)]);

    /// <summary>Every model, in the order of their sections in docs/results.md.</summary>
    public static IReadOnlyList<ExperimentModel> All { get; } = [Vgg, ResNet];

    /// <exception cref="ArgumentException">An unknown id; the message lists the known ones.</exception>
    public static ExperimentModel FromId(string id) => All.FirstOrDefault(m => m.Id == id)
        ?? throw new ArgumentException($"Unknown model '{id}'; known: {string.Join(", ", All.Select(m => m.Id))}.", nameof(id));
}
