using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchVision.Tests;

/// <summary>
/// torchvision-reference.json, written by torchvision_reference.py from torchvision itself: each model's
/// state_dict entries and its logits for deterministic weights and input, and those weights and that input,
/// computed with the script's integer arithmetic so both sides get the same float32 values.
/// </summary>
internal static class TorchVisionReference
{
    private static readonly Lazy<JsonDocument> Document = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "torchvision-reference.json"))));

    public static int InputSize => Document.Value.RootElement.GetProperty("inputSize").GetInt32();

    /// <summary>(name, shape, dtype) of every state_dict entry of torchvision's <paramref name="model"/>.</summary>
    public static List<(string Name, long[] Shape, string DType)> StateDict(string model) =>
        [.. Model(model).GetProperty("stateDict").EnumerateArray().Select(e =>
            (e[0].GetString()!, e[1].EnumerateArray().Select(d => d.GetInt64()).ToArray(), e[2].GetString()!))];

    public static float[] Logits(string model) => [.. Model(model).GetProperty("logits").EnumerateArray().Select(v => v.GetSingle())];

    /// <summary>
    /// Fills every parameter and buffer of <paramref name="network"/> with the script's deterministic values, each
    /// drawn for its torchvision name: its own state_dict key, or <paramref name="torchVisionKey"/> of it (a graph
    /// network's node names stand for torchvision's module paths).
    /// </summary>
    public static void Fill(nn.Module network, Func<string, string>? torchVisionKey = null)
    {
        torchVisionKey ??= key => key;
        var batchNorms = network.named_modules().Where(m => m.module is BatchNorm2d).Select(m => torchVisionKey(m.name)).ToHashSet(StringComparer.Ordinal);
        using var noGrad = no_grad();
        foreach (var (ownName, tensor) in network.state_dict())
        {
            var name = torchVisionKey(ownName);
            var dot = name.LastIndexOf('.');
            var (owner, leaf) = (dot < 0 ? string.Empty : name[..dot], name[(dot + 1)..]);
            if (leaf == "num_batches_tracked")
            {
                tensor.zero_();
                continue;
            }

            // Every rule is affine in u: value = scale · u + shift.
            var shape = tensor.shape;
            var n = tensor.numel();
            var (scale, shift) = batchNorms.Contains(owner)
                ? leaf switch
                {
                    "weight" => (0.2, 0.9),
                    "running_var" => (0.5, 1.0),
                    _ => (0.1, -0.05),
                }
                : leaf == "weight"
                    ? (Math.Sqrt(12.0) * Math.Sqrt(2.0 / (n / shape[0])), -0.5 * Math.Sqrt(12.0) * Math.Sqrt(2.0 / (n / shape[0])))
                    : (0.1, -0.05);
            var values = Values(name, n, scale, shift);
            using var source = torch.tensor(values, shape);
            tensor.copy_(source);
        }
    }

    /// <summary>The script's deterministic 1 x 3 x size x size input.</summary>
    public static Tensor Input()
    {
        var size = InputSize;
        var values = Values("input", 3L * size * size, 2.0, -1.0);
        return torch.tensor(values, [1, 3, size, size]);
    }

    private static JsonElement Model(string model) => Document.Value.RootElement.GetProperty("models").GetProperty(model);

    // scale · u(i) + shift with u(i) = mix(seed + i · 0x9E3779B9) / 2^32, seed = FNV-1a of the name, mix =
    // murmur3's finalizer (all mod 2^32), rounded to float32 as numpy's astype does.
    private static float[] Values(string name, long count, double scale, double shift)
    {
        var seed = 0x811C9DC5u;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(name))
        {
            seed = unchecked((seed ^ b) * 0x01000193u);
        }

        var values = new float[count];
        for (var i = 0; i < values.Length; i++)
        {
            var h = unchecked(seed + ((uint)i * 0x9E3779B9u));
            h ^= h >> 16;
            h = unchecked(h * 0x85EBCA6Bu);
            h ^= h >> 13;
            h = unchecked(h * 0xC2B2AE35u);
            h ^= h >> 16;
            values[i] = (float)((scale * (h / 4294967296.0)) + shift);
        }

        return values;
    }
}
