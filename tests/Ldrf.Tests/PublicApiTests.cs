using Ldrf.Statistics;

namespace Ldrf.Tests;

/// <summary>Keeps every change of the public surface visible in review (PublicApi.approved.txt).</summary>
public class PublicApiTests
{
    [Test]
    public void Public_api_matches_the_approved_listing() =>
        PublicApi.AssertMatchesApproved(typeof(ChannelStatistics).Assembly, "tests/Ldrf.Tests/PublicApi.approved.txt");

    [Test]
    public void Core_does_not_reference_TorchSharp()
    {
        var references = typeof(ChannelStatistics).Assembly.GetReferencedAssemblies().Select(a => a.Name);
        Assert.That(references, Has.None.Contains("TorchSharp"));
    }
}
