using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Ldrf.Samples.Tests;

/// <summary>
/// Every <c>```csharp</c> snippet of docs/getting-started.md and README.md compiles as written (compiled only, not run;
/// the examples that ReadmeUsageTests runs are shown verbatim, which ReadmeUsageTests checks).
/// <para>
/// What a snippet is compiled with, as a new console project (<c>dotnet new console</c>) would compile it:
/// <list type="bullet">
/// <item>the using lines the snippet shows, plus the implicit usings that project gets (<see cref="ImplicitUsings"/>);</item>
/// <item>the packages the page tells the reader to add (its <c>dotnet add package NAME</c> lines) with their dependencies,
/// as this test project's deps.json resolves them, plus the .NET runtime; a page package that is no library of this test
/// project fails the test (add it to Ldrf.Samples.Tests.csproj), so a snippet cannot compile against a package the page
/// does not name;</item>
/// <item>C# latest, nullable enabled, top-level statements; errors and warnings fail the test (CS1701/CS1702 are off, as in
/// the SDK).</item>
/// </list>
/// </para>
/// <para>
/// Markers: an HTML comment on the line right before a fence, <c>&lt;!-- snippet: CLAUSE; CLAUSE --&gt;</c>, invisible on
/// the rendered page. Clauses:
/// <list type="bullet">
/// <item><c>continues previous</c>: the snippet is a fragment that continues the <c>```csharp</c> snippet before it (and
/// whatever that one continues); they compile as one program, the using lines of all of them first, then their code
/// in page order.</item>
/// <item><c>given TYPE NAME</c>: a variable the text says the reader already has (their network, their calibration
/// batches) is declared before the code as <c>TYPE NAME = default!;</c>, with the snippets' usings.</item>
/// </list>
/// Any other clause, or a marker not followed by a <c>```csharp</c> fence, fails the test.
/// </para>
/// </summary>
public class GettingStartedTests
{
    /// <summary>The implicit usings of a new console project (Microsoft.NET.Sdk with ImplicitUsings enabled).</summary>
    public static readonly string[] ImplicitUsings =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    private static readonly string[] Pages = ["docs/getting-started.md", "README.md"];

    public static IEnumerable<TestCaseData> Programs() =>
        Pages.SelectMany(page => SnippetProgram.Read(ReadPage(page))
            .Select(program => new TestCaseData(page, program).SetName($"Snippet of {page} at line {program.Line} compiles")));

    [TestCaseSource(nameof(Programs))]
    public void Snippet_compiles(string page, SnippetProgram program)
    {
        var references = References(Packages(ReadPage(page)));
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var implicitUsings = CSharpSyntaxTree.ParseText(string.Concat(ImplicitUsings.Select(u => $"global using {u};\n")), parse, "ImplicitUsings.cs");
        var source = program.Source();
        var compilation = CSharpCompilation.Create("Snippet",
            [implicitUsings, CSharpSyntaxTree.ParseText(source, parse, "Program.cs")],
            references,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable)
                .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic> { ["CS1701"] = ReportDiagnostic.Suppress, ["CS1702"] = ReportDiagnostic.Suppress }));

        var problems = compilation.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).Select(d => d.ToString()).ToList();
        Assert.That(problems, Is.Empty,
            $"The ```csharp snippet of {page} at line {program.Line} does not compile as written. The program compiled:\n" + Numbered(source));
    }

    [Test]
    public void Markers_are_read_as_documented()
    {
        const string page = """
            ```csharp
            using A;
            ```

            <!-- snippet: continues previous; given List<int> xs; given string path -->
            ```csharp
            var n = xs.Count;
            ```

            ```csharp
            using B;
            Console.WriteLine();
            ```
            """;
        var programs = SnippetProgram.Read(page.ReplaceLineEndings("\n"));
        Assert.That(programs.Select(p => p.Line), Is.EqualTo(new[] { 1, 10 }));
        Assert.That(programs[0].Source(), Is.EqualTo("using A;\n\nList<int> xs = default!;\nstring path = default!;\n\nvar n = xs.Count;\n"));
        Assert.That(programs[1].Source(), Is.EqualTo("using B;\n\nConsole.WriteLine();\n"));

        Assert.Throws<FormatException>(() => SnippetProgram.Read("<!-- snippet: continue previous -->\n```csharp\nx();\n```\n"));
        Assert.Throws<FormatException>(() => SnippetProgram.Read("<!-- snippet: given string path -->\n\n```csharp\nx();\n```\n"));
        Assert.Throws<FormatException>(() => SnippetProgram.Read("<!-- snippet: continues previous -->\n```csharp\nx();\n```\n"));
    }

    [Test]
    public void Each_page_has_snippets_and_packages()
    {
        foreach (var page in Pages)
        {
            var text = ReadPage(page);
            Assert.That(SnippetProgram.Read(text), Is.Not.Empty, page);
            Assert.That(Packages(text), Does.Contain("Ldrf.TorchSharp"), page);
        }
    }

    /// <summary>The packages a page tells the reader to add: its <c>dotnet add package NAME</c> lines.</summary>
    private static List<string> Packages(string page) =>
        [.. Regex.Matches(page, @"dotnet add package ([\w.\-]+)").Select(m => m.Groups[1].Value).Distinct()];

    /// <summary>
    /// The .NET runtime's assemblies, and the runtime assemblies of the packages and their dependencies as this test
    /// project's deps.json lists them (they sit next to the test assembly).
    /// </summary>
    private static List<MetadataReference> References(IEnumerable<string> packages)
    {
        var baseDirectory = AppContext.BaseDirectory;
        var depsFile = Path.Combine(baseDirectory, typeof(GettingStartedTests).Assembly.GetName().Name + ".deps.json");
        using var deps = JsonDocument.Parse(File.ReadAllText(depsFile));
        var target = deps.RootElement.GetProperty("targets").EnumerateObject().First().Value;
        var libraries = target.EnumerateObject().ToDictionary(l => l.Name[..l.Name.IndexOf('/', StringComparison.Ordinal)], l => l.Value, StringComparer.OrdinalIgnoreCase);

        var files = new HashSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var pending = new Stack<string>();
        foreach (var package in packages)
        {
            Assert.That(libraries.ContainsKey(package), Is.True,
                $"The page tells the reader to add the package {package}, which Ldrf.Samples.Tests does not reference: add it to Ldrf.Samples.Tests.csproj so its snippets compile against it");
            pending.Push(package);
        }

        while (pending.TryPop(out var name))
        {
            if (!seen.Add(name) || !libraries.TryGetValue(name, out var library))
            {
                continue;
            }

            if (library.TryGetProperty("runtime", out var runtime))
            {
                files.UnionWith(runtime.EnumerateObject().Select(a => Path.Combine(baseDirectory, Path.GetFileName(a.Name))));
            }

            if (library.TryGetProperty("dependencies", out var dependencies))
            {
                foreach (var dependency in dependencies.EnumerateObject())
                {
                    pending.Push(dependency.Name);
                }
            }
        }

        var runtimeDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        files.UnionWith(Directory.EnumerateFiles(runtimeDirectory, "*.dll").Where(IsManaged));
        return [.. files.Select(f => MetadataReference.CreateFromFile(f))];
    }

    private static bool IsManaged(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        return pe.HasMetadata && pe.GetMetadataReader().IsAssembly;
    }

    private static string Numbered(string source) =>
        string.Join("\n", source.Split('\n').Select((line, i) => $"{i + 1,4}  {line}"));

    private static string ReadPage(string page) => File.ReadAllText(Path.Combine(RepositoryRoot(), page)).ReplaceLineEndings("\n");

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

