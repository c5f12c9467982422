using Ldrf.Experiments;

namespace Ldrf.Samples.Tests;

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
    public void An_unknown_model_or_the_memory_run_on_the_resnet_is_rejected_with_the_option_named()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => ExperimentSettings.Parse(["--model", "alexnet"]), Throws.ArgumentException.With.Message.Contains("alexnet").And.Message.Contains("resnet"));
            Assert.That(() => ExperimentSettings.Parse(["--model"]), Throws.ArgumentException.With.Message.Contains("--model"));
            Assert.That(() => ExperimentSettings.Parse(["--model", "resnet", "--memory", "1000"]), Throws.ArgumentException.With.Message.Contains("--memory"));
        });
    }
}
