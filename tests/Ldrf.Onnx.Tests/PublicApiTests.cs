namespace Ldrf.Onnx.Tests;

/// <summary>Keeps every change of the public surface visible in review (PublicApi.approved.txt).</summary>
public class PublicApiTests
{
    [Test]
    public void Public_api_matches_the_approved_listing() =>
        PublicApi.AssertMatchesApproved(typeof(OnnxModel).Assembly, "tests/Ldrf.Onnx.Tests/PublicApi.approved.txt");
}
