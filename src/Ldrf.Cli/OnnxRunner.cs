using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace Ldrf.Cli;

/// <summary>An ONNX model in ONNX Runtime under its default session options: its input shape, its outputs and its latency.</summary>
internal sealed class OnnxRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input;
    private readonly string _output;

    public OnnxRunner(string path, string option)
    {
        try
        {
            _session = new InferenceSession(path);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InputException($"{option}: ONNX Runtime cannot load '{path}': {ex.Message.Split('\n')[0]}", ex);
        }

        if (_session.InputMetadata.Count != 1 || _session.OutputMetadata.Count < 1)
        {
            _session.Dispose();
            throw new InputException($"{option}: '{path}' has {_session.InputMetadata.Count} inputs; the tool handles models with one image input.");
        }

        _input = _session.InputMetadata.Keys.Single();
        _output = _session.OutputMetadata.Keys.First();
        Shape = [.. _session.InputMetadata[_input].Dimensions.Select(d => (long)d)];
    }

    /// <summary>The input's declared shape (N x C x H x W); symbolic dimensions are -1 or 0.</summary>
    public long[] Shape { get; }

    /// <summary>The batch size when the model fixes it, else null.</summary>
    public long? FixedBatch => Shape.Length > 0 && Shape[0] > 0 ? Shape[0] : null;

    /// <summary>C, H, W of the input with -1 where the model leaves a size open; null when the input is not 4-D.</summary>
    public long[]? ImageShape => Shape.Length == 4 ? [.. Shape.Skip(1).Select(d => d > 0 ? d : -1)] : null;

    /// <summary>The model's input shape as read by ONNX Runtime, or null when it cannot load the file (the importer then says why).</summary>
    public static long[]? TryImageShape(string path)
    {
        try
        {
            using var runner = new OnnxRunner(path, "MODEL");
            return runner.ImageShape;
        }
        catch (InputException)
        {
            return null;
        }
    }

    /// <summary>The first output for an N x C x H x W batch, flattened per image.</summary>
    public float[] Run(float[] input, long[] shape, out long[] outputShape)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var options = new RunOptions();
        using var results = _session.Run(options, [_input], [value], [_output]);
        outputShape = results[0].GetTensorTypeAndShape().Shape;
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>The median wall time of <paramref name="runs"/> runs on one batch, after one warm-up run.</summary>
    public TimeSpan Latency(float[] input, long[] shape, int runs, CancellationToken cancellationToken)
    {
        Run(input, shape, out _);
        var times = new List<TimeSpan>(runs);
        for (var i = 0; i < runs; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var start = Stopwatch.GetTimestamp();
            Run(input, shape, out _);
            times.Add(Stopwatch.GetElapsedTime(start));
        }

        times.Sort();
        return times[times.Count / 2];
    }

    public void Dispose() => _session.Dispose();
}
