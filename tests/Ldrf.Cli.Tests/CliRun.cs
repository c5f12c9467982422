using Ldrf.Cli;
using Spectre.Console;

namespace Ldrf.Cli.Tests;

/// <summary>Runs the command line in-process with captured output and error text.</summary>
internal sealed record CliRun(int ExitCode, string Output, string Error)
{
    /// <summary>The small ONNX model (3 x 16 x 16 in, 10 scores out) from the ONNX tests.</summary>
    public static string Model => Path.Combine(TestContext.CurrentContext.TestDirectory, "data", "plain-opset17.onnx");

    /// <summary>The shipped Fashion-MNIST PNG files.</summary>
    public static string Images => Path.Combine(TestContext.CurrentContext.TestDirectory, "data", "fashion-mnist");

    /// <summary>A fresh folder for a test's outputs.</summary>
    public static string NewFolder()
    {
        var folder = Path.Combine(TestContext.CurrentContext.WorkDirectory, "cli-" + TestContext.CurrentContext.Test.ID);
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }

        Directory.CreateDirectory(folder);
        return folder;
    }

    public static CliRun Of(params string[] args) => Of(CancellationToken.None, args);

    public static CliRun Of(CancellationToken cancellationToken, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 200;
        var code = new CliApp(console, error).RunAsync(args, cancellationToken).GetAwaiter().GetResult();
        var run = new CliRun(code, output.ToString(), error.ToString());
        TestContext.Out.WriteLine($"ldrf {string.Join(" ", args)} -> {code}\n{run.Output}{run.Error}");
        return run;
    }
}
