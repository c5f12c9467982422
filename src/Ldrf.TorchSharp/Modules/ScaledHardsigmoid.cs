using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Modules;

/// <summary>
/// max(0, min(1, alpha · x + beta)): the hard sigmoid with ONNX's alpha and beta, for graphs whose slope or offset
/// differ from torch's (1/6 and 1/2), which TorchSharp's Hardsigmoid cannot express.
/// </summary>
internal sealed class ScaledHardsigmoid : nn.Module<Tensor, Tensor>
{
    public ScaledHardsigmoid(double alpha, double beta)
        : base(nameof(ScaledHardsigmoid))
    {
        Alpha = alpha;
        Beta = beta;
    }

    public double Alpha { get; }

    public double Beta { get; }

    public override Tensor forward(Tensor input)
    {
        using var scaled = input.mul(Alpha);
        using var shifted = scaled.add(Beta);
        return shifted.clamp(0.0, 1.0);
    }
}
