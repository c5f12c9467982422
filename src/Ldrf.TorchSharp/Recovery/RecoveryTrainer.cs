using System.Diagnostics;
using System.Globalization;
using Ldrf.TorchSharp.Architecture;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Recovery;

/// <summary>
/// Wins back accuracy after pruning by distillation: trains a copy of the pruned network (the student) to give the
/// original network's (the teacher's) outputs, on unlabelled images, and returns the copy with its best weights on
/// images held out of training, so that it is never worse there than the network it was given. The caller's networks
/// and tensors are never modified.
/// </summary>
/// <remarks>
/// <para>
/// The loss is T² · KL(softmax(t / T) ‖ softmax(s / T)) between the original's outputs t and the student's s at the
/// temperature T (<see cref="RecoveryOptions.Temperature"/>), averaged over the batch; with labels, plus
/// <see cref="RecoveryOptions.LabelWeight"/> times the cross-entropy. No labels are needed: the calibration images
/// themselves, or any unlabelled images of the task, will do. The original runs once over every image, in evaluation
/// mode, and its outputs are kept (N x classes on the pruned network's device).
/// </para>
/// <para>
/// Both networks are networks the pruner reads (<see cref="Pruning.TorchSharpPruner"/>): chains, residual networks and
/// <see cref="Graphs.GraphNetwork"/>s, read into the same graph description. The student is a copy of the pruned network on
/// its device and floating type (a Sequential with the same paths for a chain, a GraphNetwork for a graph), trained in
/// evaluation mode. The pruner folds every batch norm, so pruned
/// networks have none; a student that has batch norms is trained with them folded into their convolutions (training on
/// small batches then cannot disturb running statistics), and the returned network has them folded too (a batch norm
/// that reads no convolution of its own stays, in evaluation mode, with its running statistics fixed). Dropout is off:
/// its rates were chosen for the original's widths (on the 5x pruned Fashion-MNIST VGG, dropout 0.3 on the 10 hidden
/// units left made the training loss about 15 times the held-out loss, and no epoch improved on the pruned weights).
/// </para>
/// <para>
/// Keep-the-best: the student is evaluated on the held-out images (<see cref="RecoveryOptions.HeldOutFraction"/>) before
/// training and after every epoch; the weights with the lowest held-out distillation loss are returned, the given ones bit
/// for bit when no epoch beats them. A training loss that is NaN or infinite stops the run with the best weights so far.
/// </para>
/// <para>
/// Thread safety: <see cref="Recover"/> keeps its state in the call and may run on several threads at once; the networks it
/// copies and the images must not change meanwhile.
/// </para>
/// </remarks>
public sealed class RecoveryTrainer
{
    // Images per forward pass when computing targets and evaluating (no gradients are kept there).
    private const int Chunk = 256;
    private readonly ILogger _logger;

    /// <summary>Creates a trainer.</summary>
    /// <param name="logger">Receives one line per evaluation; optional.</param>
    public RecoveryTrainer(ILogger<RecoveryTrainer>? logger = null) => _logger = logger ?? (ILogger)NullLogger.Instance;

