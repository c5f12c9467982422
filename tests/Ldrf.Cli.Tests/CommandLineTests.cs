using Ldrf.Cli;

namespace Ldrf.Cli.Tests;

/// <summary>Bad command lines: a non-zero exit code and clear messages naming the option or file, nothing run.</summary>
public class CommandLineTests
{
    [TestCase("--target", "abc", "--target must be a number of at least 1")]
    [TestCase("--target", "0.5", "--target must be a number of at least 1")]
    [TestCase("--target", "NaN", "--target must be a number of at least 1")]
    [TestCase("--images", "-3", "--images must be a whole number of at least 1 but is '-3'")]
    [TestCase("--channel-multiple", "2.5", "--channel-multiple must be a whole number of at least 1 but is '2.5'")]
    [TestCase("--method", "prune-harder", "Argument 'prune-harder' not recognized. Must be one of:")]
    [TestCase("--allocation", "magic", "Argument 'magic' not recognized. Must be one of:")]
    public void A_bad_option_value_is_a_usage_error_naming_it(string option, string value, string message)
    {
        var folder = CliRun.NewFolder();
        string[] target = option == "--target" ? [] : ["--target", "2"];
        var run = CliRun.Of(["prune", CliRun.Model, .. target, "--calibration", CliRun.Images, "--out", Path.Combine(folder, "out.onnx"), option, value]);

        Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.Usage));
        Assert.That(run.Error, Does.Contain(message));
        Assert.That(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.All.StartsWith("error: ").Or.StartsWith("Run 'ldrf prune --help'"));
        Assert.That(Directory.GetFiles(folder), Is.Empty);
    }

    [Test]
    public void A_missing_model_file_is_a_usage_error_naming_it()
    {
        var run = CliRun.Of("inspect", "no-such-model.onnx");

        Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.Usage));
        Assert.That(run.Error, Does.Contain("'no-such-model.onnx'"));
    }

    [Test]
    public void An_unknown_command_and_missing_options_are_usage_errors()
    {
        Assert.That(CliRun.Of("shrink", CliRun.Model).ExitCode, Is.EqualTo(ExitCodes.Usage));
        var run = CliRun.Of("prune", CliRun.Model);
        Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.Usage));
        Assert.That(run.Error, Does.Contain("'--target' is required").And.Contain("'--calibration' is required").And.Contain("'--out' is required"));
    }

    [Test]
    public void A_file_that_is_not_onnx_is_one_line_naming_it_and_the_full_exception_with_verbose()
    {
        var bad = Path.Combine(TestContext.CurrentContext.TestDirectory, "data", "bad-not-onnx.onnx");
        var run = CliRun.Of("inspect", bad, "--input-shape", "3x16x16");

        Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(run.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(run.Error, Does.StartWith("error: ").And.Contain("bad-not-onnx.onnx"));

        var prune = CliRun.Of("prune", bad, "--target", "2", "--calibration", CliRun.Images, "--out", Path.Combine(CliRun.NewFolder(), "out.onnx"));
        Assert.That(prune.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(prune.Error, Does.StartWith("error: ").And.Contain("bad-not-onnx.onnx"));

        var verbose = CliRun.Of("inspect", bad, "--verbose");
        Assert.That(verbose.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(verbose.Error, Does.Contain("System.IO.InvalidDataException").And.Contain(" at "));
    }

    [Test]
    public void A_calibration_folder_without_images_and_bad_preprocessing_values_are_named()
    {
        var folder = CliRun.NewFolder();
        var output = Path.Combine(folder, "out.onnx");
        var empty = CliRun.Of("prune", CliRun.Model, "--target", "1.2", "--calibration", folder, "--out", output);
        Assert.That(empty.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(empty.Error, Does.Contain("--calibration").And.Contain("holds no image files"));

        var mean = CliRun.Of("prune", CliRun.Model, "--target", "1.2", "--calibration", CliRun.Images, "--out", output, "--mean", "0.1,0.2");
        Assert.That(mean.ExitCode, Is.EqualTo(ExitCodes.Usage));
        Assert.That(mean.Error, Does.Contain("--mean has 2 values but the images have 3 channels"));

        var size = CliRun.Of("prune", CliRun.Model, "--target", "1.2", "--calibration", CliRun.Images, "--out", output, "--size", "16y16");
        Assert.That(size.ExitCode, Is.EqualTo(ExitCodes.Usage));
        Assert.That(size.Error, Does.Contain("--size must be a positive size or HEIGHTxWIDTH"));
        Assert.That(Directory.GetFiles(folder), Is.Empty);
    }

    [Test]
    public void An_output_folder_that_does_not_exist_is_named_before_any_work()
    {
        var run = CliRun.Of("prune", CliRun.Model, "--target", "1.2", "--calibration", CliRun.Images, "--out", Path.Combine("no-such-folder", "out.onnx"));

        Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(run.Error, Does.Contain("--out").And.Contain("no-such-folder").And.Contain("does not exist"));
    }
}
