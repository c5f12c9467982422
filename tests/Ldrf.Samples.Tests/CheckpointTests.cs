using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Models;
using Ldrf.Samples.Common.Training;

namespace Ldrf.Samples.Tests;

/// <summary>The shipped checkpoints, samples/data/fashion-mnist-vgg.bin, fashion-mnist-resnet.bin and fashion-mnist-mobilenet.bin, when present.</summary>
public class CheckpointTests
{
    [Test]
    public void The_shipped_checkpoint_classifies_the_shipped_test_images_at_90_percent_or_more()
    {
        var data = FashionMnistLocator.FindRepositoryDataFolder();
        var path = data is null ? null : Path.Combine(data, "fashion-mnist-vgg.bin");
        Assume.That(path is not null && File.Exists(path), "No checkpoint in samples/data: run samples/TrainFashionMnist.");

        using var model = FashionMnistVgg.Load(path!);
        using var test = FashionMnist.LoadTest(FashionMnistLocator.LocateSubset());
        double accuracy = Evaluator.Accuracy(model, test.Images, test.Labels);
        TestContext.Out.WriteLine($"Checkpoint accuracy on the {test.Count} shipped test images: {accuracy:P2}");
        Assert.That(accuracy, IsFinite.AtLeast(0.90));
    }

    [Test]
    public void The_shipped_resnet_classifies_the_shipped_test_images_at_90_percent_or_more()
    {
        var data = FashionMnistLocator.FindRepositoryDataFolder();
        var path = data is null ? null : Path.Combine(data, "fashion-mnist-resnet.bin");
        Assume.That(path is not null && File.Exists(path), "No ResNet checkpoint in samples/data: run samples/TrainFashionMnist --model resnet.");

        using var model = FashionMnistResNet.Load(path!);
        using var test = FashionMnist.LoadTest(FashionMnistLocator.LocateSubset());
        double accuracy = Evaluator.Accuracy(model, test.Images, test.Labels);
        TestContext.Out.WriteLine($"ResNet checkpoint accuracy on the {test.Count} shipped test images: {accuracy:P2}");
        Assert.That(accuracy, IsFinite.AtLeast(0.90));
    }

    [Test]
    // 89.65% on the full test set after 2 epochs (samples/data/fashion-mnist-mobilenet.json), 88.50% on the shipped 2,000.
    public void The_shipped_mobilenet_classifies_the_shipped_test_images_at_87_percent_or_more()
    {
        var data = FashionMnistLocator.FindRepositoryDataFolder();
        var path = data is null ? null : Path.Combine(data, "fashion-mnist-mobilenet.bin");
        Assume.That(path is not null && File.Exists(path), "No MobileNet checkpoint in samples/data: run samples/TrainFashionMnist --model mobilenet.");

        using var model = FashionMnistMobileNet.Load(path!);
        using var test = FashionMnist.LoadTest(FashionMnistLocator.LocateSubset());
        double accuracy = Evaluator.Accuracy(model, test.Images, test.Labels);
        TestContext.Out.WriteLine($"MobileNet checkpoint accuracy on the {test.Count} shipped test images: {accuracy:P2}");
        Assert.That(accuracy, IsFinite.AtLeast(0.87));
    }
}
