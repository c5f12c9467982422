using System.Diagnostics;
using System.Globalization;

namespace Ldrf.Experiments;

/// <summary>The process's resident memory (native libtorch buffers included), from /proc on Linux.</summary>
internal static class MemoryProbe
{
    /// <summary>Resets the kernel's peak-RSS mark (VmHWM) so that the next peak belongs to the next step; false where unsupported.</summary>
    public static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public static double ResidentMegabytes() => Status("VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64 / 1048576.0;

    public static double PeakResidentMegabytes() => Status("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;

    private static double? Status(string key)
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path))
        {
            return null;
        }

        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        var kilobytes = line?[key.Length..].Trim().Split(' ')[0];
        return kilobytes is null ? null : double.Parse(kilobytes, CultureInfo.InvariantCulture) / 1024;
    }
}
