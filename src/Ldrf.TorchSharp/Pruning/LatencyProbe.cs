using System.Diagnostics;
using Ldrf.TorchSharp.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>Times the original and the pruned network on the CPU, on the same images.</summary>
internal static class LatencyProbe
{
    /// <summary>The median time (and quartiles) of one forward pass over <paramref name="images"/> of each network, after 2 warm-up rounds.</summary>
    /// <param name="original">The original graph (batch norms included): timed as an exact evaluation-mode copy on the CPU.</param>
    /// <param name="pruned">The pruned network, timed as it is when it lives on the CPU.</param>
    /// <param name="working">The pruned graph, copied to the CPU when <paramref name="pruned"/> lives elsewhere.</param>
    /// <param name="images">The batches to time on (converted to <paramref name="dtype"/> on the CPU).</param>
    /// <param name="dtype">The networks' parameter type.</param>
    /// <param name="runs">The timed rounds.</param>
    public static LatencyResult Measure(GraphModel original, BuiltGraph pruned, GraphModel working, List<Tensor> images, ScalarType dtype, int runs)
    {
        using var originalCpu = original.Build(CPU, dtype, share: true);
        using var prunedCpu = pruned.Network.parameters().First().device.type == DeviceType.CPU ? null : working.Build(CPU, dtype, share: true);
        using var scope = NewDisposeScope();
        var x = cat(images.Select(i => i.to(dtype, CPU)).ToList(), 0);
        return Compare(originalCpu.Network, (prunedCpu ?? pruned).Network, x, runs);
    }

    /// <summary>
    /// The median time (and quartiles) of one forward pass of each network over <paramref name="x"/>, the two run
    /// alternately after 2 warm-up rounds (also the harness's latency columns).
    /// </summary>
    public static LatencyResult Compare(nn.Module<Tensor, Tensor> original, nn.Module<Tensor, Tensor> pruned, Tensor x, int runs) =>
        Compare(() => original.forward(x), () => pruned.forward(x), (int)x.shape[0], runs);

    /// <summary>
    /// The median time (and quartiles) of <paramref name="original"/> and <paramref name="pruned"/> (one pass each over
    /// <paramref name="batch"/> images, each inside its own dispose scope and without gradients; a layer alone, or a
    /// network in another runtime), run alternately after 2 warm-up rounds.
    /// </summary>
    public static LatencyResult Compare(Action original, Action pruned, int batch, int runs)
    {
        var (before, after) = Times(original, pruned, runs);
        return new LatencyResult(before[runs / 2], after[runs / 2], batch, Quartiles(before), Quartiles(after));
    }

    private static (TimeSpan Lower, TimeSpan Upper) Quartiles(List<TimeSpan> sorted) => (sorted[(sorted.Count - 1) / 4], sorted[sorted.Count - 1 - ((sorted.Count - 1) / 4)]);

    // The two networks' passes alternate (in alternating order), so that other work on a shared machine slows
    // both alike instead of whichever happened to run during it; sorted times after 2 warm-up rounds.
    private static (List<TimeSpan> First, List<TimeSpan> Second) Times(Action first, Action second, int runs)
    {
        using var noGrad = no_grad();
        var times = (First: new List<TimeSpan>(runs), Second: new List<TimeSpan>(runs));
        static TimeSpan Time(Action pass)
        {
            using var scope = NewDisposeScope();
            var watch = Stopwatch.StartNew();
            pass();
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
        return times;
    }
}
