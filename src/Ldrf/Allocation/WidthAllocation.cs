namespace Ldrf.Allocation;

/// <summary>Per-layer widths and the FLOPs they give.</summary>
internal sealed class WidthAllocation
{
    internal WidthAllocation(IReadOnlyDictionary<string, int> keepCounts, double flopsBefore, double flopsAfter)
    {
        KeepCounts = keepCounts;
        FlopsBefore = flopsBefore;
        FlopsAfter = flopsAfter;
    }

    /// <summary>The number of channels to keep per prunable layer name.</summary>
    public IReadOnlyDictionary<string, int> KeepCounts { get; }

    /// <summary>FLOPs of the unpruned network (compute layers plus fixed FLOPs).</summary>
    public double FlopsBefore { get; }

    /// <summary>FLOPs with these widths.</summary>
    public double FlopsAfter { get; }

    /// <summary>FlopsBefore / FlopsAfter.</summary>
    public double Reduction => FlopsBefore / FlopsAfter;
}
