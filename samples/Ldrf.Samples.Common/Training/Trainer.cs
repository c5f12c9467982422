using System.Diagnostics;
using Ldrf.Samples.Common.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.Samples.Common.Training;

/// <summary>Progress of a training run.</summary>
/// <param name="Epoch">Current epoch, 1-based.</param>
/// <param name="Step">Optimizer steps done so far.</param>
/// <param name="TotalSteps">Steps the run will take.</param>
/// <param name="Loss">Mean training loss over the steps since the previous report.</param>
/// <param name="LearningRate">Learning rate of the latest step.</param>
/// <param name="Elapsed">Time since the run started.</param>
public sealed record TrainingProgress(int Epoch, int Step, int TotalSteps, double Loss, double LearningRate, TimeSpan Elapsed);

/// <summary>Outcome of a training run.</summary>
/// <param name="Steps">Optimizer steps taken.</param>
/// <param name="EpochLosses">Mean training loss of each (possibly partial) epoch.</param>
/// <param name="StepLosses">Training loss of every step.</param>
/// <param name="Elapsed">Wall-clock time of the run.</param>
public sealed record TrainingResult(int Steps, IReadOnlyList<double> EpochLosses, IReadOnlyList<double> StepLosses, TimeSpan Elapsed);

/// <summary>
/// A plain supervised training loop (cross-entropy) for any <c>Module&lt;Tensor, Tensor&gt;</c> classifier:
/// shuffled mini-batches, SGD or Adam, a learning-rate schedule and optional light augmentation, all seeded.
/// </summary>
/// <remarks>
/// Used both to train networks from scratch and to fine-tune pruned ones. Training changes the given
/// model's parameters (that is its purpose) and leaves it in training mode; the data tensors are not changed.
/// The seed also reseeds TorchSharp's global generator (dropout draws from it).
/// </remarks>
public sealed class Trainer
{
    /// <summary>Creates a trainer.</summary>
    /// <param name="options">Settings; null uses the defaults.</param>
    public Trainer(TrainerOptions? options = null) => Options = options ?? new TrainerOptions();

    /// <summary>The settings.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Trains <paramref name="model"/> on the given examples.</summary>
    /// <param name="model">A classifier mapping N x C x H x W images to N x classes logits.</param>
    /// <param name="images">Training images, N x C x H x W (any device; batches are moved to the model's device).</param>
    /// <param name="labels">Training labels, N, int64, on the same device as <paramref name="images"/>.</param>
    /// <param name="progress">Receives a report every <see cref="TrainerOptions.ProgressInterval"/> steps and at the end of each epoch.</param>
    /// <param name="cancellationToken">Stops the run between steps.</param>
    /// <returns>Losses and timing.</returns>
    public TrainingResult Train(
        nn.Module<Tensor, Tensor> model,
        Tensor images,
        Tensor labels,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (images.dim() != 4)
        {
            throw new ArgumentException($"images must be N x C x H x W, got shape [{string.Join(", ", images.shape)}].", nameof(images));
        }

        if (labels.shape.Length != 1 || labels.shape[0] != images.shape[0])
        {
            throw new ArgumentException(
                $"labels must be a vector of {images.shape[0]} labels, got shape [{string.Join(", ", labels.shape)}].", nameof(labels));
        }

        var options = Options;
        int count = (int)images.shape[0];
        if (count == 0)
        {
            throw new ArgumentException("images holds no examples.", nameof(images));
        }

        int batchesPerEpoch = (count + options.BatchSize - 1) / options.BatchSize;
        int totalSteps = (int)Math.Min((long)batchesPerEpoch * options.Epochs, options.MaxSteps ?? int.MaxValue);
        var device = model.parameters().FirstOrDefault()?.device ?? images.device;

        torch.random.manual_seed(options.Seed);
        var random = new Random(options.Seed);
        var parameters = model.parameters().ToList();
        using var optimizer = CreateOptimizer(parameters, options);

        model.train();
        var stopwatch = Stopwatch.StartNew();
        var stepLosses = new List<double>(totalSteps);
        var epochLosses = new List<double>();
        int step = 0;
        double windowSum = 0;
        int windowCount = 0;
        double learningRate = options.LearningRate;
        for (int epoch = 1; step < totalSteps; epoch++)
        {
            var order = Batches.Permutation(count, random);
            double epochSum = 0;
            int epochSteps = 0;
            for (int start = 0; start < count && step < totalSteps; start += options.BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                int length = Math.Min(options.BatchSize, count - start);
                var index = torch.tensor(order.AsSpan(start, length).ToArray(), device: images.device);
                var x = images.index_select(0, index);
                var y = labels.index_select(0, index);
                x = Augment(x, random, options).to(device);
                y = y.to(device);

                learningRate = LearningRateAt(step, totalSteps, options);
                foreach (var group in optimizer.ParamGroups)
                {
                    group.LearningRate = learningRate;
                }

                optimizer.zero_grad();
                var logits = model.forward(x);
                var loss = nn.functional.cross_entropy(logits, y);
                loss.backward();
                optimizer.step();

                double value = loss.item<float>();
                stepLosses.Add(value);
                epochSum += value;
                epochSteps++;
                windowSum += value;
                windowCount++;
                step++;
                bool endOfEpoch = start + options.BatchSize >= count || step == totalSteps;
                if (progress is not null && (endOfEpoch || (options.ProgressInterval > 0 && step % options.ProgressInterval == 0)))
                {
                    progress.Report(new TrainingProgress(epoch, step, totalSteps, windowSum / windowCount, learningRate, stopwatch.Elapsed));
                    windowSum = 0;
                    windowCount = 0;
                }
            }

            epochLosses.Add(epochSum / Math.Max(1, epochSteps));
        }

        return new TrainingResult(step, epochLosses, stepLosses, stopwatch.Elapsed);
    }