/// <summary>
/// One program made of a <c>```csharp</c> snippet and the fragments that continue it (the marker scheme is described on
/// <see cref="GettingStartedTests"/>).
/// </summary>
/// <param name="Line">The line of the first snippet's opening fence (1-based).</param>
/// <param name="Snippets">The snippets' code, in page order.</param>
/// <param name="Givens">The declarations of <c>given</c> clauses, such as <c>string path</c>.</param>
public sealed record SnippetProgram(int Line, IReadOnlyList<string> Snippets, IReadOnlyList<string> Givens)
{
    private static readonly Regex Marker = new(@"^<!--\s*snippet:(.*?)-->\s*$");

    /// <summary>The programs of a page, in page order.</summary>
    /// <exception cref="FormatException">A marker has an unknown clause, is not followed by a <c>```csharp</c> fence, or continues nothing.</exception>
    public static List<SnippetProgram> Read(string page)
    {
        var lines = page.Split('\n');
        var programs = new List<SnippetProgram>();
        for (var i = 0; i < lines.Length; i++)
        {
            var marker = Marker.Match(lines[i].Trim());
            if (marker.Success && (i + 1 >= lines.Length || lines[i + 1].Trim() != "```csharp"))
            {
                throw new FormatException($"Line {i + 1}: a snippet marker must be followed by a ```csharp fence on the next line.");
            }

            if (lines[i].Trim() != "```csharp")
            {
                continue;
            }

            var start = i;
            var code = new StringBuilder();
            for (i++; i < lines.Length && lines[i].Trim() != "```"; i++)
            {
                code.Append(lines[i]).Append('\n');
            }

            var continues = false;
            var givens = new List<string>();
            var previous = start > 0 ? Marker.Match(lines[start - 1].Trim()) : Match.Empty;
            foreach (var clause in previous.Success ? previous.Groups[1].Value.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : [])
            {
                if (clause == "continues previous")
                {
                    continues = true;
                }
                else if (clause.StartsWith("given ", StringComparison.Ordinal))
                {
                    givens.Add(clause["given ".Length..].Trim());
                }
                else
                {
                    throw new FormatException($"Line {start}: unknown snippet marker clause '{clause}' (known: 'continues previous', 'given TYPE NAME').");
                }
            }

            if (continues)
            {
                if (programs.Count == 0)
                {
                    throw new FormatException($"Line {start}: 'continues previous', but no ```csharp snippet comes before it.");
                }

                var last = programs[^1];
                programs[^1] = last with { Snippets = [.. last.Snippets, code.ToString()], Givens = [.. last.Givens, .. givens] };
            }
            else
            {
                programs.Add(new SnippetProgram(start + 1, [code.ToString()], givens));
            }
        }

        return programs;
    }

    /// <summary>
    /// The program's source: the snippets' using directives, the givens' declarations, then the rest of each snippet in
    /// order.
    /// </summary>
    public string Source()
    {
        var usings = new List<string>();
        var bodies = new List<string>();
        foreach (var snippet in Snippets)
        {
            var root = (CompilationUnitSyntax)CSharpSyntaxTree.ParseText(snippet).GetRoot();
            var split = root.Usings.Count == 0 ? 0 : root.Usings[^1].FullSpan.End;
            usings.Add(snippet[..split].Trim('\n'));
            bodies.Add(snippet[split..].Trim('\n'));
        }

        var parts = new[]
        {
            string.Join("\n", usings.Where(u => u.Length > 0)),
            string.Concat(Givens.Select(g => g + " = default!;\n")).TrimEnd('\n'),
            string.Join("\n\n", bodies.Where(b => b.Length > 0)),
        };
        return string.Join("\n\n", parts.Where(p => p.Length > 0)) + "\n";
    }

    public override string ToString() => $"line {Line}";
}
