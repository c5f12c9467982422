using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using StbImageSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Cli;

/// <summary>
/// Calibration images for a model: a folder of PNG/JPEG/BMP files or one such file (decoded, resized and normalized
/// by a <see cref="Preprocessing"/>), or a .npy tensor file of N x C x H x W values already preprocessed.
/// </summary>
internal static partial class Calibration
{
    /// <summary>The image file extensions read from a folder (StbImageSharp decodes them).</summary>
    public static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp"];

    /// <summary>Whether <paramref name="path"/> is a tensor file (no preprocessing applies).</summary>
    public static bool IsTensorFile(string path) => Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads up to <paramref name="limit"/> images as one float32 N x C x H x W tensor on the CPU.</summary>
    /// <exception cref="InputException">The path is missing, holds no images, or a file cannot be decoded; the message names it.</exception>
    public static Tensor Load(string path, Preprocessing? preprocessing, int? limit, CancellationToken cancellationToken)
    {
        if (IsTensorFile(path))
        {
            var all = ReadNpy(path);
            return limit is { } n && n < all.shape[0] ? Take(all, n) : all;
        }

        var files = ImageFiles(path);
        if (limit is { } l)
        {
            files = [.. files.Take(l)];
        }

        ArgumentNullException.ThrowIfNull(preprocessing);
        var images = new List<Tensor>(files.Count);
        try
        {
            foreach (var file in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                images.Add(Decode(file, preprocessing));
            }

            return cat(images, 0);
        }
        finally
        {
            foreach (var image in images)
            {
                image.Dispose();
            }
        }
    }

    /// <summary>The image files of a folder (sorted by name, so runs are repeatable) or the one file given.</summary>
    public static List<string> ImageFiles(string path)
    {
        if (File.Exists(path))
        {
            return ImageExtensions.Contains(Path.GetExtension(path).ToLowerInvariant()) ? [path]
                : throw new InputException($"--calibration: '{path}' is neither an image ({string.Join(", ", ImageExtensions)}) nor a .npy tensor file.");
        }

        if (!Directory.Exists(path))
        {
            throw new InputException($"--calibration: '{path}' does not exist.");
        }

        var files = Directory.EnumerateFiles(path)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .ToList();
        return files.Count > 0 ? files
            : throw new InputException($"--calibration: the folder '{path}' holds no image files ({string.Join(", ", ImageExtensions)}).");
    }

    /// <summary>One image file as a 1 x C x H x W float32 tensor: decoded, resized (bilinear), scaled to [0, 1] and normalized.</summary>
    public static Tensor Decode(string file, Preprocessing p)
    {
        ImageResult image;
        try
        {
            using var stream = File.OpenRead(file);
            image = ImageResult.FromStream(stream, p.Channels == 1 ? ColorComponents.Grey : ColorComponents.RedGreenBlue);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or ArgumentException or IndexOutOfRangeException)
        {
            throw new InputException($"--calibration: '{file}' cannot be decoded as an image ({ex.Message}).", ex);
        }

        using var scope = NewDisposeScope();
        var x = tensor(image.Data, [1, image.Height, image.Width, p.Channels]).permute(0, 3, 1, 2).to(ScalarType.Float32).div_(255f);
        if (image.Height != p.Height || image.Width != p.Width)
        {
            x = nn.functional.interpolate(x, [p.Height, p.Width], mode: InterpolationMode.Bilinear, align_corners: false);
        }

        var mean = tensor(p.Mean).view(1, -1, 1, 1);
        var std = tensor(p.Std).view(1, -1, 1, 1);
        return ((x - mean) / std).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Batches of at most <paramref name="size"/> images (views of <paramref name="images"/>).</summary>
    public static List<Tensor> Batches(Tensor images, int size) =>
        [.. Enumerable.Range(0, (int)((images.shape[0] + size - 1) / size)).Select(i => images.narrow(0, (long)i * size, Math.Min(size, images.shape[0] - ((long)i * size))))];

    /// <summary>
    /// A NumPy .npy file (format 1 to 3, little-endian float32 or float64, C order) of shape N x C x H x W, or C x H x W
    /// for one image, as float32.
    /// </summary>
    public static Tensor ReadNpy(string path)
    {
        if (!File.Exists(path))
        {
            throw new InputException($"--calibration: '{path}' does not exist.");
        }

        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
        {
            throw new InputException($"--calibration: '{path}' is not a .npy file (no NUMPY magic).");
        }

        var headerLength = bytes[6] == 1 ? BitConverter.ToUInt16(bytes, 8) : (int)BitConverter.ToUInt32(bytes, 8);
        var start = bytes[6] == 1 ? 10 : 12;
        if (start + headerLength > bytes.Length)
        {
            throw new InputException($"--calibration: '{path}' is truncated (its header runs past the end).");
        }

        var header = Encoding.ASCII.GetString(bytes, start, headerLength);
        var descr = Descr().Match(header);
        var shapeMatch = ShapeField().Match(header);
        if (!descr.Success || !shapeMatch.Success)
        {
            throw new InputException($"--calibration: '{path}' has a .npy header without 'descr' or 'shape': {header.Trim()}");
        }

        if (FortranOrder().IsMatch(header))
        {
            throw new InputException($"--calibration: '{path}' is stored in Fortran order; save it in C order (numpy.ascontiguousarray).");
        }

        var shape = shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (shape.Length == 3)
        {
            shape = [1, .. shape];
        }

        if (shape.Length != 4 || shape.Any(d => d < 1))
        {
            throw new InputException($"--calibration: '{path}' holds a tensor of shape ({string.Join(", ", shape)}); it must be N x C x H x W (or C x H x W).");
        }

        var count = shape.Aggregate(1L, (p, d) => p * d);
        var data = bytes.AsSpan(start + headerLength);
        var type = descr.Groups[1].Value;
        var elementSize = type switch
        {
            "<f4" => 4,
            "<f8" => 8,
            _ => throw new InputException($"--calibration: '{path}' holds '{type}' values; .npy calibration files must be float32 ('<f4') or float64 ('<f8')."),
        };
        if (data.Length != count * elementSize)
        {
            throw new InputException($"--calibration: '{path}' has {data.Length} bytes of data but its shape ({string.Join(", ", shape)}) needs {count * elementSize}.");
        }

        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Reading .npy files needs a little-endian machine.");
        }

        float[] values = elementSize == 4
            ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data).ToArray()
            : [.. System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(data).ToArray().Select(v => (float)v)];
        return tensor(values, shape);
    }

    private static Tensor Take(Tensor all, int n)
    {
        using (all)
        {
            return all.narrow(0, 0, n).clone();
        }
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex Descr();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeField();

    [GeneratedRegex(@"'fortran_order'\s*:\s*True")]
    private static partial Regex FortranOrder();
}
