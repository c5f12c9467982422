using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Benchmarks;

/// <summary>The copy out that every raw-torch reference makes: what a caller needs to hand a result to managed code.</summary>
internal static class RawTorch
{
    /// <summary>
    /// Copies a rows x columns tensor once into a new managed array in column-major order (MathNet's storage
    /// order), with one native copy and no zeroing of the array first.
    /// </summary>
    public static double[] ToColumnMajor(Tensor matrix)
    {
        var (rows, columns) = (matrix.shape[0], matrix.shape[1]);
        var storage = GC.AllocateUninitializedArray<double>(checked((int)(rows * columns)));
        using var flat = torch.frombuffer(storage, ScalarType.Float64);
        using var target = flat.view(columns, rows);
        target.copy_(matrix.t());
        return storage;
    }
}
