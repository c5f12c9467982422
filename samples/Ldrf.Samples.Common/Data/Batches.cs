using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Samples.Common.Data;

/// <summary>Splits image and label tensors into mini-batches, optionally shuffled with a seed.</summary>
public static class Batches
{
    /// <summary>
    /// Yields (images, labels) mini-batches; the inputs are not changed. The tensors are created
    /// when the loop advances, before its body runs, so the caller owns them and disposes them
    /// (e.g. <c>using (x) using (y) { ... }</c>): a dispose scope opened inside the body does not hold them.
    /// </summary>
    /// <param name="images">Images, N x ...</param>
    /// <param name="labels">Labels, N.</param>
    /// <param name="batchSize">Examples per batch; the last batch may be smaller.</param>
    /// <param name="shuffle">When not null, the order is a permutation drawn from this generator; null keeps the order.</param>
    /// <returns>The batches, in order.</returns>
    public static IEnumerable<(Tensor Images, Tensor Labels)> Enumerate(Tensor images, Tensor labels, int batchSize, Random? shuffle = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        long count = images.shape[0];
        if (labels.shape[0] != count)
        {
            throw new ArgumentException($"images has {count} examples but labels has {labels.shape[0]}.", nameof(labels));
        }

        if (images.device_type != labels.device_type || images.device_index != labels.device_index)
        {
            throw new ArgumentException($"images are on {images.device} but labels are on {labels.device}.", nameof(labels));
        }

        return Iterate(images, labels, batchSize, count, shuffle is null ? null : Permutation((int)count, shuffle));
    }

    /// <summary>
    /// The first <paramref name="count"/> images as consecutive batches (the last may be smaller), for calibration.
    /// The batches are views of <paramref name="images"/>: they share its storage and add no memory.
    /// </summary>
    /// <param name="images">Images, N x ...</param>
    /// <param name="count">How many of the first images to use (1 to N).</param>
    /// <param name="batchSize">Images per batch.</param>
    /// <returns>The batches, in order.</returns>
    public static List<Tensor> Leading(Tensor images, int count, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, images.shape[0]);
        return [.. Enumerable.Range(0, (count + batchSize - 1) / batchSize)
            .Select(i => images.narrow(0, (long)i * batchSize, Math.Min(batchSize, count - (i * batchSize))))];
    }

    /// <summary>A Fisher-Yates permutation of 0..count-1 drawn from <paramref name="random"/>.</summary>
    /// <param name="count">Length of the permutation.</param>
    /// <param name="random">Source of randomness.</param>
    /// <returns>The permutation.</returns>
    public static long[] Permutation(int count, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var order = new long[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
        }

        for (int i = count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        return order;
    }

    private static IEnumerable<(Tensor Images, Tensor Labels)> Iterate(Tensor images, Tensor labels, int batchSize, long count, long[]? order)
    {
        for (long start = 0; start < count; start += batchSize)
        {
            long length = Math.Min(batchSize, count - start);
            if (order is null)
            {
                yield return (images.narrow(0, start, length), labels.narrow(0, start, length));
            }
            else
            {
                using var index = torch.tensor(order.AsSpan((int)start, (int)length).ToArray(), device: images.device);
                yield return (images.index_select(0, index), labels.index_select(0, index));
            }
        }
    }
}
