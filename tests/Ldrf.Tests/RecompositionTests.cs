using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests;

public class RecompositionTests
{
    private static readonly INumericBackend Backend = MathNetNumericBackend.Instance;
    private static readonly int[] Kept = [0, 2, 3, 5, 6, 8];

    // Pruned activations differ from the original ones, as after propagation.
    private readonly Matrix<double> _original = TestData.Activations(10, 300, seed: 21);
    private Matrix<double> Pruned => (_original + (0.3 * TestData.Gaussian(10, 300, seed: 22))).PointwiseMaximum(0.0);

    private Embedding Embedding(int rank) =>
        new WeightSvdDecomposer(Backend).Decompose(TestData.Gaussian(10, 14, seed: 23), TestData.Stats(_original, _original), RankRule.Fixed(rank));

    [TestCase(0.0)]
    [TestCase(3.0)]
    [TestCase(250.0)]
    public void Ridge_solution_matches_independent_normal_equations_and_augmented_least_squares(double lambda)
    {
        var pruned = Pruned;
        var embedding = Embedding(5);
        var result = new RidgeRecomposer(Backend, lambda: lambda).Fit(embedding, TestData.Stats(pruned, _original), Kept);

        var survivors = TestData.Rows(pruned, Kept);
        var target = _original.TransposeThisAndMultiply(embedding.Basis);
        var normal = (survivors.TransposeAndMultiply(survivors) + (lambda * Matrix<double>.Build.DenseIdentity(Kept.Length))).Inverse()
            * (survivors * target);
        var stacked = survivors.Transpose().Stack(Math.Sqrt(lambda) * Matrix<double>.Build.DenseIdentity(Kept.Length));
        var qr = stacked.QR().Solve(target.Stack(Matrix<double>.Build.Dense(Kept.Length, embedding.Rank)));
        Assert.Multiple(() =>
        {
            Assert.That(result.Lambda, Is.EqualTo(lambda));
            Assert.That(result.KeptChannels, Is.EqualTo(Kept));
            Assert.That(TestData.RelativeError(result.EmbeddingMap, normal), IsFinite.LessThan(1e-10));
            Assert.That(TestData.RelativeError(result.EmbeddingMap, qr), IsFinite.LessThan(1e-10));
            Assert.That(TestData.RelativeError(result.ConsumerWeights, result.EmbeddingMap * embedding.Reader), IsFinite.LessThan(1e-14));
        });
    }

    [Test]
    public void Lambda_to_zero_recovers_least_squares_on_well_conditioned_data()
    {
        var pruned = Pruned;
        var embedding = Embedding(5);
        var stats = TestData.Stats(pruned, _original);
        var leastSquares = TestData.Rows(pruned, Kept).Transpose().QR().Solve(_original.TransposeThisAndMultiply(embedding.Basis));
        var previous = double.MaxValue;
        foreach (var scale in new[] { 1e-2, 1e-4, 1e-6, 1e-9 })
        {
            var error = TestData.RelativeError(new RidgeRecomposer(Backend, scale).Fit(embedding, stats, Kept).EmbeddingMap, leastSquares);
            Assert.That(error, IsFinite.LessThan(previous), $"scale {scale}");
            previous = error;
        }

        Assert.That(previous, IsFinite.LessThan(1e-8));
    }

