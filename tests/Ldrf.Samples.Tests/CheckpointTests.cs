using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Models;
using Ldrf.Samples.Common.Training;
using TorchSharp;

namespace Ldrf.Samples.Tests;

/// <summary>The shipped checkpoints, samples/data/fashion-mnist-vgg.bin, fashion-mnist-resnet.bin and fashion-mnist-mobilenet.bin, when present.</summary>
public class CheckpointTests
{
    [Test]
    public void The_shipped_checkpoint_classifies_the_shipped_test_images_at_90_percent_or_more() =>
        AssertAccuracy("fashion-mnist-vgg.bin", "", path => FashionMnistVgg.Load(path), 0.90);

    [Test]
    public void The_shipped_resnet_classifies_the_shipped_test_images_at_90_percent_or_more() =>
        AssertAccuracy("fashion-mnist-resnet.bin", "--model resnet", path => FashionMnistResNet.Load(path), 0.90);

    // 89.65% on the full test set after 2 epochs (samples/data/fashion-mnist-mobilenet.json), 88.50% on the shipped 2,000.
    [Test]
    public void The_shipped_mobilenet_classifies_the_shipped_test_images_at_87_percent_or_more() =>
        AssertAccuracy("fashion-mnist-mobilenet.bin", "--model mobilenet", path => FashionMnistMobileNet.Load(path), 0.87);

    private static void AssertAccuracy(string file, string trainOption, Func<string, torch.nn.Module<torch.Tensor, torch.Tensor>> load, double bound)
    {
        var data = FashionMnistLocator.FindRepositoryDataFolder();
        var path = data is null ? null : Path.Combine(data, file);
        Assume.That(path is not null && File.Exists(path), $"No {file} in samples/data: run samples/TrainFashionMnist {trainOption}.");

        using var model = load(path!);
        using var test = FashionMnist.LoadTest(FashionMnistLocator.LocateSubset());
        double accuracy = Evaluator.Accuracy(model, test.Images, test.Labels);
        TestContext.Out.WriteLine($"{file}: accuracy on the {test.Count} shipped test images {accuracy:P2}");
        Assert.That(accuracy, IsFinite.AtLeast(bound));
    }
}
