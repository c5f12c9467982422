using TorchSharp;

namespace Ldrf.TorchSharp.Tests;

/// <summary>
/// Base of the set-up fixtures that run a namespace's tests on one libtorch thread (on the shared 2-core machines
/// that was faster than two under contention); the caller's setting is restored afterwards.
/// </summary>
public abstract class OneLibTorchThread
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
