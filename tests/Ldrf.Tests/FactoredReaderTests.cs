using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests;

/// <summary>A huge consumer's reader is kept as T M (EmbeddingReader): every product through it must be the formed reader's.</summary>
public class FactoredReaderTests
{
    private static readonly INumericBackend Backend = MathNetNumericBackend.Instance;

    [Test]
    public void Factored_reader_gives_the_products_of_the_formed_reader()
    {
        var map = TestData.Gaussian(3, 5, seed: 1);
        var weights = TestData.Gaussian(5, 40, seed: 2);
        var factored = EmbeddingReader.Factored(Backend, map, weights, weightsGram: null);
        var formed = EmbeddingReader.Formed(map * weights);
        var left = TestData.Gaussian(4, 3, seed: 3);
        var v = Vector<double>.Build.Dense(3, i => i + 1.0);
        Assert.Multiple(() =>
        {
            Assert.That(factored.IsFactored && !formed.IsFactored, Is.True);
            Assert.That((factored.Rows, factored.Columns), Is.EqualTo((3, 40)));
            Assert.That(TestData.RelativeError(factored.Gram(Backend), formed.Gram(Backend)), IsFinite.LessThan(1e-12));
            Assert.That(TestData.RelativeError(factored.LeftMultiply(Backend, left), formed.LeftMultiply(Backend, left)), IsFinite.LessThan(1e-12));
            Assert.That((factored.TransposeMultiply(v) - formed.TransposeMultiply(v)).L2Norm() / formed.TransposeMultiply(v).L2Norm(), IsFinite.LessThan(1e-12));
            Assert.That(TestData.RelativeError(factored.Matrix, map * weights), IsFinite.LessThan(1e-12));
            Assert.That(formed.MapThrough(Backend, left), Is.Null);
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Output_error_of_a_mapped_fit_is_the_general_formula(bool intercept)
    {
        var original = TestData.Activations(6, 200, seed: 4);
        var pruned = (original + (0.2 * TestData.Gaussian(6, 200, seed: 5))).PointwiseMaximum(0.0);
        var statistics = TestData.Stats(pruned, original);
        int[] kept = [0, 2, 5];
        var target = TestData.Gaussian(6, 30, seed: 6);
        var map = TestData.Gaussian(3, 6, seed: 7);
        var c = intercept ? Vector<double>.Build.Dense(30, i => 0.01 * (i - 15)) : null;
        var general = GramError.Relative(Backend, statistics, kept, target, map * target, c);
        var mapped = GramError.RelativeOfMap(Backend, statistics, kept, target, target.TransposeAndMultiply(target), map, c);
        Assert.Multiple(() =>
        {
            Assert.That(general, IsFinite.GreaterThan(0.01), "a fit far from the target");
            Assert.That(mapped, IsFinite.EqualTo(general, 1e-10 * general));
        });
    }

    // 16 x 2^20 weights: the smallest wide consumer kept factored (128 MB in float64).
    [TestCase(EmbeddingKind.WeightSvd)]
    [TestCase(EmbeddingKind.ResponseAware)]
    public void A_huge_consumer_is_selected_and_recomposed_through_its_factors_as_through_the_formed_reader(EmbeddingKind kind)
    {
        const int channels = 16;
        var weights = Matrix<double>.Build.Dense(channels, (int)(EmbeddingReader.FactoredElements / channels), (i, j) => Math.Sin((0.37 * i) + (1e-3 * j * (i + 1))));
        Assert.That(EmbeddingReader.IsHuge(weights), Is.True);
        var original = TestData.Activations(channels, 300, seed: 8);
        var pruned = (original + (0.2 * TestData.Gaussian(channels, 300, seed: 9))).PointwiseMaximum(0.0);
        var statistics = TestData.Stats(pruned, original);
        var factored = LdrfComponents.CreateDecomposer(kind, Backend).Decompose(weights, statistics, RankRule.Fixed(12));
        var formed = new Embedding(kind, factored.Basis, factored.Reader, factored.Spectrum);
        var selector = new GreedyResponseSelector(Backend);
        var kept = selector.Select(new SelectionContext("huge", weights, statistics, factored), 10);
        var recomposer = new RidgeRecomposer(Backend, fitIntercept: true);
        var viaFactors = recomposer.Recompose(factored, weights, statistics, null, kept, "huge");
        var viaReader = recomposer.Recompose(formed, weights, statistics, null, kept, "huge");
        Assert.Multiple(() =>
        {
            Assert.That(factored.ReaderParts.IsFactored && !formed.ReaderParts.IsFactored, Is.True);
            Assert.That(kept, Is.EqualTo(selector.Select(new SelectionContext("huge", weights, statistics, formed), 10)));
            Assert.That(TestData.RelativeError(viaFactors.ConsumerWeights, viaReader.ConsumerWeights), IsFinite.LessThan(1e-9));
            Assert.That((viaFactors.BiasCorrection! - viaReader.BiasCorrection!).L2Norm() / viaReader.BiasCorrection!.L2Norm(), IsFinite.LessThan(1e-9));
            Assert.That(viaFactors.RelativeOutputError, IsFinite.EqualTo(viaReader.RelativeOutputError, 1e-9));
            Assert.That(viaFactors.RelativeOutputError, IsFinite.GreaterThan(0.0), "ten of sixteen channels cannot reproduce the response exactly");
        });
    }
}
