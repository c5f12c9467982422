// A consumer of the packed Ldrf packages: restores Ldrf.TorchSharp and Ldrf.Onnx from a local folder feed, builds,
// runs a TorchSharp forward pass, and writes the network as ONNX and reads it back. TorchSharp's native shim loads here only because the package's
// buildTransitive targets fixed it in this project's output folder.
using TorchSharp;
using static TorchSharp.torch;

// 1. The Ldrf assemblies came from the packages.
var core = typeof(Ldrf.LdrfOptions).Assembly.GetName();
Console.WriteLine($"Loaded {core.Name} {core.Version} from the package feed.");

// 2. One TorchSharp forward pass on CPU.
torch.random.manual_seed(1);
using var network = nn.Sequential(
    ("conv", nn.Conv2d(1, 4, 3, padding: 1)),
    ("relu", nn.ReLU()),
    ("flatten", nn.Flatten()),
    ("fc", nn.Linear(4 * 8 * 8, 10)));
using var input = torch.randn(2, 1, 8, 8);
using var output = network.forward(input);
Console.WriteLine($"Forward pass: input [{string.Join(", ", input.shape)}] -> output [{string.Join(", ", output.shape)}]");
if (!output.shape.SequenceEqual(new long[] { 2, 10 }) || !output.isfinite().all().item<bool>())
{
    Console.Error.WriteLine("Unexpected forward-pass output.");
    return 1;
}
// 3. ONNX out and back in (Ldrf.Onnx): the imported graph network computes the same outputs.
var onnxPath = Path.Combine(Path.GetTempPath(), $"ldrf-package-consumer-{Environment.ProcessId}.onnx");
Ldrf.Onnx.OnnxModel.Save(network, onnxPath, [1, 8, 8]);
using var imported = Ldrf.Onnx.OnnxModel.Load(onnxPath);
File.Delete(onnxPath);
using var again = imported.forward(input);
Console.WriteLine($"ONNX round trip: {imported.Nodes.Count} nodes, {imported.InputName} -> {imported.OutputName}");
if (!again.allclose(output, rtol: 1e-5, atol: 1e-6))
{
    Console.Error.WriteLine("The network read back from ONNX computes other outputs.");
    return 1;
}
Console.WriteLine("Package consumer OK.");
return 0;
