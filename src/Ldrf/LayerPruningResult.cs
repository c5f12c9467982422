using Ldrf.Decomposition;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf;

/// <summary>The pruned form of one layer: which channels survive and the consumer's new weights.</summary>
public sealed class LayerPruningResult
{
    /// <summary>The layer's name.</summary>
    public required string LayerName { get; init; }

    /// <summary>The surviving channels, sorted ascending. Keep the producer's output channels with these indices.</summary>
    public required int[] KeptChannels { get; init; }

    /// <summary>M′: the consumer's new weights, C′ x K, row i for channel <c>KeptChannels[i]</c>, columns as in the request.</summary>
    public required Matrix<double> ConsumerWeights { get; init; }

    /// <summary>A correction (length K, same column order as M′) to add to the consumer's response, or null.</summary>
    public Vector<double>? BiasCorrection { get; init; }

    /// <summary>The valid capacity r (the embedding rank used).</summary>
    public required int ValidCapacity { get; init; }

    /// <summary>The embedding kind, or null for pruners that use no embedding.</summary>
    public EmbeddingKind? Embedding { get; init; }

    /// <summary>The relative reconstruction error of the embedding on the calibration statistics.</summary>
    public required double RelativeEmbeddingError { get; init; }

    /// <summary>‖MᵀA − M′ᵀA′_S − b1ᵀ‖² / ‖MᵀA‖²: the relative error of the consumer's response on the calibration statistics.</summary>
    public required double RelativeOutputError { get; init; }

    /// <summary>The ridge λ used.</summary>
    public required double Lambda { get; init; }

    /// <summary>
    /// Where the layer pruner spent its time (decomposition, selection, recomposition), or null for pruners that
    /// do not measure it.
    /// </summary>
    public LayerPruningTimes? Times { get; init; }
}

/// <summary>The wall-clock time of each stage of pruning one layer.</summary>
/// <param name="Decomposition">Building the embedding (the SVD or eigendecomposition).</param>
/// <param name="Selection">Choosing the surviving channels.</param>
/// <param name="Recomposition">Solving for the consumer's new weights and measuring the errors.</param>
public sealed record LayerPruningTimes(TimeSpan Decomposition, TimeSpan Selection, TimeSpan Recomposition);
