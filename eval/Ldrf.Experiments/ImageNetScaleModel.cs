using Ldrf.TorchSharp.Models;
using TorchSharp.Modules;

namespace Ldrf.Experiments;

/// <summary>An ImageNet-scale torchvision architecture whose pruning cost the harness times (<c>--cost</c>).</summary>
/// <param name="Id">Command-line id.</param>
/// <param name="Title">Its name in docs/results.md.</param>
/// <param name="Target">The FLOPs reduction it is pruned to unless <c>--speedups</c> names one.</param>
/// <param name="Create">Builds it with torchvision's initialization (training mode).</param>
/// <param name="PruneResidualStreams">Whether its residual streams are pruned too (<c>NetworkPruningOptions.PruneResidualStreams</c>).</param>
internal sealed record ImageNetScaleModel(string Id, string Title, double Target, Func<Sequential> Create, bool PruneResidualStreams = false)
{
    /// <summary>The input resolution of both: ImageNet's 224 x 224.</summary>
    public const int Resolution = 224;

    public static readonly ImageNetScaleModel Vgg16 = new("vgg16", "VGG-16", 5, () => TorchVisionModels.Vgg16());

    public static readonly ImageNetScaleModel ResNet50 = new("resnet50", "ResNet-50", 3, () => TorchVisionModels.ResNet50());

    public static readonly ImageNetScaleModel ResNet50Streams = new("resnet50-streams", "ResNet-50, residual streams pruned", 3, () => TorchVisionModels.ResNet50(), PruneResidualStreams: true);

    public static IReadOnlyList<ImageNetScaleModel> All { get; } = [Vgg16, ResNet50, ResNet50Streams];

    /// <exception cref="ArgumentException">An unknown id; the message lists the known ones.</exception>
    public static ImageNetScaleModel FromId(string id) => All.FirstOrDefault(m => m.Id == id)
        ?? throw new ArgumentException($"Unknown model '{id}' for '--cost'; known: {string.Join(", ", All.Select(m => m.Id))}.", nameof(id));
}
