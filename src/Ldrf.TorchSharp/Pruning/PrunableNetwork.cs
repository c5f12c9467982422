using Ldrf.TorchSharp.Architecture;
using MathNet.Numerics.LinearAlgebra;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// The network as the pruner's collaborators see it: the chain with its batch norms folded (not owned here), the
/// per-layer output shapes for one image, the prunable units front to back with their names (the producer's path),
/// and the device and type it runs in.
/// </summary>
internal sealed class PrunableNetwork
{
    private PrunableNetwork(ChainModel folded, long[] imageShape, long[][] shapes, List<PrunableUnit> units, Device device, ScalarType dtype)
    {
        Folded = folded;
        ImageShape = imageShape;
        Shapes = shapes;
        Units = units;
        Names = [.. units.Select(u => u.ProducerSpec(folded.Layers).Path)];
        Device = device;
        Dtype = dtype;
    }

    /// <summary>The original chain with batch norms folded; the caller owns it.</summary>
    public ChainModel Folded { get; }

    /// <summary>C x H x W of one calibration image.</summary>
    public long[] ImageShape { get; }

    /// <summary>The output shape of each top-level layer of <see cref="Folded"/> for one image.</summary>
    public long[][] Shapes { get; }

    /// <summary>The prunable units, front to back.</summary>
    public List<PrunableUnit> Units { get; }

    /// <summary>Each unit's name: its producer's path.</summary>
    public List<string> Names { get; }

    public Device Device { get; }

    public ScalarType Dtype { get; }

    /// <summary>Finds the prunable units of <paramref name="folded"/>.</summary>
    /// <exception cref="ArgumentException">A layer cannot take its input (named after <paramref name="batchesParam"/>), or nothing is prunable (named after <paramref name="networkParam"/>).</exception>
    public static PrunableNetwork Create(ChainModel folded, long[] imageShape, Device device, ScalarType dtype, string networkParam, string batchesParam)
    {
        var shapes = ShapeInference.Outputs(folded.Layers, imageShape, batchesParam);
        var units = PrunableUnit.Find(folded.Layers, shapes, imageShape);
        if (units.Count == 0)
        {
            throw new ArgumentException(
                $"'{networkParam}' has fewer than two Conv2d/Linear layers, so it has no prunable layer (the first layer's inputs and the last layer's outputs keep their size).",
                networkParam);
        }

        return new PrunableNetwork(folded, imageShape, shapes, units, device, dtype);
    }

    /// <summary>Builds the original network (batch norms folded) on <see cref="Device"/>.</summary>
    public BuiltNetwork Build() => Folded.Build(Device, Dtype);

    /// <summary>Unit <paramref name="j"/>'s consumer weights in <paramref name="model"/> (the original or the pruned-so-far chain), matricized by input channel.</summary>
    public Matrix<double> ConsumerMatrix(ChainModel model, int j) =>
        UnitWeights.ConsumerMatrix(model.State[Units[j].ConsumerSpec(Folded.Layers).Path + ".weight"], Units[j].Channels);
}
