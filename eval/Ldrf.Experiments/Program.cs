// The comparison harness of docs/results.md: prunes the shipped Fashion-MNIST VGG (or ResNet) with LDRF (each decomposition)
// and with every baseline at several FLOPs reductions, and measures accuracy before and after a short fine-tune,
// FLOPs and parameter ratios and CPU latency. Too slow for the test run; `--smoke` is the quick check CI runs.
//
//   dotnet run -c Release --project eval/Ldrf.Experiments                 (full run: writes docs/results*)
//   dotnet run -c Release --project eval/Ldrf.Experiments -- --memory 1000,8000
//   dotnet run -c Release --project eval/Ldrf.Experiments -- --model resnet --speedups 2,3   (the shipped ResNet)
//   dotnet run -c Release --project eval/Ldrf.Experiments -- --model mobilenet --speedups 2,3   (the shipped MobileNetV2-style graph network)
//   dotnet run -c Release --project eval/Ldrf.Experiments -- --model resnet18-imagenet   (the ImageNet-pretrained ONNX ResNet-18 trunk)
//   dotnet run -c Release --project eval/Ldrf.Experiments -- --cost vgg16,resnet50   (times pruning torchvision's VGG-16 and ResNet-50 at 224 x 224)
//   dotnet run -c Release --project eval/Ldrf.Experiments -- --smoke      (writes artifacts/experiments-smoke)
using Ldrf.Experiments;

ExperimentSettings settings;
try
{
    settings = ExperimentSettings.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(ExperimentSettings.Usage);
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

var command = "dotnet run -c Release --project eval/Ldrf.Experiments" + (args.Length > 0 ? " -- " + string.Join(' ', args) : "");
new ExperimentRunner(settings, command, Console.Out).Run(cancel.Token);
Console.WriteLine($"Results in {Path.GetFullPath(settings.OutputFolder)}{(settings.MarkdownPath is null ? "" : " and " + Path.GetFullPath(settings.MarkdownPath))}.");
return 0;
