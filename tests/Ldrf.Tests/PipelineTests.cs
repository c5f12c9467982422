using Ldrf.Decomposition;
using Ldrf.Recomposition;
using Ldrf.Statistics;
using Ldrf.Tests.Baselines;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests;

/// <summary>LDRF is a pipeline: the parts it is given are the parts that run, on every layer.</summary>
public class PipelineTests
{
    /// <summary>Three convolution layers with patch statistics (the default patch path) and one linear layer without.</summary>
    private static List<LayerPruningRequest> Layers()
    {
        var requests = Enumerable.Range(0, 3)
            .Select(i => ConvLayerData.Create(8 + i, 4, images: 30, seed: 70 + i).Request(keep: 4, name: $"features.{i}"))
            .ToList();
        var a = TestData.Activations(10, 200, seed: 80);
        requests.Add(new LayerPruningRequest("classifier.0", TestData.Gaussian(10, 6, seed: 81), TestData.Stats(a, a)) { KeepCount = 5 });
        return requests;
    }

    [Test]
    public void An_injected_recomposer_recomposes_every_layer_under_the_default_options()
    {
        var options = new LdrfOptions();
        var counting = new CountingRecomposer(LdrfComponents.CreateRecomposer(options));
        var pruner = new LdrfLayerPruner(options, LdrfComponents.CreateDecomposer(options.Embedding),
            LdrfComponents.CreateSelector(options.Selection, options.Seed), counting);
        var layers = Layers();
        var results = layers.Select(r => pruner.Prune(r)).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(counting.Layers, Is.EqualTo(layers.Select(l => l.LayerName)), "one call per layer, in order");
            Assert.That(counting.WithPatches, Is.EqualTo(3), "the patch statistics reach the recomposer, which decides what to do with them");
            for (var i = 0; i < results.Count; i++)
            {
                Assert.That(results[i].ConsumerWeights, Is.SameAs(counting.Returned[i].ConsumerWeights), layers[i].LayerName);
                Assert.That(results[i].RelativeOutputError, Is.EqualTo(counting.Returned[i].RelativeOutputError), layers[i].LayerName);
                Assert.That(new[] { results[i].DecompositionTime, results[i].SelectionTime, results[i].RecompositionTime },
                    Has.All.Not.Null.And.All.GreaterThanOrEqualTo(TimeSpan.Zero), "every stage is timed: " + layers[i].LayerName);
            }

            Assert.That(((ILayerPruner)pruner).UsesPatchStatistics, Is.True, "the pruner asks its recomposer");
        });

        // The same parts built by the pruner itself give the same weights: nothing runs beside the injected recomposer.
        var builtIn = new LdrfLayerPruner(options);
        for (var i = 0; i < layers.Count; i++)
        {
            Assert.That(builtIn.Prune(layers[i]).ConsumerWeights, Is.EqualTo(results[i].ConsumerWeights), layers[i].LayerName);
        }
    }

    [Test]
    public void A_custom_recomposer_replaces_the_built_in_one_on_the_patch_path_too()
    {
        var options = new LdrfOptions();
        var constant = new ConstantRecomposer();
        var pruner = new LdrfLayerPruner(options, LdrfComponents.CreateDecomposer(options.Embedding),
            LdrfComponents.CreateSelector(options.Selection, options.Seed), constant);
        var result = pruner.Prune(Layers()[0]);
        Assert.Multiple(() =>
        {
            Assert.That(result.ConsumerWeights.Enumerate(), Is.All.EqualTo(1.0));
            Assert.That(result.RelativeOutputError, Is.EqualTo(0.5));
            Assert.That(((ILayerPruner)pruner).UsesPatchStatistics, Is.False, "a recomposer that reads no patches asks for none");
        });
    }

    [Test]
    public void The_capacity_estimate_decomposes_only_and_agrees_with_prune()
    {
        var options = new LdrfOptions { EnergyThreshold = 0.9 };
        var counting = new CountingRecomposer(LdrfComponents.CreateRecomposer(options));
        var pruner = new LdrfLayerPruner(options, LdrfComponents.CreateDecomposer(options.Embedding),
            LdrfComponents.CreateSelector(options.Selection, options.Seed), counting);
        var request = Layers()[3];
        var estimate = pruner.EstimateCapacity(new LayerPruningRequest(request.LayerName, request.ConsumerWeights, request.Statistics));
        Assert.That(counting.Layers, Is.Empty, "no recomposition for an estimate");
        var pruned = pruner.Prune(new LayerPruningRequest(request.LayerName, request.ConsumerWeights, request.Statistics));
        Assert.Multiple(() =>
        {
            Assert.That(estimate, Is.InRange(1, 9), "below the layer's 10 channels at this threshold");
            Assert.That(pruned.ValidCapacity, Is.EqualTo(estimate));
            Assert.That(pruned.KeptChannels, Has.Length.EqualTo(estimate), "without a keep count the layer keeps its capacity");
        });
    }

    private sealed class CountingRecomposer(IRecomposer inner) : IRecomposer
    {
        public List<string?> Layers { get; } = [];

        public List<Recomposition.Recomposition> Returned { get; } = [];

        public int WithPatches { get; private set; }

        public bool UsesPatchStatistics => inner.UsesPatchStatistics;

        public bool UsesPatchStatisticsFor(int channels, int patchFeatures, long patchSamples, int keepCount) =>
            inner.UsesPatchStatisticsFor(channels, patchFeatures, patchSamples, keepCount);

        public Recomposition.Recomposition Recompose(Embedding embedding, Matrix<double> consumerWeights, ChannelStatistics statistics,
            ChannelStatistics? patchStatistics, IReadOnlyList<int> keptChannels, string? layerName = null)
        {
            Layers.Add(layerName);
            WithPatches += patchStatistics is null ? 0 : 1;
            var result = inner.Recompose(embedding, consumerWeights, statistics, patchStatistics, keptChannels, layerName);
            Returned.Add(result);
            return result;
        }
    }

    private sealed class ConstantRecomposer : IRecomposer
    {
        public Recomposition.Recomposition Recompose(Embedding embedding, Matrix<double> consumerWeights, ChannelStatistics statistics,
            ChannelStatistics? patchStatistics, IReadOnlyList<int> keptChannels, string? layerName = null) =>
            new(Matrix<double>.Build.Dense(keptChannels.Count, consumerWeights.ColumnCount, 1.0), null, 0, 0, 0.5);
    }
}
