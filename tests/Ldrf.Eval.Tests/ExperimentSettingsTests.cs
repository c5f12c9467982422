using Ldrf.Experiments;

namespace Ldrf.Eval.Tests;

/// <summary>The harness's command line: the model choice.</summary>
public class ExperimentSettingsTests
{
    [Test]
    public void The_vgg_stays_the_default_and_model_resnet_picks_the_resnet_with_its_own_files()
    {
        Assert.Multiple(() =>
        {
            Assert.That(ExperimentSettings.Parse([]).Model, Is.EqualTo(ExperimentModel.Vgg));
            Assert.That(ExperimentModel.Vgg.ResultsName, Is.EqualTo("fashion-mnist"), "the VGG's committed result files keep their names");
            var resnet = ExperimentSettings.Parse(["--model", "resnet", "--speedups", "2,3", "--checkpoint", "x.bin"]);
            Assert.That(resnet.Model, Is.EqualTo(ExperimentModel.ResNet));
            Assert.That(resnet.Model.ResultsName, Is.Not.EqualTo(ExperimentModel.Vgg.ResultsName));
            Assert.That(resnet.Speedups, Is.EqualTo(new[] { 2.0, 3.0 }));
            Assert.That(resnet.CheckpointPath, Is.EqualTo("x.bin"));
            Assert.That(ExperimentSettings.Parse(["--smoke", "--model", "resnet"]), Has.Property("Smoke").True.And.Property("Model").EqualTo(ExperimentModel.ResNet));
        });
    }

    [Test]
    public void Recovery_is_off_by_default_and_recovery_takes_its_budgets_epochs_and_trajectory()
    {
        Assert.Multiple(() =>
        {
            var defaults = ExperimentSettings.Parse([]);
            Assert.That((defaults.Recovery, defaults.RecoveryEpochs, defaults.RecoveryEvery, defaults.RecoveryTestImages), Is.EqualTo((false, 1, 25, 2000)));
            Assert.That(defaults.RecoveryImages, Is.EqualTo(new int?[] { null }), "one budget: all the training images");
            var recovery = ExperimentSettings.Parse(["--recovery", "--recovery-images", "all,2000", "--recovery-epochs", "2", "--recovery-every", "10", "--recovery-test-images", "500"]);
            Assert.That((recovery.Recovery, recovery.RecoveryEpochs, recovery.RecoveryEvery, recovery.RecoveryTestImages), Is.EqualTo((true, 2, 10, 500)));
            Assert.That(recovery.RecoveryImages, Is.EqualTo(new int?[] { null, 2000 }));
            Assert.That(() => ExperimentSettings.Parse(["--recovery-epochs", "0"]), Throws.ArgumentException.With.Message.Contains("--recovery-epochs"));
            Assert.That(() => ExperimentSettings.Parse(["--recovery-every", "0"]), Throws.ArgumentException.With.Message.Contains("--recovery-every"));
            Assert.That(() => ExperimentSettings.Parse(["--recovery-images", "2000,x"]), Throws.ArgumentException.With.Message.Contains("--recovery-images"));
            Assert.That(() => ExperimentSettings.Parse(["--recovery-images", "2000,2000"]), Throws.ArgumentException.With.Message.Contains("--recovery-images"));
            var smoke = ExperimentSettings.Parse(["--smoke"]);
            Assert.That((smoke.Recovery, smoke.RecoveryImages.Count), Is.EqualTo((true, 2)), "the smoke run covers two recovery budgets");
        });
    }

    [Test]
    public void An_unknown_model_or_the_memory_run_on_the_resnet_is_rejected_with_the_option_named()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => ExperimentSettings.Parse(["--model", "alexnet"]), Throws.ArgumentException.With.Message.Contains("alexnet").And.Message.Contains("resnet"));
            Assert.That(() => ExperimentSettings.Parse(["--model"]), Throws.ArgumentException.With.Message.Contains("--model"));
            Assert.That(() => ExperimentSettings.Parse(["--model", "resnet", "--memory", "1000"]), Throws.ArgumentException.With.Message.Contains("--memory"));
        });
    }

    [Test]
    public void The_cost_run_prunes_each_network_to_its_own_target_with_64_images_unless_told_otherwise()
    {
        Assert.Multiple(() =>
        {
            var cost = ExperimentSettings.Parse(["--cost", "vgg16,resnet50"]);
            Assert.That(cost.CostModels, Is.EqualTo(new[] { ImageNetScaleModel.Vgg16, ImageNetScaleModel.ResNet50 }));
            Assert.That(cost.CostModels.Select(m => m.Target), Is.EqualTo(new[] { 5.0, 3.0 }), "the targets of the ResNet issue: VGG-16 5x, ResNet-50 3x");
            Assert.That(cost.CalibrationImages, Is.EqualTo(ExperimentSettings.DefaultCostCalibrationImages));
            Assert.That(cost.SpeedupsGiven, Is.False);
            var told = ExperimentSettings.Parse(["--cost", "resnet50", "--calibration", "16", "--speedups", "2", "--state-dict", "resnet50.pt"]);
            Assert.That(told.CalibrationImages, Is.EqualTo(16));
            Assert.That(told.SpeedupsGiven, Is.True);
            Assert.That(told.StateDictPath, Is.EqualTo("resnet50.pt"));
            Assert.That(ExperimentSettings.Parse([]).CostModels, Is.Empty, "the default run is the Fashion-MNIST comparison");
        });
    }

    [Test]
    public void A_cost_run_that_cannot_be_meant_is_rejected_with_the_option_named()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => ExperimentSettings.Parse(["--cost", "alexnet"]), Throws.ArgumentException.With.Message.Contains("alexnet").And.Message.Contains("resnet50"));
            Assert.That(() => ExperimentSettings.Parse(["--cost", "vgg16,resnet50", "--state-dict", "x.pt"]), Throws.ArgumentException.With.Message.Contains("--state-dict"));
            Assert.That(() => ExperimentSettings.Parse(["--state-dict", "x.pt"]), Throws.ArgumentException.With.Message.Contains("--state-dict"));
            Assert.That(() => ExperimentSettings.Parse(["--cost", "vgg16", "--memory", "100"]), Throws.ArgumentException.With.Message.Contains("--memory"));
        });
    }
}
