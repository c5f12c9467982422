using System.Runtime.InteropServices;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests;

public class ChannelStatisticsTests
{
    [Test]
    public void Accumulate_sums_the_explicit_products_over_batches()
    {
        var pruned = TestData.Activations(5, 40, seed: 1);
        var original = TestData.Activations(5, 40, seed: 2);
        var accumulator = new ChannelStatisticsAccumulator(5);
        accumulator.Accumulate(pruned.SubMatrix(0, 5, 0, 15), original.SubMatrix(0, 5, 0, 15));
        accumulator.Accumulate(pruned.SubMatrix(0, 5, 15, 25), original.SubMatrix(0, 5, 15, 25));
        var stats = accumulator.ToStatistics();
        var ones = Vector<double>.Build.Dense(40, 1.0);
        Assert.Multiple(() =>
        {
            Assert.That(stats.SampleCount, Is.EqualTo(40));
            Assert.That(TestData.RelativeError(stats.PrunedGram, pruned.TransposeAndMultiply(pruned)), IsFinite.LessThan(1e-14));
            Assert.That(TestData.RelativeError(stats.Cross, pruned.TransposeAndMultiply(original)), IsFinite.LessThan(1e-14));
            Assert.That(TestData.RelativeError(stats.OriginalGram, original.TransposeAndMultiply(original)), IsFinite.LessThan(1e-14));
            Assert.That((stats.PrunedSum - (pruned * ones)).L2Norm(), IsFinite.LessThan(1e-12));
            Assert.That((stats.OriginalSum - (original * ones)).L2Norm(), IsFinite.LessThan(1e-12));
        });
    }

    [Test]
    public void Merged_halves_equal_one_pass_exactly_when_sums_are_exact()
    {
        // Small integers: every product and sum is exact in double, so any order gives the same bits.
        var random = new Random(11);
        var pruned = Matrix<double>.Build.Dense(4, 60, (_, _) => random.Next(0, 8));
        var original = Matrix<double>.Build.Dense(4, 60, (_, _) => random.Next(0, 8));
        var onePass = new ChannelStatisticsAccumulator(4);
        var left = new ChannelStatisticsAccumulator(4);
        var right = new ChannelStatisticsAccumulator(4);
        for (var start = 0; start < 60; start += 10)
        {
            var p = pruned.SubMatrix(0, 4, start, 10);
            var o = original.SubMatrix(0, 4, start, 10);
            onePass.Accumulate(p, o);
            (start < 30 ? left : right).Accumulate(p, o);
        }

        var merged = left.Merge(right.ToStatistics());
        Assert.Multiple(() =>
        {
            Assert.That(merged, Is.SameAs(left));
            AssertIdentical(merged.ToStatistics(), onePass.ToStatistics());
        });
    }

    [Test]
    public void Merged_halves_equal_one_pass_to_round_off_on_real_data()
    {
        var pruned = TestData.Activations(6, 200, seed: 3);
        var original = TestData.Activations(6, 200, seed: 4);
        var onePass = TestData.Stats(pruned, original);
        var left = TestData.Stats(pruned.SubMatrix(0, 6, 0, 77), original.SubMatrix(0, 6, 0, 77));
        var right = TestData.Stats(pruned.SubMatrix(0, 6, 77, 123), original.SubMatrix(0, 6, 77, 123));
        var merged = new ChannelStatisticsAccumulator(6).Merge(left).Merge(right).ToStatistics();
        Assert.Multiple(() =>
        {
            Assert.That(merged.SampleCount, Is.EqualTo(200));
            Assert.That(TestData.RelativeError(merged.PrunedGram, onePass.PrunedGram), IsFinite.LessThan(1e-14));
            Assert.That(TestData.RelativeError(merged.Cross, onePass.Cross), IsFinite.LessThan(1e-14));
            Assert.That(TestData.RelativeError(merged.OriginalGram, onePass.OriginalGram), IsFinite.LessThan(1e-14));
            Assert.That((merged.PrunedSum - onePass.PrunedSum).L2Norm() / onePass.PrunedSum.L2Norm(), IsFinite.LessThan(1e-14));
            Assert.That((merged.OriginalSum - onePass.OriginalSum).L2Norm() / onePass.OriginalSum.L2Norm(), IsFinite.LessThan(1e-14));
        });
    }

    [Test]
    public void Concurrent_accumulation_loses_nothing()
    {
        // Small integers keep every sum exact, so the result cannot depend on the order of additions.
        var random = new Random(12);
        var batches = Enumerable.Range(0, 16).Select(_ => Matrix<double>.Build.Dense(6, 25, (_, _) => random.Next(0, 5))).ToArray();
        var sequential = new ChannelStatisticsAccumulator(6);
        foreach (var batch in batches)
        {
            sequential.Accumulate(batch, batch);
        }

        var concurrent = new ChannelStatisticsAccumulator(6);
        Parallel.ForEach(batches, new ParallelOptions { MaxDegreeOfParallelism = 4 }, batch => concurrent.Accumulate(batch, batch));
        AssertIdentical(concurrent.ToStatistics(), sequential.ToStatistics());
    }

