using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>TorchSharp's native libraries load and run on this machine, with no step done by hand.</summary>
public class NativeLoadTests
{
    [Test]
    public void Tensors_are_created_and_computed_on_cpu()
    {
        using var a = torch.arange(6, dtype: ScalarType.Float64).reshape(2, 3);
        using var b = a.matmul(a.t());
        Assert.That(b.shape, Is.EqualTo(new long[] { 2, 2 }));
        // [[0,1,2],[3,4,5]] x its transpose = [[5,14],[14,50]].
        Assert.That(b.data<double>().ToArray(), Is.EqualTo(new double[] { 5, 14, 14, 50 }));
    }

    [Test]
    public void Conv2d_forward_runs_on_cpu_and_matches_a_hand_computed_sum()
    {
        using var scope = torch.NewDisposeScope();
        using var conv = nn.Conv2d(1, 1, 3, bias: false);
        using (torch.no_grad())
        {
            conv.weight!.fill_(1.0f);
        }
        var input = torch.ones(1, 1, 5, 5);
        var output = conv.forward(input);
        Assert.That(output.shape, Is.EqualTo(new long[] { 1, 1, 3, 3 }));
        Assert.That(output.sum().item<float>(), Is.EqualTo(81f), "each of the 9 outputs sums a 3x3 window of ones");
    }

    [Test]
    public void Shim_in_the_output_folder_needs_no_newer_libstdcxx_than_the_system_has()
    {
        var shim = ElfVersionNeeds.FindShim(AppContext.BaseDirectory);
        Assert.That(shim, Is.Not.Null, $"libLibTorchSharp.so not found under {AppContext.BaseDirectory}");

        const string version = "GLIBCXX_3.4.32";
        if (ElfVersionNeeds.SystemLibstdcxxProvides(version))
        {
            Assert.Pass($"the system libstdc++ provides {version}; the build leaves the shim alone");
        }

        var needs = ElfVersionNeeds.Read(shim!);
        var entry = needs.SingleOrDefault(n => n.Name == version);
        Assert.That(entry.Name, Is.EqualTo(version), $"{shim} does not list {version} at all (TorchSharp changed?)");
        Assert.That(entry.IsWeak, Is.True, $"{version} in {shim} must be flagged weak by Ldrf.TorchSharp.targets");
        Assert.That(needs.Where(n => n.Name != version).All(n => !n.IsWeak), Is.True, "only that one requirement may change");
    }
}

/// <summary>Reads the version requirements (.gnu.version_r) of an ELF64 little-endian shared object.</summary>
internal static class ElfVersionNeeds
{
    public readonly record struct Need(string File, string Name, bool IsWeak);

    public static string? FindShim(string folder) =>
        Directory.EnumerateFiles(folder, "libLibTorchSharp.so", SearchOption.AllDirectories).FirstOrDefault();

    public static bool SystemLibstdcxxProvides(string version)
    {
        var folders = (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(new[] { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib" });
        var lib = folders.Select(f => Path.Combine(f, "libstdc++.so.6")).FirstOrDefault(File.Exists);
        return lib is not null && File.ReadAllBytes(lib).AsSpan().IndexOf(Encoding.ASCII.GetBytes(version)) >= 0;
    }

    public static List<Need> Read(string path)
    {
        var b = File.ReadAllBytes(path);
        var result = new List<Need>();
        long shoff = (long)BitConverter.ToUInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A);
        int shnum = BitConverter.ToUInt16(b, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (BitConverter.ToUInt32(b, (int)sh + 4) != 0x6ffffffe)
            {
                continue;
            }
            long vn = (long)BitConverter.ToUInt64(b, (int)sh + 24);
            uint link = BitConverter.ToUInt32(b, (int)sh + 40);
            uint count = BitConverter.ToUInt32(b, (int)sh + 44);
            long strtab = (long)BitConverter.ToUInt64(b, (int)(shoff + (long)link * shentsize) + 24);
            for (uint n = 0; n < count; n++)
            {
                string file = CString(b, strtab + BitConverter.ToUInt32(b, (int)vn + 4));
                int auxCount = BitConverter.ToUInt16(b, (int)vn + 2);
                long va = vn + BitConverter.ToUInt32(b, (int)vn + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    ushort flags = BitConverter.ToUInt16(b, (int)va + 4);
                    result.Add(new Need(file, CString(b, strtab + BitConverter.ToUInt32(b, (int)va + 8)), (flags & 2) != 0));
                    va += BitConverter.ToUInt32(b, (int)va + 12);
                }
                vn += BitConverter.ToUInt32(b, (int)vn + 12);
            }
        }
        return result;
    }

    private static string CString(byte[] b, long at)
    {
        long end = at;
        while (b[end] != 0)
        {
            end++;
        }
        return Encoding.ASCII.GetString(b, (int)at, (int)(end - at));
    }
}
