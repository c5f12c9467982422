using System.Globalization;

namespace Ldrf.Experiments;

/// <summary>What the harness runs; parsed from the command line.</summary>
internal sealed record ExperimentSettings
{
    /// <summary>The network to prune (default: the VGG).</summary>
    public ExperimentModel Model { get; init; } = ExperimentModel.Vgg;

    /// <summary>The model's checkpoint (null: the shipped one in samples/data).</summary>
    public string? CheckpointPath { get; init; }

    public IReadOnlyList<double> Speedups { get; init; } = [2, 3, 5];

    /// <summary>Method ids (see <see cref="Methods"/>), or null for all.</summary>
    public IReadOnlyList<string>? Methods { get; init; }

    public int CalibrationImages { get; init; } = 500;

    /// <summary>Evaluate on at most this many test images (null: the whole test set found).</summary>
    public int? TestImages { get; init; }

    public int FineTuneImages { get; init; } = 2000;

    public int FineTuneEpochs { get; init; } = 1;

    public double FineTuneLearningRate { get; init; } = 0.001;

    public int LatencyRuns { get; init; } = 20;

    /// <summary>Also recover every pruned network with the library's <c>RecoveryTrainer</c> (unlabelled distillation from the original) and report its accuracy and time.</summary>
    public bool Recovery { get; init; }

    /// <summary>
    /// The recovery budgets by their images, the first of the training set (null: all that were loaded): each pruned network
    /// is recovered once per entry, from the network as pruned (<c>--recovery-images all,2000</c>).
    /// </summary>
    public IReadOnlyList<int?> RecoveryImages { get; init; } = [null];

    /// <summary>Recovery epochs over each of <see cref="RecoveryImages"/>, the same for every method (the library's other recovery defaults apply).</summary>
    public int RecoveryEpochs { get; init; } = 1;

    /// <summary>The recovery's learning rate, the same for every method (null: the library's default).</summary>
    public double? RecoveryLearningRate { get; init; }

    /// <summary>The test accuracy along each recovery run is measured before the first step, every this many steps and after the last.</summary>
    public int RecoveryEvery { get; init; } = 25;

    /// <summary>The test accuracy along a recovery run is measured on the first this many test images (all when fewer).</summary>
    public int RecoveryTestImages { get; init; } = 2000;

    public int Seed { get; init; } = 1;

    public int Threads { get; init; } = 2;

    /// <summary>The energy threshold of the capacity-bounded LDRF row.</summary>
    public double CapacityEnergyThreshold { get; init; } = 0.999;

    /// <summary>Calibration image counts of the memory experiment (empty: not run).</summary>
    public IReadOnlyList<int> MemoryCalibrationImages { get; init; } = [];

    /// <summary>ImageNet-scale networks whose pruning cost is timed at 224 x 224 (empty: not run).</summary>
    public IReadOnlyList<ImageNetScaleModel> CostModels { get; init; } = [];

    /// <summary>Measure libtorch's float32 CPU convolution against float64 width by width instead of pruning.</summary>
    public bool ConvolutionWidths { get; init; }

    /// <summary>A torchvision state_dict (PyTorch format or safetensors) for the one <c>--cost</c> model (null: random torchvision initialization).</summary>
    public string? StateDictPath { get; init; }

    /// <summary>Whether <c>--speedups</c> was given (the cost run otherwise prunes each model to its own target).</summary>
    public bool SpeedupsGiven { get; init; }

    /// <summary>The FLOPs reductions the cost run prunes <paramref name="model"/> to: <c>--speedups</c> if given, else the model's own target.</summary>
    public IReadOnlyList<double> CostTargets(ImageNetScaleModel model) => SpeedupsGiven ? Speedups : [model.Target];

    /// <summary>The cost run's calibration images unless <c>--calibration</c> is given: upscaled to 224 x 224 in three channels each is 192 times the values of a 28 x 28 one.</summary>
    public const int DefaultCostCalibrationImages = 64;

