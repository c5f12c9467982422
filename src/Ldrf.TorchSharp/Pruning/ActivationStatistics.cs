using Ldrf.Numerics;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// Accumulates Σ a′a′ᵀ, Σ a′aᵀ, Σ aaᵀ, Σ a′ and Σ a of one layer's C channels in float64 on the network's
/// device, so that only the C x C sums ever leave it. Each (image, spatial position) is one sample.
/// </summary>
internal sealed class ActivationStatistics : IDisposable
{
    private readonly Tensor _prunedGram;
    private readonly Tensor _cross;
    private readonly Tensor _originalGram;
    private readonly Tensor _prunedSum;
    private readonly Tensor _originalSum;
    private long _samples;

    public ActivationStatistics(int channels, Device device)
    {
        Channels = channels;
        _prunedGram = zeros([channels, channels], ScalarType.Float64, device).DetachFromDisposeScope();
        _cross = zeros([channels, channels], ScalarType.Float64, device).DetachFromDisposeScope();
        _originalGram = zeros([channels, channels], ScalarType.Float64, device).DetachFromDisposeScope();
        _prunedSum = zeros([channels], ScalarType.Float64, device).DetachFromDisposeScope();
        _originalSum = zeros([channels], ScalarType.Float64, device).DetachFromDisposeScope();
    }

    public int Channels { get; }

    public long Samples => _samples;

    /// <summary>Adds a batch: activations N x C x ... (or N x C·S after Flatten) of both networks at the same inputs.</summary>
    public void Add(Tensor pruned, Tensor original)
    {
        using var scope = NewDisposeScope();
        var a1 = Columns(pruned);
        var a0 = ReferenceEquals(pruned, original) ? a1 : Columns(original);
        _prunedGram.add_(a1.matmul(a1.t()));
        _cross.add_(a1.matmul(a0.t()));
        _originalGram.add_(ReferenceEquals(a0, a1) ? a1.matmul(a1.t()) : a0.matmul(a0.t()));
        _prunedSum.add_(a1.sum(1));
        _originalSum.add_(a0.sum(1));
        _samples += a1.shape[1];
    }

    /// <summary>Copies the sums to the core's statistics object.</summary>
    public ChannelStatistics ToChannelStatistics(INumericBackend? backend)
    {
        var statistics = new ChannelStatistics(Channels, backend);
        statistics.AddSums(Matrix(_prunedGram), Matrix(_cross), Matrix(_originalGram), Vector(_prunedSum), Vector(_originalSum), _samples);
        return statistics;
    }

    public void Dispose()
    {
        _prunedGram.Dispose();
        _cross.Dispose();
        _originalGram.Dispose();
        _prunedSum.Dispose();
        _originalSum.Dispose();
    }

    // N x C x (anything) -> C x (N · rest): one column per (image, position).
    private Tensor Columns(Tensor activations)
    {
        var n = activations.shape[0];
        return activations.detach().reshape(n, Channels, -1).to(ScalarType.Float64).permute(1, 0, 2).reshape(Channels, -1);
    }

    private Matrix<double> Matrix(Tensor t)
    {
        // A scope, not a using: cpu() of a CPU tensor may return the accumulator itself, which must live on.
        using var scope = NewDisposeScope();
        return Matrix<double>.Build.DenseOfRowMajor(Channels, Channels, t.cpu().data<double>().ToArray());
    }

    private static Vector<double> Vector(Tensor t)
    {
        using var scope = NewDisposeScope();
        return Vector<double>.Build.DenseOfArray(t.cpu().data<double>().ToArray());
    }
}
