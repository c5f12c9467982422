namespace Ldrf.TorchSharp.Tests.Reliability;

/// <summary>
/// The reliability tests run libtorch on one thread: on a shared 2-core machine that was about 3x faster than
/// 2 threads under contention, and these tests check bookkeeping, not speed.
/// </summary>
[SetUpFixture]
public class ReliabilitySetup : OneLibTorchThread
{
}
