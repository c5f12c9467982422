// PyTorch interop: load a state_dict written by PyTorch into a TorchSharp network with the same module
// names, prune it with LDRF, and write it back in PyTorch's format.
//
//   dotnet run -c Release --project samples/PyTorchInterop [-- STATE_DICT.pt] [--out FILE] [--speedup 2]
//   python3 samples/PyTorchInterop/fashion_cnn.py check artifacts/pytorch-interop/fashion-cnn-pruned.pt
//   python3 samples/PyTorchInterop/layout_check.py artifacts/pytorch-interop/layout-check
//
// fashion-cnn.pt, next to this file, was written by `python3 samples/PyTorchInterop/fashion_cnn.py train`;
// it ships so that this sample runs without Python.
using System.Globalization;
using Ldrf;
using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Training;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Serialization;
using TorchSharp;
using static TorchSharp.torch;

// 1. Arguments: the state_dict to load (default: the shipped one), where to write the pruned one, the target.
string? input = null;
var output = Path.Combine("artifacts", "pytorch-interop", "fashion-cnn-pruned.pt");
var speedup = 2.0;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--out" when i + 1 < args.Length: output = args[++i]; break;
        case "--speedup" when i + 1 < args.Length && double.TryParse(args[i + 1], CultureInfo.InvariantCulture, out speedup) && speedup > 1: i++; break;
        case var a when !a.StartsWith("--", StringComparison.Ordinal) && input is null: input = a; break;
        default:
            Console.Error.WriteLine($"unexpected argument '{args[i]}'\nusage: PyTorchInterop [STATE_DICT.pt] [--out FILE] [--speedup N (> 1, default 2)]");
            return 2;
    }
}

input ??= Path.Combine(AppContext.BaseDirectory, "fashion-cnn.pt");
torch.set_num_threads(1); // faster than 2 when other work shares a 2-core machine
torch.random.manual_seed(1);

// 2. The same CNN as fashion_cnn.py, in TorchSharp, with PyTorch's weights. LoadPyTorch checks every key and shape first
//    and names the file and the first key that differs (PyBridge's load_py compares key names only, see README.md).
using var original = FashionCnn.Create(FashionCnn.Original);
original.LoadPyTorch(input);
original.eval();
Console.WriteLine($"2. Loaded the PyTorch state_dict {input} into a TorchSharp Sequential ({Count(original):N0} parameters).");

// 3. The shipped Fashion-MNIST subset: 300 training images to calibrate, 2,000 test images to measure.
var subset = FashionMnistLocator.LocateSubset();
using var train = FashionMnist.LoadTrain(subset, limit: 300);
using var test = FashionMnist.LoadTest(subset);
const int batchSize = 25;
var calibration = Batches.Leading(train.Images, train.Count / batchSize * batchSize, batchSize);
var accuracyBefore = Evaluator.Accuracy(original, test.Images, test.Labels, batchSize);
Console.WriteLine($"3. Test accuracy ({test.Count} shipped images) as trained in PyTorch: {Percent(accuracyBefore)}.");

// 4. Prune with LDRF to the FLOPs target, keeping the same fraction of every layer's neurons.
var pruner = new TorchSharpPruner(new LdrfOptions());
var options = new NetworkPruningOptions { TargetFlopsReduction = speedup, UseCapacityBounds = false };
using var result = pruner.Prune(original, calibration, options);
var pruned = result.Network;
var accuracyAfter = Evaluator.Accuracy(pruned, test.Images, test.Labels, batchSize);
Console.WriteLine($"4. Pruned to {result.Report.FlopsReduction.ToString("F2", CultureInfo.InvariantCulture)}x fewer FLOPs " +
    $"({Count(original):N0} -> {Count(pruned):N0} parameters), test accuracy {Percent(accuracyAfter)} (no fine-tuning):");
Console.WriteLine(result.Report);

// 5. Write it in PyTorch's format. The keys keep their names; only the sizes change.
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
pruned.ExportPyTorch(output);
var widths = FashionCnn.WidthsOf(pruned);
Console.WriteLine($"5. Wrote {Path.GetFullPath(output)} ({new FileInfo(output).Length:N0} bytes); widths {widths}.");

// 6. Read the export back as PyTorch would: a fresh network of the pruned widths, every key and shape checked, same outputs.
using var reloaded = FashionCnn.Create(widths);
reloaded.LoadPyTorch(output);
reloaded.eval();
using (torch.no_grad())
{
    using var image = test.Images.narrow(0, 0, 1);
    using var expected = pruned.forward(image);
    using var actual = reloaded.forward(image);
    var difference = (expected - actual).abs().max().item<float>();
    var logits = string.Join(" ", actual[0].data<float>().ToArray().Select(v => v.ToString("F4", CultureInfo.InvariantCulture)));
    Console.WriteLine($"6. Reloaded the export into a fresh network: largest output difference {difference}. Logits of test image 0:\n   {logits}");
}

Console.WriteLine($"   In PyTorch: python3 samples/PyTorchInterop/fashion_cnn.py check {output}");

// 7. With batch norms, as torchvision's vgg*_bn and ResNets are built (this one untrained): the pruner folds them into the
//    convolutions, and ExportPyTorch with layoutOf: the original writes them back, so PyTorch's own class loads the export.
var layoutFolder = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(output))!, "layout-check");
using (var checkImages = test.Images.narrow(0, 0, 100))
{
    var layoutWidths = LayoutCheck.Write(layoutFolder, calibration, checkImages);
    Console.WriteLine($"7. The CNN with batch norms ({LayoutCheck.Original} -> {layoutWidths}) written with ExportPyTorch(path, layoutOf: original) " +
        $"to {layoutFolder}: bn1..bn3 kept (identity-initialized, carrying the folded biases), conv1..conv3 without bias keys as in the original.");
}

Console.WriteLine($"   In PyTorch: python3 samples/PyTorchInterop/layout_check.py {layoutFolder}");
return 0;

static long Count(nn.Module module) => module.parameters().Sum(p => p.numel());

static string Percent(double accuracy) => accuracy.ToString("P2", CultureInfo.InvariantCulture);
