using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Selection;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests;

/// <summary>The greedy selection against an explicit greedy over least-squares fits, and on redundant neurons.</summary>
public class GreedyResponseSelectorTests
{
    private static readonly INumericBackend Backend = MathNetNumericBackend.Instance;

    // What least squares recovers of the response Mᵀa from the pruned activations of the subset: ‖ŷ‖².
    private static double Recovered(Matrix<double> pruned, Matrix<double> original, Matrix<double> m, IReadOnlyList<int> subset)
    {
        var xs = TestData.Rows(pruned, subset);
        var y = m.TransposeThisAndMultiply(original);
        var coefficients = xs.TransposeAndMultiply(xs).Solve(xs.TransposeAndMultiply(y));
        return TestData.SquaredNorm(coefficients.TransposeThisAndMultiply(xs));
    }

    // Channel 2i+1 is 1.5 times channel 2i: half the neurons carry all the information. The layer's selection
    // context (weight-SVD embedding at full rank), its activations and its consumer's weights.
    internal static (SelectionContext Context, Matrix<double> Activations, Matrix<double> ConsumerWeights) ProportionalPairs(int pairs)
    {
        var basis = TestData.Activations(pairs, 300, 3);
        var activations = Matrix<double>.Build.Dense(2 * pairs, 300, (c, n) => basis[c / 2, n] * (c % 2 == 0 ? 1.0 : 1.5));
        var m = TestData.Gaussian(2 * pairs, 5, 4);
        var stats = TestData.Stats(activations, activations);
        var embedding = new WeightSvdDecomposer(Backend).Decompose(m, stats, RankRule.Full);
        return (new SelectionContext("features.3", m, stats, embedding), activations, m);
    }

    [TestCase(7, 3, 1)]
    [TestCase(9, 5, 2)]
    [TestCase(1030, 3, 3)] // large enough for each step's rows to be split across the cores
    public void It_keeps_what_an_explicit_greedy_over_least_squares_fits_keeps(int channels, int keep, int seed)
    {
        var original = TestData.Activations(channels, 200, seed);
        var pruned = original + (0.3 * TestData.Gaussian(channels, 200, seed + 10));
        var m = TestData.Gaussian(channels, 6, seed + 20);
        var stats = TestData.Stats(pruned, original);
        var embedding = new WeightSvdDecomposer(Backend).Decompose(m, stats, RankRule.Full);

        var expected = new List<int>();
        while (expected.Count < keep)
        {
            var best = Enumerable.Range(0, channels).Where(c => !expected.Contains(c))
                .MaxBy(c => Recovered(pruned, original, m, [.. expected, c]));
            expected.Add(best);
        }

        var kept = new GreedyResponseSelector(Backend).Select(new SelectionContext("features.3", m, stats, embedding), keep);
        Assert.That(kept, Is.EqualTo(expected.Order().ToArray()));
    }

    [Test]
    public void Of_two_proportional_neurons_it_keeps_one_and_recovers_the_response_exactly()
    {
        const int pairs = 6;
        var (context, activations, m) = ProportionalPairs(pairs);

        var kept = new GreedyResponseSelector(Backend).Select(context, pairs);
        Assert.That(kept.Select(c => c / 2), Is.EquivalentTo(Enumerable.Range(0, pairs)), $"one of each pair: {string.Join(", ", kept)}");
        var y = m.TransposeThisAndMultiply(activations);
        Assert.That(Recovered(activations, activations, m, kept), IsFinite.EqualTo(TestData.SquaredNorm(y), 1e-9 * TestData.SquaredNorm(y)));

        // The per-neuron energy score keeps the louder twin of several pairs instead.
        var energy = new EmbeddingEnergySelector(Backend).Select(context, pairs);
        Assert.That(energy.Select(c => c / 2).Distinct().Count(), Is.LessThan(pairs));
    }

    [Test]
    public void Silent_neurons_are_taken_last_and_the_count_is_exact()
    {
        var activations = TestData.Activations(8, 100, 5);
        for (var n = 0; n < 100; n++)
        {
            activations[2, n] = 0;
            activations[6, n] = 0;
        }

        var m = TestData.Gaussian(8, 4, 6);
        var stats = TestData.Stats(activations, activations);
        var embedding = new WeightSvdDecomposer(Backend).Decompose(m, stats, RankRule.Full);
        var kept = new GreedyResponseSelector(Backend).Select(new SelectionContext("features.3", m, stats, embedding), 7);
        Assert.That(kept, Has.Length.EqualTo(7).And.Unique);
        Assert.That(kept.Count(c => c is 2 or 6), Is.EqualTo(1));
    }
}