    public string OutputFolder { get; init; } = Path.Combine("docs", "results");

    /// <summary>Where docs/results.md goes (null: not written).</summary>
    public string? MarkdownPath { get; init; } = Path.Combine("docs", "results.md");

    /// <summary>The README whose headline region the summary rewrites (null: none).</summary>
    public string? ReadmePath { get; init; } = "README.md";

    /// <summary>A data folder given by the user (null: Debian's full set if installed, else the shipped subset).</summary>
    public string? DataFolder { get; init; }

    public bool Smoke { get; init; }

    /// <summary><c>--model resnet18-imagenet</c>: the ImageNet-pretrained ONNX trunk (<see cref="ImageNetResNet18Runner"/>) instead of <see cref="Model"/>.</summary>
    public bool ImageNetResNet18 { get; init; }

    /// <summary>The linear probe's training images for <c>--model resnet18-imagenet</c> (null: its default).</summary>
    public int? ProbeImages { get; init; }

    /// <summary>Keep the records already in the output folder, replacing those of the same method and target.</summary>
    public bool Append { get; init; }

    /// <summary>Only rewrite the markdown (and README headline) from the result files already in the output folder.</summary>
    public bool Regenerate { get; init; }

    public const string Usage =
        "usage: Ldrf.Experiments [--model vgg|resnet|mobilenet|resnet18-imagenet [--probe-images N]] [--checkpoint PATH] [--speedups 2,3,5] [--methods id,id] [--calibration 500] [--test-images N] [--finetune-images 2000]\n" +
        "                        [--finetune-epochs 1] [--finetune-lr 0.001] [--recovery [--recovery-images all,2000] [--recovery-epochs 1] [--recovery-lr 1e-4] [--recovery-every 25]\n" +
        "                        [--recovery-test-images 2000]] [--latency-runs 20] [--seed 1] [--threads 2]\n" +
        "                        [--capacity-threshold 0.999] [--memory 1000,8000] [--cost vgg16,resnet50 [--state-dict FILE]] [--convolution-widths] [--out docs/results] [--markdown docs/results.md|none]\n" +
        "                        [--readme README.md|none] [--regenerate]\n" +
        "                        [--data FOLDER] [--append] [--smoke]";

    /// <summary>The smoke run of CI: one speed-up, LDRF and one baseline, a few hundred images, two small recovery budgets, nothing written to docs/.</summary>
    public static ExperimentSettings SmokeIn(string folder) => new()
    {
        Smoke = true,
        Speedups = [2],
        Methods = [Ldrf.Experiments.Methods.LdrfWeightSvd, Ldrf.Experiments.Methods.ThiNet],
        CalibrationImages = 100,
        TestImages = 300,
        FineTuneImages = 200,
        LatencyRuns = 3,
        Recovery = true,
        RecoveryImages = [300, 100],
        RecoveryEvery = 2,
        RecoveryTestImages = 200,
        OutputFolder = folder,
        MarkdownPath = Path.Combine(folder, "results.md"),
        ReadmePath = null,
    };