    [Test]
    public void FromSums_equals_Accumulate_and_keeps_its_own_copy()
    {
        var pruned = TestData.Activations(3, 20, seed: 5);
        var original = TestData.Activations(3, 20, seed: 6);
        var reference = TestData.Stats(pruned, original);
        var cross = reference.Cross;
        var stats = ChannelStatistics.FromSums(reference.PrunedGram, cross, reference.OriginalGram, reference.PrunedSum, reference.OriginalSum, 20);
        cross[0, 1] = -1;
        AssertIdentical(stats, reference);
    }

    [Test]
    public void A_snapshot_does_not_change_when_its_accumulator_goes_on()
    {
        var accumulator = new ChannelStatisticsAccumulator(3);
        accumulator.Accumulate(TestData.Activations(3, 10, seed: 1), TestData.Activations(3, 10, seed: 2));
        var snapshot = accumulator.ToStatistics();
        var gram = snapshot.PrunedGram;
        accumulator.Accumulate(TestData.Activations(3, 10, seed: 3), TestData.Activations(3, 10, seed: 4));
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.SampleCount, Is.EqualTo(10));
            Assert.That(snapshot.PrunedGram, Is.EqualTo(gram));
            Assert.That(accumulator.SampleCount, Is.EqualTo(20));
            Assert.That(accumulator.ToStatistics().PrunedGram, Is.Not.EqualTo(gram));
        });
    }

    [Test]
    public void Serialization_round_trips_bit_for_bit()
    {
        var stats = TestData.Stats(TestData.Activations(7, 33, seed: 7), TestData.Activations(7, 33, seed: 8));
        using var stream = new MemoryStream();
        stats.WriteTo(stream);
        stream.Position = 0;
        var read = ChannelStatistics.ReadFrom(stream);
        Assert.Multiple(() =>
        {
            Assert.That(stream.Position, Is.EqualTo(stream.Length));
            AssertIdentical(read, stats);
        });
    }

    [Test]
    public void Truncated_stream_is_rejected_with_a_clear_message()
    {
        var bytes = Serialized();
        foreach (var length in new[] { 0, 5, 20, bytes.Length / 2, bytes.Length - 1 })
        {
            var ex = Assert.Throws<InvalidDataException>(() => ChannelStatistics.ReadFrom(new MemoryStream(bytes[..length])));
            Assert.That(ex!.Message, Does.Contain("truncated"), $"length {length}");
        }
    }

    [Test]
    public void Corrupt_stream_is_rejected()
    {
        var bytes = Serialized();
        var flipped = (byte[])bytes.Clone();
        flipped[100] ^= 0x10;
        var badMagic = (byte[])bytes.Clone();
        badMagic[0] = (byte)'X';
        var badVersion = (byte[])bytes.Clone();
        badVersion[8] = 99;
        Assert.Multiple(() =>
        {
            Assert.That(() => ChannelStatistics.ReadFrom(new MemoryStream(flipped)), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("checksum"));
            Assert.That(() => ChannelStatistics.ReadFrom(new MemoryStream(badMagic)), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("LDRFSTAT"));
            Assert.That(() => ChannelStatistics.ReadFrom(new MemoryStream(badVersion)), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("version 99"));
        });
    }

    [Test]
    public void Ten_thousand_channels_round_trip_exactly_through_a_file()
    {
        // 3 C x C matrices of 10,000² doubles: a 2.4 GB body, past int sizes and past what a MemoryStream holds.
        const int channels = 10_000;
        var grams = Enumerable.Range(0, 3).Select(_ => Matrix<double>.Build.Dense(channels, channels)).ToArray();
        var sums = Enumerable.Range(0, 2).Select(_ => Vector<double>.Build.Dense(channels)).ToArray();
        var random = new Random(21);
        foreach (var values in grams.Select(g => g.AsColumnMajorArray()).Concat(sums.Select(v => v.AsArray())))
        {
            // Random bits with bit 62 clear: every sign, mantissa and exponent below 0x400 (subnormals too), all finite.
            var bits = MemoryMarshal.Cast<double, long>(values.AsSpan());
            random.NextBytes(MemoryMarshal.AsBytes(bits));
            for (var i = 0; i < bits.Length; i++)
            {
                bits[i] &= ~(1L << 62);
            }
        }

        // Random sums are no accumulator's result, so the statistics are made from them directly.
        var stats = new ChannelStatistics(grams[0], grams[1], grams[2], sums[0], sums[1], 0);
        var folder = Directory.CreateTempSubdirectory("ldrf-stats-").FullName;
        try
        {
            var path = Path.Combine(folder, "large.stats");
            using (var file = File.Create(path))
            {
                stats.WriteTo(file);
            }

            Assert.That(new FileInfo(path).Length, Is.EqualTo(24 + (8L * ((3L * channels * channels) + (2 * channels))) + 8));
            ChannelStatistics read;
            using (var file = File.OpenRead(path))
            {
                read = ChannelStatistics.ReadFrom(file);
            }

            Assert.That(read.Channels, Is.EqualTo(channels));
            Assert.That(read.SampleCount, Is.Zero);
            foreach (var (actual, expected) in Storage(read).Zip(Storage(stats)))
            {
                Assert.That(MemoryMarshal.AsBytes(actual.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(expected.AsSpan())), Is.True, "bit for bit");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void A_header_that_claims_more_data_than_the_stream_holds_is_refused_with_both_sizes()
    {
        var bytes = Serialized();
        BitConverter.TryWriteBytes(bytes.AsSpan(12, 4), 6);

        // 6 channels need 8(3·36 + 2·6) + 8 = 968 bytes after the header; the 5-channel record has 688.
        var seekable = Assert.Throws<InvalidDataException>(() => ChannelStatistics.ReadFrom(new MemoryStream(bytes)))!;
        var forwardOnly = Assert.Throws<InvalidDataException>(() => ChannelStatistics.ReadFrom(new ForwardOnlyStream(bytes)))!;
        Assert.Multiple(() =>
        {
            Assert.That(seekable.Message, Does.Contain("truncated").And.Contain("6 channels").And.Contain("968 bytes").And.Contain("only 688"));
            Assert.That(forwardOnly.Message, Does.Contain("truncated").And.Contain("6 channels").And.Contain("968 bytes").And.Contain("only 688"));
        });

        // The largest channel count the format allows (46,340: 51 GB of matrices) is refused from the stream's
        // length before anything is allocated.
        BitConverter.TryWriteBytes(bytes.AsSpan(12, 4), 46_340);
        Assert.That(() => ChannelStatistics.ReadFrom(new MemoryStream(bytes)),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("truncated").And.Message.Contains("46340 channels"));
    }

    [Test]
    public void The_channel_bound_is_the_same_for_the_accumulator_and_the_reader()
    {
        var bytes = Serialized();
        BitConverter.TryWriteBytes(bytes.AsSpan(12, 4), 46_341);
        Assert.Multiple(() =>
        {
            Assert.That(() => new ChannelStatisticsAccumulator(46_341), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("at most 46340"));
            Assert.That(() => ChannelStatistics.ReadFrom(new MemoryStream(bytes)),
                Throws.InstanceOf<InvalidDataException>().With.Message.Contains("header is corrupt").And.Message.Contains("46341 channels"));
        });
    }

    [Test]
    public void Properties_return_copies()
    {
        var stats = TestData.Stats(TestData.Activations(3, 10, seed: 1), TestData.Activations(3, 10, seed: 1));
        var gram = stats.PrunedGram;
        gram[0, 0] = -1;
        Assert.That(stats.PrunedGram[0, 0], Is.Not.EqualTo(-1));
    }

    private static byte[] Serialized()
    {
        var stats = TestData.Stats(TestData.Activations(5, 12, seed: 9), TestData.Activations(5, 12, seed: 10));
        using var stream = new MemoryStream();
        stats.WriteTo(stream);
        return stream.ToArray();
    }

    private static double[][] Storage(ChannelStatistics stats) =>
    [
        stats.PrunedGramView.AsColumnMajorArray(), stats.CrossView.AsColumnMajorArray(), stats.OriginalGramView.AsColumnMajorArray(),
        stats.PrunedSumView.AsArray(), stats.OriginalSumView.AsArray(),
    ];

    private static void AssertIdentical(ChannelStatistics actual, ChannelStatistics expected)
    {
        Assert.Multiple(() =>
        {
            Assert.That(actual.Channels, Is.EqualTo(expected.Channels));
            Assert.That(actual.SampleCount, Is.EqualTo(expected.SampleCount));
            Assert.That(actual.PrunedGram, Is.EqualTo(expected.PrunedGram));
            Assert.That(actual.Cross, Is.EqualTo(expected.Cross));
            Assert.That(actual.OriginalGram, Is.EqualTo(expected.OriginalGram));
            Assert.That(actual.PrunedSum, Is.EqualTo(expected.PrunedSum));
            Assert.That(actual.OriginalSum, Is.EqualTo(expected.OriginalSum));
        });
    }

    /// <summary>A stream that cannot seek, as a pipe or a network stream: the reader cannot check its length first.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }
    }
}
