using System.Globalization;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>Runs the original and the pruned network side by side on a few images and measures how far apart their outputs are.</summary>
internal static class OutputCheck
{
    // Images per forward pass: the check runs after pruning, when memory is already taken by both networks.
    private const int Chunk = 16;

    /// <summary>The relative output error ‖y′ − y‖ / ‖y‖ of <paramref name="pruned"/> against <paramref name="original"/> over the images of <paramref name="batches"/>.</summary>
    /// <exception cref="InvalidOperationException">Either network's output is not finite; the message says which and what to do.</exception>
    public static double RelativeError(
        nn.Module<Tensor, Tensor> original, nn.Module<Tensor, Tensor> pruned, IReadOnlyList<Tensor> batches, bool heldOut,
        Device device, ScalarType dtype, string? defect, CancellationToken cancellationToken)
    {
        double difference = 0, reference = 0;
        long images = 0, values = 0, badOriginal = 0, badPruned = 0;
        using var noGrad = no_grad();
        foreach (var batch in batches)
        {
            for (long start = 0; start < batch.shape[0]; start += Chunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var x = batch.narrow(0, start, Math.Min(Chunk, batch.shape[0] - start)).to(dtype, device);
                var y = original.forward(x).to(ScalarType.Float64);
                var yPruned = pruned.forward(x).to(ScalarType.Float64);
                badOriginal += isfinite(y).logical_not().sum().item<long>();
                badPruned += isfinite(yPruned).logical_not().sum().item<long>();
                difference += (yPruned - y).square().sum().item<double>();
                reference += y.square().sum().item<double>();
                images += x.shape[0];
                values += y.numel();
            }
        }

        var which = heldOut ? $"{images} held-out calibration images" : $"first {images} calibration images (none held out)";
        var cause = defect ?? "The one-time probe found no libtorch convolution defect on this device.";
        if (badOriginal > 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The original network's output is not finite on the {which} (NaN or infinity in {badOriginal} of {values} values), so the pruned network cannot be checked. {cause} Check the network and the calibration images on their own; nothing was returned and the caller's network is unchanged."));
        }

        if (badPruned > 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The pruned network's output is not finite on the {which} (NaN or infinity in {badPruned} of {values} values) while the original's is finite. {cause} If NetworkPruningOptions.ChannelMultiple is below 16, set it back to 16; otherwise report this with the network's layer widths. Nothing was returned and the caller's network is unchanged."));
        }

        return reference > 0 ? Math.Sqrt(difference / reference) : Math.Sqrt(difference);
    }
}