    /// <summary>Trains a copy of <paramref name="pruned"/> to reproduce <paramref name="original"/>'s outputs and returns it.</summary>
    /// <param name="original">The teacher: the network that was pruned (read only).</param>
    /// <param name="pruned">The student: the pruned network (read only: a copy is trained); its device and floating type are used.</param>
    /// <param name="images">Training images, N x C x H x W (N ≥ 2; any device and floating type; batches are copied to the pruned network's).</param>
    /// <param name="labels">Optional labels, N integers in [0, classes), for an added cross-entropy.</param>
    /// <param name="options">The settings (defaults when null); read during the call.</param>
    /// <param name="progress">Receives progress; optional.</param>
    /// <param name="cancellationToken">Stops the run between batches; the caller's networks are unchanged.</param>
    /// <returns>The recovered network and the figures of the run.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="original"/>, <paramref name="pruned"/> or <paramref name="images"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// A network that the pruner cannot read, disposed, on the meta device or with non-finite weights; the two networks'
    /// outputs are not both N x classes of the same size; the images are not a floating-point N x C x H x W tensor the
    /// networks take, are disposed or hold NaN or infinity, or are too few to hold out; the labels are not N integers in
    /// [0, classes); an invalid option (the message names every invalid option). The message names the argument and what is wrong.
    /// </exception>
    /// <exception cref="InvalidOperationException">The original's or the given pruned network's outputs are not finite.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the caller's networks are unchanged.</exception>
    public RecoveryResult Recover(
        nn.Module<Tensor, Tensor> original,
        nn.Module<Tensor, Tensor> pruned,
        Tensor images,
        Tensor? labels = null,
        RecoveryOptions? options = null,
        IProgress<RecoveryProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(pruned);
        ArgumentNullException.ThrowIfNull(images);
        options = options is null ? new RecoveryOptions() : RecoveryOptionsValidator.Instance.ThrowIfInvalid(options, nameof(options));
        cancellationToken.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();

        var (device, dtype) = NetworkReader.DeviceAndType(pruned, nameof(pruned));
        var (_, teacherDtype) = NetworkReader.DeviceAndType(original, nameof(original));
        var imageShape = CheckImages(images);
        var count = (int)images.shape[0];
        var heldOut = (int)Math.Max(1, Math.Round(count * options.HeldOutFraction));
        if (heldOut >= count)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"'{nameof(images)}' holds {count} image(s); holding out {heldOut} ('{nameof(options)}.{nameof(RecoveryOptions.HeldOutFraction)}' = {options.HeldOutFraction}) leaves none to train on. Pass at least 2 images."),
                nameof(images));
        }

        using var teacherModel = GraphModel.FromNetwork(original, nameof(original));
        using var givenModel = GraphModel.FromNetwork(pruned, nameof(pruned));
        using var studentModel = givenModel.FoldBatchNorm(nameof(pruned));
        var classes = Classes(teacherModel, imageShape, nameof(original));
        var studentClasses = Classes(studentModel, imageShape, nameof(pruned));
        if (studentClasses != classes)
        {
            throw new ArgumentException(
                $"'{nameof(pruned)}' gives {studentClasses} outputs per image but '{nameof(original)}' gives {classes}; the pruned network must have the original's outputs.",
                nameof(pruned));
        }

        CheckLabels(labels, count, classes);

        var order = Order(count, options.Seed);
        var heldIndices = order[..heldOut];
        var trainIndices = order[heldOut..];
        var disposables = new List<IDisposable>();
        nn.Module<Tensor, Tensor>? student = null;
        try
        {
            var targets = Own(disposables, Targets(teacherModel, images, device, dtype, teacherDtype, progress, cancellationToken));
            student = studentModel.Build(device, dtype).Network; // in evaluation mode, which training keeps (remarks)
            var before = Evaluate(student, images, targets, heldIndices, options.Temperature, 0, progress, cancellationToken);
            if (!double.IsFinite(before.Loss))
            {
                throw new InvalidOperationException(
                    $"The pruned network's outputs on the {heldOut} held-out images are not finite although the original's are, so it cannot be recovered; check the pruned network (see docs/troubleshooting.md on libtorch's CPU convolutions). The caller's networks are unchanged.");
            }

            _logger.LogInformation("Ldrf recovery: held-out distillation loss {Loss:0.0000}, agreement with the original {Agreement:0.00%} before training ({Train} training, {HeldOut} held-out images)",
                before.Loss, before.Agreement, trainIndices.Length, heldOut);
            var run = Train(student, images, labels, targets, trainIndices, heldIndices, before, options, device, dtype, disposables, progress, cancellationToken);
            progress?.Report(new RecoveryProgress(RecoveryStage.Completed, run.Epochs, run.Steps, run.Steps, run.Best.Loss));
            return new RecoveryResult(student)
            {
                TrainingImages = trainIndices.Length,
                HeldOutImages = heldOut,
                HeldOutDistillationLossBefore = before.Loss,
                HeldOutDistillationLossAfter = run.Best.Loss,
                HeldOutAgreementBefore = before.Agreement,
                HeldOutAgreementAfter = run.Best.Agreement,
                Steps = run.Steps,
                Epochs = run.Epochs,
                BestEpoch = run.BestEpoch,
                StopReason = run.StopReason,
                Elapsed = clock.Elapsed,
            };
        }
        catch
        {
            student?.Dispose();
            throw;
        }
        finally
        {
            foreach (var d in disposables)
            {
                d.Dispose();
            }
        }
    }

    private TrainingRun Train(
        nn.Module<Tensor, Tensor> student, Tensor images, Tensor? labels, Tensor targets, long[] trainIndices, long[] heldIndices, Evaluation before,
        RecoveryOptions options, Device device, ScalarType dtype, List<IDisposable> disposables,
        IProgress<RecoveryProgress>? progress, CancellationToken cancellationToken)
    {
        var batchesPerEpoch = (trainIndices.Length + options.BatchSize - 1) / options.BatchSize;
        var totalSteps = (int)Math.Min((long)batchesPerEpoch * options.Epochs, options.MaxSteps ?? int.MaxValue);
        using var generator = new Generator(unchecked((ulong)options.Seed) + 1);
        using var optimizer = options.Optimizer == RecoveryOptimizer.Sgd
            ? optim.SGD(student.parameters(), options.LearningRate, momentum: options.Momentum, nesterov: options.Momentum > 0)
            : (optim.Optimizer)optim.Adam(student.parameters(), options.LearningRate);
        var best = Snapshot(student);
        disposables.Add(best);
        var bestEvaluation = before;
        int step = 0, epoch = 0, bestEpoch = 0, stale = 0;
        var stop = RecoveryStopReason.Completed;
        options.StepObserver?.Invoke(0, totalSteps, student);
        while (step < totalSteps)
        {
            cancellationToken.ThrowIfCancellationRequested();
            epoch++;
            long[] permutation;
            using (var p = randperm(trainIndices.Length, generator: generator))
            {
                permutation = p.data<long>().ToArray();
            }

            for (var start = 0; start < trainIndices.Length && step < totalSteps; start += options.BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var batch = permutation.AsSpan(start, Math.Min(options.BatchSize, trainIndices.Length - start)).ToArray().Select(i => trainIndices[i]).ToArray();
                var x = images.index_select(0, tensor(batch, device: images.device)).to(dtype, device);
                var t = targets.index_select(0, tensor(batch, device: device));
                foreach (var group in optimizer.ParamGroups)
                {
                    group.LearningRate = options.Schedule == RecoverySchedule.Cosine
                        ? options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * step / totalSteps))
                        : options.LearningRate;
                }

                optimizer.zero_grad();
                var s = student.forward(x);
                var loss = Distillation(s, t, options.Temperature).mean();
                if (labels is not null && options.LabelWeight > 0)
                {
                    var y = labels.index_select(0, tensor(batch, device: labels.device)).to(ScalarType.Int64, device);
                    loss = loss + (nn.functional.cross_entropy(s, y) * options.LabelWeight);
                }

                loss.backward();
                optimizer.step();
                step++;
                var value = loss.to(ScalarType.Float64).item<double>();
                progress?.Report(new RecoveryProgress(RecoveryStage.Training, epoch, step, totalSteps, value));
                options.StepObserver?.Invoke(step, totalSteps, student);
                if (!double.IsFinite(value))
                {
                    stop = RecoveryStopReason.NotFinite;
                    break;
                }
            }

            if (stop == RecoveryStopReason.NotFinite)
            {
                // The weights are now ruined; the best ones so far are returned.
                _logger.LogWarning("Ldrf recovery: the training loss became NaN or infinite at step {Step} (epoch {Epoch}); stopped, returning the weights of epoch {Best}. Lower the learning rate.", step, epoch, bestEpoch);
                break;
            }

            var evaluation = Evaluate(student, images, targets, heldIndices, options.Temperature, epoch, progress, cancellationToken);
            var improved = evaluation.Loss < bestEvaluation.Loss;
            _logger.LogInformation("Ldrf recovery: epoch {Epoch} ({Steps} steps): held-out distillation loss {Loss:0.0000}, agreement {Agreement:0.00%}{Best}",
                epoch, step, evaluation.Loss, evaluation.Agreement, improved ? " (best so far)" : string.Empty);
            if (improved)
            {
                best.Dispose();
                disposables.Remove(best);
                best = Snapshot(student);
                disposables.Add(best);
                bestEvaluation = evaluation;
                bestEpoch = epoch;
                stale = 0;
            }
            else if (options.Patience is int patience && ++stale >= patience)
            {
                stop = RecoveryStopReason.NoImprovement;
                break;
            }
        }

        best.CopyTo(student);
        return new TrainingRun(step, epoch, bestEpoch, bestEvaluation, stop);
    }

    /// <summary>The original's outputs on every image, on the student's device and type.</summary>
    private static Tensor Targets(
        GraphModel teacherModel, Tensor images, Device device, ScalarType dtype, ScalarType teacherDtype,
        IProgress<RecoveryProgress>? progress, CancellationToken cancellationToken)
    {
        var count = images.shape[0];
        // An exact evaluation-mode copy of the original (batch norms unfolded), so the caller's module and its mode stay untouched.
        using var teacher = teacherModel.Build(device, teacherDtype, share: true).Network;
        using var noGrad = no_grad();
        var chunks = new List<Tensor>();
        try
        {
            for (long start = 0; start < count; start += Chunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report(new RecoveryProgress(RecoveryStage.ComputingTargets, 0, (int)start, (int)count, null));
                using var scope = NewDisposeScope();
                var x = images.narrow(0, start, Math.Min(Chunk, count - start)).to(teacherDtype, device);
                chunks.Add(teacher.forward(x).to(dtype).DetachFromDisposeScope());
            }

            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new RecoveryProgress(RecoveryStage.ComputingTargets, 0, (int)count, (int)count, null));
            var targets = cat(chunks, 0);
            long bad;
            using (NewDisposeScope())
            {
                bad = isfinite(targets).logical_not().sum().item<long>();
            }

            if (bad > 0)
            {
                var values = targets.numel();
                targets.Dispose();
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"The original network's outputs on the images are not finite (NaN or infinity in {bad} of {values} values), so they cannot be distilled; check the network and the images on their own (see docs/troubleshooting.md on libtorch's CPU convolutions). The caller's networks are unchanged."));
            }

            return targets;
        }
        finally
        {
            foreach (var chunk in chunks)
            {
                chunk.Dispose();
            }
        }
    }

    /// <summary>The student's mean distillation loss and top-1 agreement with the original on the held-out images.</summary>
    private static Evaluation Evaluate(
        nn.Module<Tensor, Tensor> student, Tensor images, Tensor targets, long[] indices, double temperature, int epoch,
        IProgress<RecoveryProgress>? progress, CancellationToken cancellationToken)
    {
        using var noGrad = no_grad();
        double loss = 0;
        long agree = 0;
        for (var start = 0; start < indices.Length; start += Chunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new RecoveryProgress(RecoveryStage.Evaluating, epoch, start, indices.Length, null));
            using var scope = NewDisposeScope();
            var chunk = indices.AsSpan(start, Math.Min(Chunk, indices.Length - start)).ToArray();
            var s = student.forward(images.index_select(0, tensor(chunk, device: images.device)).to(targets.dtype, targets.device));
            var t = targets.index_select(0, tensor(chunk, device: targets.device));
            loss += Distillation(s, t, temperature).to(ScalarType.Float64).sum().item<double>();
            agree += s.argmax(1).eq(t.argmax(1)).sum().item<long>();
        }

        var result = new Evaluation(loss / indices.Length, (double)agree / indices.Length);
        cancellationToken.ThrowIfCancellationRequested();
        progress?.Report(new RecoveryProgress(RecoveryStage.Evaluating, epoch, indices.Length, indices.Length, result.Loss));
        return result;
    }

    /// <summary>T² · KL(softmax(t / T) ‖ softmax(s / T)) per image.</summary>
    private static Tensor Distillation(Tensor s, Tensor t, double temperature)
    {
        var logS = nn.functional.log_softmax(s / temperature, 1);
        var logT = nn.functional.log_softmax(t / temperature, 1);
        return (logT.exp() * (logT - logS)).sum(1) * (temperature * temperature);
    }

    /// <summary>A permutation of 0..count-1 from the seed: the first indices are held out.</summary>
    private static long[] Order(int count, int seed)
    {
        using var generator = new Generator(unchecked((ulong)seed));
        using var order = randperm(count, generator: generator);
        return order.data<long>().ToArray();
    }

    private static long[] CheckImages(Tensor images)
    {
        ImageTensors.Check(images, $"'{nameof(images)}'", nameof(images));

        return images.shape.Skip(1).ToArray();
    }

    // The outputs per image; a network whose output is not N x classes cannot be distilled by class probabilities.
    private static int Classes(GraphModel model, long[] imageShape, string paramName)
    {
        var output = model.Shapes(imageShape, "images")[model.OutputName];
        if (output.Length != 1)
        {
            throw new ArgumentException(
                $"'{paramName}' gives outputs of {NetworkReader.Shape(output)} per image; recovery distills class scores, so its output must be N x classes.",
                paramName);
        }

        return (int)output[0];
    }

    private static void CheckLabels(Tensor? labels, int count, int classes)
    {
        if (labels is null)
        {
            return;
        }

        if (labels.IsInvalid)
        {
            throw new ArgumentException($"'{nameof(labels)}' has been disposed.", nameof(labels));
        }

        if (labels.device.type == DeviceType.META || labels.Dimensions != 1 || labels.shape[0] != count
            || labels.is_floating_point() || labels.is_complex() || labels.dtype == ScalarType.Bool)
        {
            throw new ArgumentException(
                $"'{nameof(labels)}' is {NetworkReader.Shape(labels.shape)} ({labels.dtype}) on '{labels.device}'; it must be {count} integer class indices, one per image, with values.",
                nameof(labels));
        }

        using var scope = NewDisposeScope();
        var min = labels.min().to(ScalarType.Int64).item<long>();
        var max = labels.max().to(ScalarType.Int64).item<long>();
        if (min < 0 || max >= classes)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"'{nameof(labels)}' holds values from {min} to {max}; class indices must be in [0, {classes}) for networks with {classes} outputs."),
                nameof(labels));
        }
    }

    private static T Own<T>(List<IDisposable> disposables, T value)
        where T : IDisposable
    {
        disposables.Add(value);
        return value;
    }

    private static WeightSnapshot Snapshot(nn.Module network) => new(NetworkReader.CopyState(network));

    private sealed record Evaluation(double Loss, double Agreement);

    private sealed record TrainingRun(int Steps, int Epochs, int BestEpoch, Evaluation Best, RecoveryStopReason StopReason);

    /// <summary>Copies of a network's parameters and buffers, written back bit for bit by <see cref="CopyTo"/>.</summary>
    private sealed class WeightSnapshot(Dictionary<string, Tensor> state) : IDisposable
    {
        public void CopyTo(nn.Module network) => NetworkReader.RestoreState(network, state);

        public void Dispose()
        {
            foreach (var t in state.Values)
            {
                t.Dispose();
            }
        }
    }
}
