using Ldrf.Cli;

namespace Ldrf.Cli.Tests;

/// <summary>Where the preprocessing comes from: the command line over the JSON file over the model's input shape.</summary>
public class PreprocessingTests
{
    [Test]
    public void The_json_file_gives_the_values_and_options_on_the_command_line_win()
    {
        var file = Path.Combine(CliRun.NewFolder(), "pre.json");
        File.WriteAllText(file, """{ "size": [20, 24], "channels": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225] }""");

        var fromFile = Preprocessing.Resolve(file, null, null, null, null, [3, 224, 224]);
        var overridden = Preprocessing.Resolve(file, "32", 1, "0.5", "0.25", [3, 224, 224]);

        Assert.That((fromFile.Height, fromFile.Width, fromFile.Channels), Is.EqualTo((20, 24, 3)));
        Assert.That(fromFile.Mean, Is.EqualTo(new[] { 0.485f, 0.456f, 0.406f }));
        Assert.That(fromFile.Std, Is.EqualTo(new[] { 0.229f, 0.224f, 0.225f }));
        Assert.That((overridden.Height, overridden.Width, overridden.Channels), Is.EqualTo((32, 32, 1)));
        Assert.That(overridden.Mean, Is.EqualTo(new[] { 0.5f }));
        Assert.That(overridden.Std, Is.EqualTo(new[] { 0.25f }));
        Assert.That(() => Preprocessing.Resolve(file, null, 1, null, null, null),
            Throws.TypeOf<UsageException>().With.Message.Contains("--mean has 3 values but the images have 1 channels"));
    }

    [Test]
    public void Without_options_the_model_input_shape_decides_and_an_open_shape_asks_for_size()
    {
        var model = Preprocessing.Resolve(null, null, null, null, null, [3, 16, 16]);
        Assert.That((model.Height, model.Width, model.Channels), Is.EqualTo((16, 16, 3)));
        Assert.That(model.Mean, Is.EqualTo(new[] { 0f, 0f, 0f }));
        Assert.That(model.Std, Is.EqualTo(new[] { 1f, 1f, 1f }));

        Assert.That(() => Preprocessing.Resolve(null, null, null, null, null, [3, -1, -1]),
            Throws.TypeOf<UsageException>().With.Message.StartsWith("--size is needed"));
        var file = Path.Combine(CliRun.NewFolder(), "bad.json");
        File.WriteAllText(file, "{ size: ");
        Assert.That(() => Preprocessing.Resolve(file, null, null, null, null, [3, 16, 16]),
            Throws.TypeOf<UsageException>().With.Message.Contains("bad.json").And.Message.Contains("is not valid JSON"));
        Assert.That(() => Preprocessing.Resolve(null, null, null, null, "0,1,1", [3, 16, 16]),
            Throws.TypeOf<UsageException>().With.Message.StartsWith("--std must be positive"));
    }
}
