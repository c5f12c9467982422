using Ldrf.Baselines;
using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests.Baselines;

/// <summary>ThiNet and Channel Pruning against explicit computations on unfolded 3 x 3 patches.</summary>
public class PatchBaselineTests
{
    private const int Positions = ConvLayerData.Positions;

    private static double Dot(Matrix<double> a, Matrix<double> b) => a.PointwiseMultiply(b).Enumerate().Sum();

    [TestCase(5, 4, 20, 1)]
    [TestCase(8, 3, 12, 2)]
    public void Contribution_grams_equal_the_explicit_contributions(int channels, int outputs, int images, int seed)
    {
        var data = ConvLayerData.Create(channels, outputs, images, seed);
        var problem = PatchContributions.Create(data.Request(keep: 2), Ldrf.Numerics.MathNetNumericBackend.Instance, "test");
        var y = data.Output;
        var x = Enumerable.Range(0, channels).Select(data.Contribution).ToArray();
        var scale = TestData.SquaredNorm(y);
        Assert.Multiple(() =>
        {
            Assert.That(problem.PatchWeights, Is.EqualTo(data.PatchWeights), "W_p[c·P + j, o] = M[c, o·P + j]");
            Assert.That(PatchLayout.FromPatchWeights(problem.PatchWeights, Positions), Is.EqualTo(data.ConsumerWeights));
            Assert.That(problem.Positions, Is.EqualTo(Positions));
            Assert.That(problem.OutputEnergy, IsFinite.EqualTo(scale, 1e-10 * scale));
            for (var c = 0; c < channels; c++)
            {
                Assert.That(problem.ContributionCross[c], IsFinite.EqualTo(Dot(x[c], y), 1e-10 * scale), $"b[{c}]");
                for (var d = 0; d < channels; d++)
                {
                    Assert.That(problem.ContributionGram[c, d], IsFinite.EqualTo(Dot(x[c], x[d]), 1e-10 * scale), $"K[{c}, {d}]");
                }
            }
        });
    }

    [TestCase(0.0)]
    [TestCase(0.4)]
    public void ThiNet_keeps_what_an_explicit_greedy_keeps_and_rescales_by_least_squares(double perturbation)
    {
        const int channels = 8;
        const int keep = 3;
        var data = ConvLayerData.Create(channels, 4, 15, seed: 11, perturbation);
        var y = data.Output;
        var x = Enumerable.Range(0, channels).Select(data.Contribution).ToArray();

        // The explicit greedy: repeatedly drop the channel whose removal leaves the smallest output error.
        var set = Enumerable.Range(0, channels).ToList();
        while (set.Count > keep)
        {
            var errors = set.Select(c => TestData.SquaredNorm(set.Where(d => d != c).Aggregate(y.Clone(), (r, d) => r - x[d]))).ToList();
            set.RemoveAt(errors.IndexOf(errors.Min()));
        }

        var result = new ThiNetLayerPruner(ridgeScale: 0).Prune(data.Request(keep));

        // The explicit rescaling: w = argmin ‖y − Σ w_i x_i‖² by the normal equations of the flattened contributions.
        var design = Matrix<double>.Build.DenseOfColumnVectors(set.Select(c => Vector<double>.Build.DenseOfEnumerable(x[c].Enumerate())));
        var target = Vector<double>.Build.DenseOfEnumerable(y.Enumerate());
        var w = design.TransposeThisAndMultiply(design).Solve(design.TransposeThisAndMultiply(target));
        var expectedWeights = Matrix<double>.Build.Dense(keep, data.ConsumerWeights.ColumnCount, (i, k) => w[i] * data.ConsumerWeights[set[i], k]);
        var expectedError = (target - (design * w)).DotProduct(target - (design * w)) / target.DotProduct(target);
        Assert.Multiple(() =>
        {
            Assert.That(result.KeptChannels, Is.EqualTo(set.ToArray()));
            Assert.That(TestData.RelativeError(result.ConsumerWeights, expectedWeights), IsFinite.LessThan(1e-8));
            Assert.That(result.RelativeOutputError, IsFinite.EqualTo(expectedError, 1e-8));
            Assert.That(result.Lambda, Is.Zero);
        });
    }

