using System.Text.RegularExpressions;

namespace Ldrf.Samples.Tests;

/// <summary>docs/getting-started.md shows the usage examples that Ldrf.TorchSharp.Tests compiles and runs.</summary>
public class GettingStartedTests
{
    [TestCase("readme-usage")]
    [TestCase("getting-started-resnet")]
    public void Getting_started_shows_the_compiled_example_verbatim(string region)
    {
        var root = RepositoryRoot();
        var source = File.ReadAllText(Path.Combine(root, "tests", "Ldrf.TorchSharp.Tests", "ReadmeUsageTests.cs")).ReplaceLineEndings("\n");
        var match = Regex.Match(source, $@"#region {region}\n(.*?)\n\s*#endregion", RegexOptions.Singleline);
        Assert.That(match.Success, Is.True, $"ReadmeUsageTests.cs must hold a #region {region}");
        var lines = match.Groups[1].Value.Split('\n');
        var indent = lines.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        var snippet = string.Join("\n", lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()));

        var page = File.ReadAllText(Path.Combine(root, "docs", "getting-started.md")).ReplaceLineEndings("\n");
        Assert.That(page, Does.Contain("```csharp\n" + snippet + "\n```"),
            $"docs/getting-started.md must show the code between #region {region} and #endregion, unindented");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ldrf.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("Ldrf.sln not found above " + AppContext.BaseDirectory);
    }
}
