using BenchmarkDotNet.Attributes;
using Ldrf.Onnx;
using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Models;
using Ldrf.TorchSharp.Pruning;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Ldrf.Benchmarks;

/// <summary>
/// ONNX Runtime latency (default session options) of the shipped Fashion-MNIST VGG as an ONNX file (baseline) against
/// the same network pruned 3x by LDRF and exported with <see cref="OnnxModel.Save"/>, at batch 1 and 32: what a .NET
/// user serving the files with ONNX Runtime gains. The setup prunes the shipped checkpoint with 256 calibration images of
/// the shipped subset and prints the FLOPs ratio beside which the timings are read.
/// </summary>
[MemoryDiagnoser]
public class OnnxRuntimeLatencyBenchmark
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "ldrf-ort-benchmark-" + Environment.ProcessId);
    private InferenceSession _original = null!;
    private InferenceSession _pruned = null!;
    private OrtValue _input = null!;
    private float[] _pixels = null!;

    [Params(1, 32)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var data = FashionMnistLocator.FindRepositoryDataFolder()
            ?? throw new DirectoryNotFoundException("Run the benchmarks from inside the repository: samples/data holds the shipped checkpoint and images.");
        Directory.CreateDirectory(_folder);
        var originalPath = Path.Combine(_folder, "vgg.onnx");
        var prunedPath = Path.Combine(_folder, "vgg-pruned-3x.onnx");
        using (var network = FashionMnistVgg.Load(Path.Combine(data, "fashion-mnist-vgg.bin")))
        using (var train = FashionMnist.LoadTrain(FashionMnistLocator.LocateSubset(), 256))
        {
            var calibration = Batches.Leading(train.Images, 256, 64);
            using var result = new TorchSharpPruner().Prune(network, calibration, new NetworkPruningOptions { TargetFlopsReduction = 3 });
            Console.WriteLine($"// FLOPs ratio {result.Report.FlopsReduction:F2}x, parameters ratio {(double)result.Report.ParametersBefore / result.Report.ParametersAfter:F2}x");
            OnnxModel.Save(network, originalPath, [1, 28, 28]);
            OnnxModel.Save(result.Network, prunedPath, [1, 28, 28]);
            foreach (var batch in calibration)
            {
                batch.Dispose();
            }
        }

        _original = new InferenceSession(originalPath);
        _pruned = new InferenceSession(prunedPath);
        var random = new Random(5);
        _pixels = [.. Enumerable.Range(0, Batch * 28 * 28).Select(_ => (float)random.NextDouble())];
        _input = OrtValue.CreateTensorValueFromMemory(_pixels, [Batch, 1, 28, 28]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _input.Dispose();
        _original.Dispose();
        _pruned.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>The unpruned network in ONNX Runtime.</summary>
    [Benchmark(Baseline = true)]
    public float Original() => Run(_original);

    /// <summary>The network pruned 3x by LDRF in ONNX Runtime.</summary>
    [Benchmark]
    public float Pruned() => Run(_pruned);

    private float Run(InferenceSession session)
    {
        using var outputs = session.Run(new RunOptions(), [session.InputMetadata.Keys.Single()], [_input], [session.OutputMetadata.Keys.Single()]);
        return outputs[0].GetTensorDataAsSpan<float>()[0];
    }
}
