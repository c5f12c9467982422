using System.Globalization;
using Ldrf.TorchSharp.Runtime;
using static TorchSharp.torch;

namespace Ldrf.Experiments;

/// <summary>One width of libtorch's float32 CPU convolution against float64, under the process's settings.</summary>
/// <param name="InputWidth">The width: input channels of the forward 3x3 convolution (64 outputs), and output channels of the convolution whose input gradient is checked (16 inputs); 2 x C x 28 x 28 images.</param>
/// <param name="Isa">The ONEDNN_MAX_CPU_ISA the process ran with, or "default".</param>
/// <param name="WorstRelativeError">The largest forward ‖y₃₂ − y₆₄‖ / ‖y₆₄‖ over the repetitions, or null when any was NaN.</param>
/// <param name="NaNRuns">Repetitions whose float32 forward output held NaN.</param>
/// <param name="Runs">Repetitions (fresh random inputs and weights each).</param>
/// <param name="GradientWorstRelativeError">The same for the input gradient, or null when any was NaN.</param>
/// <param name="GradientNaNRuns">Repetitions whose float32 input gradient held NaN.</param>
internal sealed record ConvolutionWidthRecord(int InputWidth, string Isa, double? WorstRelativeError, int NaNRuns, int Runs, double? GradientWorstRelativeError = null, int GradientNaNRuns = 0);

/// <summary>
/// Measures, width by width, whether libtorch's float32 CPU convolution computes the right values under the
/// process's default settings (the check behind the pruner's CPU probe), for docs/results.md and the width table
/// of docs/troubleshooting.md.
/// </summary>
internal sealed class ConvolutionWidthRunner(ExperimentSettings settings, string command, TextWriter log)
{
    public const string ResultsName = "cpu-convolution";

    /// <summary>Every width from 1 to 40, then a spread up to 256 (multiples of 16 and widths off the block).</summary>
    public static readonly int[] Widths = [.. Enumerable.Range(1, 40), 47, 48, 56, 63, 64, 65, 72, 80, 96, 100, 112, 120, 128, 144, 200, 256];

    private const int Runs = 3;

    public void Run()
    {
        var isa = Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") is { Length: > 0 } v ? v : "default";
        using var generator = new Generator(1);
        var records = new List<ConvolutionWidthRecord>();
        foreach (var width in Widths)
        {
            var errors = Enumerable.Range(0, Runs).Select(_ => CpuConvolutionProbe.RelativeError(width, 64, 28, 2, generator)).ToList();
            var gradients = Enumerable.Range(0, Runs).Select(_ => CpuConvolutionProbe.InputGradientRelativeError(16, width, 28, 2, generator)).ToList();
            var nan = errors.Count(double.IsNaN);
            var gradientNaN = gradients.Count(double.IsNaN);
            var record = new ConvolutionWidthRecord(width, isa, nan > 0 ? null : errors.Max(), nan, Runs, gradientNaN > 0 ? null : gradients.Max(), gradientNaN);
            records.Add(record);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"width {width,3} ({isa}): forward {record.WorstRelativeError?.ToString("E1", CultureInfo.InvariantCulture) ?? "NaN"}, input gradient {record.GradientWorstRelativeError?.ToString("E1", CultureInfo.InvariantCulture) ?? "NaN"}"));
        }

        // The ISA setting is part of how the run was made, so it belongs in the recorded command.
        var info = ExperimentRunner.Info(settings, isa == "default" ? command : $"ONEDNN_MAX_CPU_ISA={isa} {command}", "random inputs and weights (seed 1)", 0,
            string.Create(CultureInfo.InvariantCulture,
                $"forward: a float32 3x3 Conv2d (padding 1) from C to 64 channels on 2 x C x 28 x 28 random inputs; input gradient: the gradient with respect to the input of a 3x3 Conv2d from 16 to C channels on 2 x 16 x 28 x 28 inputs (what training computes); {Runs} runs per width with fresh inputs and weights, under libtorch's default settings (nothing toggled), against float64 im2col products"));
        ResultWriter.WriteConvolutionWidths(settings, info, records);
    }
}