    [Test]
    public void Default_lambda_scales_with_the_trace_of_G()
    {
        var pruned = Pruned;
        var result = new RidgeRecomposer(Backend).Fit(Embedding(4), TestData.Stats(pruned, _original), Kept);
        var survivors = TestData.Rows(pruned, Kept);
        var expected = RidgeRecomposer.DefaultRidgeScale * survivors.TransposeAndMultiply(survivors).Trace() / Kept.Length;
        Assert.That(result.Lambda, IsFinite.EqualToWithinPercent(expected, 1e-12));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Embedding_error_from_the_grams_equals_the_explicit_error(bool intercept)
    {
        var pruned = Pruned;
        var embedding = Embedding(4);
        var result = new RidgeRecomposer(Backend, lambda: 2.0, fitIntercept: intercept).Fit(embedding, TestData.Stats(pruned, _original), Kept);
        var reference = embedding.Basis.TransposeThisAndMultiply(_original);
        var fit = result.EmbeddingMap.TransposeThisAndMultiply(TestData.Rows(pruned, Kept));
        if (intercept)
        {
            // Recover c from the bias correction: R has full row rank, so c = (R Rᵀ)⁻¹ R b.
            var reader = embedding.Reader;
            var c = (reader.TransposeAndMultiply(reader)).Solve(reader * result.BiasCorrection!);
            for (var j = 0; j < fit.ColumnCount; j++)
            {
                fit.SetColumn(j, fit.Column(j) + c);
            }
        }

        var explicitError = TestData.SquaredNorm(reference - fit) / TestData.SquaredNorm(reference);
        Assert.Multiple(() =>
        {
            Assert.That(result.BiasCorrection is null, Is.EqualTo(!intercept));
            Assert.That(explicitError, IsFinite.GreaterThan(1e-3), "the test needs a real error");
            Assert.That(result.RelativeEmbeddingError, IsFinite.EqualTo(explicitError, 1e-9));
        });
    }

    [Test]
    public void Intercept_matches_augmented_least_squares()
    {
        var pruned = Pruned;
        var embedding = Embedding(4);
        var result = new RidgeRecomposer(Backend, lambda: 0, fitIntercept: true).Fit(embedding, TestData.Stats(pruned, _original), Kept);
        var design = TestData.Rows(pruned, Kept).Transpose().Append(Matrix<double>.Build.Dense(300, 1, 1.0));
        var solution = design.QR().Solve(_original.TransposeThisAndMultiply(embedding.Basis));
        var q = solution.SubMatrix(0, Kept.Length, 0, 4);
        var c = solution.Row(Kept.Length);
        Assert.Multiple(() =>
        {
            Assert.That(TestData.RelativeError(result.EmbeddingMap, q), IsFinite.LessThan(1e-9));
            Assert.That((result.BiasCorrection! - embedding.Reader.TransposeThisAndMultiply(c)).L2Norm(), IsFinite.LessThan(1e-9 * c.L2Norm() * embedding.Reader.FrobeniusNorm()));
        });
    }

    [TestCase(EmbeddingKind.WeightSvd)]
    [TestCase(EmbeddingKind.ActivationPca)]
    [TestCase(EmbeddingKind.ResponseAware)]
    public void Full_rank_ldrf_equals_least_squares_from_the_same_survivors(EmbeddingKind kind)
    {
        var pruned = Pruned;
        var stats = TestData.Stats(pruned, _original);
        var m = TestData.Gaussian(10, 14, seed: 24);
        var options = new LdrfOptions { Embedding = kind, Lambda = 1e-10 };
        var recomposer = new RidgeRecomposer(Backend, lambda: options.Lambda);
        var ldrf = new LdrfLayerPruner(options, LdrfComponents.CreateDecomposer(kind, Backend), new RandomSelector(5), recomposer);
        var leastSquares = new LeastSquaresLayerPruner(new RandomSelector(5), recomposer);
        var request = new LayerPruningRequest("layer", m, stats) { KeepCount = 6, Rank = 10 };
        var a = ldrf.Prune(request);
        var b = leastSquares.Prune(request);
        var explicitLs = TestData.Rows(pruned, a.KeptChannels).Transpose().QR().Solve(_original.TransposeThisAndMultiply(m));
        Assert.Multiple(() =>
        {
            Assert.That(a.KeptChannels, Is.EqualTo(b.KeptChannels));
            Assert.That(TestData.RelativeError(a.ConsumerWeights, b.ConsumerWeights), IsFinite.LessThan(1e-9));
            Assert.That(TestData.RelativeError(a.ConsumerWeights, explicitLs), IsFinite.LessThan(1e-8));
            Assert.That(a.RelativeOutputError, IsFinite.EqualTo(b.RelativeOutputError, 1e-9));
        });
    }
}
