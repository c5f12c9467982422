using System.Globalization;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// The calibration batches split into the images whose statistics drive pruning and a few images, from the end,
/// held out to check the pruned network.
/// </summary>
internal sealed class CalibrationSplit : IDisposable
{
    private const int DefaultMaxHeldOut = 64;
    private readonly List<Tensor> _views = [];

    private CalibrationSplit(List<Tensor> batches, int heldOut)
    {
        HeldOutCount = heldOut;
        var remaining = heldOut;
        var statistics = new List<Tensor>(batches);
        var held = new List<Tensor>();
        while (remaining > 0)
        {
            var last = statistics[^1];
            var n = (int)last.shape[0];
            statistics.RemoveAt(statistics.Count - 1);
            if (n > remaining)
            {
                statistics.Add(View(last.narrow(0, 0, n - remaining)));
                held.Add(View(last.narrow(0, n - remaining, remaining)));
                remaining = 0;
            }
            else
            {
                held.Add(last);
                remaining -= n;
            }
        }

        held.Reverse();
        Statistics = statistics;
        Check = held.Count > 0 ? held : FirstImages(statistics, DefaultMaxHeldOut);
    }

    /// <summary>The batches whose statistics drive pruning (the caller's tensors, or views of them).</summary>
    public List<Tensor> Statistics { get; }

    /// <summary>The batches the pruned network is checked on: the held-out images, or the first calibration images when none are held out.</summary>
    public List<Tensor> Check { get; }

    /// <summary>How many images are held out of the statistics (0: the check runs on calibration images).</summary>
    public int HeldOutCount { get; }

    /// <summary>Splits <paramref name="batches"/>; <paramref name="heldOut"/> null holds out one image in eight, at most 64 and at least 1 when there are two or more.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Holding out <paramref name="heldOut"/> images would leave none for the statistics.</exception>
    public static CalibrationSplit Create(List<Tensor> batches, int? heldOut, string optionsName)
    {
        var images = batches.Sum(b => b.shape[0]);
        var count = heldOut ?? (images < 2 ? 0 : (int)Math.Clamp(images / 8, 1, DefaultMaxHeldOut));
        if (count >= images)
        {
            throw new ArgumentOutOfRangeException(optionsName, count,
                string.Create(CultureInfo.InvariantCulture,
                    $"'{optionsName}.{nameof(NetworkPruningOptions.HeldOutImages)}' is {count}, but there are only {images} calibration images; at least one must remain for the statistics (0 checks on the calibration images instead)."));
        }

        return new CalibrationSplit(batches, count);
    }

    /// <summary>Up to <paramref name="count"/> images from the start of the statistics batches, as slices of them.</summary>
    public List<Tensor> Leading(int count) => FirstImages(Statistics, count);

    public void Dispose()
    {
        foreach (var view in _views)
        {
            view.Dispose();
        }
    }

    private List<Tensor> FirstImages(List<Tensor> batches, int max)
    {
        var result = new List<Tensor>();
        var remaining = (long)max;
        foreach (var batch in batches)
        {
            if (remaining == 0)
            {
                break;
            }

            var n = Math.Min(batch.shape[0], remaining);
            result.Add(n == batch.shape[0] ? batch : View(batch.narrow(0, 0, n)));
            remaining -= n;
        }

        return result;
    }

    private Tensor View(Tensor view)
    {
        _views.Add(view);
        return view;
    }
}
