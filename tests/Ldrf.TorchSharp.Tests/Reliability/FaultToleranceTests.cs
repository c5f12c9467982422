using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests.Reliability;

/// <summary>
/// Nothing is lost: whatever fails or is cancelled mid-run, the caller's network is bit-identical and still
/// computes the same outputs, no tensor is left alive, and the process-wide libtorch settings the pruner
/// touches are restored.
/// </summary>
[Category("Reliability")]
public class FaultToleranceTests
{
    // Capacity pass (4 capacity estimates), then one Prune per layer: features.0, features.3, features.7, classifier.0.
    // A lower energy threshold than the default leaves room under the valid capacities for a 1.5x target.
    private static readonly LdrfOptions Ldrf = new() { EnergyThreshold = 0.8 };

    private static NetworkPruningOptions AllStages() =>
        new() { TargetFlopsReduction = 1.5, UseCapacityBounds = true, MeasureLatency = true, LatencyRuns = 1, ChannelMultiple = 1 };

    private sealed record Run(Type Thrown, long Leaked);

    /// <summary>Runs <paramref name="prune"/> (expected to fail) and checks the network and the tensor count.</summary>
    private static Run Guarded(Func<nn.Module<Tensor, Tensor>, List<Tensor>, PruningResult> prune, bool training = false)
    {
        using var network = TestNetworks.SmallVgg(redundant: true);
        network.train(training);
        var batches = TestNetworks.Batches(3);
        using var x = TestNetworks.Batches(1, 4, seed: 42)[0];
        network.eval();
        var outputBefore = Expect.Output(network, x);
        network.train(training);
        var bitsBefore = Expect.Bits(network);
        LibTorchSettings.TryGetMkldnnEnabled(out var mkldnnBefore);

        var start = Expect.LiveTensors();
        var thrown = Assert.Catch(() => prune(network, batches).Dispose(), "the injected fault must surface")!;
        var leaked = Expect.LiveTensors() - start;

        Expect.SameBits(Expect.Bits(network), bitsBefore, $"after {thrown.GetType().Name}, the caller's network");
        Assert.That(network.training, Is.EqualTo(training), "the training mode is left alone");
        network.eval();
        Assert.That(Expect.Output(network, x), Is.EqualTo(outputBefore), "the network still computes the same outputs");
        LibTorchSettings.TryGetMkldnnEnabled(out var mkldnnAfter);
        Assert.That(mkldnnAfter, Is.EqualTo(mkldnnBefore), "the oneDNN switch is as the caller left it");
        Assert.That(leaked, Is.Zero, "every tensor the failed run created is disposed (none is left to the finalizer)");
        foreach (var b in batches)
        {
            b.Dispose();
        }

        return new Run(thrown.GetType(), leaked);
    }

    [TestCase(1, TestName = "A layer pruner failing in the capacity pass (first layer) loses nothing")]
    [TestCase(4, TestName = "A layer pruner failing in the capacity pass (last layer) loses nothing")]
    [TestCase(5, TestName = "A layer pruner failing while pruning the first layer loses nothing")]
    [TestCase(7, TestName = "A layer pruner failing while pruning a middle layer loses nothing")]
    [TestCase(8, TestName = "A layer pruner failing while pruning the last layer loses nothing")]
    public void Failing_layer_pruner(int failingCall)
    {
        var run = Guarded((network, batches) =>
            new TorchSharpPruner(new FailingLayerPruner(failingCall)).Prune(network, batches, AllStages()));
        Assert.That(run.Thrown, Is.EqualTo(typeof(InjectedFaultException)));
    }

    [Test]
    public void A_layer_pruner_returning_a_malformed_result_is_named_and_loses_nothing()
    {
        var pruner = new MalformedLayerPruner();
        InvalidOperationException? caught = null;
        Guarded((network, batches) =>
        {
            try
            {
                return new TorchSharpPruner(pruner).Prune(network, batches, AllStages());
            }
            catch (InvalidOperationException ex)
            {
                caught = ex;
                throw;
            }
        }, training: true);
        Assert.That(caught!.Message, Does.Contain("Layer 'features.0'").And.Contain("returned 1 kept channels"));
    }

    [Test]
    public void A_calibration_source_failing_mid_enumeration_loses_nothing()
    {
        var run = Guarded((network, batches) => new TorchSharpPruner(Ldrf).Prune(network, FailAfter(batches, 2), AllStages()));
        Assert.That(run.Thrown, Is.EqualTo(typeof(IOException)));
    }

    [TestCase(PruningStage.MeasuringCapacity, 1, TestName = "A progress callback throwing in the capacity pass loses nothing")]
    [TestCase(PruningStage.PruningLayer, 2, TestName = "A progress callback throwing while pruning loses nothing")]
    [TestCase(PruningStage.MeasuringLatency, 0, TestName = "A progress callback throwing before the latency is measured loses nothing")]
    [TestCase(PruningStage.Completed, 4, TestName = "A progress callback throwing on completion loses nothing")]
    public void Throwing_progress(PruningStage stage, int step)
    {
        var progress = new Expect.SyncProgress<PruningProgress>(p =>
        {
            if (p.Stage == stage && p.Step == step)
            {
                throw new InjectedFaultException($"progress at {stage} {step}");
            }
        });
        var run = Guarded((network, batches) => new TorchSharpPruner(Ldrf).Prune(network, batches, AllStages(), progress));
        Assert.That(run.Thrown, Is.EqualTo(typeof(InjectedFaultException)));
    }

