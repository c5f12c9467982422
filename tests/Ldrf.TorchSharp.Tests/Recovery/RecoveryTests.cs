using Ldrf.TorchSharp.Recovery;
using Ldrf.TorchSharp.Tests.Reliability;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests.Recovery;

/// <summary>
/// <see cref="RecoveryTrainer"/>: never worse than the network it was given, stops promptly when cancelled, leaves the
/// caller's networks alone, and does recover on a small synthetic task.
/// </summary>
public class RecoveryTests
{
    /// <summary>
    /// A student for <see cref="TestNetworks.WideVgg"/> (3 x 12 x 12 images, 5 outputs) in its layout with widths 16, 32 and
    /// 32 and 16 hidden units: every convolution's width a multiple of 16, so that libtorch's oneDNN kernels compute its
    /// forward pass and input gradients right on the CPUs of docs/troubleshooting.md.
    /// </summary>
    internal static Sequential Student(long seed = 2)
    {
        torch.random.manual_seed(seed);
        var features = nn.Sequential(
            ("0", nn.Conv2d(3, 16, 3, padding: 1)), ("1", nn.ReLU()),
            ("2", nn.Conv2d(16, 32, 3, padding: 1)), ("3", nn.ReLU()), ("4", nn.MaxPool2d(2)),
            ("5", nn.Conv2d(32, 32, 3, padding: 1)), ("6", nn.ReLU()), ("7", nn.AvgPool2d(2)));
        var classifier = nn.Sequential(("0", nn.Linear(32 * 3 * 3, 16)), ("1", nn.ReLU()), ("2", nn.Dropout(0.5)), ("3", nn.Linear(16, 5)));
        var network = nn.Sequential(("features", features), ("flatten", nn.Flatten()), ("classifier", classifier));
        network.eval();
        return network;
    }

    /// <summary>160 image-like 3 x 12 x 12 images in one tensor.</summary>
    internal static Tensor Images(int count = 160, long seed = 7)
    {
        var batches = TestNetworks.Batches(count / 16, 16, seed);
        try
        {
            return cat(batches, 0);
        }
        finally
        {
            foreach (var b in batches)
            {
                b.Dispose();
            }
        }
    }

    private static readonly RecoveryOptions Quick = new() { Epochs = 6, BatchSize = 16, LearningRate = 3e-3, Patience = null };

    [Test]
    public void A_run_on_a_small_task_lowers_the_held_out_distillation_loss_and_leaves_the_callers_networks_alone()
    {
        using var run = new Networks();
        var (teacher, student, images) = (run.Teacher, run.Student, run.Images);
        student.train(); // the caller's mode must survive the run too
        var progress = new List<RecoveryProgress>();

        using var result = new RecoveryTrainer().Recover(teacher, student, images, options: Quick, progress: new SynchronousProgress<RecoveryProgress>(progress.Add));

        Assert.That(result.HeldOutDistillationLossAfter, IsFinite.LessThan(0.5 * result.HeldOutDistillationLossBefore));
        Assert.That(result.HeldOutAgreementAfter, IsFinite.AtLeast(result.HeldOutAgreementBefore));
        Assert.That(result.KeptGivenWeights, Is.False);
        Assert.That(result.BestEpoch, Is.InRange(1, Quick.Epochs));
        Assert.That(result.Steps, Is.EqualTo(Quick.Epochs * 9)); // 144 training images in batches of 16
        Assert.That((result.TrainingImages, result.HeldOutImages), Is.EqualTo((144, 16)));
        Assert.That(result.StopReason, Is.EqualTo(RecoveryStopReason.Completed));
        Assert.That(result.Network.training, Is.False);

        // The reported loss is the returned network's: recompute it on the whole set against the teacher's outputs.
        Assert.That(DistillationLoss(result.Network, teacher, images, Quick.Temperature), IsFinite.LessThan(DistillationLoss(student, teacher, images, Quick.Temperature)));
        Assert.That(progress[^1].Stage, Is.EqualTo(RecoveryStage.Completed));
        Assert.That(progress.Where(p => p.Stage == RecoveryStage.Training).Select(p => p.Step), Is.EqualTo(Enumerable.Range(1, result.Steps)));

        run.AssertUnchanged();
        Assert.That((teacher.training, student.training), Is.EqualTo((false, true)));
        Assert.That(result.Network, Is.Not.SameAs(student));
    }

