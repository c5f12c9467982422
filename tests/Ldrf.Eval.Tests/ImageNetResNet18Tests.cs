using Ldrf.Experiments;
using Ldrf.Samples.Common.Data;
using static TorchSharp.torch;

namespace Ldrf.Eval.Tests;

/// <summary>
/// <c>--model resnet18-imagenet</c>: the linear probe and the feature measures on cases with a known answer, the
/// preprocessing against the package's own file, the options, and a tiny run of the whole path (the full run is not CI's).
/// </summary>
public class ImageNetResNet18Tests
{
    [Test]
    public void The_probe_separates_well_separated_classes_and_stays_frozen_when_applied_to_other_features()
    {
        // Three classes around means 6 apart in 16 dimensions (unit noise): the Bayes error is far below 1%.
        var (train, trainLabels) = Clusters(300, seed: 1);
        var (test, testLabels) = Clusters(300, seed: 2);
        using (train)
        using (trainLabels)
        using (test)
        using (testLabels)
        using (var probe = LinearProbe.Train(train, trainLabels, classes: 3, seed: 1))
        using (var shift = zeros(16))
        using (var shifted = test + shift.index_put_(tensor(12f), 0))
        {
            Assert.That(probe.Accuracy(test, testLabels), IsFinite.AtLeast(0.99));
            // Applied unchanged: features that moved (class 0's direction shifted) are read with the training features'
            // standardization and weights, so the other classes fall to class 0 (a probe refitted to them would not).
            Assert.That(probe.Accuracy(shifted, testLabels), IsFinite.LessThan(0.8));
        }
    }

    [Test]
    public void Fidelity_is_the_relative_error_and_the_mean_cosine()
    {
        using var reference = tensor(new float[] { 1, 0, 0, 2, 3, 4 }, [2, 3]);
        using var scaled = reference * 1.1f;
        using var orthogonal = tensor(new float[] { 0, 1, 0, 4, 0, -2 }, [2, 3]);

        var (error, cosine) = ImageNetResNet18Runner.Fidelity(scaled, reference);
        var (_, orthogonalCosine) = ImageNetResNet18Runner.Fidelity(orthogonal, reference);

        Assert.That(error, IsFinite.EqualTo(0.1, 1e-6));
        Assert.That(cosine, IsFinite.EqualTo(1, 1e-6));
        Assert.That(orthogonalCosine, IsFinite.EqualTo(0, 1e-6));
    }

    [Test]
    public void Preprocessing_puts_the_gray_value_in_three_channels_at_224_and_subtracts_the_packages_mean_image()
    {
        // A black image and a uniform gray one: bilinear upscaling keeps a constant, so the difference of the two prepared
        // images is the gray value (0-255) in every pixel of every channel, and the black one is minus the mean image.
        var pixels = new byte[2 * 28 * 28];
        Array.Fill(pixels, (byte)100, 28 * 28, 28 * 28);
        using var preprocessing = new ResNetPreprocessing(ImageNetResNet18Runner.PreprocessPath);
        using var prepared = preprocessing.Prepare(new IdxImages(pixels, 2, 28, 28), 0, 2);

        Assert.That(prepared.shape, Is.EqualTo(new long[] { 2, 3, 224, 224 }));
        using var difference = prepared[1] - prepared[0];
        Assert.That(difference.min().item<float>(), IsFinite.EqualTo(100, 1e-3));
        Assert.That(difference.max().item<float>(), IsFinite.EqualTo(100, 1e-3));
        // The mean image of an ImageNet model: around 100-130 in every channel, not zero.
        Assert.That(-prepared[0].mean().item<float>(), IsFinite.InRange(80, 150));
    }

