using TorchSharp;

namespace Ldrf.TorchSharp.Tests.Reliability;

/// <summary>
/// The reliability tests run libtorch on one thread: on a shared 2-core machine that was about 3x faster than
/// 2 threads under contention, and these tests check bookkeeping, not speed. The caller's setting is restored.
/// </summary>
[SetUpFixture]
public class ReliabilitySetup
{
    private int _threads;

    [OneTimeSetUp]
    public void UseOneThread()
    {
        _threads = torch.get_num_threads();
        torch.set_num_threads(1);
    }

    [OneTimeTearDown]
    public void RestoreThreads() => torch.set_num_threads(_threads);
}
