// The main job: prune the shipped Fashion-MNIST VGG model to a FLOPs speed-up with LDRF, on the data
// that ships in this repository, recover accuracy by distillation from the original (no labels), and show
// what it costs in accuracy and what it buys in latency.
//
//   dotnet run -c Release --project samples/PruneFashionMnist [-- --speedup 5 --calibration 500 --threads 2 --full]
using System.Diagnostics;
using System.Globalization;
using Ldrf;
using Ldrf.Samples.Common.Reporting;
using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Models;
using Ldrf.Samples.Common.Training;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Recovery;
using Ldrf.TorchSharp.Serialization;
using TorchSharp;
using static TorchSharp.torch;

var settings = Settings.Parse(args);
if (settings is null)
{
    return 2;
}

torch.set_num_threads(settings.Threads);
torch.random.manual_seed(settings.Seed);
var clock = Stopwatch.StartNew();

// 1. Data: the shipped 2,000 + 2,000 image subset (or the full set with --full).
var location = settings.Full ? FashionMnistLocator.Locate() : FashionMnistLocator.LocateSubset();
using var train = FashionMnist.LoadTrain(location);
using var test = FashionMnist.LoadTest(location);
Console.WriteLine($"1. Data: {train.Count} training and {test.Count} test images from {location.Folder}{(location.IsFullSet ? "" : " (the shipped subset)")}.");

// 2. The trained model that ships with the repository.
var dataFolder = FashionMnistLocator.FindRepositoryDataFolder()
    ?? throw new DirectoryNotFoundException("samples/data was not found; run this sample from the repository.");
using var original = FashionMnistVgg.Load(Path.Combine(dataFolder, "fashion-mnist-vgg.bin"));
var accuracyBefore = Evaluator.Accuracy(original, test.Images, test.Labels);
Console.WriteLine($"2. Model: FashionMnistVgg, test accuracy {Percent(accuracyBefore)} before pruning.");

// 3. Calibration batches: the first images of the training subset (the pruner never trains on them).
var calibration = Batches.Leading(train.Images, settings.CalibrationImages, 100);
Console.WriteLine($"3. Calibration: the first {settings.CalibrationImages} training images, in batches of 100.");

// 4. Prune with LDRF. The network passed in is never modified; a new, smaller one comes back.
// On this model the valid capacity r of most layers (weight SVD, 0.999 of the spectrum's energy) is close
// to the layer's width, so a capacity-bounded allocation cannot reach 5x: the pruner would say so and
// name the best reachable ratio. The sample therefore keeps the same fraction of every layer's neurons.
var pruner = new TorchSharpPruner(new LdrfOptions(), logger: null);
var pruningOptions = new NetworkPruningOptions { TargetFlopsReduction = settings.Speedup, UseCapacityBounds = false };
using var result = pruner.Prune(original, calibration, pruningOptions, new ConsoleProgress<PruningProgress>(
    p => $"{p.Stage} {p.Step}/{p.StepCount} {p.LayerPath}"));
ConsoleProgress.Done();
Console.WriteLine("4. Pruned. Per-layer report:");
Console.WriteLine(result.Report);
var accuracyPruned = Evaluator.Accuracy(result.Network, test.Images, test.Labels);

// 5. Recovery: distill the original into the pruned network on the training subset, without labels. A copy is
// trained; the weights that best match the original on the held-out 10% come back (never worse than the pruned ones).
var recoveryOptions = new RecoveryOptions { Epochs = settings.RecoveryEpochs, LearningRate = settings.LearningRate, Seed = settings.Seed };
using var recovery = new RecoveryTrainer().Recover(original, result.Network, train.Images, labels: null, recoveryOptions,
    new ConsoleProgress<RecoveryProgress>(p => $"recovery: {p.Stage} epoch {p.Epoch}, {p.Step}/{p.StepCount}{(p.Loss is double loss ? $", loss {loss:F4}" : "")}"));