    [Test]
    public void ThiNet_without_propagation_is_the_papers_rule_on_the_removed_sum()
    {
        // With pruned = original, E(S) = ‖Σ_{c∉S} x_c‖²: on a tiny layer the greedy can be compared with that directly.
        var data = ConvLayerData.Create(5, 3, 10, seed: 12, perturbation: 0);
        var x = Enumerable.Range(0, 5).Select(data.Contribution).ToArray();
        var first = Enumerable.Range(0, 5).OrderBy(c => TestData.SquaredNorm(x[c])).First();
        var kept = new ThiNetLayerPruner().Prune(data.Request(4)).KeptChannels;
        Assert.That(kept, Is.EqualTo(Enumerable.Range(0, 5).Where(c => c != first).ToArray()));
    }

    [Test]
    public void Least_squares_rebuild_matches_an_explicit_normal_equations_solve()
    {
        var data = ConvLayerData.Create(6, 5, 30, seed: 21);
        var result = new ChannelPruningLayerPruner(ridgeScale: 0).Prune(data.Request(3));
        var features = result.KeptChannels.SelectMany(c => Enumerable.Range(c * Positions, Positions)).ToArray();
        var xs = TestData.Rows(data.PrunedPatches, features);
        var y = data.Output;

        // W′ = (X′X′ᵀ)⁻¹ X′Yᵀ, then M′[i, o·P + j] = W′[i·P + j, o].
        var solution = xs.TransposeAndMultiply(xs).Solve(xs.TransposeAndMultiply(y));
        var expected = Matrix<double>.Build.Dense(3, data.ConsumerWeights.ColumnCount, (i, k) => solution[(i * Positions) + (k % Positions), k / Positions]);
        var fit = solution.TransposeThisAndMultiply(xs);
        var expectedError = TestData.SquaredNorm(y - fit) / TestData.SquaredNorm(y);
        Assert.Multiple(() =>
        {
            Assert.That(TestData.RelativeError(result.ConsumerWeights, expected), IsFinite.LessThan(1e-8));
            Assert.That(result.RelativeOutputError, IsFinite.EqualTo(expectedError, 1e-8));
            Assert.That(result.RelativeEmbeddingError, Is.Null, "Channel Pruning recovers no embedding");
            Assert.That(result.ValidCapacity, Is.Null, "and estimates no capacity");
        });

        // ThiNet with filter rebuilding shares the same solve.
        var thiNet = new ThiNetLayerPruner(ridgeScale: 0, rebuildFilters: true).Prune(data.Request(3));
        var thiNetFeatures = thiNet.KeptChannels.SelectMany(c => Enumerable.Range(c * Positions, Positions)).ToArray();
        var xt = TestData.Rows(data.PrunedPatches, thiNetFeatures);
        var thiNetSolution = xt.TransposeAndMultiply(xt).Solve(xt.TransposeAndMultiply(y));
        var thiNetExpected = Matrix<double>.Build.Dense(3, data.ConsumerWeights.ColumnCount, (i, k) => thiNetSolution[(i * Positions) + (k % Positions), k / Positions]);
        Assert.That(TestData.RelativeError(thiNet.ConsumerWeights, thiNetExpected), IsFinite.LessThan(1e-8));
    }

    [Test]
    public void Too_few_patch_samples_refit_on_the_channel_statistics()
    {
        // 3 images x 10 locations = 30 patch samples for 3 kept channels x 9 positions = 27 unknowns: fewer than
        // two per unknown, where the patch fit would interpolate the samples; the channel ridge refit runs instead.
        var data = ConvLayerData.Create(6, 5, 3, seed: 23);
        var request = data.Request(3);
        var result = new ChannelPruningLayerPruner().Prune(request);
        var channel = new RidgeRecomposer(MathNetNumericBackend.Instance).Recompose(
            Embedding.Identity(data.ConsumerWeights, sparse: false), data.ConsumerWeights, data.ChannelStatistics, null, result.KeptChannels);
        Assert.Multiple(() =>
        {
            Assert.That(TestData.RelativeError(result.ConsumerWeights, channel.ConsumerWeights), IsFinite.LessThan(1e-12));
            Assert.That(result.RelativeOutputError, IsFinite.EqualTo(channel.RelativeOutputError, 1e-12));
        });

        // ThiNet's filter rebuild is the same patch solve and falls back the same way.
        var thiNet = new ThiNetLayerPruner(rebuildFilters: true).Prune(request);
        var thiNetChannel = new RidgeRecomposer(MathNetNumericBackend.Instance).Recompose(
            Embedding.Identity(data.ConsumerWeights, sparse: false), data.ConsumerWeights, data.ChannelStatistics, null, thiNet.KeptChannels);
        Assert.That(TestData.RelativeError(thiNet.ConsumerWeights, thiNetChannel.ConsumerWeights), IsFinite.LessThan(1e-12));

        // With enough samples (30 images) the patch rebuild runs, and its weights differ from the channel refit.
        var more = ConvLayerData.Create(6, 5, 30, seed: 23);
        var patchResult = new ChannelPruningLayerPruner().Prune(more.Request(3));
        var channelRefit = new RidgeRecomposer(MathNetNumericBackend.Instance).Recompose(
            Embedding.Identity(more.ConsumerWeights, sparse: false), more.ConsumerWeights, more.ChannelStatistics, null, patchResult.KeptChannels);
        Assert.That(TestData.RelativeError(patchResult.ConsumerWeights, channelRefit.ConsumerWeights), IsFinite.GreaterThan(1e-6));
    }

