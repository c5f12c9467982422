using System.Globalization;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>The value checks on a network's copied state and its replacement of tensors, shared by the chain and the graph models.</summary>
internal static class StateValues
{
    /// <summary>
    /// Refuses weights that would poison every statistic downstream: NaN or infinite entries anywhere, and
    /// negative running variances (their square root is NaN once folded). Checked here, where the tensor still
    /// has its name, instead of failing later on a C x C sum that names nothing the caller knows.
    /// </summary>
    /// <param name="state">The state by state_dict name.</param>
    /// <param name="layers">The network's layers (the batch norms among them say which running variances to check).</param>
    /// <param name="paramName">The caller's argument name, for messages.</param>
    /// <exception cref="ArgumentException">A tensor has a bad entry; the message names the tensor, its shape and the first bad entry.</exception>
    public static void Check(IReadOnlyDictionary<string, Tensor> state, IEnumerable<LayerSpec> layers, string paramName)
    {
        using var scope = NewDisposeScope();
        var variances = layers.OfType<BatchNorm2dSpec>().Select(bn => bn.Path + ".running_var").ToHashSet(StringComparer.Ordinal);
        foreach (var (key, tensor) in state)
        {
            if (!tensor.is_floating_point())
            {
                continue;
            }

            var bad = isfinite(tensor).logical_not();
            var what = "NaN or infinite";
            if (!bad.any().item<bool>() && variances.Contains(key))
            {
                bad = tensor.lt(0);
                what = "negative";
            }

            if (bad.any().item<bool>())
            {
                var index = bad.nonzero()[0].data<long>().ToArray();
                var value = tensor.to(ScalarType.Float64)[index.Select(i => TensorIndex.Single(i)).ToArray()].item<double>();
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture,
                        $"'{paramName}' tensor '{key}' ({NetworkReader.Shape(tensor.shape)}) has {what} entries, the first {value} at [{string.Join(", ", index)}]; every weight and statistic must be finite (and running variances non-negative)."),
                    paramName);
            }
        }
    }

    /// <summary>Puts <paramref name="value"/> under <paramref name="key"/>, disposing the tensor it replaces.</summary>
    public static void Replace(Dictionary<string, Tensor> state, string key, Tensor value)
    {
        if (state.TryGetValue(key, out var old))
        {
            old.Dispose();
        }

        state[key] = value;
    }
}