ConsoleProgress.Done();
var recovered = recovery.Network;
var accuracyRecovered = Evaluator.Accuracy(recovered, test.Images, test.Labels);

// 6. Results and the saved model.
var report = result.Report;
Console.WriteLine($"5. Test accuracy on {test.Count} images: before {Percent(accuracyBefore)}, after pruning {Percent(accuracyPruned)}, " +
    $"after recovery {Percent(accuracyRecovered)}.");
var best = recovery.KeptGivenWeights ? "no epoch improved: the pruned weights were kept" : $"best epoch {recovery.BestEpoch} of {recovery.Epochs}";
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"   Recovery: distillation from the original on {recovery.TrainingImages} unlabelled training images ({recovery.HeldOutImages} held out), {recovery.Steps} steps in {recovery.Elapsed.TotalSeconds:F0} s ({best}); held-out distillation loss {recovery.HeldOutDistillationLossBefore:F4} -> {recovery.HeldOutDistillationLossAfter:F4}, agreement with the original {recovery.HeldOutAgreementBefore:P2} -> {recovery.HeldOutAgreementAfter:P2}."));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"   FLOPs {report.FlopsBefore:N0} -> {report.FlopsAfter:N0} ({report.FlopsReduction:F2}x, target {settings.Speedup}x); parameters {report.ParametersBefore:N0} -> {report.ParametersAfter:N0}."));
if (report.LatencyBefore is { } before && report.LatencyAfter is { } after)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"   CPU latency for a batch of {report.LatencyBatchSize} images: {before.TotalMilliseconds:F2} ms -> {after.TotalMilliseconds:F2} ms ({before / after:F2}x faster)."));
}

var output = Path.GetFullPath(settings.Output ?? Path.Combine("artifacts", "pruned", $"fashion-mnist-vgg-{settings.Speedup.ToString(CultureInfo.InvariantCulture)}x.ldrf"));
Directory.CreateDirectory(Path.GetDirectoryName(output)!);
NetworkFile.SaveLdrf(recovered, output);
Console.WriteLine($"6. Saved the pruned and recovered network to {output}; load it with NetworkFile.LoadLdrf(path) (no model code needed).");
Console.WriteLine($"   Done in {clock.Elapsed.TotalSeconds:F0} s.");
return 0;

static string Percent(double accuracy) => accuracy.ToString("P2", CultureInfo.InvariantCulture);

/// <summary>Command-line settings of this sample.</summary>
internal sealed record Settings(double Speedup, int CalibrationImages, int RecoveryEpochs, int Threads, bool Full, int Seed, string? Output, double LearningRate)
{
    public static Settings? Parse(string[] args)
    {
        var s = new Settings(5.0, 500, new RecoveryOptions().Epochs, 2, false, 1, null, new RecoveryOptions().LearningRate);
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            try
            {
                s = args[i] switch
                {
                    "--speedup" => s with { Speedup = double.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--calibration" => s with { CalibrationImages = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--recovery-epochs" => s with { RecoveryEpochs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--threads" => s with { Threads = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--seed" => s with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--out" => s with { Output = Next() },
                    "--lr" => s with { LearningRate = double.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--full" => s with { Full = true },
                    _ => throw new ArgumentException($"unknown option {args[i]}"),
                };
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                Console.Error.WriteLine($"{e.Message}\nusage: PruneFashionMnist [--speedup 5] [--calibration 500] [--recovery-epochs 10] [--threads 2] [--seed 1] [--lr 0.0001] [--out FILE] [--full]");
                return null;
            }
        }

        if (s.Speedup <= 1 || s.CalibrationImages is < 1 or > 2000 || s.RecoveryEpochs < 1 || s.Threads < 1)
        {
            Console.Error.WriteLine("--speedup must be > 1, --calibration in 1..2000, --recovery-epochs >= 1, --threads >= 1.");
            return null;
        }

        return s;
    }
}
