// Trains the sample VGG (default) or, with --model resnet or mobilenet, the sample ResNet or MobileNet on Fashion-MNIST and writes
// samples/data/fashion-mnist-vgg.bin, fashion-mnist-resnet.bin or fashion-mnist-mobilenet.bin (+ .json), or, with --write-subset, writes the small shipped subset. See samples/data/README.md.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Models;
using Ldrf.Samples.Common.Training;
using TorchSharp;

var arguments = Arguments.Parse(args);
torch.set_num_threads(arguments.Threads);

if (arguments.WriteSubset)
{
    // Step 0 (optional): write the shipped subset from the full set.
    SubsetWriter.Write(arguments);
    return 0;
}

// Step 1: find the data and load it.
var location = FashionMnistLocator.Locate(arguments.DataFolder);
Console.WriteLine($"Data: {location.Folder} ({(location.IsFullSet ? "full set" : "shipped subset")})");
using var train = FashionMnist.LoadTrain(location);
// A timing run (--max-steps) evaluates on a slice of the test set only.
using var test = FashionMnist.LoadTest(location, arguments.MaxSteps is null ? null : 1000);
Console.WriteLine($"Train {train.Count} images, test {test.Count} images; {torch.get_num_threads()} threads");

// Step 2: build the network with a fixed seed.
torch.random.manual_seed(arguments.Seed);
var (model, modelDescription) = CreateModel(arguments);
long parameterCount = model.parameters().Sum(p => p.numel());
Console.WriteLine($"{modelDescription}: {parameterCount:N0} parameters");

var options = new TrainerOptions
{
    Epochs = arguments.Epochs,
    MaxSteps = arguments.MaxSteps,
    BatchSize = arguments.BatchSize,
    LearningRate = arguments.LearningRate,
    Momentum = 0.9,
    WeightDecay = 5e-4,
    Schedule = LearningRateSchedule.OneCycle,
    HorizontalFlip = true,
    CropPadding = 2,
    PaddingValue = FashionMnist.NormalizedBlack,
    Seed = arguments.Seed,
    ProgressInterval = 50,
};

// Step 3: train.
var progress = new SynchronousProgress<TrainingProgress>(p => Console.WriteLine(string.Create(
    CultureInfo.InvariantCulture,
    $"epoch {p.Epoch} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} lr {p.LearningRate:F4} " +
    $"elapsed {p.Elapsed.TotalSeconds:F0}s ({p.Elapsed.TotalMilliseconds / p.Step:F0} ms/step)")));
var result = new Trainer(options).Train(model, train.Images, train.Labels, progress);
Console.WriteLine($"Trained {result.Steps} steps in {result.Elapsed.TotalMinutes:F1} min");

// Step 4: evaluate on the test set.
var stopwatch = Stopwatch.StartNew();
var evaluation = Evaluator.Evaluate(model, test.Images, test.Labels);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Test accuracy {evaluation.Accuracy:P2} (loss {evaluation.Loss:F4}) on {evaluation.Count} images, {stopwatch.Elapsed.TotalSeconds:F1}s"));
if (arguments.MaxSteps is not null)
{
    Console.WriteLine("--max-steps given: a timing run, no checkpoint written.");
    return 0;
}

// Step 5: save the checkpoint and what produced it.
var output = arguments.Output ?? Path.Combine(
    FashionMnistLocator.FindRepositoryDataFolder() ?? throw new DirectoryNotFoundException("samples/data not found; pass --out."),
    $"fashion-mnist-{arguments.Model}.bin");
model.save(output);
var report = new
{
    checkpoint = Path.GetFileName(output),
    model = modelDescription,
    parameters = parameterCount,
    dataset = location.IsFullSet ? "Fashion-MNIST full (60,000 train / 10,000 test)" : "Fashion-MNIST shipped subset",
    trainCount = train.Count,
    testCount = evaluation.Count,
    testAccuracy = Math.Round(evaluation.Accuracy, 4),
    testLoss = Math.Round(evaluation.Loss, 4),
    epochs = arguments.Epochs,
    steps = result.Steps,
    batchSize = arguments.BatchSize,
    learningRate = arguments.LearningRate,
    optimizer = "SGD, Nesterov momentum 0.9, weight decay 5e-4, one-cycle schedule (15% warm-up, cosine decay)",
    augmentation = "random crop (pad 2) and horizontal flip",
    seed = arguments.Seed,
    threads = arguments.Threads,
    trainingMinutes = Math.Round(result.Elapsed.TotalMinutes, 1),
    epochLosses = result.EpochLosses.Select(l => Math.Round(l, 4)).ToArray(),
    torchSharp = typeof(torch).Assembly.GetName().Version?.ToString(),
    // glibc's malloc tunables change only speed (libtorch's large buffers stay in the heap), but belong to the command.
    command = (Environment.GetEnvironmentVariable("GLIBC_TUNABLES") is { Length: > 0 } tunables ? $"GLIBC_TUNABLES={tunables} " : "") +
        "dotnet run -c Release --project samples/TrainFashionMnist -- " + string.Join(' ', args),
};
var json = Path.ChangeExtension(output, ".json");
File.WriteAllText(json, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }) + "\n");
Console.WriteLine($"Wrote {output} ({new FileInfo(output).Length / 1024} KiB) and {json}");
return 0;

