using Ldrf.Decomposition;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf;

/// <summary>
/// The pruned form of one layer: which channels survive, the consumer's new weights and how well they reproduce
/// its response. The last three properties are LDRF's diagnostics, null for pruners that have no embedding.
/// </summary>
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

    /// <summary>
    /// The relative error of the consumer's response on the calibration statistics, ‖y − y′‖² / ‖y‖²: on the channel
    /// statistics (y = MᵀA) or, for pruners that read patches, on the sampled patches.
    /// </summary>
    public required double RelativeOutputError { get; init; }

    /// <summary>The ridge λ of the consumer's refit, or null for pruners that refit nothing.</summary>
    public double? Lambda { get; init; }

    /// <summary>
    /// The wall-clock time of building the embedding (the SVD or eigendecomposition), or null for pruners that do not
    /// measure it.
    /// </summary>
    public TimeSpan? DecompositionTime { get; init; }

    /// <summary>The wall-clock time of choosing the surviving channels, or null for pruners that do not measure it.</summary>
    public TimeSpan? SelectionTime { get; init; }

    /// <summary>
    /// The wall-clock time of solving for the consumer's new weights and measuring the errors, or null for pruners
    /// that do not measure it.
    /// </summary>
    public TimeSpan? RecompositionTime { get; init; }

    /// <summary>The embedding rank r used (the layer's valid capacity unless the request fixed the rank), or null for pruners without an embedding.</summary>
    public int? ValidCapacity { get; init; }

    /// <summary>The embedding kind, or null for pruners without an embedding.</summary>
    public EmbeddingKind? Embedding { get; init; }

    /// <summary>
    /// The relative error of recovering the layer's embedding QᵀA from the survivors on the calibration statistics, or
    /// null for pruners that recover none. The selection-plus-least-squares baselines recover the identity embedding
    /// (Q = I), so theirs is the error of recovering the activations themselves.
    /// </summary>
    public double? RelativeEmbeddingError { get; init; }
}
