using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Models;
using Ldrf.Samples.Common.Training;
using TorchSharp;

namespace Ldrf.Samples.Tests;

/// <summary>Short, seeded training runs on the shipped subset with a narrow network.</summary>
public class TrainingTests
{
    // Widths in multiples of 16: under libtorch's defaults oneDNN's input gradients are wrong (or NaN) for convolutions
    // whose output width is off the 16-channel block on AVX-512 CPUs (docs/troubleshooting.md), and training needs them.
    private static readonly FashionMnistVggOptions Small = new() { Widths = [16, 16, 16, 16], HiddenUnits = 32, Dropout = 0.1 };

    [Test]
    public void A_tiny_training_run_lowers_the_loss_and_raises_the_accuracy()
    {
        using var data = FashionMnist.LoadTrain(FashionMnistLocator.LocateSubset(), 320);
        torch.random.manual_seed(3);
        using var model = FashionMnistVgg.Create(Small);
        var before = Evaluator.Evaluate(model, data.Images, data.Labels);
        var trainer = new Trainer(new TrainerOptions
        {
            Epochs = 4, BatchSize = 32, LearningRate = 0.05, Seed = 3, HorizontalFlip = true, CropPadding = 1,
            PaddingValue = FashionMnist.NormalizedBlack,
        });
        var reports = new List<TrainingProgress>();
        var result = trainer.Train(model, data.Images, data.Labels, new Collect(reports));
        var after = Evaluator.Evaluate(model, data.Images, data.Labels);

        Assert.Multiple(() =>
        {
            Assert.That(result.Steps, Is.EqualTo(40));
            Assert.That(result.EpochLosses, Has.Count.EqualTo(4));
            Assert.That(result.EpochLosses[^1], IsFinite.LessThan(result.EpochLosses[0] * 0.8));
            Assert.That(after.Loss, IsFinite.LessThan(before.Loss * 0.7));
            Assert.That(after.Accuracy, IsFinite.GreaterThan(before.Accuracy + 0.2));
            Assert.That(reports.Select(r => r.Epoch).Distinct(), Is.EqualTo(new[] { 1, 2, 3, 4 }));
            Assert.That(reports[^1].Step, Is.EqualTo(40));
        });
    }

    [Test]
    public void The_same_seed_gives_the_same_losses()
    {
        using var data = FashionMnist.LoadTrain(FashionMnistLocator.LocateSubset(), 128);
        IReadOnlyList<double> Run()
        {
            torch.random.manual_seed(11);
            using var model = FashionMnistVgg.Create(Small);
            var options = new TrainerOptions { MaxSteps = 4, Epochs = 10, BatchSize = 32, Seed = 11, HorizontalFlip = true, CropPadding = 2 };
            return new Trainer(options).Train(model, data.Images, data.Labels).StepLosses;
        }

        var first = Run();
        Assert.That(first, Has.Count.EqualTo(4));
        Assert.That(Run(), IsFinite.EqualTo(first, 1e-5));
    }

    [Test]
    public void Adam_trains_too()
    {
        using var data = FashionMnist.LoadTrain(FashionMnistLocator.LocateSubset(), 256);
        torch.random.manual_seed(5);
        using var model = FashionMnistVgg.Create(Small);
        var options = new TrainerOptions
        {
            Epochs = 3, BatchSize = 32, Optimizer = OptimizerKind.Adam, LearningRate = 3e-3, Schedule = LearningRateSchedule.Cosine, Seed = 5,
        };
        var result = new Trainer(options).Train(model, data.Images, data.Labels);
        Assert.That(result.EpochLosses[^1], IsFinite.LessThan(result.EpochLosses[0] * 0.8));
    }

    [Test]
    public void One_cycle_warms_up_to_the_peak_then_decays_to_zero()
    {
        var options = new TrainerOptions { LearningRate = 0.1, WarmupFraction = 0.2 };
        Assert.Multiple(() =>
        {
            Assert.That(Trainer.LearningRateAt(0, 100, options), IsFinite.EqualTo(0.01, 1e-12));
            Assert.That(Trainer.LearningRateAt(20, 100, options), IsFinite.EqualTo(0.1, 1e-12));
            Assert.That(Trainer.LearningRateAt(60, 100, options), IsFinite.EqualTo(0.05, 1e-12));
            Assert.That(Trainer.LearningRateAt(99, 100, options), IsFinite.LessThan(0.001));
        });
        options.Schedule = LearningRateSchedule.Constant;
        Assert.That(Trainer.LearningRateAt(99, 100, options), Is.EqualTo(0.1));
    }

    [Test]
    public void Evaluation_restores_the_training_mode_and_leaves_parameters_alone()
    {
        using var data = FashionMnist.LoadTest(FashionMnistLocator.LocateSubset(), 50);
        using var model = FashionMnistVgg.Create(Small);
        model.train();
        var before = model.parameters().Select(p => p.clone()).ToList();
        var result = Evaluator.Evaluate(model, data.Images, data.Labels, batchSize: 16);
        Assert.Multiple(() =>
        {
            Assert.That(model.training, Is.True);
            Assert.That(result.Count, Is.EqualTo(50));
            Assert.That(result.Accuracy, IsFinite.InRange(0.0, 1.0));
            Assert.That(model.parameters().Zip(before).All(p => p.First.eq(p.Second).all().item<bool>()), Is.True);
        });
    }

    [Test]
    public void Training_rejects_labels_that_do_not_match_the_images()
    {
        using var model = FashionMnistVgg.Create(Small);
        using var images = torch.zeros(4, 1, 28, 28);
        using var labels = torch.zeros(3, dtype: torch.ScalarType.Int64);
        Assert.That(() => new Trainer().Train(model, images, labels),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("labels").And.Message.Contains("4"));
    }

    private sealed class Collect(List<TrainingProgress> sink) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => sink.Add(value);
    }
}
