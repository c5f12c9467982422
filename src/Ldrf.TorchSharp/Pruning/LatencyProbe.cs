using System.Diagnostics;
using Ldrf.TorchSharp.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>Times the original and the pruned network on the CPU, on the same images.</summary>
internal static class LatencyProbe
{
    /// <summary>The median time of one forward pass over <paramref name="images"/> of each network, after 2 warm-up rounds.</summary>
    /// <param name="original">The original graph (batch norms included): timed as an exact evaluation-mode copy on the CPU.</param>
    /// <param name="pruned">The pruned network, timed as it is when it lives on the CPU.</param>
    /// <param name="working">The pruned graph, copied to the CPU when <paramref name="pruned"/> lives elsewhere.</param>
    /// <param name="images">The batches to time on (converted to <paramref name="dtype"/> on the CPU).</param>
    /// <param name="dtype">The networks' parameter type.</param>
    /// <param name="runs">The timed rounds.</param>
    public static (TimeSpan Before, TimeSpan After) Measure(GraphModel original, BuiltGraph pruned, GraphModel working, List<Tensor> images, ScalarType dtype, int runs)
    {
        using var originalCpu = original.Build(CPU, dtype);
        using var prunedCpu = pruned.Network.parameters().First().device.type == DeviceType.CPU ? null : working.Build(CPU, dtype);
        using var scope = NewDisposeScope();
        var x = cat(images.Select(i => i.to(dtype, CPU)).ToList(), 0);
        return Medians(originalCpu.Network, (prunedCpu ?? pruned).Network, x, runs);
    }

    // The two networks' passes alternate (in alternating order), so that other work on a shared machine slows
    // both alike instead of whichever happened to run during it; medians after 2 warm-up rounds.
    private static (TimeSpan First, TimeSpan Second) Medians(nn.Module<Tensor, Tensor> first, nn.Module<Tensor, Tensor> second, Tensor x, int runs)
    {
        using var noGrad = no_grad();
        var times = (First: new List<TimeSpan>(runs), Second: new List<TimeSpan>(runs));
        TimeSpan Time(nn.Module<Tensor, Tensor> network)
        {
            using var scope = NewDisposeScope();
            var watch = Stopwatch.StartNew();
            network.forward(x);
            return watch.Elapsed;
        }

        for (var i = 0; i < runs + 2; i++)
        {
            TimeSpan a, b;
            if (i % 2 == 0)
            {
                a = Time(first);
                b = Time(second);
            }
            else
            {
                b = Time(second);
                a = Time(first);
            }

            if (i >= 2)
            {
                times.First.Add(a);
                times.Second.Add(b);
            }
        }

        times.First.Sort();
        times.Second.Sort();
        return (times.First[runs / 2], times.Second[runs / 2]);
    }
}
