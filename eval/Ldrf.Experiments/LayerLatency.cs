using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Pruning;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Experiments;

/// <summary>
/// Where a pruned network's realized speed-up goes (<c>--cost</c>): every Conv2d and Linear of the original and of the
/// pruned network timed alone on its own input (captured from one pass over the same images), so that each layer's
/// latency ratio can be set beside its FLOPs ratio, and what the whole pass spends outside them is the rest.
/// </summary>
internal static class LayerLatency
{
    /// <summary>Median times of each Conv2d and Linear of both networks over <paramref name="images"/>, the two timed alternately after 2 warm-up rounds.</summary>
    /// <param name="original">The original network (a chain or a graph the library reads).</param>
    /// <param name="pruned">The pruned network; its layers have the original's paths.</param>
    /// <param name="images">The batch both networks' layers are timed on.</param>
    /// <param name="runs">Timed rounds per layer.</param>
    public static IReadOnlyList<LayerLatencyRecord> Measure(nn.Module<Tensor, Tensor> original, nn.Module<Tensor, Tensor> pruned, Tensor images, int runs)
    {
        using var noGrad = no_grad();
        using var before = Layers.Of(original, nameof(original), images);
        using var after = Layers.Of(pruned, nameof(pruned), images);
        var records = new List<LayerLatencyRecord>();
        foreach (var (path, layer) in before.ByPath)
        {
            if (!after.ByPath.TryGetValue(path, out var small))
            {
                continue;
            }

            var times = LatencyProbe.Compare(() => layer.Module.forward(layer.Input), () => small.Module.forward(small.Input), (int)images.shape[0], runs);
            records.Add(new LayerLatencyRecord(path, layer.Kind, (int)images.shape[0], layer.Flops, small.Flops, times.Before.TotalMilliseconds, times.After.TotalMilliseconds));
        }

        return records;
    }

    // One timed layer: its module and its input in one network.
    private sealed record Layer(nn.Module<Tensor, Tensor> Module, Tensor Input, string Kind, long Flops);

    // A network's Conv2d and Linear layers with their inputs on the given images (the inputs are disposed with it).
    private sealed class Layers : IDisposable
    {
        private readonly GraphModel _model;
        private readonly BuiltGraph _built;
        private readonly Dictionary<string, Tensor> _captured;
        private readonly Tensor _images;

        private Layers(GraphModel model, BuiltGraph built, Dictionary<string, Tensor> captured, Tensor images, Dictionary<string, Layer> byPath)
        {
            _model = model;
            _built = built;
            _captured = captured;
            _images = images;
            ByPath = byPath;
        }

        public Dictionary<string, Layer> ByPath { get; }

        public static Layers Of(nn.Module<Tensor, Tensor> network, string paramName, Tensor images)
        {
            var model = GraphModel.FromNetwork(network, paramName);
            var built = model.Build(CPU, ScalarType.Float32, share: true);
            var timed = model.Nodes.Where(n => n.Op is Conv2dSpec or LinearSpec).ToList();
            var captured = built.Executor.Run(images, [.. timed.Select(n => n.Inputs[0]).Distinct()]);
            var complexity = model.Complexity([.. images.shape.Skip(1)], paramName);
            var modules = built.Network.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
            var byPath = timed.Where(n => modules.ContainsKey(n.Name)).ToDictionary(
                n => n.Name,
                n => new Layer((nn.Module<Tensor, Tensor>)modules[n.Name], captured[n.Inputs[0]], n.Op is Conv2dSpec ? "Conv2d" : "Linear", complexity[n.Name].Flops),
                StringComparer.Ordinal);
            return new Layers(model, built, captured, images, byPath);
        }

        public void Dispose()
        {
            // The images are the caller's (captured under the input's name, or returned as they are by an identity node).
            foreach (var tensor in _captured.Values.Where(t => !ReferenceEquals(t, _images)).Distinct())
            {
                tensor.Dispose();
            }

            _built.Dispose();
            _model.Dispose();
        }
    }
}
