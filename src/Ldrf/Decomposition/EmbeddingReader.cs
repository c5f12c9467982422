using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Decomposition;

/// <summary>
/// An embedding's reader R (r x K), held as the matrix itself or, for a huge consumer, as its factors R = T M: the
/// map T (r x C) and the consumer's weights M (C x K), with M Mᵀ. The selection reads R only through R Rᵀ and the
/// recomposition through products S R, which the factors give without forming R, a matrix as large as M itself.
/// </summary>
/// <remarks>
/// A consumer is kept factored from <see cref="FactoredElements"/> weights on and only when it is wider than it is
/// tall (K &gt; C): VGG-16's classifier read after a flatten is 512 x 200,704 (0.8 GB in float64), and forming R,
/// B = Σ^½ M and the products through them took gigabytes and most of that group's time. Smaller readers are
/// formed as they always were, so the arithmetic of ordinary layers is unchanged.
/// </remarks>
internal sealed class EmbeddingReader
{
    /// <summary>The consumer size (C · K weights, 128 MB in float64) from which a wide reader is kept factored.</summary>
    public const long FactoredElements = 1L << 24;

    private readonly INumericBackend? _backend;
    private Matrix<double>? _matrix;
    private Matrix<double>? _weightsGram;

    private EmbeddingReader(Matrix<double>? matrix, INumericBackend? backend, Matrix<double>? map, Matrix<double>? weights, Matrix<double>? weightsGram)
    {
        _matrix = matrix;
        _backend = backend;
        Map = map;
        Weights = weights;
        _weightsGram = weightsGram;
    }

    /// <summary>T (r x C) when factored, else null.</summary>
    public Matrix<double>? Map { get; }

    /// <summary>M (C x K) when factored, else null.</summary>
    public Matrix<double>? Weights { get; }

    /// <summary>Whether R is held as T M.</summary>
    public bool IsFactored => Map is not null;

    /// <summary>r.</summary>
    public int Rows => Map?.RowCount ?? _matrix!.RowCount;

    /// <summary>K.</summary>
    public int Columns => Weights?.ColumnCount ?? _matrix!.ColumnCount;

    /// <summary>R itself (formed on first use when factored, and kept).</summary>
    public Matrix<double> Matrix => _matrix ??= _backend!.Multiply(Map!, Weights!);

    /// <summary>Whether a consumer of these weights would be kept factored.</summary>
    public static bool IsHuge(Matrix<double> weights) =>
        weights.ColumnCount > weights.RowCount && (long)weights.RowCount * weights.ColumnCount >= FactoredElements;

    /// <summary>R as it is.</summary>
    public static EmbeddingReader Formed(Matrix<double> reader) => new(reader, null, null, null, null);

    /// <summary>R = <paramref name="map"/> · <paramref name="weights"/>, kept as its factors.</summary>
    /// <param name="backend">Forms the products.</param>
    /// <param name="map">T, r x C.</param>
    /// <param name="weights">M, C x K (not copied).</param>
    /// <param name="weightsGram">M Mᵀ when the caller has it; else computed on first use.</param>
    public static EmbeddingReader Factored(INumericBackend backend, Matrix<double> map, Matrix<double> weights, Matrix<double>? weightsGram) =>
        new(null, backend, map, weights, weightsGram);

    /// <summary>M Mᵀ (C x C) of a factored reader.</summary>
    public Matrix<double> WeightsGram => _weightsGram ??= _backend!.MultiplyTransposed(Weights!, Weights!);

    /// <summary>R Rᵀ (r x r).</summary>
    public Matrix<double> Gram(INumericBackend backend) =>
        Map is { } map ? backend.MultiplyTransposed(backend.Multiply(map, WeightsGram), map) : backend.MultiplyTransposed(_matrix!, _matrix!);

    /// <summary>The map S = <paramref name="left"/> T (n x C) of a factored reader, so that <paramref name="left"/> R = S M; null when R is formed.</summary>
    public Matrix<double>? MapThrough(INumericBackend backend, Matrix<double> left) => Map is { } map ? backend.Multiply(left, map) : null;

    /// <summary><paramref name="left"/> R (n x K); <paramref name="leftMap"/> is <see cref="MapThrough"/>'s answer for the same left factor, when the caller has it.</summary>
    public Matrix<double> LeftMultiply(INumericBackend backend, Matrix<double> left, Matrix<double>? leftMap = null) =>
        Map is not null ? backend.Multiply(leftMap ?? MapThrough(backend, left)!, Weights!) : backend.Multiply(left, _matrix!);

    /// <summary>Rᵀ <paramref name="v"/> (length K).</summary>
    public Vector<double> TransposeMultiply(Vector<double> v) =>
        Map is { } map ? Weights!.TransposeThisAndMultiply(map.TransposeThisAndMultiply(v)) : _matrix!.TransposeThisAndMultiply(v);
}
