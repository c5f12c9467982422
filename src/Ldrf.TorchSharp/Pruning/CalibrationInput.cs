using Ldrf.TorchSharp.Architecture;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>Takes the caller's calibration batches and refuses what cannot calibrate a network.</summary>
internal static class CalibrationInput
{
    /// <summary>
    /// The first <paramref name="max"/> batches (all when null), each checked as an image batch (not disposed, with
    /// data, floating-point N x C x H x W, finite) and of batch 0's C x H x W. Batches of another type than the
    /// network's <paramref name="dtype"/> are converted later; each such type gets one warning.
    /// </summary>
    /// <exception cref="ArgumentNullException">A batch is null.</exception>
    /// <exception cref="ArgumentException">A batch is not a valid image batch or not of batch 0's shape, there are no batches, or all are zero.</exception>
    public static List<Tensor> Take(IEnumerable<Tensor> calibrationBatches, int? max, ScalarType dtype, PruningLog log)
    {
        var batches = new List<Tensor>();
        foreach (var batch in calibrationBatches)
        {
            if (max is int m && batches.Count >= m)
            {
                break;
            }

            var i = batches.Count;
            if (batch is null)
            {
                throw new ArgumentNullException(nameof(calibrationBatches), $"'{nameof(calibrationBatches)}'[{i}] is null.");
            }

            ImageTensors.Check(batch, $"'{nameof(calibrationBatches)}'[{i}]", nameof(calibrationBatches));

            if (i > 0 && !batch.shape.Skip(1).SequenceEqual(batches[0].shape.Skip(1)))
            {
                throw new ArgumentException(
                    $"'{nameof(calibrationBatches)}'[{i}] is {NetworkReader.Shape(batch.shape)} but batch 0 is {NetworkReader.Shape(batches[0].shape)}; every batch must have the same C x H x W.",
                    nameof(calibrationBatches));
            }

            batches.Add(batch);
        }

        if (batches.Count == 0)
        {
            throw new ArgumentException($"'{nameof(calibrationBatches)}' is empty; pruning needs at least one calibration batch.", nameof(calibrationBatches));
        }

        if (batches.All(IsAllZero))
        {
            // Every activation would be a constant (the biases): nothing to select or reconstruct with.
            throw new ArgumentException(
                $"'{nameof(calibrationBatches)}' are all zero ({batches.Count} batch(es)); calibration needs real input images.", nameof(calibrationBatches));
        }

        foreach (var type in batches.Select(b => b.dtype).Distinct().Where(t => t != dtype))
        {
            log.Warn($"Calibration batches of type {type} are converted to the network's {dtype}; pass {dtype} batches to calibrate on exactly what the network sees.");
        }

        return batches;
    }

    private static bool IsAllZero(Tensor batch)
    {
        using var scope = NewDisposeScope();
        return batch.count_nonzero().item<long>() == 0;
    }
}
