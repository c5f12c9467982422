using Ldrf.TorchSharp.Pruning;

namespace Ldrf.TorchSharp.Tests;

/// <summary>Keeps every change of the public surface visible in review (PublicApi.approved.txt).</summary>
public class PublicApiTests
{
    [Test]
    public void Public_api_matches_the_approved_listing() =>
        PublicApi.AssertMatchesApproved(typeof(TorchSharpPruner).Assembly, "tests/Ldrf.TorchSharp.Tests/PublicApi.approved.txt");
}
