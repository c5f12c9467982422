using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Training;
using Ldrf.TorchSharp.Serialization;
using TorchSharp;
using TorchSharp.PyBridge;

namespace Ldrf.Samples.Tests;

/// <summary>
/// The PyTorchInterop sample's files: the state_dict PyTorch wrote loads strictly into the TorchSharp network of
/// the same names and keeps its accuracy, and ExportPyTorch writes it back loadable. Pruning itself is left to
/// the sample run: the pruner switches libtorch's oneDNN off and on again, and after such a switch later
/// training in this process sometimes produced NaN, so no test here prunes.
/// </summary>
public class PyTorchInteropTests
{
    [Test]
    public void The_shipped_PyTorch_state_dict_loads_strictly_keeps_its_accuracy_and_exports_back()
    {
        using var network = FashionCnn.Create(FashionCnn.Original);
        network.load_py(Path.Combine(AppContext.BaseDirectory, "PyTorchInterop", "fashion-cnn.pt"), strict: true);
        network.eval();
        using var test = FashionMnist.LoadTest(FashionMnistLocator.LocateSubset(), 500);
        // fashion_cnn.py measured 87.90% on all 2,000 shipped test images; a wrong layout or normalization gives ~10%.
        Assert.That(Evaluator.Accuracy(network, test.Images, test.Labels, 50), IsFinite.GreaterThan(0.85));
        Assert.That(FashionCnn.WidthsOf(network), Is.EqualTo(FashionCnn.Original));

        var file = Path.Combine(Path.GetTempPath(), $"ldrf-interop-{Guid.NewGuid():N}.pt");
        try
        {
            network.ExportPyTorch(file);
            using var reloaded = FashionCnn.Create(FashionCnn.Original);
            reloaded.load_py(file, strict: true);
            reloaded.eval();
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var images = test.Images.narrow(0, 0, 50);
            var difference = (network.forward(images) - reloaded.forward(images)).abs().max().item<float>();
            Assert.That(difference, Is.Zero, "the reloaded export must compute exactly what the loaded network computes");
        }
        finally
        {
            File.Delete(file);
        }
    }
}
