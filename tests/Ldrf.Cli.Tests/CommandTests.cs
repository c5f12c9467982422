using System.Diagnostics;
using System.Text.Json;
using Ldrf.Cli;
using TorchSharp;

namespace Ldrf.Cli.Tests;

/// <summary>The commands on the small shipped model and images: what they print and write.</summary>
public class CommandTests
{
    [Test]
    public void Inspect_lists_layers_with_costs_and_the_channel_groups()
    {
        var run = CliRun.Of("inspect", CliRun.Model);

        Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.Success), run.Error);
        Assert.That(run.Output, Does.Contain("input 'image' 3x16x16").And.Contain("0_Conv").And.Contain("110.6k").And.Contain("185.6k"));
        Assert.That(run.Output, Does.Contain("Channel groups: 3 (2 prunable, 1 coupled and kept whole)").And.Contain("coupled by the graph output"));
    }

    [Test]
    public void Inspect_with_residual_streams_lists_each_stream_as_one_prunable_group()
    {
        var model = Path.Combine(TestContext.CurrentContext.TestDirectory, "data", "mobile-opset17.onnx");
        var whole = CliRun.Of("inspect", model);
        var streams = CliRun.Of("inspect", model, "--residual-streams");

        Assert.That(whole.ExitCode, Is.EqualTo(ExitCodes.Success), whole.Error);
        Assert.That(streams.ExitCode, Is.EqualTo(ExitCodes.Success), streams.Error);
        Assert.That(whole.Output, Does.Contain("coupled by residual Add"));
        Assert.That(streams.Output, Does.Not.Contain("coupled by residual Add"), "with the option no Add keeps a group whole");
        int Prunable(string output) => int.Parse(System.Text.RegularExpressions.Regex.Match(output, @"\((\d+) prunable").Groups[1].Value);
        Assert.That(Prunable(streams.Output), Is.GreaterThan(Prunable(whole.Output)));
    }

    [Test]
    public void Prune_writes_the_pruned_model_report_and_plot_and_compare_runs_both_in_onnx_runtime()
    {
        var folder = CliRun.NewFolder();
        var pruned = Path.Combine(folder, "pruned.onnx");
        var report = Path.Combine(folder, "report.json");
        var plot = Path.Combine(folder, "widths.png");
        var run = CliRun.Of(
            "prune", CliRun.Model, "--target", "1.2", "--calibration", CliRun.Images, "--size", "16", "--channels", "3", "--mean", "0.286", "--std", "0.353",
            "--out", pruned, "--report", report, "--plot", plot);

        Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.Success), run.Error);
        Assert.That(run.Output, Does.Contain("8 calibration images 3x16x16").And.Contain("layer 1 of 2: pruning 0_Conv").And.Contain("wrote " + pruned));
        Assert.That(Directory.GetFiles(folder).Select(Path.GetFileName), Is.EquivalentTo(new[] { "pruned.onnx", "report.json", "widths.png" }));
        using (var json = JsonDocument.Parse(File.ReadAllText(report)))
        {
            var r = json.RootElement.GetProperty("report");
            Assert.That(r.GetProperty("flopsAfter").GetInt64(), Is.LessThan(r.GetProperty("flopsBefore").GetInt64()));
            Assert.That(r.GetProperty("heldOutOutputError").GetDouble(), IsFinite.LessThan(1.0));
            Assert.That(json.RootElement.GetProperty("method").GetString(), Is.EqualTo("ldrf"));
        }

        Assert.That(File.ReadAllBytes(plot).Take(4), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }));

        var compare = CliRun.Of("compare", CliRun.Model, pruned, "--calibration", CliRun.Images, "--size", "16", "--mean", "0.286", "--std", "0.353", "--runs", "2");
        Assert.That(compare.ExitCode, Is.EqualTo(ExitCodes.Success), compare.Error);
        Assert.That(compare.Output, Does.Contain("latency, batch 1").And.Contain("latency, batch 32").And.Contain("top-1 agreement"));
    }

    [Test]
    public void On_a_terminal_prune_draws_a_live_progress_bar()
    {
        var folder = CliRun.NewFolder();
        var output = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Out = new Spectre.Console.AnsiConsoleOutput(output),
            Ansi = Spectre.Console.AnsiSupport.Yes,
            Interactive = Spectre.Console.InteractionSupport.Yes,
        });
        var error = new StringWriter();

        var code = new CliApp(console, error, live: true).RunAsync(
            ["prune", CliRun.Model, "--target", "1.2", "--calibration", CliRun.Images, "--size", "16", "--out", Path.Combine(folder, "pruned.onnx")]).GetAwaiter().GetResult();

        Assert.That(code, Is.EqualTo(ExitCodes.Success), error.ToString());
        Assert.That(output.ToString(), Does.Contain("\u001b[").And.Contain("done").And.Contain("100%"));
        Assert.That(File.Exists(Path.Combine(folder, "pruned.onnx")));
    }

    [Test]
    public void Compare_of_a_model_with_itself_agrees_exactly()
    {
        using var original = new OnnxRunner(CliRun.Model, "ORIGINAL");
        using var same = new OnnxRunner(CliRun.Model, "PRUNED");
        torch.random.manual_seed(3);
        using var images = torch.randn(5, 3, 16, 16);

        var c = CompareCommand.Compare(original, same, images, runs: 1, CancellationToken.None);

        Assert.That(c.RelativeError, IsFinite.EqualTo(0.0));
        Assert.That(c.Top1Agreement, IsFinite.EqualTo(1.0));
        Assert.That(c.OriginalBatch32, Is.Not.Null);
    }

    [Test]
    public void A_cancelled_prune_exits_130_and_writes_nothing()
    {
        var folder = CliRun.NewFolder();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        var run = CliRun.Of(cancelled.Token, "prune", CliRun.Model, "--target", "1.2", "--calibration", CliRun.Images, "--size", "16", "--out", Path.Combine(folder, "pruned.onnx"), "--report", Path.Combine(folder, "r.json"));

        Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.Cancelled));
        Assert.That(run.Error, Does.StartWith("cancelled, nothing written"));
        Assert.That(Directory.GetFiles(folder), Is.Empty);
    }

    [Test]
    public void A_npy_tensor_file_is_read_as_calibration_images()
    {
        var folder = CliRun.NewFolder();
        var path = Path.Combine(folder, "images.npy");
        float[] values = [.. Enumerable.Range(0, 2 * 3 * 4 * 4).Select(i => i * 0.5f)];
        WriteNpy(path, values, "(2, 3, 4, 4)");

        using var images = Calibration.Load(path, null, limit: 1, CancellationToken.None);

        Assert.That(images.shape, Is.EqualTo(new long[] { 1, 3, 4, 4 }));
        Assert.That(images.data<float>().ToArray(), Is.EqualTo(values.Take(48).ToArray()));
        File.WriteAllText(path, "not numpy");
        Assert.That(() => Calibration.Load(path, null, null, CancellationToken.None), Throws.TypeOf<InputException>().With.Message.Contains("images.npy").And.Message.Contains("NUMPY"));
    }

    [Test]
    public void The_built_tool_runs_as_a_process()
    {
        var tool = Path.Combine(TestContext.CurrentContext.TestDirectory, "Ldrf.Cli.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { tool, "inspect", CliRun.Model })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        TestContext.Out.WriteLine(output.Result + error);

        Assert.That(process.ExitCode, Is.EqualTo(ExitCodes.Success), error);
        Assert.That(output.Result, Does.Contain("Channel groups: 3 (2 prunable, 1 coupled and kept whole)"));
    }

    private static void WriteNpy(string path, float[] values, string shape)
    {
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}";
        header = header.PadRight(((10 + header.Length + 1 + 63) / 64 * 64) - 10 - 1) + "\n";
        using var file = File.Create(path);
        file.Write([0x93, .. "NUMPY"u8, 1, 0]);
        file.Write(BitConverter.GetBytes((ushort)header.Length));
        file.Write(System.Text.Encoding.ASCII.GetBytes(header));
        file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
    }
}
