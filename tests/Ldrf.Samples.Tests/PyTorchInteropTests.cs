using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Training;
using Ldrf.TorchSharp.Serialization;
using TorchSharp;
using TorchSharp.PyBridge;

namespace Ldrf.Samples.Tests;

/// <summary>
/// The PyTorchInterop sample's files: the state_dict PyTorch wrote loads strictly into the TorchSharp network of
/// the same names and keeps its accuracy, ExportPyTorch writes it back loadable, and (where Python has PyTorch)
/// layout_check.py loads a pruned export with the original's layout into PyTorch's own class.
/// </summary>
public class PyTorchInteropTests
{
    [Test]
    public void The_shipped_PyTorch_state_dict_loads_strictly_keeps_its_accuracy_and_exports_back()
    {
        using var network = FashionCnn.Create(FashionCnn.Original);
        network.LoadPyTorch(Path.Combine(AppContext.BaseDirectory, "PyTorchInterop", "fashion-cnn.pt")); // every key and shape checked
        network.eval();
        using var test = FashionMnist.LoadTest(FashionMnistLocator.LocateSubset(), 500);
        // fashion_cnn.py measured 87.90% on all 2,000 shipped test images; a wrong layout or normalization gives ~10%.
        Assert.That(Evaluator.Accuracy(network, test.Images, test.Labels, 50), IsFinite.GreaterThan(0.85));
        Assert.That(FashionCnn.WidthsOf(network), Is.EqualTo(FashionCnn.Original));

        var file = Path.Combine(Path.GetTempPath(), $"ldrf-interop-{Guid.NewGuid():N}.pt");
        try
        {
            network.ExportPyTorch(file);
            using var reloaded = FashionCnn.Create(FashionCnn.Original);
            reloaded.LoadPyTorch(file);
            reloaded.eval();
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var images = test.Images.narrow(0, 0, 50);
            var difference = (network.forward(images) - reloaded.forward(images)).abs().max().item<float>();
            Assert.That(difference, Is.Zero, "the reloaded export must compute exactly what the loaded network computes");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void The_export_with_the_original_layout_loads_strictly_into_PyTorchs_class_and_computes_the_pruned_outputs()
    {
        var python = PythonWithTorch() ?? throw new IgnoreException(
            "PyTorch for Python is not available here (`python3 -c \"import torch, numpy\"` failed for " + string.Join(" and ", PythonCandidates()) +
            "), so layout_check.py cannot run; where it is (Debian: apt-get install python3-torch python3-numpy, or set LDRF_PYTHON), this test runs it.");
        var folder = Directory.CreateTempSubdirectory("ldrf-layout-check-").FullName;
        try
        {
            using var train = FashionMnist.LoadTrain(FashionMnistLocator.LocateSubset(), limit: 200);
            using var test = FashionMnist.LoadTest(FashionMnistLocator.LocateSubset(), 50);
            var widths = LayoutCheck.Write(folder, Batches.Leading(train.Images, 200, 25), test.Images);
            Assert.That(widths, Is.Not.EqualTo(LayoutCheck.Original), "the network was pruned");

            var (exitCode, output) = Run(python, Path.Combine(AppContext.BaseDirectory, "PyTorchInterop", "layout_check.py"), folder);
            TestContext.Progress.WriteLine(output);
            Assert.That(exitCode, Is.Zero, output);
            var match = Regex.Match(output, @"relative error against the \.NET outputs on \d+ images: (\S+)");
            Assert.That(match.Success, Is.True, output);
            var error = double.Parse(match.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture);
            Assert.That(error, IsFinite.LessThan(1e-4), "PyTorch computes what the .NET pruned network computes");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // LDRF_PYTHON if set, then python3 on the PATH, then Debian's own (whose python3-torch a pyenv python3 does not see).
    private static IEnumerable<string> PythonCandidates() =>
        new[] { Environment.GetEnvironmentVariable("LDRF_PYTHON"), "python3", "/usr/bin/python3" }.OfType<string>().Where(p => p.Length > 0).Distinct();

    private static string? PythonWithTorch() => PythonCandidates().FirstOrDefault(p =>
    {
        try
        {
            return Run(p, "-c", "import torch, numpy").ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // not installed
        }
    });

    private static (int ExitCode, string Output) Run(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, output + "\n(timed out after 3 minutes)");
        }

        return (process.ExitCode, output + error.Result);
    }
}
