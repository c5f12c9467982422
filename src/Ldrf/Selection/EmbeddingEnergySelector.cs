using Ldrf.Numerics;

namespace Ldrf.Selection;

/// <summary>
/// The paper's rule (docs/method.md, "2. Selection"): keep the neurons that carry the largest share of the energy the
/// consumer reads through the embedding.
/// </summary>
/// <remarks>
/// score_i = E[a′_i²] · ‖(Q R)[i, :]‖², with E[a′_i²] = PrunedGram[i, i] / N (the neuron's activity in the
/// network being built, since that is what a survivor will actually carry) and Q R the rank-r
/// approximation of the consumer's weights. For the weight SVD and the response-aware embedding
/// R = S_r Wᵀ with orthonormal W, so ‖(Q R)[i, :]‖² = ‖(Q S)[i, :]‖²: each embedding direction weighted by
/// its singular value, as the method prescribes. It is computed as q_iᵀ (R Rᵀ) q_i, which costs
/// O(r² K + C r²) rather than forming Q R.
/// </remarks>
/// <param name="backend">The numeric backend for R Rᵀ.</param>
internal sealed class EmbeddingEnergySelector(INumericBackend backend) : INeuronSelector
{
    private readonly INumericBackend _backend = backend ?? throw new ArgumentNullException(nameof(backend));

    /// <inheritdoc />
    /// <remarks>False: it reads the embedding.</remarks>
    public bool UsesProducerWeights => false;

    /// <inheritdoc />
    public int[] Select(SelectionContext context, int keep)
    {
        Guard.NotNull(context, nameof(context));
        context.CheckKeep(keep);
        context.Statistics.EnsureSamples(context.LayerName, nameof(context));
        var q = context.Embedding.Basis;
        var reader = context.Embedding.Reader;
        var rrt = _backend.MultiplyTransposed(reader, reader);
        var qrrt = _backend.Multiply(q, rrt);
        var gram = context.Statistics.PrunedGramView;
        var n = (double)context.Statistics.SampleCount;
        var scores = new double[context.Channels];
        for (var i = 0; i < scores.Length; i++)
        {
            var readEnergy = 0.0;
            for (var j = 0; j < q.ColumnCount; j++)
            {
                readEnergy += qrrt.At(i, j) * q.At(i, j);
            }

            scores[i] = gram.At(i, i) / n * readEnergy;
        }

        return SelectionContext.TopK(scores, keep);
    }
}