    [Test]
    public void Ridge_rebuild_uses_the_scaled_lambda()
    {
        var data = ConvLayerData.Create(6, 5, 30, seed: 22);
        var result = new ChannelPruningLayerPruner(ridgeScale: 1e-2).Prune(data.Request(4));
        var features = result.KeptChannels.SelectMany(c => Enumerable.Range(c * Positions, Positions)).ToArray();
        var xs = TestData.Rows(data.PrunedPatches, features);
        var g = xs.TransposeAndMultiply(xs);
        var lambda = 1e-2 * g.Trace() / features.Length;
        var solution = (g + (lambda * Matrix<double>.Build.DenseIdentity(features.Length))).Solve(xs.TransposeAndMultiply(data.Output));
        Assert.Multiple(() =>
        {
            Assert.That(result.Lambda, IsFinite.EqualTo(lambda, 1e-12 * lambda));
            Assert.That(TestData.RelativeError(PatchLayout.ToPatchWeights(result.ConsumerWeights, Positions), solution), IsFinite.LessThan(1e-8));
        });
    }

    [Test]
    public void Channel_pruning_keeps_exactly_the_requested_count()
    {
        var data = ConvLayerData.Create(10, 4, 20, seed: 31);
        var request = data.Request(1);
        var problem = PatchContributions.Create(request, Ldrf.Numerics.MathNetNumericBackend.Instance, "test");
        var norms = Vector<double>.Build.Dense(10, c => data.ConsumerWeights.Row(c).L2Norm());
        var pruner = new ChannelPruningLayerPruner();
        var exactHits = 0;
        for (var keep = 1; keep <= 10; keep++)
        {
            var result = pruner.Prune(data.Request(keep));
            Assert.That(result.KeptChannels, Has.Length.EqualTo(keep).And.Ordered.And.Unique, $"keep = {keep}");
            var (kept, _, exact) = LassoChannelSelection.Select(problem.ContributionGram, problem.ContributionCross, problem.OutputEnergy, norms, keep);
            Assert.That(kept, Is.EqualTo(result.KeptChannels));
            exactHits += exact ? 1 : 0;
        }

        // Every count below C is reached by the penalty search itself, not by the fallback ranking.
        Assert.That(exactHits, Is.EqualTo(9));
    }

    [Test]
    public void Lasso_solution_satisfies_its_optimality_conditions()
    {
        var data = ConvLayerData.Create(7, 3, 15, seed: 41, perturbation: 0.5);
        var x = Enumerable.Range(0, 7).Select(c => data.Contribution(c) / data.ConsumerWeights.Row(c).L2Norm()).ToArray();
        var y = data.Output;
        var kt = Matrix<double>.Build.Dense(7, 7, (c, d) => Dot(x[c], x[d]));
        var bt = Vector<double>.Build.Dense(7, c => Dot(x[c], y));
        var alpha = 0.2 * bt.AbsoluteMaximum();
        var beta = Vector<double>.Build.Dense(7);
        var gradient = Vector<double>.Build.Dense(7);
        LassoChannelSelection.Solve(kt, bt, Enumerable.Range(0, 7).ToArray(), alpha, beta, gradient, 1e-20 * TestData.SquaredNorm(y), CancellationToken.None);
        var residual = bt - (kt * beta);
        Assert.Multiple(() =>
        {
            Assert.That(beta.Count(v => v != 0), Is.InRange(1, 6), "the penalty should zero some but not all coefficients");
            for (var c = 0; c < 7; c++)
            {
                if (beta[c] == 0)
                {
                    Assert.That(Math.Abs(residual[c]), IsFinite.AtMost(alpha * (1 + 1e-6)), $"zero coefficient {c}");
                }
                else
                {
                    Assert.That(residual[c], IsFinite.EqualTo(alpha * Math.Sign(beta[c]), 1e-6 * alpha), $"non-zero coefficient {c}");
                }
            }
        });
    }

