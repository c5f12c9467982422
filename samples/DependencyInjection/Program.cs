// Dependency injection: a generic-host console app that takes Ldrf from the service container, configured
// from appsettings.json (and the command line), and prunes the shipped Fashion-MNIST VGG model to 2x.
//
//   dotnet run -c Release --project samples/DependencyInjection [-- --Ldrf:Pruning:TargetFlopsReduction=3 --Ldrf:Embedding=ResponseAware --Sample:Method=ChannelPruning]
using System.Globalization;
using Ldrf;
using Ldrf.Baselines;
using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Models;
using Ldrf.Samples.Common.Training;
using Ldrf.TorchSharp.Pruning;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TorchSharp;

// 1. The host: configuration from appsettings.json, environment variables and the command line; console logging.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory, // appsettings.json is copied next to the binary
});
builder.Logging.AddSimpleConsole(o => o.SingleLine = true);

// 2. Register Ldrf, its options bound from the "Ldrf" section: LdrfOptions from the section itself, the
// NetworkPruningOptions from "Ldrf:Pruning" (and RecoveryOptions, BaselineOptions from "Recovery", "Baselines").
// AddLdrfTorchSharp registers libtorch's MKL-backed numeric backend, then the core's parts (AddLdrf: decomposer,
// selector, recomposer, the LDRF ILayerPruner and every baseline keyed by BaselineKind), then TorchSharpPruner (one
// for LDRF, one per baseline, keyed alike). Every part is TryAdd: register a replacement before this call.
// ValidateOnStart: invalid options stop the app when the host starts, every invalid value named at once.
builder.Services.AddLdrfTorchSharp(builder.Configuration.GetSection("Ldrf")).ValidateOnStart();
builder.Services.AddOptions<NetworkPruningOptions>().ValidateOnStart();
var settings = builder.Configuration.GetSection("Sample").Get<SampleSettings>() ?? new SampleSettings();

using var host = builder.Build();
await host.StartAsync(); // validates the options; hooks Ctrl+C to the host's stopping token, which step 5 passes on
var logger = host.Services.GetRequiredService<ILogger<Program>>();

// 3. Resolve the parts. ILayerPruner prunes one layer from its statistics (no TorchSharp involved);
// TorchSharpPruner runs it over a whole network and logs one line per layer through ILogger. The method is LDRF
// (the unkeyed registrations) or a baseline (keyed by its BaselineKind), chosen by Sample:Method.
var method = settings.Method;
var baseline = method == "Ldrf" ? (BaselineKind?)null : Enum.Parse<BaselineKind>(method);
var layerPruner = baseline is { } b ? host.Services.GetRequiredKeyedService<ILayerPruner>(b) : host.Services.GetRequiredService<ILayerPruner>();
var pruner = baseline is { } k ? host.Services.GetRequiredKeyedService<TorchSharpPruner>(k) : host.Services.GetRequiredService<TorchSharpPruner>();
var ldrfOptions = host.Services.GetRequiredService<IOptions<LdrfOptions>>().Value;
var options = host.Services.GetRequiredService<IOptions<NetworkPruningOptions>>().Value;
logger.LogInformation("Resolved {Method}: ILayerPruner {LayerPruner} (LDRF options: {Embedding} embedding, {Selection} selection, {Recomposition} recomposition)",
    method, layerPruner.GetType().Name, ldrfOptions.Embedding, ldrfOptions.Selection, ldrfOptions.Recomposition);

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
using var result = pruner.Prune(model, calibration, options, progress: null, lifetime.ApplicationStopping);

// 6. The report, and the accuracy on the shipped test images before and after (no fine-tuning).
Console.WriteLine(result.Report);
var before = Evaluator.Accuracy(model, test.Images, test.Labels, batchSize);
var after = Evaluator.Accuracy(result.Network, test.Images, test.Labels, batchSize);
logger.LogInformation("{Method}: {Flops:F2}x fewer FLOPs; test accuracy on {Count} images {Before} before, {After} after pruning",
    method, result.Report.FlopsReduction, test.Count, before.ToString("P2", CultureInfo.InvariantCulture), after.ToString("P2", CultureInfo.InvariantCulture));
await host.StopAsync();
return 0;

/// <summary>The "Sample" section of the configuration: this app's own settings.</summary>
internal sealed class SampleSettings
{
    /// <summary>"Ldrf", or a baseline's <see cref="BaselineKind"/> name (for example "ChannelPruning").</summary>
    public string Method { get; set; } = "Ldrf";

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
