using System.Reflection;
using System.Runtime.CompilerServices;
using Ldrf.TorchSharp.Numerics;

namespace Ldrf.TorchSharp.Tests;

/// <summary>Keeps every change of the public surface visible in review (PublicApi.approved.txt).</summary>
public class PublicApiTests
{
    [Test]
    public void Public_api_matches_the_approved_listing()
    {
        var actual = Listing(typeof(TorchNumericBackend).Assembly);

        // The approved listing is copied next to the test assembly (source paths are mapped away under CI).
        var approved = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "PublicApi.approved.txt")).ReplaceLineEndings("\n");
        if (approved != actual)
        {
            var receivedPath = Path.Combine(TestContext.CurrentContext.WorkDirectory, "PublicApi.received.txt");
            File.WriteAllText(receivedPath, actual);
            Assert.Fail($"The public API changed. Review {receivedPath} and copy it over tests/Ldrf.TorchSharp.Tests/PublicApi.approved.txt if intended.");
        }
    }

    private static string Listing(Assembly assembly)
    {
        const BindingFlags flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            var kind = type.IsInterface ? "interface" : type.IsEnum ? "enum" : type.IsValueType ? "struct" : type.IsAbstract && type.IsSealed ? "static class" : "class";
            lines.Add($"{kind} {type.FullName}");
            var members = type.GetMembers(flags)
                .Where(m => m is not MethodInfo { IsSpecialName: true })
                .Where(m => !(type.IsEnum && m.Name == "value__"))
                .Where(m => m.DeclaringType == type && m.GetCustomAttribute<CompilerGeneratedAttribute>() is null)
                .Select(m => "    " + m.MemberType + " " + m)
                .Order(StringComparer.Ordinal);
            lines.AddRange(members);
        }

        return string.Join('\n', lines) + '\n';
    }
}
