using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests.Reliability;

/// <summary>Assertions and fixtures shared by the reliability tests.</summary>
internal static class Expect
{
    /// <summary>
    /// Asserts that <paramref name="code"/> throws exactly <typeparamref name="T"/> (not a subclass) and that the
    /// message contains every fragment (ordinal); returns the exception.
    /// </summary>
    public static T Throws<T>(TestDelegate code, params string[] fragments)
        where T : Exception
    {
        var ex = Assert.Throws<T>(code)!;
        foreach (var fragment in fragments)
        {
            Assert.That(ex.Message, Does.Contain(fragment), $"the message must name '{fragment}'");
        }

        return ex;
    }

    /// <summary>Every parameter and buffer as raw bits, keyed by name: equal dictionaries mean bit-identical networks.</summary>
    public static Dictionary<string, byte[]> Bits(nn.Module network)
    {
        using var scope = NewDisposeScope();
        return network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous().bytes.ToArray(), StringComparer.Ordinal);
    }

    /// <summary>Asserts two bit snapshots are identical, naming the first tensor that differs.</summary>
    public static void SameBits(Dictionary<string, byte[]> actual, Dictionary<string, byte[]> expected, string because)
    {
        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys), because);
        foreach (var (name, bytes) in expected)
        {
            Assert.That(actual[name].AsSpan().SequenceEqual(bytes), Is.True, $"{because}: '{name}' differs");
        }
    }

    /// <summary>The network's output on <paramref name="x"/>, copied out as floats (no tensor is left alive).</summary>
    public static float[] Output(nn.Module<Tensor, Tensor> network, Tensor x)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return network.forward(x).to(ScalarType.Float32).cpu().data<float>().ToArray();
    }

    /// <summary>
    /// The number of live TorchSharp tensors after collecting garbage, so that tensors other tests dropped without
    /// disposing (and that only a finalizer would free) are not counted.
    /// </summary>
    public static long SettledTensorCount()
    {
        for (var i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        return torch.Tensor.TotalCount;
    }

    /// <summary>
    /// Tensors created minus tensors disposed on this thread (TorchSharp's dispose-scope statistics). A tensor
    /// that is only freed by its finalizer is freed on the finalizer thread, so it stays counted here: this is
    /// a leak check for deterministic disposal.
    /// </summary>
    /// <remarks>
    /// <c>torch.Tensor.TotalCount</c> cannot serve in TorchSharp 0.107.0: creating a Parameter moves the handle
    /// out of its source tensor without decrementing the count, so every module constructed adds 1 per
    /// parameter for good, although nothing is alive (measured: +2 per Conv2d or Linear, created and disposed).
    /// </remarks>
    public static long LiveTensors() => DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;

    /// <summary>An <see cref="IProgress{T}"/> that reports synchronously on the caller's thread.</summary>
    public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
