using System.Globalization;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;

namespace Ldrf.Numerics;

/// <summary>
/// The default <see cref="INumericBackend"/>: MathNet.Numerics with whatever linear-algebra provider the
/// application has configured (managed by default; native MKL if the application called
/// <c>Control.UseNativeMKL()</c> or <c>Control.TryUseNativeMKL()</c>).
/// </summary>
/// <remarks>
/// This class never changes MathNet's global provider. Results are made deterministic: eigenvalues and
/// singular values are sorted in descending order, and every eigenvector / left singular vector is
/// given the sign that makes its largest-magnitude component positive (the first such component on
/// ties), with the matching right singular vector flipped alongside so that the factorization still
/// holds. The thin SVD of an m x n matrix first reduces the long side with a thin QR factorization, so
/// a wide consumer matrix (C x K with K much larger than C) costs O(C² K) instead of a full K x K SVD.
/// </remarks>
internal sealed class MathNetNumericBackend : INumericBackend
{
    /// <summary>A shared instance; the class holds no state.</summary>
    public static MathNetNumericBackend Instance { get; } = new();

    /// <inheritdoc />
    public string Name => "MathNet (" + MathNet.Numerics.Providers.LinearAlgebra.LinearAlgebraControl.Provider + ")";

    /// <inheritdoc />
    public Matrix<double> Multiply(Matrix<double> a, Matrix<double> b)
    {
        Guard.NotNull(a, nameof(a));
        Guard.NotNull(b, nameof(b));
        if (a.ColumnCount != b.RowCount)
        {
            throw new ArgumentException(
                $"Cannot multiply 'a' ({Guard.Shape(a)}) by 'b' ({Guard.Shape(b)}): a's column count must equal b's row count.",
                nameof(b));
        }

        return a * b;
    }

    /// <inheritdoc />
    public Matrix<double> MultiplyTransposed(Matrix<double> a, Matrix<double> b)
    {
        Guard.NotNull(a, nameof(a));
        Guard.NotNull(b, nameof(b));
        if (a.ColumnCount != b.ColumnCount)
        {
            throw new ArgumentException(
                $"Cannot form a * bᵀ for 'a' ({Guard.Shape(a)}) and 'b' ({Guard.Shape(b)}): both must have the same column count.",
                nameof(b));
        }

        return a.TransposeAndMultiply(b);
    }

    /// <inheritdoc />
    public (Vector<double> Values, Matrix<double> Vectors) SymmetricEigen(Matrix<double> symmetric)
    {
        Guard.NotNull(symmetric, nameof(symmetric));
        if (symmetric.RowCount != symmetric.ColumnCount)
        {
            throw new ArgumentException($"'symmetric' must be square but is {Guard.Shape(symmetric)}.", nameof(symmetric));
        }

        Guard.Finite(symmetric, nameof(symmetric));
        var n = symmetric.RowCount;
        var evd = symmetric.Evd(Symmetricity.Symmetric);
        var raw = evd.EigenValues;
        var vectors = evd.EigenVectors;

        // Descending, ties broken by original position so the order never depends on the sort algorithm.
        var order = Enumerable.Range(0, n).OrderByDescending(i => raw[i].Real).ThenBy(i => i).ToArray();
        var values = Vector<double>.Build.Dense(n, i => raw[order[i]].Real);
        var sorted = Matrix<double>.Build.Dense(n, n, (i, j) => vectors.At(i, order[j]));
        for (var j = 0; j < n; j++)
        {
            if (NeedsFlip(sorted, j))
            {
                for (var i = 0; i < n; i++)
                {
                    sorted.At(i, j, -sorted.At(i, j));
                }
            }
        }

        return (values, sorted);
    }

    /// <inheritdoc />
    public (Matrix<double> U, Vector<double> S, Matrix<double> VT) Svd(Matrix<double> a)
    {
        Guard.NotNull(a, nameof(a));
        Guard.Finite(a, nameof(a));
        if (a.RowCount == 0 || a.ColumnCount == 0)
        {
            throw new ArgumentException($"'a' must not be empty but is {Guard.Shape(a)}.", nameof(a));
        }

        Matrix<double> u;
        Vector<double> s;
        Matrix<double> vt;
        if (a.RowCount >= a.ColumnCount)
        {
            // a = Q R, R = U' S Vᵀ  =>  a = (Q U') S Vᵀ.
            var qr = a.QR(QRMethod.Thin);
            var svd = qr.R.Svd(computeVectors: true);
            u = qr.Q * svd.U;
            s = svd.S;
            vt = svd.VT;
        }
        else
        {
            // aᵀ = Q R, Rᵀ = U S W ᵀ  =>  a = Rᵀ Qᵀ = U S (Q W)ᵀ.
            var qr = a.Transpose().QR(QRMethod.Thin);
            var svd = qr.R.Transpose().Svd(computeVectors: true);
            u = svd.U;
            s = svd.S;
            vt = svd.VT * qr.Q.Transpose();
        }

        var k = s.Count;
        var order = Enumerable.Range(0, k).OrderByDescending(i => s[i]).ThenBy(i => i).ToArray();
        var sSorted = Vector<double>.Build.Dense(k, i => s[order[i]]);
        var uSorted = Matrix<double>.Build.Dense(u.RowCount, k, (i, j) => u.At(i, order[j]));
        var vtSorted = Matrix<double>.Build.Dense(k, vt.ColumnCount, (i, j) => vt.At(order[i], j));
        for (var j = 0; j < k; j++)
        {
            if (NeedsFlip(uSorted, j))
            {
                for (var i = 0; i < uSorted.RowCount; i++)
                {
                    uSorted.At(i, j, -uSorted.At(i, j));
                }

                for (var c = 0; c < vtSorted.ColumnCount; c++)
                {
                    vtSorted.At(j, c, -vtSorted.At(j, c));
                }
            }
        }

        return (uSorted, sSorted, vtSorted);
    }

    /// <inheritdoc />
    public Matrix<double> SolvePositiveDefinite(Matrix<double> spd, Matrix<double> rhs)
    {
        Guard.NotNull(spd, nameof(spd));
        Guard.NotNull(rhs, nameof(rhs));
        if (spd.RowCount != spd.ColumnCount)
        {
            throw new ArgumentException($"'spd' must be square but is {Guard.Shape(spd)}.", nameof(spd));
        }

        if (rhs.RowCount != spd.RowCount)
        {
            throw new ArgumentException(
                $"'rhs' is {Guard.Shape(rhs)} but must have {spd.RowCount} rows to match 'spd' ({Guard.Shape(spd)}).",
                nameof(rhs));
        }

        Guard.Finite(spd, nameof(spd));
        Guard.Finite(rhs, nameof(rhs));
        Cholesky<double> cholesky;
        try
        {
            cholesky = spd.Cholesky();
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture,
                    $"'spd' ({Guard.Shape(spd)}) is not positive definite, so its Cholesky factorization failed. A positive ridge (lambda) makes it definite."),
                nameof(spd),
                ex);
        }

        return cholesky.Solve(rhs);
    }

    private static bool NeedsFlip(Matrix<double> m, int column)
    {
        var best = 0.0;
        var sign = 1.0;
        for (var i = 0; i < m.RowCount; i++)
        {
            var v = m.At(i, column);
            if (Math.Abs(v) > best)
            {
                best = Math.Abs(v);
                sign = Math.Sign(v);
            }
        }

        return sign < 0;
    }
}
