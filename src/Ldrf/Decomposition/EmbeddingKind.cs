namespace Ldrf.Decomposition;

/// <summary>How the embedding space of a layer (the consumer's view of its C channels) is built.</summary>
public enum EmbeddingKind
{
    /// <summary>Cross-channel SVD of the consumer's weights, as in the paper: M = U S Vᵀ, Q = U_r.</summary>
    WeightSvd,

    /// <summary>Principal components of the layer's activations: the top eigenvectors of Σ = A Aᵀ / N.</summary>
    ActivationPca,

    /// <summary>The best rank-r approximation of what the consumer reads from the data: SVD of Σ^½ M.</summary>
    ResponseAware,
}
