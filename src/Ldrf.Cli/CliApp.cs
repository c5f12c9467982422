using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using System.Numerics;
using System.CommandLine.Parsing;
using Spectre.Console;

namespace Ldrf.Cli;

/// <summary>
/// The <c>ldrf</c> command line: parses the arguments with System.CommandLine, runs a command and turns its failure
/// into one clear line on <paramref name="error"/> and an exit code (<see cref="ExitCodes"/>).
/// </summary>
/// <param name="console">Where results and progress go.</param>
/// <param name="error">Where errors go.</param>
/// <param name="live">Whether to draw a live progress bar (a terminal) rather than plain lines.</param>
internal sealed class CliApp(IAnsiConsole console, TextWriter error, bool live = false)
{
    private static readonly Option<bool> Verbose = new("--verbose") { Description = "On an error, print the full exception, not just its message.", Recursive = true };

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var root = Build();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors)
            {
                await error.WriteLineAsync("error: " + e.Message.ReplaceLineEndings(" ").Replace("\t", "", StringComparison.Ordinal));
            }

            await error.WriteLineAsync($"Run '{string.Join(" ", parsed.CommandResult.Command == root ? ["ldrf"] : new[] { "ldrf", parsed.CommandResult.Command.Name })} --help' for the usage.");
            return ExitCodes.Usage;
        }

        var configuration = new InvocationConfiguration
        {
            Output = new ConsoleWriter(console),
            Error = error,
            // The commands catch their own exceptions (one line each) and Ctrl+C is the caller's token.
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        };
        return await parsed.InvokeAsync(configuration, cancellationToken);
    }

    private Command Build()
    {
        // A named command rather than RootCommand, which would take its name from the assembly (Ldrf.Cli, not the
        // ldrf the tool is installed as; an assembly named ldrf would clash with Ldrf.dll on case-insensitive disks).
        var root = new Command("ldrf", "Prune ONNX CNNs with the Layer Decomposition-Recomposition Framework (LDRF).") { Verbose, new HelpOption(), new VersionOption() };

        var inspectModel = ModelArgument("MODEL", "The ONNX model file.");
        var inputShape = new Option<string?>("--input-shape") { Description = "The input's CxHxW (or NxCxHxW) when the model leaves sizes open, for example 3x224x224." };
        var inspectStreams = ResidualStreamsOption();
        var inspect = new Command("inspect", "List the layers (output shape, FLOPs, parameters per image) and the channel groups, prunable or coupled.") { inspectModel, inputShape, inspectStreams };
        inspect.SetAction((p, ct) => Guard(p, () => InspectCommand.Run(p.GetValue(inspectModel)!.FullName, p.GetValue(inputShape), p.GetValue(inspectStreams), console)));
        root.Subcommands.Add(inspect);

        var pruneModel = ModelArgument("MODEL", "The ONNX model file to prune.");
        var target = Number<double>("--target", "The FLOPs reduction to reach, for example 3 (three times fewer multiply-accumulates).", 1, "a number of at least 1 (the FLOPs reduction, for example 3)");
        target.Required = true;
        var calibration = CalibrationOption();
        var output = new Option<string>("--out") { Description = "The pruned ONNX file to write.", Required = true };
        var method = new Option<string>("--method") { Description = "The pruning method.", DefaultValueFactory = _ => "ldrf" };
        method.AcceptOnlyFromAmong(PruneCommand.Methods);
        var images = ImagesOption();
        var allocation = new Option<string>("--allocation") { Description = "How the FLOPs budget is spread over the layers.", DefaultValueFactory = _ => "uniform" };
        allocation.AcceptOnlyFromAmong(PruneCommand.Allocations);
        var multiple = Number<int>("--channel-multiple", "Kept widths are multiples of this (16: what libtorch's and ONNX Runtime's CPU kernels compute fastest).", 1, "a whole number of at least 1", 16);
        var report = new Option<string?>("--report") { Description = "Also write the pruning report as JSON here." };
        var plot = new Option<string?>("--plot") { Description = "Also write a PNG plot of the widths and errors per layer here." };
        var batchSize = Number<int>("--batch-size", "Calibration images per batch.", 1, "a whole number of at least 1", 32);
        var seed = Number<int>("--seed", "Seed of the random choices (the random method, patch sampling).", int.MinValue, "a whole number", 0);
        var pre = PreprocessingOptions();
        var streams = ResidualStreamsOption();
        var prune = new Command("prune", "Prune an ONNX model to a FLOPs target on calibration images and write the pruned ONNX file.")
        {
            pruneModel, target, calibration, output, method, images, allocation, multiple, streams, report, plot, batchSize, seed, pre.File, pre.Size, pre.Channels, pre.Mean, pre.Std,
        };
        prune.SetAction((p, ct) => Guard(p, () => PruneCommand.Run(
            new PruneSettings(
                p.GetValue(pruneModel)!.FullName, p.GetValue(target), p.GetValue(calibration)!, p.GetValue(output)!, p.GetValue(method)!, p.GetValue(images),
                p.GetValue(allocation)!, p.GetValue(multiple), p.GetValue(report), p.GetValue(plot), p.GetValue(pre.File), p.GetValue(pre.Size), p.GetValue(pre.Channels),
                p.GetValue(pre.Mean), p.GetValue(pre.Std), p.GetValue(batchSize), p.GetValue(seed), p.GetValue(streams)),
            console, live, ct)));
        root.Subcommands.Add(prune);

        var originalModel = ModelArgument("ORIGINAL", "The original ONNX model file.");
        var prunedModel = ModelArgument("PRUNED", "The pruned ONNX model file.");
        var compareCalibration = CalibrationOption();
        var compareImages = ImagesOption();
        var runs = Number<int>("--runs", "Timed runs per latency (the median is shown).", 1, "a whole number of at least 1", 10);
        var comparePre = PreprocessingOptions();
        var compare = new Command("compare", "Run both files in ONNX Runtime on the same images: relative output error, top-1 agreement, latency at batch 1 and 32.")
        {
            originalModel, prunedModel, compareCalibration, compareImages, runs, comparePre.File, comparePre.Size, comparePre.Channels, comparePre.Mean, comparePre.Std,
        };
        compare.SetAction((p, ct) => Guard(p, () => CompareCommand.Run(
            new CompareSettings(
                p.GetValue(originalModel)!.FullName, p.GetValue(prunedModel)!.FullName, p.GetValue(compareCalibration)!, p.GetValue(compareImages),
                p.GetValue(comparePre.File), p.GetValue(comparePre.Size), p.GetValue(comparePre.Channels), p.GetValue(comparePre.Mean), p.GetValue(comparePre.Std), p.GetValue(runs)),
            console, ct)));
        root.Subcommands.Add(compare);
        return root;
    }

    // Runs a command on a worker thread (libtorch's work must not block the caller's thread, which waits for Ctrl+C)
    // and maps its failure to one line and an exit code.
    private async Task<int> Guard(ParseResult parsed, Func<int> command)
    {
        try
        {
            return await Task.Run(command);
        }
        catch (Exception ex)
        {
            var (code, prefix) = Classify(ex);
            await error.WriteLineAsync(parsed.GetValue(Verbose) ? $"{prefix}: {ex}" : $"{prefix}: {OneLine(ex)}");
            return code;
        }
    }

    /// <summary>The exit code and the word that starts the error line for an exception a command threw.</summary>
    internal static (int Code, string Prefix) Classify(Exception ex) => ex switch
    {
        OperationCanceledException => (ExitCodes.Cancelled, "cancelled, nothing written"),
        UsageException => (ExitCodes.Usage, "error"),
        NotSupportedException => (ExitCodes.Unsupported, "not supported"),
        InputException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException or UnauthorizedAccessException or ArgumentException
            => (ExitCodes.BadInput, "error"),
        InvalidOperationException => (ExitCodes.PruningFailed, "pruning failed"),
        IOException => (ExitCodes.BadInput, "error"),
        _ => (ExitCodes.Failure, "unexpected error (run with --verbose and report it)"),
    };

    private static string OneLine(Exception ex)
    {
        var message = ex is OperationCanceledException ? "interrupted" : ex.Message;
        return message.ReplaceLineEndings(" ");
    }

    private static Argument<FileInfo> ModelArgument(string name, string description)
    {
        var argument = new Argument<FileInfo>(name) { Description = description };
        argument.AcceptExistingOnly();
        return argument;
    }

    private static Option<bool> ResidualStreamsOption() => new("--residual-streams")
    {
        Description = "Also prune the residual streams: the channels that residual adds tie together, each stream as one group.",
    };

    private static Option<string> CalibrationOption() => new("--calibration")
    {
        Description = "A folder of images (PNG, JPEG, BMP), one image, or a .npy tensor file (N x C x H x W, already preprocessed).",
        Required = true,
    };

    private static Option<int?> ImagesOption()
    {
        var option = new Option<int?>("--images") { Description = "Use at most this many calibration images (the first by file name)." };
        option.CustomParser = r => Parse<int>(r, "--images", 1, "a whole number of at least 1");
        return option;
    }

    // A number option whose bad values (not a number, out of range) are parse errors with a message naming the option.
    private static Option<T> Number<T>(string name, string description, T minimum, string expected, T? defaultValue = null)
        where T : struct, INumber<T>
    {
        var option = new Option<T>(name) { Description = description, CustomParser = r => Parse(r, name, minimum, expected) ?? default };
        if (defaultValue is { } d)
        {
            option.DefaultValueFactory = _ => d;
        }

        return option;
    }

    private static T? Parse<T>(ArgumentResult result, string name, T minimum, string expected)
        where T : struct, INumber<T>
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        if (T.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= minimum && (value is not double v || double.IsFinite(v)))
        {
            return value;
        }

        result.AddError($"{name} must be {expected} but is '{text}'.");
        return null;
    }

    private static (Option<string?> File, Option<string?> Size, Option<int?> Channels, Option<string?> Mean, Option<string?> Std) PreprocessingOptions() => (
        new("--preprocessing") { Description = "A JSON file with size, channels, mean and std (options given on the command line win)." },
        new("--size") { Description = "Resize images to this size or HEIGHTxWIDTH (default: the model's input size)." },
        new("--channels") { Description = "1 (gray) or 3 (RGB; gray images are repeated) (default: the model's input channels)." },
        new("--mean") { Description = "Subtracted per channel after scaling to [0, 1]: one number or one per channel, comma-separated (default 0)." },
        new("--std") { Description = "Divides per channel after the mean: one number or one per channel (default 1)." });

    // Help and System.CommandLine's own output go to the same console as the results.
    private sealed class ConsoleWriter(IAnsiConsole console) : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value) => console.Write(new Text(value.ToString()));

        public override void Write(string? value) => console.Write(new Text(value ?? ""));

        public override void WriteLine(string? value) => console.WriteLine(value ?? "");
    }
}
