using System.Runtime.InteropServices;
using Ldrf.TorchSharp.Runtime;

namespace Ldrf.TorchSharp.Tests;

public class NativeHeapTrimmerTests
{
    [Test]
    public void The_trimmer_finds_malloc_trim_where_the_C_library_is_glibc()
    {
        // On glibc a silently missing symbol would leave calibration's memory growing with the images again.
        Assume.That(OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libc.so.6", out _), "glibc only");
        Assert.That(NativeHeapTrimmer.IsAvailable, Is.True);
        Assert.DoesNotThrow(() => new NativeHeapTrimmer().BetweenBatches());
    }
}
