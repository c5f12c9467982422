using Ldrf.TorchSharp.Tests;

namespace Ldrf.TorchVision.Tests;

/// <summary>
/// One libtorch thread for these ImageNet-scale tests: on the shared 2-core machines the VGG-16 pruning test ran
/// faster on one thread than on two, and the other test assemblies run beside this one.
/// </summary>
[SetUpFixture]
public class TorchVisionSetup : OneLibTorchThread
{
}
