using System.Text.RegularExpressions;
using Ldrf.TorchSharp.Models;
using Ldrf.TorchSharp.Modules;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Recovery;
using Ldrf.TorchSharp.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>The usage example of README.md is this compiled code: the test runs it and checks the README still shows it verbatim.</summary>
public class ReadmeUsageTests
{
    private static PruningResult PruneLikeTheReadme(nn.Module<Tensor, Tensor> network, IEnumerable<Tensor> calibrationBatches)
    {
        var before = TestNetworks.Snapshot(network);
        #region readme-usage
        var pruner = new TorchSharpPruner(new LdrfOptions());
        var options = new NetworkPruningOptions
        {
            TargetFlopsReduction = 2.0,  // FLOPs of the pruned network: half of the original's
            // Widths: the same fraction of every layer by default; WidthAllocationKind.ErrorCurves lets LDRF's error
            // curves choose them (measured against uniform widths in docs/results.md).
            Allocation = WidthAllocationKind.Uniform,
        };
        var result = pruner.Prune(network, calibrationBatches, options);
        Console.WriteLine(result.Report);  // per-layer widths, errors, FLOPs, parameters, latency
        var smaller = result.Network; // a new network (a Sequential here); `network` is left unchanged
        #endregion
        // What the snippet's comments promise: a new network, and the caller's left unchanged.
        Assert.That(smaller, Is.Not.SameAs(network));
        Assert.That(TestNetworks.Snapshot(network), Is.EqualTo(before), "`network` is left unchanged");
        return result;
    }

    private static PruningResult PruneAResNetLikeGettingStarted(IEnumerable<Tensor> calibrationBatches)
    {
        #region getting-started-resnet
        // torchvision's block layouts and names: ResidualBlock.Basic (ResNet-18/34), ResidualBlock.Bottleneck (ResNet-50+)
        var network = nn.Sequential(
            ("conv1", nn.Conv2d(3, 32, 3, padding: 1, bias: false)), ("bn1", nn.BatchNorm2d(32)), ("relu", nn.ReLU()),
            ("layer1", nn.Sequential(("0", ResidualBlock.Basic(32, 32)), ("1", ResidualBlock.Basic(32, 64, stride: 2)))),
            ("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(64, 10)));
        // ... train it or load its weights, then prune the blocks' inner channels:
        var result = new TorchSharpPruner().Prune(network, calibrationBatches,
            new NetworkPruningOptions { TargetFlopsReduction = 2.0, UseCapacityBounds = false });
        #endregion
        network.Dispose();
        return result;
    }

    private static RecoveryResult RecoverLikeGettingStarted(Sequential network, nn.Module<Tensor, Tensor> smaller, Tensor images)
    {
        #region getting-started-recovery
        // The original teaches the pruned network on unlabelled images (N x C x H x W); 10% are held out to keep the best.
        var recovery = new RecoveryTrainer().Recover(network, smaller, images, options: new RecoveryOptions { Epochs = 4 });
        Console.WriteLine($"held-out distillation loss {recovery.HeldOutDistillationLossBefore:F4} -> {recovery.HeldOutDistillationLossAfter:F4}");
        var recovered = recovery.Network; // a new network, never worse than `smaller` on the held-out images
        #endregion
        Assert.That(recovered, Is.Not.SameAs(smaller), "a new network");
        return recovery;
    }

    /// <summary>The getting-started example of loading PyTorch weights; the ResNet-50 test of Ldrf.TorchVision.Tests runs it.</summary>
    internal static Sequential LoadResNet50LikeGettingStarted(string path)
    {
        #region getting-started-torchvision
        // In Python: torch.save(torchvision.models.resnet50(weights="DEFAULT").state_dict(), "resnet50.pt")
        var resnet = TorchVisionModels.ResNet50();   // torchvision's names and shapes
        resnet.LoadPyTorch(path);                   // checks every key and shape first; errors name the file and the key
        resnet.eval();
        #endregion
        return resnet;
    }

    /// <summary>Each region is one whole ```csharp snippet of the page (Ldrf.Samples.Tests' GettingStartedTests compiles the page's snippets).</summary>
    [TestCase("readme-usage")]
    [TestCase("getting-started-resnet")]
    [TestCase("getting-started-torchvision")]
    [TestCase("getting-started-recovery")]
    public void Getting_started_shows_the_compiled_examples_verbatim(string region)
    {
        var snippet = Snippet(File.ReadAllText(Path.Combine(RepositoryRoot(), "tests", "Ldrf.TorchSharp.Tests", "ReadmeUsageTests.cs")), region);
        var page = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "getting-started.md")).ReplaceLineEndings("\n");
        Assert.That(page, Does.Contain("```csharp\n" + snippet + "\n```"),
            $"docs/getting-started.md must show the code between #region {region} and #endregion, unindented, as one ```csharp snippet");
    }

    [Test]
    public void Getting_started_resnet_example_runs()
    {
        var batches = TestNetworks.Batches(2);
        try
        {
            using var result = PruneAResNetLikeGettingStarted(batches);
            Assert.That(result.Report.FlopsReduction, IsFinite.EqualTo(2.0, 0.1));
            Assert.That(result.Report.Layers.Where(l => l.ChannelsAfter < l.ChannelsBefore).Select(l => l.Path),
                Is.EquivalentTo(new[] { "layer1.0.conv1", "layer1.1.conv1" }));
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Test]
    public void Getting_started_recovery_example_runs_after_the_readme_example()
    {
        using var network = TestNetworks.WideVgg();
        var batches = TestNetworks.Batches(2);
        using var images = Recovery.RecoveryTests.Images();
        try
        {
            using var pruned = PruneLikeTheReadme(network, batches);
            using var recovery = RecoverLikeGettingStarted(network, pruned.Network, images);
            Assert.That(recovery.HeldOutDistillationLossAfter, IsFinite.AtMost(recovery.HeldOutDistillationLossBefore));
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Test]
    public void Readme_usage_example_runs_and_is_shown_verbatim_in_the_readme()
    {
        using var network = TestNetworks.WideVgg();
        var batches = TestNetworks.Batches(2);
        try
        {
            using var result = PruneLikeTheReadme(network, batches);
            Assert.That(result.Report.FlopsReduction, IsFinite.EqualTo(2.0, 0.1));
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }

        var snippet = Snippet(File.ReadAllText(Path.Combine(RepositoryRoot(), "tests", "Ldrf.TorchSharp.Tests", "ReadmeUsageTests.cs")), "readme-usage");
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md")).ReplaceLineEndings("\n");
        Assert.That(readme, Does.Contain(snippet), "README.md must show the code between #region readme-usage and #endregion, unindented");
    }

    private static string Snippet(string source, string region)
    {
        var match = Regex.Match(source.ReplaceLineEndings("\n"), $@"#region {Regex.Escape(region)}\n(.*?)\n\s*#endregion", RegexOptions.Singleline);
        Assert.That(match.Success, Is.True, $"#region {region} not found");
        var lines = match.Groups[1].Value.Split('\n');
        var indent = lines.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        return string.Join("\n", lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()));
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