    [TestCase(RecoveryOptimizer.Sgd, 1e3)]
    [TestCase(RecoveryOptimizer.Adam, 1.0)]
    public void A_harmful_learning_rate_returns_the_given_weights_bit_for_bit(RecoveryOptimizer optimizer, double learningRate)
    {
        using var run = new Networks();
        var (teacher, student, images) = (run.Teacher, run.Student, run.Images);
        var given = Expect.Bits(student);
        var options = new RecoveryOptions { Epochs = 2, BatchSize = 16, LearningRate = learningRate, Optimizer = optimizer };

        using var result = new RecoveryTrainer().Recover(teacher, student, images, options: options);

        Assert.That(result.KeptGivenWeights, Is.True);
        Assert.That(result.BestEpoch, Is.EqualTo(0));
        Assert.That(result.HeldOutDistillationLossAfter, IsFinite.EqualTo(result.HeldOutDistillationLossBefore));
        Assert.That(result.HeldOutAgreementAfter, IsFinite.EqualTo(result.HeldOutAgreementBefore));
        Assert.That(result.Steps, Is.GreaterThan(0));
        Expect.SameBits(Expect.Bits(result.Network), given, "the returned network");
        Expect.SameBits(Expect.Bits(student), given, "the caller's pruned network");
    }

    [Test]
    public void A_cancelled_token_stops_before_anything_runs()
    {
        using var run = new Networks();
        var (teacher, student, images) = (run.Teacher, run.Student, run.Images);
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        var reports = 0;

        Assert.That(() => new RecoveryTrainer().Recover(teacher, student, images, options: Quick,
            progress: new SynchronousProgress<RecoveryProgress>(_ => reports++), cancellationToken: cancel.Token),
            Throws.InstanceOf<OperationCanceledException>());

        Assert.That(reports, Is.EqualTo(0));
        run.AssertUnchanged();
    }

    [TestCase(RecoveryStage.ComputingTargets)]
    [TestCase(RecoveryStage.Evaluating)]
    [TestCase(RecoveryStage.Training)]
    public void Cancelling_during_a_run_stops_at_the_next_batch_with_the_callers_networks_intact(RecoveryStage stage)
    {
        using var run = new Networks();
        var (teacher, student, images) = (run.Teacher, run.Student, run.Images);
        using var cancel = new CancellationTokenSource();
        var afterCancel = new List<RecoveryProgress>();
        var progress = new SynchronousProgress<RecoveryProgress>(p =>
        {
            if (cancel.IsCancellationRequested)
            {
                afterCancel.Add(p);
            }
            else if (p.Stage == stage && (stage != RecoveryStage.Training || p.Step == 3))
            {
                cancel.Cancel();
            }
        });

        Assert.That(() => new RecoveryTrainer().Recover(teacher, student, images, options: Quick, progress: progress, cancellationToken: cancel.Token),
            Throws.InstanceOf<OperationCanceledException>());

        // Promptly: no further training step or evaluation once cancelled.
        Assert.That(afterCancel, Is.Empty);
        run.AssertUnchanged();
    }

    [Test]
    public void The_same_seed_gives_the_same_network_and_labels_add_a_cross_entropy()
    {
        using var run = new Networks();
        var (teacher, student, images) = (run.Teacher, run.Student, run.Images);
        using var labels = torch.randint(0, 5, [images.shape[0]], generator: new Generator(3));
        var options = new RecoveryOptions { Epochs = 2, BatchSize = 16, LearningRate = 3e-3, Seed = 5 };

        using var first = new RecoveryTrainer().Recover(teacher, student, images, options: options);
        using var second = new RecoveryTrainer().Recover(teacher, student, images, options: options);
        using var withLabels = new RecoveryTrainer().Recover(teacher, student, images, labels, options);

        Expect.SameBits(Expect.Bits(second.Network), Expect.Bits(first.Network), "a rerun with the same seed");
        Assert.That(withLabels.HeldOutDistillationLossAfter, IsFinite.AtMost(withLabels.HeldOutDistillationLossBefore));
        Assert.That(Expect.Bits(withLabels.Network).Zip(Expect.Bits(first.Network)).Any(p => !p.First.Value.AsSpan().SequenceEqual(p.Second.Value)), Is.True,
            "random labels change the training");
    }

    [Test]
    public void The_internal_step_observer_sees_every_step_and_leaves_the_run_unchanged()
    {
        using var run = new Networks();
        var (teacher, student, images) = (run.Teacher, run.Student, run.Images);
        var calls = new List<(int Step, int Steps)>();
        var outputs = new List<double>();
        using var probe = images.narrow(0, 0, 8);
        var observed = new RecoveryOptions
        {
            Epochs = 2, BatchSize = 16, LearningRate = 3e-3, Seed = 5,
            StepObserver = (step, steps, network) =>
            {
                calls.Add((step, steps));
                // What the harness does with it: a forward pass of the network being trained.
                using var noGrad = torch.no_grad();
                using var output = network.forward(probe);
                outputs.Add(output.abs().sum().item<float>());
            },
        };

        using var plain = new RecoveryTrainer().Recover(teacher, student, images, options: new RecoveryOptions { Epochs = 2, BatchSize = 16, LearningRate = 3e-3, Seed = 5 });
        using var watched = new RecoveryTrainer().Recover(teacher, student, images, options: observed);

        Expect.SameBits(Expect.Bits(watched.Network), Expect.Bits(plain.Network), "the same run with an observer");
        Assert.That(calls, Is.EqualTo(Enumerable.Range(0, watched.Steps + 1).Select(i => (i, watched.Steps))), "before the first step and after every step");
        Assert.That(outputs.Distinct().Count(), Is.GreaterThan(1), "the observer sees the weights as they are trained");
        run.AssertUnchanged();
    }

