using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Recomposition;

/// <summary>The outcome of recomposing one layer from its survivors.</summary>
public sealed class Recomposition
{
    /// <summary>Creates a result.</summary>
    /// <param name="consumerWeights">M′: C′ x K, the consumer's new weights, rows in the order of the kept channels.</param>
    /// <param name="biasCorrection">A correction (length K) to add to the consumer's response when an intercept was fitted, otherwise null.</param>
    /// <param name="lambda">The ridge λ used.</param>
    /// <param name="relativeEmbeddingError">The relative error of the recovered embedding on the calibration statistics.</param>
    /// <param name="relativeOutputError">The relative error of the consumer's response on the calibration statistics.</param>
    public Recomposition(Matrix<double> consumerWeights, Vector<double>? biasCorrection, double lambda, double relativeEmbeddingError, double relativeOutputError)
    {
        ConsumerWeights = consumerWeights ?? throw new ArgumentNullException(nameof(consumerWeights));
        BiasCorrection = biasCorrection;
        Lambda = lambda;
        RelativeEmbeddingError = relativeEmbeddingError;
        RelativeOutputError = relativeOutputError;
    }

    /// <summary>M′: C′ x K, the consumer's new weights in the same matricization as M.</summary>
    public Matrix<double> ConsumerWeights { get; }

    /// <summary>The correction to add to the consumer's response (length K), or null without an intercept.</summary>
    public Vector<double>? BiasCorrection { get; }

    /// <summary>The ridge λ used.</summary>
    public double Lambda { get; }

    /// <summary>The relative reconstruction error of the embedding on the calibration statistics (0 = exact).</summary>
    public double RelativeEmbeddingError { get; }

    /// <summary>The relative error of the consumer's response on the calibration statistics (0 = exact).</summary>
    public double RelativeOutputError { get; }
}
