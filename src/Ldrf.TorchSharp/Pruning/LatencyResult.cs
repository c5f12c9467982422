using System.Globalization;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>How long one forward pass of each network took on the CPU (median and quartiles), over how many images.</summary>
internal sealed record LatencyResult(TimeSpan Before, TimeSpan After, int Images, (TimeSpan Lower, TimeSpan Upper) BeforeQuartiles, (TimeSpan Lower, TimeSpan Upper) AfterQuartiles)
{
    /// <summary>
    /// Why the ratio should not be trusted, or null: the pruned network's quartiles reach the original's (the two
    /// cannot be told apart, as on a loaded machine), or it measured slower although it has fewer FLOPs.
    /// </summary>
    public string? Doubt(double flopsReduction)
    {
        var c = CultureInfo.InvariantCulture;
        var ranges = string.Create(c, $"original {BeforeQuartiles.Lower.TotalMilliseconds:0.0}-{BeforeQuartiles.Upper.TotalMilliseconds:0.0} ms, pruned {AfterQuartiles.Lower.TotalMilliseconds:0.0}-{AfterQuartiles.Upper.TotalMilliseconds:0.0} ms between quartiles");
        if (flopsReduction > 1 && After >= Before)
        {
            return string.Create(c, $"The pruned network measured no faster than the original ({Before.TotalMilliseconds:0.0} ms -> {After.TotalMilliseconds:0.0} ms; {ranges}) although it has {flopsReduction:0.00}x fewer FLOPs: on a loaded machine this ratio is noise; measure again on a quiet one (more NetworkPruningOptions.LatencyRuns) or with a benchmark.");
        }

        return AfterQuartiles.Upper >= BeforeQuartiles.Lower
            ? string.Create(c, $"The latency measurement cannot tell the two networks apart ({ranges}): the ratio {Before / After:0.00}x is within the noise of this machine; measure again on a quiet one (more NetworkPruningOptions.LatencyRuns) or with a benchmark.")
            : null;
    }
}