    [Test]
    public void A_student_with_batch_norms_is_trained_with_them_folded()
    {
        using var teacher = TestNetworks.WideVgg();
        torch.random.manual_seed(4);
        using var student = nn.Sequential(
            ("features", nn.Sequential(("0", nn.Conv2d(3, 16, 3, padding: 1)), ("1", nn.BatchNorm2d(16)), ("2", nn.ReLU()), ("3", nn.MaxPool2d(4)))),
            ("flatten", nn.Flatten()), ("classifier", nn.Sequential(("0", nn.Linear(16 * 3 * 3, 5)))));
        student.eval();
        using var images = Images();
        var before = Expect.Output(student, images);

        using var result = new RecoveryTrainer().Recover(teacher, student, images, options: new RecoveryOptions { Epochs = 1, BatchSize = 16, LearningRate = 1e3 });

        Assert.That(result.KeptGivenWeights, Is.True);
        Assert.That(result.Network.modules().OfType<BatchNorm2d>(), Is.Empty);
        var after = Expect.Output(result.Network, images);
        Assert.That(after.Zip(before, (a, b) => (double)Math.Abs(a - b)).Max(), IsFinite.LessThan(1e-4));
    }

    [Test]
    [Category("Reliability")]
    public void Recovering_five_times_returns_the_live_tensor_count_to_its_start()
    {
        using var run = new Networks();
        using var labels = torch.randint(0, 5, [run.Images.shape[0]], generator: new Generator(3));
        var options = new RecoveryOptions { Epochs = 2, BatchSize = 32, LearningRate = 3e-3 };
        var trainer = new RecoveryTrainer();

        // A first run pays for one-time native and managed initialization.
        trainer.Recover(run.Teacher, run.Student, run.Images, labels, options).Dispose();
        var start = Expect.LiveTensors();
        for (var i = 0; i < 5; i++)
        {
            // With and without labels, and a run that stops on a non-finite loss.
            var o = i == 4 ? new RecoveryOptions { Epochs = 2, LearningRate = 1e30, Optimizer = RecoveryOptimizer.Sgd } : options;
            trainer.Recover(run.Teacher, run.Student, run.Images, i % 2 == 0 ? labels : null, o).Dispose();
            Assert.That(Expect.LiveTensors() - start, Is.Zero, $"tensors left alive after run {i + 1}");
        }
    }

    internal static double DistillationLoss(nn.Module<Tensor, Tensor> student, nn.Module<Tensor, Tensor> teacher, Tensor images, double temperature)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var training = student.training;
        student.eval();
        try
        {
            var logS = nn.functional.log_softmax(student.forward(images) / temperature, 1);
            var logT = nn.functional.log_softmax(teacher.forward(images) / temperature, 1);
            return ((logT.exp() * (logT - logS)).sum(1).mean() * (temperature * temperature)).item<float>();
        }
        finally
        {
            student.train(training);
        }
    }

    /// <summary>The original, the pruned network and the images of a test, with the networks' bits before it ran.</summary>
    private sealed class Networks : IDisposable
    {
        private readonly Dictionary<string, byte[]> _teacherBits;
        private readonly Dictionary<string, byte[]> _studentBits;

        public Networks()
        {
            _teacherBits = Expect.Bits(Teacher);
            _studentBits = Expect.Bits(Student);
        }

        public Sequential Teacher { get; } = TestNetworks.WideVgg();

        public Sequential Student { get; } = RecoveryTests.Student();

        public Tensor Images { get; } = RecoveryTests.Images();

        /// <summary>The caller's networks are bit for bit as they were.</summary>
        public void AssertUnchanged()
        {
            Expect.SameBits(Expect.Bits(Teacher), _teacherBits, "the original");
            Expect.SameBits(Expect.Bits(Student), _studentBits, "the pruned network");
        }

        public void Dispose()
        {
            Teacher.Dispose();
            Student.Dispose();
            Images.Dispose();
        }
    }

    /// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