static (torch.nn.Module<torch.Tensor, torch.Tensor> Model, string Description) CreateModel(Arguments arguments)
{
    if (arguments.Model == "mobilenet")
    {
        return (FashionMnistMobileNet.Create(),
            $"FashionMnistMobileNet (inverted residual blocks, expansion {FashionMnistMobileNet.Expansion}, squeeze-excitation in the last)");
    }

    if (arguments.IsResNet)
    {
        var resNetOptions = new FashionMnistResNetOptions { BlocksPerStage = arguments.Blocks };
        if (arguments.Widths is not null)
        {
            resNetOptions.Widths = arguments.Widths;
        }

        return (FashionMnistResNet.Create(resNetOptions),
            $"FashionMnistResNet (widths {string.Join(',', resNetOptions.Widths)}; {resNetOptions.BlocksPerStage} basic blocks per stage)");
    }

    var vggOptions = arguments.Widths is null ? new FashionMnistVggOptions() : new FashionMnistVggOptions { Widths = arguments.Widths };
    return (FashionMnistVgg.Create(vggOptions),
        $"FashionMnistVgg (widths {string.Join(',', vggOptions.Widths)}; hidden {vggOptions.HiddenUnits}; dropout {vggOptions.Dropout})");
}

/// <summary>Command-line options.</summary>
internal sealed record Arguments(
    bool WriteSubset, string? DataFolder, string? Output, int Epochs, int? MaxSteps, int BatchSize, double LearningRate,
    int Seed, int Threads, int SubsetSize, int[]? Widths, string Model = "vgg", int Blocks = 2)
{
    public bool IsResNet => Model == "resnet";

    public static Arguments Parse(string[] args)
    {
        var a = new Arguments(false, null, null, 7, null, 128, 0.05, 20240601, 2, 2000, null);
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.", nameof(args));
            int NextInt() => int.Parse(Next(), CultureInfo.InvariantCulture);
            a = args[i] switch
            {
                "--write-subset" => a with { WriteSubset = true },
                "--data" => a with { DataFolder = Next() },
                "--out" => a with { Output = Next() },
                "--epochs" => a with { Epochs = NextInt() },
                "--max-steps" => a with { MaxSteps = NextInt() },
                "--batch-size" => a with { BatchSize = NextInt() },
                "--lr" => a with { LearningRate = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--seed" => a with { Seed = NextInt() },
                "--threads" => a with { Threads = NextInt() },
                "--subset-size" => a with { SubsetSize = NextInt() },
                "--model" => a with { Model = Next() switch { "vgg" => "vgg", "resnet" => "resnet", "mobilenet" => "mobilenet", var m => throw new ArgumentException($"--model takes vgg, resnet or mobilenet, got '{m}'.", nameof(args)) } },
                "--blocks" => a with { Blocks = NextInt() },
                "--widths" => a with { Widths = [.. Next().Split(',').Select(w => int.Parse(w, CultureInfo.InvariantCulture))] },
                _ => throw new ArgumentException(
                    $"Unknown option '{args[i]}'. Options: --write-subset, --data DIR, --out PATH, --epochs N, --max-steps N, " +
                    "--batch-size N, --lr X, --seed N, --threads N, --subset-size N, --model vgg|resnet|mobilenet, --blocks N (resnet), " +
                    "--widths W1,W2,....", nameof(args)),
            };
        }

        return a;
    }
}

/// <summary>Writes a class-balanced subset of the full set as gzip'd IDX files.</summary>
internal static class SubsetWriter
{
    public static void Write(Arguments arguments)
    {
        var full = FashionMnistLocator.Locate(arguments.DataFolder ?? FashionMnistLocator.DebianFolder);
        if (!full.IsFullSet)
        {
            throw new InvalidOperationException($"'{full.Folder}' is not the full set; the subset is cut from the full set.");
        }

        var folder = arguments.Output ?? Path.Combine(
            FashionMnistLocator.FindRepositoryDataFolder() ?? throw new DirectoryNotFoundException("samples/data not found; pass --out."),
            FashionMnistLocator.SubsetFolderName);
        Directory.CreateDirectory(folder);
        WriteSplit(full.TrainImagesPath, full.TrainLabelsPath, folder, "train", arguments.SubsetSize, arguments.Seed);
        WriteSplit(full.TestImagesPath, full.TestLabelsPath, folder, "t10k", arguments.SubsetSize, arguments.Seed);
    }

    private static void WriteSplit(string imagesPath, string labelsPath, string folder, string prefix, int size, int seed)
    {
        var images = IdxFile.ReadImages(imagesPath);
        var labels = IdxFile.ReadLabels(labelsPath);
        int perClass = size / FashionMnist.ClassCount;
        // A seeded permutation, then the first perClass of each class; kept in the original order.
        var taken = new int[FashionMnist.ClassCount];
        var chosen = new List<int>();
        foreach (long i in Batches.Permutation(labels.Length, new Random(seed)))
        {
            if (taken[labels[i]] < perClass)
            {
                taken[labels[i]]++;
                chosen.Add((int)i);
            }
        }

        chosen.Sort();
        int pixelsPerImage = images.Rows * images.Columns;
        var pixels = new byte[chosen.Count * pixelsPerImage];
        var subsetLabels = new byte[chosen.Count];
        for (int k = 0; k < chosen.Count; k++)
        {
            images.Pixels.AsSpan(chosen[k] * pixelsPerImage, pixelsPerImage).CopyTo(pixels.AsSpan(k * pixelsPerImage));
            subsetLabels[k] = labels[chosen[k]];
        }

        var imagesOut = Path.Combine(folder, $"{prefix}-images-idx3-ubyte.gz");
        var labelsOut = Path.Combine(folder, $"{prefix}-labels-idx1-ubyte.gz");
        IdxFile.WriteImages(imagesOut, pixels, chosen.Count, images.Rows, images.Columns);
        IdxFile.WriteLabels(labelsOut, subsetLabels);
        Console.WriteLine($"Wrote {chosen.Count} images ({perClass} per class) to {imagesOut} and {labelsOut}");
    }
}

/// <summary>Reports on the training thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
