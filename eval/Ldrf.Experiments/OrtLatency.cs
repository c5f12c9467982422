using Ldrf.TorchSharp.Pruning;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Ldrf.Experiments;

/// <summary>
/// Two ONNX files timed in ONNX Runtime with default session options, on the same images, alternately (the library's
/// <see cref="LatencyProbe"/> timer), so that the load of a shared machine falls on both alike.
/// </summary>
internal static class OrtLatency
{
    /// <summary>Median and quartile times of one run of each file over <paramref name="images"/> (N x C x H x W, float32), after 2 warm-up rounds.</summary>
    public static LatencyResult Compare(string original, string pruned, Tensor images, int runs)
    {
        var input = images.contiguous().data<float>().ToArray();
        long[] shape = [.. images.shape];
        using var a = new InferenceSession(original);
        using var b = new InferenceSession(pruned);
        return LatencyProbe.Compare(() => Run(a, input, shape), () => Run(b, input, shape), (int)shape[0], runs);

        static void Run(InferenceSession session, float[] input, long[] shape)
        {
            using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
            using var options = new RunOptions();
            using var results = session.Run(options, [session.InputMetadata.Keys.Single()], [value], [session.OutputMetadata.Keys.Single()]);
        }
    }
}
