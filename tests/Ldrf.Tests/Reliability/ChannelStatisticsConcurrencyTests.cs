using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests.Reliability;

/// <summary>
/// The documented contract of <see cref="ChannelStatisticsAccumulator"/>: every member may be called from several
/// threads; concurrent accumulation and merging equal sequential accumulation (bit for bit when the sums are exact),
/// and snapshots hold whole batches only.
/// </summary>
[Category("Reliability")]
public class ChannelStatisticsConcurrencyTests
{
    private const int Channels = 6;
    private const int Threads = 4;

    // Small integers: every product and partial sum is exact in double, so any order of additions gives the same bits.
    private static List<(Matrix<double> Pruned, Matrix<double> Original)> IntegerBatches(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (
            Matrix<double>.Build.Dense(Channels, 16, (_, _) => random.Next(0, 6)),
            Matrix<double>.Build.Dense(Channels, 16, (_, _) => random.Next(0, 6)))).ToList();
    }

    private static ChannelStatistics Sequential(IEnumerable<(Matrix<double> Pruned, Matrix<double> Original)> batches)
    {
        var accumulator = new ChannelStatisticsAccumulator(Channels);
        foreach (var (p, o) in batches)
        {
            accumulator.Accumulate(p, o);
        }

        return accumulator.ToStatistics();
    }

    /// <summary>Runs <paramref name="work"/> on <see cref="Threads"/> threads released together, with a deadlock timeout.</summary>
    private static void Concurrently(Action<int> work)
    {
        using var start = new Barrier(Threads);
        var tasks = Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            work(t);
        }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.That(Task.WaitAll(tasks, TimeSpan.FromSeconds(30)), Is.True, "the threads finished (no deadlock)");
    }

    private static void AssertIdentical(ChannelStatistics actual, ChannelStatistics expected)
    {
        Assert.Multiple(() =>
        {
            Assert.That(actual.SampleCount, Is.EqualTo(expected.SampleCount));
            Assert.That(actual.PrunedGram.ToColumnMajorArray(), Is.EqualTo(expected.PrunedGram.ToColumnMajorArray()));
            Assert.That(actual.Cross.ToColumnMajorArray(), Is.EqualTo(expected.Cross.ToColumnMajorArray()));
            Assert.That(actual.OriginalGram.ToColumnMajorArray(), Is.EqualTo(expected.OriginalGram.ToColumnMajorArray()));
            Assert.That(actual.PrunedSum.ToArray(), Is.EqualTo(expected.PrunedSum.ToArray()));
            Assert.That(actual.OriginalSum.ToArray(), Is.EqualTo(expected.OriginalSum.ToArray()));
        });
    }

    [Test]
    public void Concurrent_accumulation_equals_sequential_accumulation_bit_for_bit_when_sums_are_exact()
    {
        var batches = IntegerBatches(200, seed: 1);
        var shared = new ChannelStatisticsAccumulator(Channels);
        Concurrently(t =>
        {
            for (var i = t; i < batches.Count; i += Threads)
            {
                shared.Accumulate(batches[i].Pruned, batches[i].Original);
            }
        });
        AssertIdentical(shared.ToStatistics(), Sequential(batches));
    }

    [Test]
    public void Concurrent_accumulation_of_real_data_equals_sequential_to_round_off()
    {
        var batches = Enumerable.Range(0, 120).Select(i => (TestData.Activations(Channels, 16, 2 * i), TestData.Activations(Channels, 16, (2 * i) + 1))).ToList();
        var accumulator = new ChannelStatisticsAccumulator(Channels);
        Concurrently(t =>
        {
            for (var i = t; i < batches.Count; i += Threads)
            {
                accumulator.Accumulate(batches[i].Item1, batches[i].Item2);
            }
        });
        var shared = accumulator.ToStatistics();
        var sequential = Sequential(batches);
        Assert.That(shared.SampleCount, Is.EqualTo(sequential.SampleCount));
        Assert.That(TestData.RelativeError(shared.PrunedGram, sequential.PrunedGram), IsFinite.LessThan(1e-13));
        Assert.That(TestData.RelativeError(shared.Cross, sequential.Cross), IsFinite.LessThan(1e-13));
        Assert.That(TestData.RelativeError(shared.OriginalGram, sequential.OriginalGram), IsFinite.LessThan(1e-13));
    }

    [Test]
    public void Readers_during_accumulation_see_whole_batches_only()
    {
        // Every sample is the same vector v, so any consistent snapshot has Σa = N·v and Σaaᵀ = N·vvᵀ exactly.
        var v = Vector<double>.Build.DenseOfArray([1, 2, 3, 0, 1, 2]);
        var batch = Matrix<double>.Build.DenseOfColumnVectors(Enumerable.Repeat(v, 8));
        var outer = v.OuterProduct(v);
        var shared = new ChannelStatisticsAccumulator(Channels);
        var snapshots = 0;
        Concurrently(t =>
        {
            for (var i = 0; i < 150; i++)
            {
                if (t < Threads / 2)
                {
                    shared.Accumulate(batch, batch);
                    continue;
                }

                var snapshot = shared.ToStatistics();
                var n = snapshot.SampleCount;
                Assert.That(n % 8, Is.Zero, "only whole batches");
                Assert.That(snapshot.PrunedSum.ToArray(), Is.EqualTo((v * n).ToArray()), $"Σa′ at N = {n}");
                Assert.That(snapshot.Cross.ToColumnMajorArray(), Is.EqualTo((outer * n).ToColumnMajorArray()), $"Σa′aᵀ at N = {n}");
                Interlocked.Increment(ref snapshots);
            }
        });
        Assert.That(shared.SampleCount, Is.EqualTo((Threads / 2) * 150 * 8));
        Assert.That(snapshots, Is.EqualTo((Threads / 2) * 150));
    }

    [Test]
    public void Concurrent_merges_into_one_instance_equal_one_sequential_pass()
    {
        var batches = IntegerBatches(80, seed: 2);
        var shards = Enumerable.Range(0, Threads).Select(t => Sequential(batches.Where((_, i) => i % Threads == t))).ToArray();
        var total = new ChannelStatisticsAccumulator(Channels);
        Concurrently(t => total.Merge(shards[t]));
        AssertIdentical(total.ToStatistics(), Sequential(batches));
    }

    [Test]
    public void Merging_two_accumulators_into_each_other_concurrently_adds_whole_snapshots()
    {
        // a starts as 4 samples of u, b as 4 samples of w. Whatever the interleaving, each accumulator then holds
        // α samples of u and β of w with N = α + β, α = Σ a′ at channel 0 and β at channel 1, and every sum exactly
        // α·(statistics of u) + β·(statistics of w): a merge that added part of a snapshot, or a count without its
        // sums, breaks that. Every entry stays a small integer, so the sums are exact.
        var u = Vector<double>.Build.DenseOfArray([1, 0, 1, 0, 0, 0]);
        var w = Vector<double>.Build.DenseOfArray([0, 1, 1, 0, 0, 0]);
        var a = Repeated(u, 4);
        var b = Repeated(w, 4);
        const int rounds = 10;
        Concurrently(t =>
        {
            for (var i = 0; i < rounds; i++)
            {
                if (t % 2 == 0)
                {
                    a.Merge(b.ToStatistics());
                }
                else
                {
                    b.Merge(a.ToStatistics());
                }
            }
        });

        // Each of the Threads / 2 · rounds merges into an accumulator added a snapshot of at least 4 samples of the other.
        var merges = Threads / 2 * rounds;
        AssertCombination(a.ToStatistics(), u, w, minimumU: 4, minimumW: 4 * merges);
        AssertCombination(b.ToStatistics(), u, w, minimumU: 4 * merges, minimumW: 4);
    }

    private static ChannelStatisticsAccumulator Repeated(Vector<double> v, int samples)
    {
        var accumulator = new ChannelStatisticsAccumulator(Channels);
        var batch = Matrix<double>.Build.DenseOfColumnVectors(Enumerable.Repeat(v, samples));
        accumulator.Accumulate(batch, batch);
        return accumulator;
    }

    private static void AssertCombination(ChannelStatistics stats, Vector<double> u, Vector<double> w, int minimumU, int minimumW)
    {
        var alpha = stats.PrunedSum[0];
        var beta = stats.PrunedSum[1];
        var gram = (alpha * u.OuterProduct(u)) + (beta * w.OuterProduct(w));
        var sum = (alpha * u) + (beta * w);
        Assert.Multiple(() =>
        {
            Assert.That(alpha, IsFinite.AtLeast(minimumU), "samples of u");
            Assert.That(beta, IsFinite.AtLeast(minimumW), "samples of w");
            Assert.That(alpha + beta, IsFinite.EqualTo(stats.SampleCount), "the count moved with the sums");
            Assert.That(stats.PrunedSum.ToArray(), Is.EqualTo(sum.ToArray()));
            Assert.That(stats.OriginalSum.ToArray(), Is.EqualTo(sum.ToArray()));
            Assert.That(stats.PrunedGram.ToColumnMajorArray(), Is.EqualTo(gram.ToColumnMajorArray()));
            Assert.That(stats.Cross.ToColumnMajorArray(), Is.EqualTo(gram.ToColumnMajorArray()));
            Assert.That(stats.OriginalGram.ToColumnMajorArray(), Is.EqualTo(gram.ToColumnMajorArray()));
        });
    }
}