    [TestCase(PruningStage.MeasuringCapacity, 1, null, TestName = "Cancelling after the first capacity batch loses nothing")]
    [TestCase(PruningStage.MeasuringCapacity, 3, null, TestName = "Cancelling after the last capacity batch loses nothing")]
    [TestCase(PruningStage.PruningLayer, 0, "features.0", TestName = "Cancelling at the first layer loses nothing")]
    [TestCase(PruningStage.PruningLayer, 2, "features.7", TestName = "Cancelling at a middle layer loses nothing")]
    [TestCase(PruningStage.PruningLayer, 3, "classifier.0", TestName = "Cancelling at the last layer loses nothing")]
    [TestCase(PruningStage.PruningLayer, 4, null, TestName = "Cancelling after the last layer, before the latency, loses nothing")]
    public void Cancelling(PruningStage stage, int step, string? layer)
    {
        using var cts = new CancellationTokenSource();
        var seen = false;
        var progress = new Expect.SyncProgress<PruningProgress>(p =>
        {
            if (p.Stage == stage && p.Step == step && p.LayerPath == layer && !cts.IsCancellationRequested)
            {
                seen = true;
                cts.Cancel();
            }
        });
        var run = Guarded((network, batches) => new TorchSharpPruner(Ldrf).Prune(network, batches, AllStages(), progress, cts.Token));
        Assert.That(seen, Is.True, "the progress point was reached");
        Assert.That(run.Thrown, Is.EqualTo(typeof(OperationCanceledException)));
    }

