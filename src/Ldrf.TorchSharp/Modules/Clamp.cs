using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Modules;

/// <summary>
/// min(max(x, Min), Max): a clamp node (ONNX's Clip, torch's Hardtanh). Built instead of TorchSharp's Hardtanh, whose
/// forward in TorchSharp 0.107 returns its input unchanged (a test pins both behaviours).
/// </summary>
internal sealed class Clamp : nn.Module<Tensor, Tensor>
{
    public Clamp(double min, double max)
        : base(nameof(Clamp))
    {
        Min = min;
        Max = max;
    }

    public double Min { get; }

    public double Max { get; }

    public override Tensor forward(Tensor input) => input.clamp(Min, Max);
}