    [Test]
    public void Channel_pruning_drops_channels_that_are_pure_noise_for_the_output()
    {
        int[] noise = [1, 4, 6];
        var data = ConvLayerData.Create(9, 4, 25, seed: 51, perturbation: 0.05, noiseChannels: noise);
        var result = new ChannelPruningLayerPruner().Prune(data.Request(6));
        var thiNet = new ThiNetLayerPruner().Prune(data.Request(6));
        int[] signal = [0, 2, 3, 5, 7, 8];
        Assert.Multiple(() =>
        {
            Assert.That(result.KeptChannels, Is.EqualTo(signal));
            Assert.That(thiNet.KeptChannels, Is.EqualTo(signal));
            Assert.That(result.RelativeOutputError, IsFinite.LessThan(0.05));
        });
    }

    [Test]
    public void Output_aware_baselines_beat_slicing_and_leave_their_inputs_alone()
    {
        var data = ConvLayerData.Create(10, 6, 30, seed: 61);
        var request = data.Request(5);
        var m = request.ConsumerWeights.Clone();
        var patchGram = request.PatchStatistics!.PrunedGram;
        var thiNet = new ThiNetLayerPruner().Prune(request);
        var cp = new ChannelPruningLayerPruner().Prune(request);

        // Each method's channels with the consumer merely sliced, scored on the same patches.
        var stats = request.PatchStatistics!;
        var problem = PatchContributions.Create(request, Ldrf.Numerics.MathNetNumericBackend.Instance, "test");
        var cpSliced = problem.RelativeError(cp.KeptChannels, Vector<double>.Build.Dense(5, 1.0));
        var thiNetSliced = problem.RelativeError(thiNet.KeptChannels, Vector<double>.Build.Dense(5, 1.0));
        TestContext.Out.WriteLine($"ThiNet {thiNet.RelativeOutputError:G4} (its channels sliced {thiNetSliced:G4}), CP {cp.RelativeOutputError:G4} (sliced {cpSliced:G4})");
        Assert.That(new[] { thiNet.RelativeOutputError, cp.RelativeOutputError, thiNetSliced, cpSliced }, IsFinite.Number, "ThiNet, CP, both sliced");
        Assert.Multiple(() =>
        {
            Assert.That(cp.RelativeOutputError, IsFinite.LessThan(cpSliced));
            Assert.That(thiNet.RelativeOutputError, IsFinite.LessThan(thiNetSliced));
            // Channel Pruning refits the whole k x k patch of each kept channel; ThiNet only rescales its channels.
            Assert.That(cp.RelativeOutputError, IsFinite.LessThan(thiNet.RelativeOutputError));
            Assert.That(request.ConsumerWeights, Is.EqualTo(m));
            Assert.That(stats.PrunedGram, Is.EqualTo(patchGram));
            Assert.That(new ChannelPruningLayerPruner().Prune(request).ConsumerWeights, Is.EqualTo(cp.ConsumerWeights), "reproducible");
        });
    }

    [Test]
    public void Keeping_every_channel_refits_without_loss_when_nothing_was_pruned()
    {
        var data = ConvLayerData.Create(5, 3, 20, seed: 71, perturbation: 0);
        var request = new LayerPruningRequest("l", data.ConsumerWeights, data.ChannelStatistics) { PatchStatistics = data.PatchStatistics };
        var cp = new ChannelPruningLayerPruner(ridgeScale: 0).Prune(request);
        var thiNet = new ThiNetLayerPruner(ridgeScale: 0).Prune(request);
        Assert.Multiple(() =>
        {
            Assert.That(cp.KeptChannels, Is.EqualTo(new[] { 0, 1, 2, 3, 4 }));
            Assert.That(TestData.RelativeError(cp.ConsumerWeights, data.ConsumerWeights), IsFinite.LessThan(1e-6));
            Assert.That(thiNet.RelativeOutputError, IsFinite.LessThan(1e-12));
            Assert.That(TestData.RelativeError(thiNet.ConsumerWeights, data.ConsumerWeights), IsFinite.LessThan(1e-8));
        });
    }

    [Test]
    public void Cancellation_is_honoured()
    {
        var data = ConvLayerData.Create(5, 3, 5, seed: 81);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Multiple(() =>
        {
            Assert.That(() => new ThiNetLayerPruner().Prune(data.Request(2), cts.Token), Throws.InstanceOf<OperationCanceledException>());
            Assert.That(() => new ChannelPruningLayerPruner().Prune(data.Request(2), cts.Token), Throws.InstanceOf<OperationCanceledException>());
        });
    }
}