    [Test]
    public void A_token_cancelled_before_the_call_loses_nothing()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var run = Guarded((network, batches) => new TorchSharpPruner(Ldrf).Prune(network, batches, AllStages(), null, cts.Token));
        Assert.That(run.Thrown, Is.EqualTo(typeof(OperationCanceledException)));
    }

    [Test]
    public void A_layer_pruner_that_observes_the_token_cancels_mid_layer_and_loses_nothing()
    {
        using var cts = new CancellationTokenSource();
        var run = Guarded((network, batches) =>
            new TorchSharpPruner(new CancellingLayerPruner(cts, cancelOnCall: 6)).Prune(network, batches, AllStages(), null, cts.Token));
        Assert.That(run.Thrown, Is.EqualTo(typeof(OperationCanceledException)));
    }

    [Test]
    public void Cancelling_during_the_latency_measurement_either_stops_or_completes_and_loses_nothing()
    {
        // The latency runs are not cancellation points; a late cancel may still return the finished result.
        using var network = TestNetworks.SmallVgg();
        var bitsBefore = Expect.Bits(network);
        var batches = TestNetworks.Batches(2);
        using var cts = new CancellationTokenSource();
        var progress = new Expect.SyncProgress<PruningProgress>(p =>
        {
            if (p.Stage == PruningStage.MeasuringLatency)
            {
                cts.Cancel();
            }
        });
        try
        {
            using var result = new TorchSharpPruner(Ldrf).Prune(network, batches, AllStages(), progress, cts.Token);
            Assert.That(result.Report.LatencyAfter, Is.Not.Null, "a result that is returned is complete");
        }
        catch (OperationCanceledException)
        {
            // Also fine.
        }

        Expect.SameBits(Expect.Bits(network), bitsBefore, "the caller's network");
    }

    [Test]
    public void Rejected_inputs_leave_no_tensor_alive_and_the_network_unchanged()
    {
        // Bad input found at different depths of a run: while reading, after folding, after shape inference,
        // after the capacity pass.
        using var network = TestNetworks.SmallVgg(redundant: true);
        using var noisy = TestNetworks.SmallVgg(redundant: true);
        using (no_grad())
        {
            noisy.state_dict()["classifier.0.weight"][3, 4] = torch.tensor(float.NaN);
        }

        using var wrongChannels = torch.randn(2, 4, 12, 12);
        using var tooLarge = torch.randn(2, 3, 16, 16);
        var batches = TestNetworks.Batches(2);
        var bitsBefore = Expect.Bits(network);
        var start = Expect.LiveTensors();
        var pruner = new TorchSharpPruner(Ldrf);
        Assert.Throws<ArgumentException>(() => pruner.Prune(noisy, batches, AllStages()));
        Assert.Throws<ArgumentException>(() => pruner.Prune(network, [wrongChannels], AllStages()));
        Assert.Throws<ArgumentException>(() => pruner.Prune(network, [tooLarge], AllStages()));
        Assert.Throws<ArgumentOutOfRangeException>(() => pruner.Prune(network, batches, new NetworkPruningOptions { ChannelMultiple = 1, TargetFlopsReduction = 50, MeasureLatency = false }));
        Assert.Throws<ArgumentException>(() => pruner.Prune(network, batches, new NetworkPruningOptions { ChannelMultiple = 0, TargetFlopsReduction = 2 }));
        Assert.Throws<ArgumentException>(() => pruner.Prune(network, batches, new NetworkPruningOptions { ChannelMultiple = 1, PerLayerKeepRatios = new Dictionary<string, double> { ["nope"] = 0.5 } }));
        Assert.That(Expect.LiveTensors() - start, Is.Zero, "tensors left alive by rejected runs");
        Expect.SameBits(Expect.Bits(network), bitsBefore, "the caller's network");
        foreach (var b in batches)
        {
            b.Dispose();
        }
    }

    [TestCase(true, "While measuring the layers' valid capacities", TestName = "An original network that overflows is refused in the capacity pass, naming the original")]
    [TestCase(false, "While pruning 'features.0'", TestName = "An original network that overflows is refused while pruning its first layer, naming the original")]
    public void An_original_network_whose_activations_overflow_is_refused(bool capacityBounds, string where)
    {
        // Finite weights (so the reader accepts them) large enough that the first convolution's float32 outputs
        // overflow: the statistics cannot be taken, and the message blames the original, not the pruning.
        using var network = TestNetworks.SmallVgg(redundant: true);
        using (no_grad())
        {
            network.state_dict()["features.0.weight"].fill_(3e38f);
        }

        var batches = TestNetworks.Batches(2);
        var bitsBefore = Expect.Bits(network);
        var start = Expect.LiveTensors();
        var options = new NetworkPruningOptions { TargetFlopsReduction = 1.2, UseCapacityBounds = capacityBounds, MeasureLatency = false, ChannelMultiple = 1 };
        Expect.Throws<ArgumentException>(() => new TorchSharpPruner(Ldrf).Prune(network, batches, options).Dispose(),
            where, "the network's own activations on the calibration images are not finite", "unchanged");
        Assert.That(Expect.LiveTensors() - start, Is.Zero, "tensors left alive by the refused run");
        Expect.SameBits(Expect.Bits(network), bitsBefore, "the caller's network");
        foreach (var b in batches)
        {
            b.Dispose();
        }
    }

    private static IEnumerable<Tensor> FailAfter(List<Tensor> batches, int count)
    {
        for (var i = 0; i < count; i++)
        {
            yield return batches[i];
        }

        throw new IOException("the calibration source went away");
    }

    private sealed class InjectedFaultException(string message) : Exception(message);

    /// <summary>A real LDRF layer pruner that throws on its n-th call (1-based), capacity estimates included.</summary>
    private sealed class FailingLayerPruner(int failingCall) : ILayerPruner, ICapacityEstimator
    {
        private readonly LdrfLayerPruner _inner = new(Ldrf);
        private int _calls;

        public int EstimateCapacity(LayerPruningRequest request, CancellationToken cancellationToken = default) =>
            ++_calls == failingCall
                ? throw new InjectedFaultException($"injected fault at call {_calls} ({request.LayerName})")
                : _inner.EstimateCapacity(request, cancellationToken);

        public LayerPruningResult Prune(LayerPruningRequest request, CancellationToken cancellationToken = default) =>
            ++_calls == failingCall
                ? throw new InjectedFaultException($"injected fault at call {_calls} ({request.LayerName})")
                : _inner.Prune(request, cancellationToken);
    }

    /// <summary>Cancels the token itself on its n-th call (capacity estimates included), then honours it like a long-running pruner would.</summary>
    private sealed class CancellingLayerPruner(CancellationTokenSource cts, int cancelOnCall) : ILayerPruner, ICapacityEstimator
    {
        private readonly LdrfLayerPruner _inner = new(Ldrf);
        private int _calls;

        public int EstimateCapacity(LayerPruningRequest request, CancellationToken cancellationToken = default)
        {
            Count(cancellationToken);
            return _inner.EstimateCapacity(request, cancellationToken);
        }

        public LayerPruningResult Prune(LayerPruningRequest request, CancellationToken cancellationToken = default)
        {
            Count(cancellationToken);
            return _inner.Prune(request, cancellationToken);
        }

        private void Count(CancellationToken cancellationToken)
        {
            if (++_calls == cancelOnCall)
            {
                cts.Cancel();
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Answers the capacity pass correctly, then keeps one channel whatever was asked.</summary>
    private sealed class MalformedLayerPruner : ILayerPruner, ICapacityEstimator
    {
        private readonly LdrfLayerPruner _inner = new(Ldrf);

        public int EstimateCapacity(LayerPruningRequest request, CancellationToken cancellationToken = default) =>
            _inner.EstimateCapacity(request, cancellationToken);

        public LayerPruningResult Prune(LayerPruningRequest request, CancellationToken cancellationToken = default)
        {
            var result = _inner.Prune(request, cancellationToken);
            return new LayerPruningResult
            {
                LayerName = result.LayerName,
                KeptChannels = [0],
                ConsumerWeights = request.ConsumerWeights.SubMatrix(0, 1, 0, request.ConsumerWeights.ColumnCount),
                RelativeOutputError = result.RelativeOutputError,
            };
        }
    }
}
