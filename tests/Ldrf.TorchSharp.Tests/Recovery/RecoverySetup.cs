namespace Ldrf.TorchSharp.Tests.Recovery;

/// <summary>The recovery tests run libtorch on one thread, like the reliability tests (faster on a shared 2-core machine).</summary>
[SetUpFixture]
public class RecoverySetup : OneLibTorchThread
{
}
