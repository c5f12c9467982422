using Ldrf.Baselines;
using Ldrf.Testing;
using Ldrf.TorchSharp.Graphs;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Recovery;
using Ldrf.TorchSharp.Tests.Reliability;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests.Recovery;

/// <summary><see cref="RecoveryTrainer"/> on the graph networks the pruner returns for <see cref="GraphNetwork"/> input.</summary>
public class GraphRecoveryTests
{
    [Test]
    public void A_pruned_graph_network_is_recovered_as_a_graph_network_with_a_lower_distillation_loss_and_the_callers_networks_intact()
    {
        // The EfficientNet-style block: depthwise convolution, squeeze-excitation gate, batch norms and a residual add.
        // Magnitude pruning (no reconstruction) leaves a distillation loss for recovery to lower.
        using var original = TestGraphs.EfficientNet(seed: 3);
        var batches = TestNetworks.Batches(4, 16);
        using var images = RecoveryTests.Images();
        try
        {
            var options = new NetworkPruningOptions { TargetFlopsReduction = 2, UseCapacityBounds = false, MeasureLatency = false };
            using var pruning = new TorchSharpPruner(BaselinePruners.Create(BaselineKind.L1Norm)).Prune(original, batches, options);
            var pruned = pruning.Network;
            Assert.That(pruned, Is.TypeOf<GraphNetwork>());
            var originalBits = Expect.Bits(original);
            var prunedBits = Expect.Bits(pruned);

            using var result = new RecoveryTrainer().Recover(original, pruned, images,
                options: new RecoveryOptions { Epochs = 6, BatchSize = 16, LearningRate = 3e-3, Patience = null });

            Assert.That(result.Network, Is.TypeOf<GraphNetwork>().And.Not.SameAs(pruned));
            Assert.That(((GraphNetwork)result.Network).Nodes.Select(n => n.Name), Is.EqualTo(((GraphNetwork)pruned).Nodes.Select(n => n.Name)),
                "the pruned graph's nodes (its batch norms were folded by the pruner)");
            Assert.That(result.KeptGivenWeights, Is.False);
            Assert.That(result.HeldOutDistillationLossAfter, IsFinite.LessThan(0.8 * result.HeldOutDistillationLossBefore));
            Assert.That(result.Network.training, Is.False);
            var temperature = new RecoveryOptions().Temperature;
            Assert.That(RecoveryTests.DistillationLoss(result.Network, original, images, temperature),
                IsFinite.LessThan(RecoveryTests.DistillationLoss(pruned, original, images, temperature)), "the distillation loss over every image");
            Expect.SameBits(Expect.Bits(original), originalBits, "the original");
            Expect.SameBits(Expect.Bits(pruned), prunedBits, "the pruned network");
        }
        finally
        {
            foreach (var b in batches)
            {
                b.Dispose();
            }
        }
    }
}