    /// <summary>The learning rate the schedule gives at a step.</summary>
    /// <param name="step">0-based step.</param>
    /// <param name="totalSteps">Steps in the run.</param>
    /// <param name="options">The settings (rate, schedule, warm-up).</param>
    /// <returns>The learning rate.</returns>
    public static double LearningRateAt(int step, int totalSteps, TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
        double peak = options.LearningRate;
        double t = (double)step / totalSteps;
        switch (options.Schedule)
        {
            case LearningRateSchedule.Constant:
                return peak;
            case LearningRateSchedule.Cosine:
                return peak * 0.5 * (1 + Math.Cos(Math.PI * t));
            default:
                double warm = options.WarmupFraction;
                if (t < warm)
                {
                    return peak * (0.1 + (0.9 * t / warm));
                }

                return peak * 0.5 * (1 + Math.Cos(Math.PI * (t - warm) / (1 - warm)));
        }
    }

    private static optim.Optimizer CreateOptimizer(IList<Parameter> parameters, TrainerOptions options) =>
        options.Optimizer switch
        {
            OptimizerKind.Adam => optim.Adam(parameters, options.LearningRate, weight_decay: options.WeightDecay),
            _ => optim.SGD(parameters, options.LearningRate, momentum: options.Momentum, weight_decay: options.WeightDecay,
                nesterov: options.Momentum > 0),
        };

    private static Tensor Augment(Tensor x, Random random, TrainerOptions options)
    {
        long n = x.shape[0];
        if (options.CropPadding > 0)
        {
            int p = options.CropPadding;
            long h = x.shape[2], w = x.shape[3];
            var padded = nn.functional.pad(x, [p, p, p, p], PaddingModes.Constant, options.PaddingValue);
            var crops = new Tensor[n];
            for (long i = 0; i < n; i++)
            {
                crops[i] = padded[i].narrow(1, random.Next(2 * p + 1), h).narrow(2, random.Next(2 * p + 1), w);
            }

            x = torch.stack(crops);
        }

        if (options.HorizontalFlip)
        {
            var flips = new bool[n];
            for (int i = 0; i < n; i++)
            {
                flips[i] = random.Next(2) == 1;
            }

            var mask = torch.tensor(flips, device: x.device).view(n, 1, 1, 1);
            x = torch.where(mask, x.flip(3), x);
        }

        return x;
    }
}
