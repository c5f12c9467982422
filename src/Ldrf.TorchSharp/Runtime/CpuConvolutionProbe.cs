using System.Globalization;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Runtime;

/// <summary>
/// A one-time check, per process, of libtorch's float32 CPU convolutions at a few input widths against a float64
/// reference, run under whatever settings the process has (it changes none).
/// </summary>
/// <remarks>
/// libtorch's oneDNN convolution kernels work on blocks of 8 (AVX2) or 16 (AVX-512) input channels. On the CPUs
/// this library was measured on, they returned wrong values or NaN for input widths above the block that are not
/// a multiple of it (docs/troubleshooting.md), depending on the CPU and varying from process to process. The
/// probe convolves a small random batch (its own generator; the global one is left alone) at widths that are and
/// are not multiples of 16 and reports which were wrong. The reference is an im2col product in float64, so no
/// float64 convolution (which makes libtorch try NNPACK and print a warning on CPUs it does not support) runs.
/// </remarks>
internal static class CpuConvolutionProbe
{
    // Widths off the 16-channel block (20 is also off the 8-channel block, 8 is below it) and two on it, as a control.
    private static readonly int[] Widths = [8, 16, 20, 24, 32, 40];

    private static readonly Lazy<string?> Finding = new(Run, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// A description of the defect if the probe found one on this CPU (which widths were wrong and which were
    /// right, forward and for input gradients), or null when every probed width was computed correctly.
    /// </summary>
    public static string? Defect => Finding.Value;

    private static string? Run()
    {
        using var generator = new Generator(20261203);
        // Forward: wrong input widths; input gradients (training): wrong output widths. Width 8 is right forward
        // (below the block) on the CPUs measured, so it only tells for gradients.
        var forward = Widths.Where(w => w != 8).Where(w => !(RelativeError(w, 16, 14, 2, generator) < 1e-4)).ToList();
        var gradient = Widths.Where(w => !(InputGradientRelativeError(16, w, 14, 2, generator) < 1e-4)).ToList();
        if (forward.Count == 0 && gradient.Count == 0)
        {
            return null;
        }

        var found = new List<string>();
        if (forward.Count > 0)
        {
            found.Add($"forward passes with input widths {string.Join(", ", forward)}");
        }

        if (gradient.Count > 0)
        {
            found.Add($"input gradients (training) of layers with output widths {string.Join(", ", gradient)}");
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"libtorch's float32 CPU convolution computed wrong values or NaN on this CPU for {string.Join(" and ", found)} (of the widths {string.Join(", ", Widths)} probed): its oneDNN kernels fail for widths off their channel block. Pruned widths that are multiples of 16 (NetworkPruningOptions.ChannelMultiple, default 16) avoid it; see docs/troubleshooting.md.");
    }

    /// <summary>
    /// ‖y₃₂ − y₆₄‖ / ‖y₆₄‖ of a float32 3x3 convolution (padding 1) of random N x <paramref name="inputWidth"/> x S x S
    /// inputs to <paramref name="outputs"/> channels, run as the process's settings choose, against an im2col
    /// product in float64; NaN when the float32 result holds NaN.
    /// </summary>
    internal static double RelativeError(int inputWidth, int outputs, int size, int batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = randn([batch, inputWidth, size, size], generator: generator);
        var weight = randn([outputs, inputWidth, 3, 3], generator: generator);
        var y = nn.functional.conv2d(x, weight, padding: [1, 1]).to(ScalarType.Float64).reshape(batch, outputs, -1);
        var columns = nn.functional.unfold(x.to(ScalarType.Float64), 3, padding: 1);
        var reference = weight.to(ScalarType.Float64).reshape(outputs, -1).matmul(columns);
        return (y - reference).norm().item<double>() / reference.norm().item<double>();
    }

    /// <summary>
    /// The same for the gradient of ⟨conv(x), g⟩ with respect to x (what training computes for every layer but the
    /// first), from <paramref name="inputWidth"/> to <paramref name="outputs"/> channels, against the float64
    /// gradient Wᵀ g folded back to an image.
    /// </summary>
    internal static double InputGradientRelativeError(int inputWidth, int outputs, int size, int batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var x = randn([batch, inputWidth, size, size], generator: generator).requires_grad_(true);
        var weight = randn([outputs, inputWidth, 3, 3], generator: generator);
        var upstream = randn([batch, outputs, size, size], generator: generator);
        using (enable_grad())
        {
            (nn.functional.conv2d(x, weight, padding: [1, 1]) * upstream).sum().backward();
        }

        using var noGrad = no_grad();
        var columns = weight.to(ScalarType.Float64).reshape(outputs, -1).t().matmul(upstream.to(ScalarType.Float64).reshape(batch, outputs, -1));
        var reference = nn.functional.fold(columns, (size, size), (3, 3), padding: (1, 1));
        return (x.grad!.to(ScalarType.Float64) - reference).norm().item<double>() / reference.norm().item<double>();
    }
}
