using System.Globalization;
using Ldrf.Allocation;
using Microsoft.Extensions.Logging;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>What one <see cref="TorchSharpPruner.Prune"/> call tells its logger, and the warnings its report carries.</summary>
internal sealed class PruningLog(ILogger logger)
{
    private readonly List<string> _warnings = [];

    /// <summary>The warnings so far, in order.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>Logs a warning and keeps it for the report.</summary>
    public void Warn(string warning)
    {
        _warnings.Add(warning);
        logger.LogWarning("Ldrf: {Warning}", warning);
    }

    /// <summary>The CPU convolution probe's finding: information when the widths stay on the kernels' 16-channel blocks, else a warning.</summary>
    public void Defect(string defect, int channelMultiple) =>
        logger.Log(channelMultiple % 16 == 0 ? LogLevel.Information : LogLevel.Warning, "Ldrf: {Defect}", defect);

    public void Widths(IEnumerable<string> names, WidthAllocation allocation) =>
        logger.LogInformation("Ldrf widths: {Widths} ({Reduction:0.00}x fewer FLOPs)",
            string.Join(", ", names.Select(n => n + "=" + allocation.KeepCounts[n].ToString(CultureInfo.InvariantCulture))), allocation.Reduction);

    /// <summary>The channel-dependency groups: one line each, prunable or kept whole and why.</summary>
    public void Groups(IEnumerable<ChannelGroup> groups)
    {
        foreach (var g in groups)
        {
            logger.LogInformation("Ldrf group {Source} ({Channels} channels): lockstep [{Lockstep}], consumers [{Consumers}], {State}",
                g.Name, g.Channels, string.Join(", ", g.Lockstep), string.Join(", ", g.Consumers), g.Prunable ? "prunable" : "kept whole: " + g.CoupledBy);
        }
    }

    public void LayerPruned(LayerPruningResult result, int channels) =>
        logger.LogInformation("Ldrf pruned {Layer}: {Before} -> {After} channels, r = {Capacity}, embedding error {EmbeddingError:0.0000}, output error {OutputError:0.0000}",
            result.LayerName, channels, result.KeptChannels.Length, result.ValidCapacity, result.RelativeEmbeddingError, result.RelativeOutputError);

    public void OutputChecked(double relativeError, int heldOutImages) =>
        logger.LogInformation("Ldrf output check: relative error {Error:0.0000} against the original on {Images} held-out calibration images", relativeError, heldOutImages);
}
