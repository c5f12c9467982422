using Ldrf.Numerics;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Decomposition;

/// <summary>
/// The paper's embedding: cross-channel SVD of the consumer's weights. M = U S Vᵀ, Q = U_r, R = S_r V_rᵀ
/// (= Qᵀ M). The spectrum is S; the statistics are not used (they may be empty).
/// </summary>
/// <param name="backend">The numeric backend for the SVD.</param>
public sealed class WeightSvdDecomposer(INumericBackend backend) : IEmbeddingDecomposer
{
    private readonly INumericBackend _backend = backend ?? throw new ArgumentNullException(nameof(backend));

    /// <inheritdoc />
    public EmbeddingKind Kind => EmbeddingKind.WeightSvd;

    /// <inheritdoc />
    public Embedding Decompose(Matrix<double> consumerWeights, ChannelStatistics statistics, RankRule rank, string? layerName = null)
    {
        DecomposerChecks.Check(consumerWeights, statistics, rank, layerName, needsSamples: false);
        var (u, s, vt) = _backend.Svd(consumerWeights);
        var r = rank.Resolve(s, layerName);
        var q = DecomposerChecks.Columns(u, r);
        var reader = DecomposerChecks.Rows(vt, r);
        for (var i = 0; i < r; i++)
        {
            reader.SetRow(i, reader.Row(i) * s[i]);
        }

        return new Embedding(Kind, q, reader, s);
    }
}
