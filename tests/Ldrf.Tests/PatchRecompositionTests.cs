using Ldrf.Recomposition;
using Ldrf.Tests.Baselines;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests;

/// <summary>LDRF's patch recomposition against explicit least squares on unfolded 3 x 3 patches.</summary>
public class PatchRecompositionTests
{
    private const int Positions = ConvLayerData.Positions;

    private static LdrfLayerPruner Pruner(RecompositionKind kind, double energy = 1.0) =>
        new(new LdrfOptions { Recomposition = kind, EnergyThreshold = energy, RidgeScale = 0 });

    // ‖y − W′ᵀp′_S‖² / ‖y‖² computed from the explicit patches.
    private static double OutputError(ConvLayerData data, LayerPruningResult result)
    {
        var features = result.KeptChannels.SelectMany(c => Enumerable.Range(c * Positions, Positions)).ToArray();
        var fitted = PatchLayout.ToPatchWeights(result.ConsumerWeights, Positions).TransposeThisAndMultiply(TestData.Rows(data.PrunedPatches, features));
        return TestData.SquaredNorm(data.Output - fitted) / TestData.SquaredNorm(data.Output);
    }

    [TestCase(8, 5, 3)]
    [TestCase(10, 4, 6)]
    public void At_full_rank_it_is_least_squares_of_the_consumers_output_over_the_survivors_patches(int channels, int outputs, int keep)
    {
        var data = ConvLayerData.Create(channels, outputs, images: 30, seed: channels);
        var result = Pruner(RecompositionKind.Patch).Prune(data.Request(keep));

        var features = result.KeptChannels.SelectMany(c => Enumerable.Range(c * Positions, Positions)).ToArray();
        var xs = TestData.Rows(data.PrunedPatches, features);
        var solution = xs.TransposeAndMultiply(xs).Solve(xs.TransposeAndMultiply(data.Output));
        Assert.Multiple(() =>
        {
            Assert.That(TestData.RelativeError(PatchLayout.ToPatchWeights(result.ConsumerWeights, Positions), solution), IsFinite.LessThan(1e-8));
            Assert.That(result.RelativeOutputError, IsFinite.EqualTo(OutputError(data, result), 1e-8), "the reported error is the explicit one");
            Assert.That(result.BiasCorrection, Is.Null);
        });
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void Patches_reconstruct_the_output_better_than_channels_from_the_same_survivors(int seed)
    {
        var data = ConvLayerData.Create(12, 6, images: 25, seed, perturbation: 0.4);
        var patch = Pruner(RecompositionKind.Patch, energy: 0.999).Prune(data.Request(5));
        var channel = Pruner(RecompositionKind.Channel, energy: 0.999).Prune(data.Request(5));
        Assert.That(patch.KeptChannels, Is.EqualTo(channel.KeptChannels), "the recomposition does not change the selection");

        // Patch least squares minimizes exactly this error over a model that contains the channel solution.
        var patchError = OutputError(data, patch);
        var channelError = OutputError(data, channel);
        Assert.That(patchError, IsFinite.LessThan(channelError * 0.9), $"patch {patchError:0.0000} vs. channel {channelError:0.0000}");
    }

    [Test]
    public void Without_patch_statistics_it_falls_back_to_the_channel_recomposition()
    {
        var data = ConvLayerData.Create(8, 4, images: 20, seed: 5);
        var request = new LayerPruningRequest("features.3", data.ConsumerWeights, data.ChannelStatistics) { KeepCount = 4 };
        var patch = Pruner(RecompositionKind.Patch, 0.999).Prune(request);
        var channel = Pruner(RecompositionKind.Channel, 0.999).Prune(request);
        Assert.Multiple(() =>
        {
            Assert.That(patch.ConsumerWeights, Is.EqualTo(channel.ConsumerWeights));
            Assert.That(((ILayerPruner)Pruner(RecompositionKind.Patch)).UsesPatchStatistics, Is.True);
            Assert.That(((ILayerPruner)Pruner(RecompositionKind.Channel)).UsesPatchStatistics, Is.False);
        });
    }

    [Test]
    public void Patch_statistics_are_wanted_only_where_they_would_be_used()
    {
        ILayerPruner patch = Pruner(RecompositionKind.Patch);
        ILayerPruner channel = Pruner(RecompositionKind.Channel);

        // 8 channels of 3 x 3 patches (72 features), 4 kept: 4 x 9 = 36 unknowns need 2 x 36 = 72 samples.
        Assert.Multiple(() =>
        {
            Assert.That(patch.UsesPatchStatisticsFor(8, 72, 72, 4), Is.True);
            Assert.That(patch.UsesPatchStatisticsFor(8, 72, 71, 4), Is.False, "below the minimum it would fall back to channels");
            Assert.That(channel.UsesPatchStatisticsFor(8, 72, 1_000_000, 4), Is.False);
        });

        // And Prune agrees: where the statistics are not wanted, it falls back to the channel recomposition.
        var outcomes = new List<bool>();
        foreach (var images in new[] { 1, 2, 30 })
        {
            var data = ConvLayerData.Create(8, 4, images, seed: 5);
            var request = new LayerPruningRequest("features.3", data.ConsumerWeights, data.ChannelStatistics) { KeepCount = 4, PatchStatistics = data.PatchStatistics };
            var wanted = patch.UsesPatchStatisticsFor(8, data.PatchStatistics.Channels, data.PatchStatistics.SampleCount, 4);
            var used = !patch.Prune(request).ConsumerWeights.Equals(channel.Prune(request).ConsumerWeights);
            Assert.That(used, Is.EqualTo(wanted), $"{images} image(s), {data.PatchStatistics.SampleCount} patch samples");
            outcomes.Add(wanted);
        }

        Assert.That(outcomes, Does.Contain(true).And.Contain(false), "both sides of the threshold are exercised");
    }

    [Test]
    public void Patch_statistics_that_do_not_fit_the_layer_are_refused_by_name()
    {
        var data = ConvLayerData.Create(8, 4, images: 20, seed: 5);
        var wrong = new LayerPruningRequest("features.3", data.ConsumerWeights, data.ChannelStatistics)
        {
            KeepCount = 4,
            PatchStatistics = TestData.Stats(TestData.Activations(20, 50, 1), TestData.Activations(20, 50, 2)),
        };
        var e = Assert.Throws<ArgumentException>(() => Pruner(RecompositionKind.Patch).Prune(wrong));
        Assert.That(e!.Message, Does.Contain("features.3").And.Contain("20 features").And.Contain("C = 8"));
        Assert.That(e.ParamName, Is.EqualTo("request"), "the caller's argument, not the recomposer's");
    }

    [TestCase(8, 5, 3)]
    [TestCase(10, 4, 6)]
    public void With_an_intercept_it_is_least_squares_with_a_constant_input_over_the_survivors_patches(int channels, int outputs, int keep)
    {
        var data = ConvLayerData.Create(channels, outputs, images: 30, seed: channels + 1);
        var pruner = new LdrfLayerPruner(new LdrfOptions { EnergyThreshold = 1.0, RidgeScale = 0, FitIntercept = true });
        var result = pruner.Prune(data.Request(keep));

        var features = result.KeptChannels.SelectMany(c => Enumerable.Range(c * Positions, Positions)).ToArray();
        var xs = TestData.Rows(data.PrunedPatches, features);
        var design = xs.Transpose().Append(Matrix<double>.Build.Dense(xs.ColumnCount, 1, 1.0));
        var solution = design.QR().Solve(data.Output.Transpose());
        var weights = solution.SubMatrix(0, features.Length, 0, outputs);
        var intercept = solution.Row(features.Length);
        var fitted = (weights.TransposeThisAndMultiply(xs) + Matrix<double>.Build.Dense(outputs, xs.ColumnCount, (o, _) => intercept[o]));
        var explicitError = TestData.SquaredNorm(data.Output - fitted) / TestData.SquaredNorm(data.Output);

        // The consumer's bias gains the sum of each output's P entries: the intercept sits in the first.
        var bias = result.BiasCorrection!;
        var folded = Vector<double>.Build.Dense(outputs, o => Enumerable.Range(0, Positions).Sum(j => bias[(o * Positions) + j]));
        Assert.Multiple(() =>
        {
            Assert.That(TestData.RelativeError(PatchLayout.ToPatchWeights(result.ConsumerWeights, Positions), weights), IsFinite.LessThan(1e-8));
            Assert.That((folded - intercept).L2Norm(), IsFinite.LessThan(1e-8 * intercept.L2Norm()));
            Assert.That(intercept.L2Norm(), IsFinite.GreaterThan(0), "the data have an offset to fit");
            Assert.That(result.RelativeOutputError, IsFinite.EqualTo(explicitError, 1e-8), "the reported error includes the intercept");
            Assert.That(result.RelativeOutputError, IsFinite.LessThan(OutputError(data, Pruner(RecompositionKind.Patch).Prune(data.Request(keep)))),
                "the intercept lowers the error of the same survivors");
        });
    }
}
