using Ldrf.Numerics;

namespace Ldrf.Selection;

/// <summary>
/// Filter L1-norm selection (Li et al. 2016): keep the neurons whose producer filters have the largest
/// L1 norm. Needs <see cref="SelectionContext.ProducerWeights"/>.
/// </summary>
internal sealed class L1NormSelector : INeuronSelector
{
    /// <inheritdoc />
    public int[] Select(SelectionContext context, int keep)
    {
        Guard.NotNull(context, nameof(context));
        context.CheckKeep(keep);
        var producer = context.ProducerWeights ?? throw new ArgumentException(
            Guard.Prefix(context.LayerName) + $"L1-norm selection needs the producer's weights (C = {context.Channels} rows), but 'ProducerWeights' is null.",
            nameof(context));
        Guard.Finite(producer, nameof(context.ProducerWeights), context.LayerName, nameof(context));
        var scores = new double[context.Channels];
        for (var i = 0; i < scores.Length; i++)
        {
            scores[i] = producer.Row(i).L1Norm();
        }

        return SelectionContext.TopK(scores, keep);
    }
}
