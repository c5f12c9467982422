using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>Checks of the image tensors a caller passes in (calibration batches, recovery images).</summary>
internal static class ImageTensors
{
    /// <summary>
    /// Refuses a disposed tensor, one on the meta device, one that is not a non-empty floating-point N x C x H x W tensor,
    /// and one holding NaN or infinity. They would fail later on internal names, so the tensor is named here.
    /// </summary>
    /// <param name="images">The tensor.</param>
    /// <param name="name">How messages name it, for example <c>'calibrationBatches'[2]</c>.</param>
    /// <param name="paramName">The caller's argument.</param>
    /// <exception cref="ArgumentException">Disposed, on the meta device, of another shape or type, or not finite (the message gives the first bad position).</exception>
    public static void Check(Tensor images, string name, string paramName)
    {
        CheckContents(images, name, paramName);
        if (images.Dimensions != 4 || images.shape.Any(d => d < 1) || !images.is_floating_point())
        {
            throw new ArgumentException(
                $"{name} is {NetworkReader.Shape(images.shape)} ({images.dtype}); it must be a non-empty floating-point N x C x H x W tensor.",
                paramName);
        }
    }

    private static void CheckContents(Tensor images, string name, string paramName)
    {
        if (images.IsInvalid)
        {
            throw new ArgumentException($"{name} has been disposed.", paramName);
        }

        if (images.device.type == DeviceType.META)
        {
            throw new ArgumentException(
                $"{name} is on the '{images.device}' device, which holds no data; pass images with real values on the CPU or a GPU.", paramName);
        }

        if (!images.is_floating_point())
        {
            return;
        }

        using var scope = NewDisposeScope();
        var bad = isfinite(images).logical_not();
        if (bad.any().item<bool>())
        {
            var position = bad.nonzero()[0].cpu().data<long>().ToArray();
            var value = images[position.Select(p => TensorIndex.Single(p)).ToArray()].to(ScalarType.Float64).item<double>();
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture,
                    $"{name} holds {(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity")} at [{string.Join(", ", position)}]; images must be finite."),
                paramName);
        }
    }
}
