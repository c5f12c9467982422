using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Samples.Common.Data;

/// <summary>
/// Loads Fashion-MNIST (Xiao, Rasul, Vollgraf, Zalando Research, 2017; MIT license) from IDX files
/// into normalized tensors.
/// </summary>
/// <remarks>
/// Pixels are scaled to [0, 1] and then standardized with the training set's statistics,
/// <see cref="Mean"/> = 0.2860 and <see cref="Std"/> = 0.3530, so <c>x = (p / 255 - 0.2860) / 0.3530</c>.
/// </remarks>
public static class FashionMnist
{
    /// <summary>Mean pixel value (after scaling to [0, 1]) of the 60,000 training images.</summary>
    public const float Mean = 0.2860f;

    /// <summary>Standard deviation of the pixel values (after scaling to [0, 1]) of the training images.</summary>
    public const float Std = 0.3530f;

    /// <summary>Image height and width in pixels.</summary>
    public const int ImageSize = 28;

    /// <summary>Number of classes.</summary>
    public const int ClassCount = 10;

    /// <summary>The normalized value of a black (zero) pixel: what padding should use.</summary>
    public const float NormalizedBlack = -Mean / Std;

    /// <summary>Class names, indexed by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ];

    /// <summary>Reads an image file and a label file and returns them as tensors on the CPU.</summary>
    /// <param name="imagesPath">IDX3 image file (raw or <c>.gz</c>) of 28 x 28 images.</param>
    /// <param name="labelsPath">IDX1 label file (raw or <c>.gz</c>) with labels 0..9.</param>
    /// <param name="limit">Keep only the first <paramref name="limit"/> examples; null keeps all.</param>
    /// <returns>Images N x 1 x 28 x 28 (float32, normalized) and labels N (int64).</returns>
    /// <exception cref="InvalidDataException">The files are malformed, not 28 x 28, disagree in count, or hold a label outside 0..9.</exception>
    public static FashionMnistSet Load(string imagesPath, string labelsPath, int? limit = null)
    {
        if (limit is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, "limit must be null or non-negative.");
        }

        var images = IdxFile.ReadImages(imagesPath);
        var labels = IdxFile.ReadLabels(labelsPath);
        if (images.Rows != ImageSize || images.Columns != ImageSize)
        {
            throw new InvalidDataException(
                $"IDX file '{imagesPath}': images are {images.Rows} x {images.Columns}, Fashion-MNIST expects {ImageSize} x {ImageSize}.");
        }

        if (images.Count != labels.Length)
        {
            throw new InvalidDataException(
                $"'{imagesPath}' holds {images.Count} images but '{labelsPath}' holds {labels.Length} labels; the counts must match.");
        }

        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= ClassCount)
            {
                throw new InvalidDataException($"IDX file '{labelsPath}': label {labels[i]} at index {i} is outside 0..{ClassCount - 1}.");
            }
        }

        int count = Math.Min(images.Count, limit ?? int.MaxValue);
        return FromBytes(images.Pixels.AsSpan(0, count * ImageSize * ImageSize), labels.AsSpan(0, count));
    }

    /// <summary>Loads the training split of a located data set.</summary>
    /// <param name="location">Where the files are.</param>
    /// <param name="limit">Keep only the first <paramref name="limit"/> examples; null keeps all.</param>
    /// <returns>The training images and labels.</returns>
    public static FashionMnistSet LoadTrain(FashionMnistLocation location, int? limit = null)
    {
        ArgumentNullException.ThrowIfNull(location);
        return Load(location.TrainImagesPath, location.TrainLabelsPath, limit);
    }

    /// <summary>Loads the test split of a located data set.</summary>
    /// <param name="location">Where the files are.</param>
    /// <param name="limit">Keep only the first <paramref name="limit"/> examples; null keeps all.</param>
    /// <returns>The test images and labels.</returns>
    public static FashionMnistSet LoadTest(FashionMnistLocation location, int? limit = null)
    {
        ArgumentNullException.ThrowIfNull(location);
        return Load(location.TestImagesPath, location.TestLabelsPath, limit);
    }

    /// <summary>Builds normalized tensors from raw 28 x 28 pixels and labels.</summary>
    /// <param name="pixels">Pixels, image after image, row-major; length must be labels.Length x 784.</param>
    /// <param name="labels">One label (0..9) per image.</param>
    /// <returns>Images N x 1 x 28 x 28 (float32, normalized) and labels N (int64).</returns>
    public static FashionMnistSet FromBytes(ReadOnlySpan<byte> pixels, ReadOnlySpan<byte> labels)
    {
        const int pixelsPerImage = ImageSize * ImageSize;
        if (pixels.Length != labels.Length * pixelsPerImage)
        {
            throw new ArgumentException(
                $"pixels has {pixels.Length} bytes but {labels.Length} labels need {labels.Length * pixelsPerImage}.", nameof(pixels));
        }

        var values = new float[pixels.Length];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = ((pixels[i] / 255f) - Mean) / Std;
        }

        var targets = new long[labels.Length];
        for (int i = 0; i < targets.Length; i++)
        {
            targets[i] = labels[i];
        }

        var images = torch.tensor(values, [labels.Length, 1, ImageSize, ImageSize]);
        var labelTensor = torch.tensor(targets, [labels.Length]);
        return new FashionMnistSet(images, labelTensor);
    }
}

/// <summary>A split of Fashion-MNIST as tensors. Owns and disposes both tensors.</summary>
public sealed class FashionMnistSet : IDisposable
{
    internal FashionMnistSet(Tensor images, Tensor labels)
    {
        Images = images;
        Labels = labels;
    }

    /// <summary>Images, N x 1 x 28 x 28, float32, normalized with <see cref="FashionMnist.Mean"/> and <see cref="FashionMnist.Std"/>.</summary>
    public Tensor Images { get; }

    /// <summary>Labels 0..9, N, int64.</summary>
    public Tensor Labels { get; }

    /// <summary>Number of examples.</summary>
    public int Count => (int)Labels.shape[0];

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
