using Ldrf.Numerics;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Decomposition;

/// <summary>
/// Embedding by principal components of the layer's activations in the original network:
/// Σ = A Aᵀ / N = V Λ Vᵀ (second moments, not centred, because the consumer reads the raw activations),
/// Q = V_r, R = Qᵀ M, so Q R = Q Qᵀ M, which is M at full rank r = C. The spectrum is √Λ.
/// </summary>
/// <param name="backend">The numeric backend for the eigendecomposition and products.</param>
internal sealed class ActivationPcaDecomposer(INumericBackend backend) : IEmbeddingDecomposer
{
    private readonly INumericBackend _backend = backend ?? throw new ArgumentNullException(nameof(backend));

    /// <inheritdoc />
    public EmbeddingKind Kind => EmbeddingKind.ActivationPca;

    /// <inheritdoc />
    public Embedding Decompose(Matrix<double> consumerWeights, ChannelStatistics statistics, RankRule rank, string? layerName = null)
    {
        DecomposerChecks.Check(consumerWeights, statistics, rank, layerName, needsSamples: true);
        var (values, vectors) = _backend.SymmetricEigen(DecomposerChecks.Covariance(statistics));
        var spectrum = values.Map(v => Math.Sqrt(Math.Max(v, 0.0)));
        var r = rank.Resolve(spectrum, layerName);
        var q = DecomposerChecks.Columns(vectors, r);
        var reader = _backend.Multiply(q.Transpose(), consumerWeights);
        return new Embedding(Kind, q, reader, spectrum);
    }
}
