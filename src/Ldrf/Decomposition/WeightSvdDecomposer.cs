using Ldrf.Numerics;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Decomposition;

/// <summary>
/// The paper's embedding: cross-channel SVD of the consumer's weights. M = U S Vᵀ, Q = U_r, R = S_r V_rᵀ
/// (= Qᵀ M). The spectrum is S; the statistics are not used (they may be empty).
/// </summary>
/// <remarks>U and S come from the eigendecomposition of the C x C matrix M Mᵀ, which is cheaper than a full SVD
/// of the usually much wider M and gives the same embedding.</remarks>
/// <param name="backend">The numeric backend for the products and the eigendecomposition.</param>
internal sealed class WeightSvdDecomposer(INumericBackend backend) : IEmbeddingDecomposer
{
    private readonly INumericBackend _backend = backend ?? throw new ArgumentNullException(nameof(backend));

    /// <inheritdoc />
    public EmbeddingKind Kind => EmbeddingKind.WeightSvd;

    /// <inheritdoc />
    public Embedding Decompose(Matrix<double> consumerWeights, ChannelStatistics statistics, RankRule rank, string? layerName = null)
    {
        DecomposerChecks.Check(consumerWeights, statistics, rank, layerName, needsSamples: false);
        var (q, reader, s) = GramSvd.Truncated(_backend, consumerWeights, null, rank, layerName);
        return new Embedding(Kind, q, reader, s);
    }
}
