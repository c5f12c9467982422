// A consumer of the packed Ldrf packages: restores Ldrf.TorchSharp from a local folder feed, builds,
// and runs a TorchSharp forward pass. TorchSharp's native shim loads here only because the package's
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
Console.WriteLine("Package consumer OK.");
return 0;