    /// <exception cref="ArgumentException">An unknown option, a missing or malformed value; the message names the option.</exception>
    public static ExperimentSettings Parse(IReadOnlyList<string> args)
    {
        var s = args.Contains("--smoke") ? SmokeIn(Path.Combine("artifacts", "experiments-smoke")) : new ExperimentSettings();
        for (var i = 0; i < args.Count; i++)
        {
            var option = args[i];
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"'{option}' needs a value.", nameof(args));
            try
            {
                s = option switch
                {
                    "--smoke" => s,
                    "--append" => s with { Append = true },
                    "--model" => Next() is var model && model == ImageNetResNet18Runner.ModelId ? s with { ImageNetResNet18 = true } : s with { Model = ExperimentModel.FromId(model) },
                    "--probe-images" => s with { ProbeImages = Count(Next()) },
                    "--checkpoint" => s with { CheckpointPath = Next() },
                    "--speedups" => s with { Speedups = [.. Next().Split(',').Select(Number)], SpeedupsGiven = true },
                    "--methods" => s with { Methods = [.. Next().Split(',').Select(Ldrf.Experiments.Methods.Check)] },
                    "--calibration" => s with { CalibrationImages = Count(Next()) },
                    "--test-images" => s with { TestImages = Count(Next()) },
                    "--finetune-images" => s with { FineTuneImages = Count(Next()) },
                    "--finetune-epochs" => s with { FineTuneEpochs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--finetune-lr" => s with { FineTuneLearningRate = Number(Next()) },
                    "--latency-runs" => s with { LatencyRuns = Count(Next()) },
                    "--recovery" => s with { Recovery = true },
                    "--recovery-images" => s with { RecoveryImages = [.. Next().Split(',').Select(t => t == "all" ? (int?)null : Count(t))] },
                    "--recovery-epochs" => s with { RecoveryEpochs = Count(Next()) },
                    "--recovery-lr" => s with { RecoveryLearningRate = Number(Next()) },
                    "--recovery-every" => s with { RecoveryEvery = Count(Next()) },
                    "--recovery-test-images" => s with { RecoveryTestImages = Count(Next()) },
                    "--seed" => s with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--threads" => s with { Threads = Count(Next()) },
                    "--capacity-threshold" => s with { CapacityEnergyThreshold = Number(Next()) },
                    "--memory" => s with { MemoryCalibrationImages = [.. Next().Split(',').Select(Count)] },
                    "--convolution-widths" => s with { ConvolutionWidths = true },
                    "--cost" => s with { CostModels = [.. Next().Split(',').Select(ImageNetScaleModel.FromId)] },
                    "--state-dict" => s with { StateDictPath = Next() },
                    "--out" => s with { OutputFolder = Next() },
                    "--markdown" => s with { MarkdownPath = Next() is var m && m == "none" ? null : m },
                    "--readme" => s with { ReadmePath = Next() is var r && r == "none" ? null : r },
                    "--regenerate" => s with { Regenerate = true },
                    "--data" => s with { DataFolder = Next() },
                    _ => throw new ArgumentException($"Unknown option '{option}'.", nameof(args)),
                };
            }
            catch (FormatException e)
            {
                throw new ArgumentException($"'{option}' has a malformed value: {e.Message}", nameof(args), e);
            }
        }

        if (s.Speedups.Any(x => !(x > 1)) || s.FineTuneEpochs < 0)
        {
            throw new ArgumentException("'--speedups' must all be above 1 and '--finetune-epochs' at least 0.", nameof(args));
        }

        if (s.RecoveryImages.Distinct().Count() != s.RecoveryImages.Count)
        {
            throw new ArgumentException("'--recovery-images' names the same budget twice.", nameof(args));
        }

        if (s.MemoryCalibrationImages.Count > 0 && s.Model != ExperimentModel.Vgg)
        {
            throw new ArgumentException($"'--memory' measures the VGG only, not '--model {s.Model.Id}'.", nameof(args));
        }

        if (s.CostModels.Count > 0 && s.MemoryCalibrationImages.Count > 0)
        {
            throw new ArgumentException("'--cost' and '--memory' are separate runs; give one of them.", nameof(args));
        }

        if (s.StateDictPath is not null && s.CostModels.Count != 1)
        {
            throw new ArgumentException("'--state-dict' needs exactly one '--cost' model, the one whose weights it holds.", nameof(args));
        }

        if (s.CostModels.Count > 0 && !args.Contains("--calibration"))
        {
            s = s with { CalibrationImages = DefaultCostCalibrationImages };
        }

        return s.ImageNetResNet18 ? ImageNetResNet18Runner.WithDefaults(s, args) : s;
    }

    private static double Number(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static int Count(string text) => int.Parse(text, CultureInfo.InvariantCulture) is var n && n >= 1
        ? n
        : throw new FormatException($"'{text}' is not a positive count.");
}
