using TorchSharp;

namespace Ldrf.Samples.Tests;

/// <summary>One intra-op thread: the test tensors are small, and it keeps runs repeatable and polite on shared machines.</summary>
[SetUpFixture]
public class TorchSetup
{
    [OneTimeSetUp]
    public void UseOneThread() => torch.set_num_threads(1);
}
