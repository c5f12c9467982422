using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Decomposition;

/// <summary>
/// The embedding of one layer: a basis Q (C x r) so that e = Qᵀa carries what the consumer needs, and a
/// reader R (r x K) so that the consumer's weights M (C x K) are approximated by Q R (exactly at full rank).
/// The consumer then computes Rᵀ e instead of Mᵀ a.
/// </summary>
public sealed class Embedding
{
    /// <summary>Creates an embedding and checks that its parts fit together.</summary>
    /// <param name="kind">The decomposition that produced it.</param>
    /// <param name="basis">Q, C x r.</param>
    /// <param name="reader">R, r x K.</param>
    /// <param name="spectrum">The whole spectrum, descending, as singular-value magnitudes (energies are their squares).</param>
    /// <exception cref="ArgumentException">The sizes do not agree.</exception>
    public Embedding(EmbeddingKind kind, Matrix<double> basis, Matrix<double> reader, Vector<double> spectrum)
        : this((EmbeddingKind?)kind, basis, Formed(reader), spectrum)
    {
    }

    private static EmbeddingReader Formed(Matrix<double> reader)
    {
        Guard.NotNull(reader, nameof(reader));
        return EmbeddingReader.Formed(reader);
    }

    /// <summary>An embedding whose reader may be kept factored (<see cref="EmbeddingReader"/>).</summary>
    internal Embedding(EmbeddingKind? kind, Matrix<double> basis, EmbeddingReader reader, Vector<double> spectrum)
    {
        Guard.NotNull(basis, nameof(basis));
        Guard.NotNull(spectrum, nameof(spectrum));
        if (basis.ColumnCount < 1 || reader.Rows != basis.ColumnCount)
        {
            throw new ArgumentException(
                $"'reader' is {reader.Rows} x {reader.Columns} but must have as many rows as 'basis' ({Guard.Shape(basis)}) has columns (the rank, at least 1).",
                nameof(reader));
        }

        Kind = kind;
        Basis = basis;
        ReaderParts = reader;
        Spectrum = spectrum;
    }

    /// <summary>The decomposition that produced this embedding, or null for the identity embedding (Q = I, R = M) of the selection-plus-least-squares baselines.</summary>
    public EmbeddingKind? Kind { get; }

    /// <summary>Q: C x r; the embedding of an activation a is Qᵀa.</summary>
    public Matrix<double> Basis { get; }

    /// <summary>R: r x K; Q R approximates the consumer's weights M (C x K).</summary>
    /// <remarks>For a huge consumer R is kept as two factors inside the pruner and formed on the first read of this property.</remarks>
    public Matrix<double> Reader => ReaderParts.Matrix;

    /// <summary>R as the pruner's parts read it: formed, or factored for a huge consumer.</summary>
    internal EmbeddingReader ReaderParts { get; }

    /// <summary>
    /// The whole spectrum in descending order, as magnitudes whose squares are energies: singular values of
    /// M (weight SVD), square roots of the covariance eigenvalues (activation PCA) or singular values of
    /// Σ^½ M (response-aware).
    /// </summary>
    public Vector<double> Spectrum { get; }

    /// <summary>The rank r kept (the number of columns of <see cref="Basis"/>).</summary>
    public int Rank => Basis.ColumnCount;

    /// <summary>The number of channels C.</summary>
    public int Channels => Basis.RowCount;

    /// <summary>
    /// The identity embedding Q = I, R = M, whose recomposition is plain least squares of the layer's activations: what
    /// the baselines without a decomposition hand to the selectors and the recomposer. Its spectrum is all ones.
    /// </summary>
    /// <param name="consumerWeights">M, C x K.</param>
    /// <param name="sparse">Whether Q is stored sparse (free for wide layers when only selectors read it).</param>
    internal static Embedding Identity(Matrix<double> consumerWeights, bool sparse)
    {
        var c = consumerWeights.RowCount;
        var basis = sparse ? Matrix<double>.Build.SparseIdentity(c) : Matrix<double>.Build.DenseIdentity(c);
        return new Embedding(null, basis, EmbeddingReader.Formed(consumerWeights), Vector<double>.Build.Dense(c, 1.0));
    }
}