    [Test]
    public void The_model_option_selects_the_pretrained_trunk_with_its_own_defaults()
    {
        var full = ExperimentSettings.Parse(["--model", "resnet18-imagenet"]);
        var smoke = ExperimentSettings.Parse(["--smoke", "--model", "resnet18-imagenet", "--methods", "ldrf-weight-svd"]);
        var chosen = ExperimentSettings.Parse(["--model", "resnet18-imagenet", "--calibration", "1024", "--speedups", "2", "--probe-images", "500"]);

        Assert.That((full.ImageNetResNet18, full.Speedups, full.CalibrationImages, full.Methods),
            Is.EqualTo((true, ImageNetResNet18Runner.DefaultSpeedups, 256, ImageNetResNet18Runner.DefaultMethods)));
        Assert.That((smoke.Speedups.Single(), smoke.CalibrationImages, smoke.Methods!.Single()), Is.EqualTo((2.0, 8, Methods.LdrfWeightSvd)));
        Assert.That((chosen.CalibrationImages, chosen.Speedups.Single(), chosen.ProbeImages), Is.EqualTo((1024, 2.0, 500)));
        Assert.That(ExperimentSettings.Parse(["--model", "resnet"]).ImageNetResNet18, Is.False);
    }

    [Test]
    public void Smoke_run_prunes_the_pretrained_trunk_and_writes_its_records_plots_and_section()
    {
        var folder = Path.Combine(Path.GetTempPath(), "ldrf-smoke-resnet18-" + Guid.NewGuid().ToString("N"));
        try
        {
            var settings = ExperimentSettings.Parse(["--smoke", "--model", "resnet18-imagenet", "--out", folder, "--markdown", Path.Combine(folder, "results.md")]);
            var log = new StringWriter();
            new ExperimentRunner(settings, "resnet18 smoke test", log).Run();

            Assert.That(File.Exists(Path.Combine(folder, "fashion-mnist.json")), Is.False, "the VGG's results are not touched");
            var records = ImageNetResNet18Results.Read(folder);
            Assert.That(records.Select(r => r.Method), Is.EqualTo(new[] { "unpruned", "ldrf", "l1-norm" }), log.ToString());
            Assert.That(records[0].ProbeAccuracy, IsFinite.InRange(0.0, 1.0), log.ToString());
            foreach (var r in records.Skip(1))
            {
                Assert.That(r.FlopsRatio, IsFinite.InRange(2.0, 2.0 * 1.05), r.Method);
                Assert.That(r.FeatureError, IsFinite.AtLeast(0), r.Method);
                Assert.That(r.Cosine, IsFinite.InRange(-1.0, 1.0), r.Method);
                Assert.That(r.ProbeAccuracy, IsFinite.InRange(0.0, 1.0), r.Method);
                Assert.That(r.LatencyRatio, IsFinite.GreaterThan(0), r.Method);
                Assert.That(r.CalibrationImages, Is.EqualTo(8), r.Method);
                Assert.That(r.Widths, Is.Not.Empty, r.Method);
            }

            // LDRF reconstructs: a broken pruning gives features unrelated to the original (error near or above 1, cosine near 0).
            Assert.That(records[1].FeatureError, IsFinite.InRange(0.0, 0.9));
            Assert.That(records[1].Cosine, IsFinite.InRange(0.5, 1.0));

            Assert.That(records[1].Widths, Is.EqualTo(records[2].Widths), "every method gets the same per-layer widths");
            var png = File.ReadAllBytes(Path.Combine(folder, "imagenet-resnet18.png"));
            Assert.That(png.Take(4), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }));
            var markdown = File.ReadAllText(Path.Combine(folder, "results.md"));
            Assert.That(markdown, Does.Contain("## ImageNet-pretrained ResNet-18 (ONNX)").And.Contain("    resnet18 smoke test").And.Contain("| 8 | 2x | l1-norm |"));
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static (Tensor Features, Tensor Labels) Clusters(int perClass, int seed)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)seed);
        var labels = arange(3).repeat_interleave(perClass);
        var means = zeros(3, 16);
        for (var k = 0; k < 3; k++)
        {
            means[k, k] = tensor(6f);
        }

        var features = means.index_select(0, labels) + randn([3L * perClass, 16], generator: generator);
        return (features.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }
}
