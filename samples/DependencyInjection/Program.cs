// Dependency injection: a generic-host console app that takes Ldrf from the service container, configured
// from appsettings.json (and the command line), and prunes the shipped Fashion-MNIST VGG model to 2x.
//
//   dotnet run -c Release --project samples/DependencyInjection [-- --Pruning:TargetFlopsReduction=3 --Ldrf:Embedding=ResponseAware]
using System.Globalization;
using Ldrf;
using Ldrf.Numerics;
using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Models;
using Ldrf.Samples.Common.Training;
using Ldrf.TorchSharp.Pruning;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TorchSharp;

// 1. The host: configuration from appsettings.json, environment variables and the command line; console logging.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory, // appsettings.json is copied next to the binary
});
builder.Logging.AddSimpleConsole(o => o.SingleLine = true);

// 2. Register Ldrf. AddLdrfTorchSharp registers libtorch's MKL-backed numeric backend, then calls
// AddLdrf(configure) for the core parts (options, decomposer, selector, recomposer, ILayerPruner), then
// TorchSharpPruner. Every registration is TryAdd: the first one wins, so register a replacement part
// before this call, and call AddLdrf alone only in an application without TorchSharp.
builder.Services.AddLdrfTorchSharp(options => builder.Configuration.GetSection("Ldrf").Bind(options));
var settings = builder.Configuration.GetSection("Pruning").Get<PruningSettings>() ?? new PruningSettings();

using var host = builder.Build();
await host.StartAsync(); // hooks Ctrl+C to the host's stopping token, which step 5 passes on
var logger = host.Services.GetRequiredService<ILogger<Program>>();

// 3. Resolve the parts. ILayerPruner prunes one layer from its statistics (no TorchSharp involved);
// TorchSharpPruner runs it over a whole network and logs one line per layer through ILogger.
var layerPruner = host.Services.GetRequiredService<ILayerPruner>();
var backend = host.Services.GetRequiredService<INumericBackend>();
var ldrfOptions = host.Services.GetRequiredService<LdrfOptions>();
var pruner = host.Services.GetRequiredService<TorchSharpPruner>();
logger.LogInformation("Resolved ILayerPruner {LayerPruner} ({Embedding} embedding, {Selection} selection) on the {Backend} backend",
    layerPruner.GetType().Name, ldrfOptions.Embedding, ldrfOptions.Selection, backend.Name);

// 4. The shipped model and data: the trained VGG-style network and the 2,000 + 2,000 image subset.
torch.set_num_threads(settings.Threads);
var dataFolder = FashionMnistLocator.FindRepositoryDataFolder()
    ?? throw new DirectoryNotFoundException("samples/data was not found; run this sample from the repository.");
using var model = FashionMnistVgg.Load(Path.Combine(dataFolder, "fashion-mnist-vgg.bin"));
var subset = FashionMnistLocator.LocateSubset();
using var train = FashionMnist.LoadTrain(subset, settings.CalibrationImages);
using var test = FashionMnist.LoadTest(subset, settings.TestImages);
var batchSize = settings.BatchSize;
var calibration = Batches.Leading(train.Images, train.Count, batchSize);
logger.LogInformation("Loaded the model and {Calibration} calibration images in {Batches} batches", train.Count, calibration.Count);

// 5. Prune. Ctrl+C stops the host, whose stopping token cancels the run between calibration batches.
var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
var options = new NetworkPruningOptions { TargetFlopsReduction = settings.TargetFlopsReduction, UseCapacityBounds = false };
using var result = pruner.Prune(model, calibration, options, progress: null, lifetime.ApplicationStopping);

// 6. The report, and the accuracy on the shipped test images before and after (no fine-tuning).
Console.WriteLine(result.Report);
var before = Evaluator.Accuracy(model, test.Images, test.Labels, batchSize);
var after = Evaluator.Accuracy(result.Network, test.Images, test.Labels, batchSize);
logger.LogInformation("{Flops:F2}x fewer FLOPs; test accuracy on {Count} images {Before} before, {After} after pruning",
    result.Report.FlopsReduction, test.Count, before.ToString("P2", CultureInfo.InvariantCulture), after.ToString("P2", CultureInfo.InvariantCulture));
await host.StopAsync();
return 0;

/// <summary>The "Pruning" section of the configuration.</summary>
internal sealed class PruningSettings
{
    /// <summary>FLOPs of the original network divided by FLOPs of the pruned one.</summary>
    public double TargetFlopsReduction { get; set; } = 2.0;

    /// <summary>Training images the pruner sees (it never trains on them).</summary>
    public int CalibrationImages { get; set; } = 300;

    /// <summary>Shipped test images to measure the accuracy on (at most 2,000).</summary>
    public int TestImages { get; set; } = 2000;

    /// <summary>
    /// Images per forward pass, for calibration and accuracy.
    /// </summary>
    public int BatchSize { get; set; } = 25;

    /// <summary>libtorch's CPU threads. Default 1: on a shared 2-core machine, 2 threads ran this sample 4x slower.</summary>
    public int Threads { get; set; } = 1;
}
