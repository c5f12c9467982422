using Ldrf.Statistics;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Pruning;
using MathNet.Numerics.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

public class StatisticsAndRecompositionTests
{
    [Test]
    public void Torch_statistics_equal_the_core_accumulation_of_explicit_columns()
    {
        torch.random.manual_seed(11);
        using var pruned = torch.randn(3, 4, 2, 5);
        using var original = torch.randn(3, 4, 2, 5);
        using var accumulator = new ActivationStatistics(4, CPU);
        accumulator.Add(pruned, original);
        accumulator.Add(original, original);
        var actual = accumulator.ToChannelStatistics();

        // Explicit: one column per (image, pixel).
        static Matrix<double> Columns(Tensor t)
        {
            var data = t.to(ScalarType.Float64).data<double>().ToArray();
            return Matrix<double>.Build.Dense(4, 30, (c, col) => data[((col / 10) * 40) + (c * 10) + (col % 10)]);
        }

        var core = new ChannelStatisticsAccumulator(4);
        core.Accumulate(Columns(pruned), Columns(original));
        core.Accumulate(Columns(original), Columns(original));
        var expected = core.ToStatistics();
        Assert.That(actual.SampleCount, Is.EqualTo(60));
        Assert.That((actual.PrunedGram - expected.PrunedGram).InfinityNorm(), IsFinite.LessThan(1e-10));
        Assert.That((actual.Cross - expected.Cross).InfinityNorm(), IsFinite.LessThan(1e-10));
        Assert.That((actual.OriginalGram - expected.OriginalGram).InfinityNorm(), IsFinite.LessThan(1e-10));
        Assert.That((actual.PrunedSum - expected.PrunedSum).InfinityNorm(), IsFinite.LessThan(1e-10));
        Assert.That((actual.OriginalSum - expected.OriginalSum).InfinityNorm(), IsFinite.LessThan(1e-10));
    }

    [Test]
    public void Statistics_of_a_batch_processed_in_chunks_equal_those_of_one_pass()
    {
        // 500 images of 10 positions: more than one chunk of at least MinimumChunkSamples columns.
        torch.random.manual_seed(12);
        using var pruned = torch.randn(500, 4, 2, 5);
        using var original = torch.randn(500, 4, 2, 5);
        Assert.That(500 * 10, Is.GreaterThan(2 * ActivationStatistics.MinimumChunkSamples));
        ChannelStatistics Run(long chunkEntries)
        {
            using var accumulator = new ActivationStatistics(4, CPU, chunkEntries);
            accumulator.Add(pruned, original);
            accumulator.Add(original, original);
            accumulator.Add(pruned[..7], original[..7]);
            return accumulator.ToChannelStatistics();
        }

        var chunked = Run(1);
        var whole = Run(long.MaxValue);
        Assert.That(chunked.SampleCount, Is.EqualTo(whole.SampleCount).And.EqualTo(10070));
        var scale = whole.OriginalGram.InfinityNorm();
        Assert.That((chunked.PrunedGram - whole.PrunedGram).InfinityNorm() / scale, IsFinite.LessThan(1e-12));
        Assert.That((chunked.Cross - whole.Cross).InfinityNorm() / scale, IsFinite.LessThan(1e-12));
        Assert.That((chunked.OriginalGram - whole.OriginalGram).InfinityNorm() / scale, IsFinite.LessThan(1e-12));
        Assert.That((chunked.PrunedSum - whole.PrunedSum).InfinityNorm(), IsFinite.LessThan(1e-9));
        Assert.That((chunked.OriginalSum - whole.OriginalSum).InfinityNorm(), IsFinite.LessThan(1e-9));
    }

    [Test, Category("BadInput")]
    public void Activations_of_different_shapes_are_rejected()
    {
        using var accumulator = new ActivationStatistics(4, CPU);
        using var pruned = torch.zeros(3, 4, 2, 5);
        using var original = torch.zeros(2, 4, 2, 5);
        var ex = Assert.Throws<ArgumentException>(() => accumulator.Add(pruned, original));
        Assert.That(ex!.ParamName, Is.EqualTo("original"));
        Assert.That(ex.Message, Does.Contain("3 x 4 x 2 x 5"));
    }

