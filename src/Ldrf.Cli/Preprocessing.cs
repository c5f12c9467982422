using System.Globalization;
using System.Text.Json;

namespace Ldrf.Cli;

/// <summary>How images become the model's input: resized to <see cref="Height"/> x <see cref="Width"/>, <see cref="Channels"/> channels (1 gray, 3 RGB), scaled to [0, 1], then (x - mean) / std per channel.</summary>
internal sealed record Preprocessing(int Height, int Width, int Channels, float[] Mean, float[] Std)
{
    /// <summary>
    /// The preprocessing from the command line's options over the JSON file's values over the model's fixed input
    /// shape (C, H, W); mean 0 and std 1 when nothing gives them.
    /// </summary>
    /// <exception cref="UsageException">A value is malformed or missing; the message names the option or the file.</exception>
    public static Preprocessing Resolve(string? file, string? size, int? channels, string? mean, string? std, long[]? modelShape)
    {
        PreprocessingFile? json = null;
        if (file is not null)
        {
            if (!File.Exists(file))
            {
                throw new UsageException($"--preprocessing: the file '{file}' does not exist.");
            }

            try
            {
                json = JsonSerializer.Deserialize<PreprocessingFile>(File.ReadAllText(file), new JsonSerializerOptions { PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip });
            }
            catch (JsonException ex)
            {
                throw new UsageException($"--preprocessing: '{file}' is not valid JSON ({ex.Message}); expected {{ \"size\": [224, 224], \"channels\": 3, \"mean\": [...], \"std\": [...] }}.");
            }
        }

        int[]? hw = size is not null ? ParseSize(size) : json?.Size switch
        {
            null => null,
            [var one] => [one, one],
            [var h, var w] => [h, w],
            _ => throw new UsageException($"--preprocessing: 'size' in '{file}' must be [size] or [height, width]."),
        };
        if (hw is null && modelShape is { Length: 3 } && modelShape[1] > 0 && modelShape[2] > 0)
        {
            hw = [(int)modelShape[1], (int)modelShape[2]];
        }

        var c = channels ?? json?.Channels ?? (modelShape is { Length: 3 } && modelShape[0] > 0 ? (int)modelShape[0] : null);
        if (hw is null)
        {
            throw new UsageException("--size is needed: the model's input has no fixed height and width (give --size 224 or --size 224x224, or a --preprocessing file).");
        }

        if (c is not (1 or 3))
        {
            throw new UsageException(c is null
                ? "--channels is needed: the model's input has no fixed channel count (give --channels 1 or 3)."
                : $"--channels must be 1 (gray) or 3 (RGB) but is {c}.");
        }

        var m = Values(mean, "--mean", json?.Mean, c.Value, 0f);
        var s = Values(std, "--std", json?.Std, c.Value, 1f);
        if (s.Any(v => !(v > 0)))
        {
            throw new UsageException($"--std must be positive but is {string.Join(",", s.Select(v => v.ToString(CultureInfo.InvariantCulture)))}.");
        }

        return new Preprocessing(hw[0], hw[1], c.Value, m, s);
    }

    private static int[] ParseSize(string text)
    {
        var parts = text.Split('x', 'X', ',');
        var values = parts.Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : -1).ToArray();
        return values switch
        {
            [> 0 and var s] => [s, s],
            [> 0 and var h, > 0 and var w] => [h, w],
            _ => throw new UsageException($"--size must be a positive size or HEIGHTxWIDTH (for example 224 or 160x224) but is '{text}'."),
        };
    }

    private static float[] Values(string? text, string option, float[]? fromFile, int channels, float fallback)
    {
        float[] values;
        if (text is not null)
        {
            var parts = text.Split(',');
            values = new float[parts.Length];
            for (var i = 0; i < parts.Length; i++)
            {
                if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]))
                {
                    throw new UsageException($"{option} must be one number or one per channel, comma-separated (for example 0.485,0.456,0.406) but '{parts[i]}' is not a number.");
                }
            }
        }
        else
        {
            values = fromFile ?? [fallback];
        }

        if (values.Length == 1)
        {
            return Enumerable.Repeat(values[0], channels).ToArray();
        }

        return values.Length == channels ? values
            : throw new UsageException($"{option} has {values.Length} values but the images have {channels} channels (give one value or {channels}).");
    }

    public override string ToString() =>
        $"{Height}x{Width}, {(Channels == 1 ? "gray" : "RGB")}, mean {string.Join(",", Mean.Select(v => v.ToString(CultureInfo.InvariantCulture)))}, std {string.Join(",", Std.Select(v => v.ToString(CultureInfo.InvariantCulture)))}";

    private sealed record PreprocessingFile(int[]? Size, int? Channels, float[]? Mean, float[]? Std);
}
