using Ldrf.Decomposition;
using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests;

public class DecompositionTests
{
    private static readonly INumericBackend Backend = MathNetNumericBackend.Instance;

    private static IEnumerable<IEmbeddingDecomposer> Decomposers() =>
        Enum.GetValues<EmbeddingKind>().Select(k => LdrfComponents.CreateDecomposer(k, Backend));

    [TestCaseSource(nameof(Decomposers))]
    public void Full_rank_reconstructs_the_consumer_exactly(IEmbeddingDecomposer decomposer)
    {
        var m = TestData.Gaussian(8, 15, seed: 1);
        var a = TestData.Activations(8, 100, seed: 2);
        var embedding = decomposer.Decompose(m, TestData.Stats(a, a), RankRule.Fixed(8));
        Assert.Multiple(() =>
        {
            Assert.That(embedding.Kind, Is.EqualTo(decomposer.Kind));
            Assert.That(embedding.Rank, Is.EqualTo(8));
            Assert.That(TestData.RelativeError(embedding.Basis * embedding.Reader, m), IsFinite.LessThan(1e-10));
        });
    }

    [Test]
    public void Weight_svd_capacity_is_the_rank_of_a_low_rank_consumer()
    {
        var m = TestData.Gaussian(10, 3, seed: 3) * TestData.Gaussian(3, 20, seed: 4);
        var a = TestData.Activations(10, 30, seed: 5);
        var embedding = new WeightSvdDecomposer(Backend).Decompose(m, TestData.Stats(a, a), RankRule.Energy(0.999999));
        Assert.Multiple(() =>
        {
            Assert.That(embedding.Rank, Is.EqualTo(3));
            Assert.That(TestData.RelativeError(embedding.Basis * embedding.Reader, m), IsFinite.LessThan(1e-12));
            Assert.That(embedding.Basis.TransposeThisAndMultiply(embedding.Basis), Is.EqualTo(Matrix<double>.Build.DenseIdentity(3)).Using<Matrix<double>>((x, y) => (x - y).FrobeniusNorm() < 1e-12));
        });
    }

    [Test]
    public void Response_aware_is_the_best_rank_r_approximation_of_the_response()
    {
        // Correlated, unevenly scaled channels so the three embeddings really differ.
        var mix = TestData.Gaussian(10, 10, seed: 6) + (2 * Matrix<double>.Build.DenseIdentity(10));
        var a = (mix * TestData.Activations(10, 400, seed: 7)).PointwiseMaximum(0.0);
        var stats = TestData.Stats(a, a);
        var m = TestData.Gaussian(10, 12, seed: 8);
        const int rank = 4;
        var errors = Enum.GetValues<EmbeddingKind>().ToDictionary(k => k, k =>
        {
            var e = LdrfComponents.CreateDecomposer(k, Backend).Decompose(m, stats, RankRule.Fixed(rank));
            return TestData.SquaredNorm(((m - (e.Basis * e.Reader)).Transpose()) * a);
        });
        TestContext.Out.WriteLine(string.Join(", ", errors.Select(kv => $"{kv.Key}: {kv.Value:G4}")));
        Assert.Multiple(() =>
        {
            Assert.That(errors[EmbeddingKind.ResponseAware], IsFinite.LessThan(errors[EmbeddingKind.WeightSvd]));
            Assert.That(errors[EmbeddingKind.ResponseAware], IsFinite.LessThan(errors[EmbeddingKind.ActivationPca]));
        });
    }

    [Test]
    public void Spectra_are_descending_and_pca_spectrum_is_the_root_of_the_covariance_eigenvalues()
    {
        var m = TestData.Gaussian(6, 9, seed: 9);
        var a = TestData.Activations(6, 50, seed: 10);
        var stats = TestData.Stats(a, a);
        var pca = new ActivationPcaDecomposer(Backend).Decompose(m, stats, RankRule.Full);
        var eigen = (a.TransposeAndMultiply(a) / 50).Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric).EigenValues.Select(z => z.Real).OrderByDescending(v => v).ToArray();
        Assert.Multiple(() =>
        {
            for (var i = 0; i < 6; i++)
            {
                Assert.That(pca.Spectrum[i] * pca.Spectrum[i], IsFinite.EqualTo(eigen[i], 1e-12));
            }

            foreach (var d in Decomposers())
            {
                var s = d.Decompose(m, stats, RankRule.Full).Spectrum;
                for (var i = 1; i < s.Count; i++)
                {
                    Assert.That(s[i], IsFinite.AtMost(s[i - 1]), d.Kind.ToString());
                }
            }
        });
    }

    [TestCase(0.5, 1)]
    [TestCase(0.9, 2)]
    [TestCase(0.99, 3)]
    [TestCase(1.0, 3)]
    public void Valid_capacity_is_the_smallest_rank_reaching_the_energy(double threshold, int expected)
    {
        // Energies 9, 4, 1, 0 of 14: 64%, 93%, 100%.
        var spectrum = Vector<double>.Build.DenseOfArray([3, 2, 1, 0]);
        Assert.That(ValidCapacity.FromEnergy(spectrum, threshold), Is.EqualTo(expected));
    }
}
