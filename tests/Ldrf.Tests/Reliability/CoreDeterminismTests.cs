using Ldrf.Baselines;
using Ldrf.Decomposition;
using Ldrf.Selection;

namespace Ldrf.Tests.Reliability;

/// <summary>The same seed and inputs give bit-identical results from the core's pruners.</summary>
[Category("Reliability")]
public class CoreDeterminismTests
{
    private static LayerPruningRequest Request()
    {
        var a = TestData.Activations(12, 300, seed: 21);
        var pruned = a.Map(v => v * 0.9);
        return new LayerPruningRequest("features.3", TestData.Gaussian(12, 27, 22), TestData.Stats(pruned, a))
        {
            KeepCount = 7,
            ProducerWeights = TestData.Gaussian(12, 18, 23),
        };
    }

    private static void AssertSameBits(LayerPruningResult second, LayerPruningResult first)
    {
        Assert.That(second.KeptChannels, Is.EqualTo(first.KeptChannels));
        Assert.That(second.ConsumerWeights.ToColumnMajorArray().Select(BitConverter.DoubleToInt64Bits),
            Is.EqualTo(first.ConsumerWeights.ToColumnMajorArray().Select(BitConverter.DoubleToInt64Bits)));
        Assert.That(second.BiasCorrection?.Select(BitConverter.DoubleToInt64Bits), Is.EqualTo(first.BiasCorrection?.Select(BitConverter.DoubleToInt64Bits)));
    }

    [TestCase(EmbeddingKind.WeightSvd, SelectionKind.EmbeddingEnergy)]
    [TestCase(EmbeddingKind.ActivationPca, SelectionKind.EmbeddingEnergy)]
    [TestCase(EmbeddingKind.ResponseAware, SelectionKind.Random)]
    public void Ldrf_with_the_same_seed_gives_bit_identical_weights(EmbeddingKind embedding, SelectionKind selection)
    {
        LayerPruningResult Run() => new LdrfLayerPruner(new LdrfOptions { Embedding = embedding, Selection = selection, Seed = 5 }).Prune(Request());
        AssertSameBits(Run(), Run());
    }

    [Test]
    public void Random_selection_depends_on_the_seed_only()
    {
        int[] Kept(int seed) => new LdrfLayerPruner(new LdrfOptions { Selection = SelectionKind.Random, Seed = seed }).Prune(Request()).KeptChannels;
        Assert.That(Kept(5), Is.EqualTo(Kept(5)));
        Assert.That(Enumerable.Range(6, 5).Any(seed => !Kept(seed).SequenceEqual(Kept(5))), Is.True, "other seeds pick other channels (the test can fail)");
    }

    [TestCase(BaselineKind.L1Norm)]
    [TestCase(BaselineKind.RandomLeastSquares)]
    [TestCase(BaselineKind.ThiNet)]
    [TestCase(BaselineKind.ChannelPruning)]
    public void Baselines_with_the_same_seed_give_bit_identical_weights(BaselineKind kind)
    {
        var data = Baselines.ConvLayerData.Create(6, 3, 5, seed: 8);
        LayerPruningResult Run() => BaselinePruners.Create(kind, new BaselineOptions { Seed = 3 }).Prune(
            new LayerPruningRequest("features.3", data.ConsumerWeights, data.ChannelStatistics)
            {
                KeepCount = 3,
                PatchStatistics = data.PatchStatistics,
                ProducerWeights = TestData.Gaussian(6, 9, 4),
            });
        AssertSameBits(Run(), Run());
    }
}
