using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Recomposition;

/// <summary>The outcome of recomposing one layer from its survivors.</summary>
public sealed class Recomposition
{
    /// <summary>Creates a result.</summary>
    /// <param name="keptChannels">The survivors, in the row order of the matrices below.</param>
    /// <param name="embeddingMap">Q′: C′ x r, so that Q′ᵀa′_S ≈ Qᵀa.</param>
    /// <param name="consumerWeights">M′ = Q′ R: C′ x K, the consumer's new weights.</param>
    /// <param name="biasCorrection">Rᵀc (length K) when an intercept was fitted, otherwise null.</param>
    /// <param name="lambda">The ridge λ used.</param>
    /// <param name="relativeEmbeddingError">‖QᵀA − Q′ᵀA′_S − c1ᵀ‖² / ‖QᵀA‖² on the calibration statistics.</param>
    public Recomposition(int[] keptChannels, Matrix<double> embeddingMap, Matrix<double> consumerWeights,
        Vector<double>? biasCorrection, double lambda, double relativeEmbeddingError)
    {
        KeptChannels = keptChannels ?? throw new ArgumentNullException(nameof(keptChannels));
        EmbeddingMap = embeddingMap ?? throw new ArgumentNullException(nameof(embeddingMap));
        ConsumerWeights = consumerWeights ?? throw new ArgumentNullException(nameof(consumerWeights));
        BiasCorrection = biasCorrection;
        Lambda = lambda;
        RelativeEmbeddingError = relativeEmbeddingError;
    }

    /// <summary>The survivors, in the row order of <see cref="ConsumerWeights"/>.</summary>
    public int[] KeptChannels { get; }

    /// <summary>Q′: C′ x r.</summary>
    public Matrix<double> EmbeddingMap { get; }

    /// <summary>M′ = Q′ R: C′ x K, the consumer's new weights in the same matricization as M.</summary>
    public Matrix<double> ConsumerWeights { get; }

    /// <summary>The correction to add to the consumer's response (length K), or null without an intercept.</summary>
    public Vector<double>? BiasCorrection { get; }

    /// <summary>The ridge λ used.</summary>
    public double Lambda { get; }

    /// <summary>The relative reconstruction error of the embedding on the calibration statistics (0 = exact).</summary>
    public double RelativeEmbeddingError { get; }
}