    [Test]
    public void Dropping_dead_channels_with_the_matching_consumer_rows_keeps_the_output_exactly()
    {
        using var network = TestNetworks.SmallVgg();
        using var model = GraphModel.FromNetwork(network, "network");
        using var folded = model.FoldBatchNorm("network");
        var graph = PrunableGraph.Create(folded, folded.Shapes([3, 12, 12], "x"), [3, 12, 12], CPU, ScalarType.Float32, "network");
        Assert.That(graph.Names.Zip(graph.Classes, (name, classes) => (name, classes[0].Lead.Group)), Is.EqualTo(new[]
        {
            ("features.0", 9), ("features.3", 9), ("features.7", 9), ("classifier.0", 1),
        }), "a Linear after Flatten reads 3x3 spatial groups per channel");

        // Kill channels 1 and 4 of features.0 and channels 0, 5 of features.7 (zero filter, negative bias: ReLU
        // outputs exactly 0), so removing them and the consumer's matching rows changes nothing.
        using (no_grad())
        {
            foreach (var (path, dead) in new[] { ("features.0", new long[] { 1, 4 }), ("features.7", new long[] { 0, 5 }) })
            {
                folded.State[path + ".weight"].index_fill_(0, torch.tensor(dead), 0);
                if (!folded.State.ContainsKey(path + ".bias"))
                {
                    folded.State[path + ".bias"] = torch.zeros(folded.State[path + ".weight"].shape[0]);
                    folded.Replace(((Conv2dSpec)folded[path].Op) with { HasBias = true });
                }

                folded.State[path + ".bias"].index_fill_(0, torch.tensor(dead), -1);
            }
        }

        using var before = folded.Build(CPU, ScalarType.Float32);
        using var x = TestNetworks.Batches(1)[0];
        using var expected = before.Network.forward(x);

        foreach (var (j, kept) in new[] { (0, new[] { 0, 2, 3, 5, 6, 7 }), (2, Enumerable.Range(0, 16).Except([0, 5]).ToArray()) })
        {
            var m = graph.ConsumerMatrix(folded, j, graph.Classes[j][0], graph.OriginalWidth);
            var rows = Matrix<double>.Build.DenseOfRowVectors(kept.Select(m.Row));
            var answers = new Dictionary<ConsumerRead, (Matrix<double>, Vector<double>?)> { [graph.Classes[j][0].Lead] = (rows, null) };
            GroupWeights.Apply(folded, graph.Analysis, graph.Groups[j], kept, graph.OriginalWidth, answers);
        }

        Assert.That(((Conv2dSpec)folded["features.0"].Op).OutChannels, Is.EqualTo(6));
        Assert.That(((LinearSpec)folded["classifier.0"].Op).InFeatures, Is.EqualTo(14 * 9));
        using var after = folded.Build(CPU, ScalarType.Float32);
        using var actual = after.Network.forward(x);
        Assert.That(TestNetworks.RelativeError(actual, expected), IsFinite.LessThan(1e-6));
    }

    [Test]
    public void A_bias_correction_is_summed_over_each_outputs_group()
    {
        using var network = TestNetworks.SmallVgg();
        using var model = GraphModel.FromNetwork(network, "network");
        using var folded = model.FoldBatchNorm("network");
        var graph = PrunableGraph.Create(folded, folded.Shapes([3, 12, 12], "x"), [3, 12, 12], CPU, ScalarType.Float32, "network");
        var j = graph.Names.IndexOf("features.7"); // features.7 -> classifier.0 (20 outputs, groups of 9)
        var m = graph.ConsumerMatrix(folded, j, graph.Classes[j][0], graph.OriginalWidth);
        var biasBefore = folded.State["classifier.0.bias"].data<float>().ToArray();
        var correction = Vector<double>.Build.Dense(20 * 9, k => k / 9); // output o gets 9 · o
        var answers = new Dictionary<ConsumerRead, (Matrix<double>, Vector<double>?)> { [graph.Classes[j][0].Lead] = (m, correction) };
        GroupWeights.Apply(folded, graph.Analysis, graph.Groups[j], Enumerable.Range(0, 16).ToArray(), graph.OriginalWidth, answers);
        var biasAfter = folded.State["classifier.0.bias"].data<float>().ToArray();
        for (var o = 0; o < 20; o++)
        {
            Assert.That(biasAfter[o] - biasBefore[o], IsFinite.EqualTo(9 * o, 1e-4));
        }
    }
}
