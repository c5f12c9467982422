using Ldrf.Numerics;
using Ldrf.TorchSharp.Numerics;
using MathNet.Numerics.Distributions;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.TorchSharp.Tests;

public class TorchNumericBackendTests
{
    private readonly TorchNumericBackend _torch = new();
    private readonly MathNetNumericBackend _managed = MathNetNumericBackend.Instance;

    private static Matrix<double> Random(int rows, int columns, int seed) =>
        Matrix<double>.Build.Random(rows, columns, new Normal(0, 1, new System.Random(seed)));

    [TestCase(3, 4, 5)]
    [TestCase(7, 1, 2)]
    public void Products_equal_the_explicit_ones(int m, int k, int n)
    {
        var a = Random(m, k, 1);
        var b = Random(k, n, 2);
        var c = Random(n, k, 3);
        Assert.That((_torch.Multiply(a, b) - (a * b)).L2Norm(), IsFinite.LessThan(1e-12));
        Assert.That((_torch.MultiplyTransposed(a, c) - (a * c.Transpose())).L2Norm(), IsFinite.LessThan(1e-12));
        Assert.That(a, Is.EqualTo(Random(m, k, 1)), "arguments are not modified");
    }

    [TestCase(5)]
    [TestCase(24)]
    public void Symmetric_eigen_is_descending_reconstructs_and_matches_the_managed_backend(int n)
    {
        var x = Random(n, 2 * n, 4);
        var s = x * x.Transpose();
        var (values, vectors) = _torch.SymmetricEigen(s);
        Assert.That(values.Zip(values.Skip(1)).All(p => p.First >= p.Second), Is.True, "descending");
        Assert.That((vectors * Matrix<double>.Build.DiagonalOfDiagonalVector(values) * vectors.Transpose() - s).FrobeniusNorm() / s.FrobeniusNorm(), IsFinite.LessThan(1e-12));
        var (managedValues, managedVectors) = _managed.SymmetricEigen(s);
        Assert.That((values - managedValues).InfinityNorm() / values[0], IsFinite.LessThan(1e-12));
        Assert.That((vectors - managedVectors).InfinityNorm(), IsFinite.LessThan(1e-8), "same order and same sign convention");
        for (var j = 0; j < n; j++)
        {
            var column = vectors.Column(j);
            Assert.That(column[column.AbsoluteMaximumIndex()], IsFinite.GreaterThan(0), "largest-magnitude component is positive");
        }
    }

    [TestCase(6, 15)]
    [TestCase(15, 6)]
    public void Thin_svd_reconstructs_and_matches_the_managed_backend(int m, int n)
    {
        var a = Random(m, n, 5);
        var (u, s, vt) = _torch.Svd(a);
        var k = Math.Min(m, n);
        Assert.That((u.RowCount, u.ColumnCount, s.Count, vt.RowCount, vt.ColumnCount), Is.EqualTo((m, k, k, k, n)));
        Assert.That((u * Matrix<double>.Build.DiagonalOfDiagonalVector(s) * vt - a).FrobeniusNorm(), IsFinite.LessThan(1e-12));
        var (mu, ms, mvt) = _managed.Svd(a);
        Assert.That((s - ms).InfinityNorm(), IsFinite.LessThan(1e-12));
        Assert.That((u - mu).InfinityNorm(), IsFinite.LessThan(1e-8));
        Assert.That((vt - mvt).InfinityNorm(), IsFinite.LessThan(1e-8));
    }

    [Test]
    public void Positive_definite_solve_satisfies_the_system()
    {
        var x = Random(6, 12, 6);
        var spd = (x * x.Transpose()) + Matrix<double>.Build.DenseIdentity(6);
        var rhs = Random(6, 3, 7);
        var solution = _torch.SolvePositiveDefinite(spd, rhs);
        Assert.That((spd * solution - rhs).FrobeniusNorm(), IsFinite.LessThan(1e-10));
    }

    [Test, Category("BadInput")]
    public void Bad_arguments_throw_with_the_sizes()
    {
        var indefinite = Matrix<double>.Build.DenseOfArray(new double[,] { { 1, 2 }, { 2, 1 } });
        var ex = Assert.Throws<ArgumentException>(() => _torch.SolvePositiveDefinite(indefinite, Random(2, 1, 1)));
        Assert.That(ex!.ParamName, Is.EqualTo("spd"));
        var shape = Assert.Throws<ArgumentException>(() => _torch.Multiply(Random(2, 3, 1), Random(2, 3, 1)));
        Assert.That(shape!.Message, Does.Contain("2 x 3"));
        Assert.Throws<ArgumentException>(() => _torch.SymmetricEigen(Random(2, 3, 1)));
        Assert.That(_torch.Name, Does.Contain("libtorch"));
    }

    // 5 x 5 has 25 entries: some fall in the vectorized lanes of the finiteness check, the last in its scalar tail.
    [TestCase(0, 0, double.NaN)]
    [TestCase(2, 3, double.PositiveInfinity)]
    [TestCase(4, 4, double.NegativeInfinity)]
    [Category("BadInput")]
    public void Non_finite_entries_are_rejected_with_their_position(int row, int column, double value)
    {
        var x = Random(5, 10, 8);
        var spd = (x * x.Transpose()) + Matrix<double>.Build.DenseIdentity(5);
        var bad = spd.Clone();
        bad[row, column] = value;
        var solve = Assert.Throws<ArgumentException>(() => _torch.SolvePositiveDefinite(bad, Random(5, 2, 9)));
        Assert.That(solve!.ParamName, Is.EqualTo("spd"));
        Assert.That(solve.Message, Does.Contain($"({row}, {column})"));
        var rhs = Assert.Throws<ArgumentException>(() => _torch.SolvePositiveDefinite(spd, bad));
        Assert.That(rhs!.ParamName, Is.EqualTo("rhs"));
        Assert.That(Assert.Throws<ArgumentException>(() => _torch.SymmetricEigen(bad))!.ParamName, Is.EqualTo("symmetric"));
        Assert.That(Assert.Throws<ArgumentException>(() => _torch.Svd(bad))!.ParamName, Is.EqualTo("a"));
    }

    [Test]
    public void Decompositions_and_solves_leave_their_arguments_unchanged()
    {
        // On the CPU the backend's tensors share the arguments' storage, so this guards against any in-place use.
        var x = Random(7, 14, 10);
        var spd = (x * x.Transpose()) + Matrix<double>.Build.DenseIdentity(7);
        var rhs = Random(7, 3, 11);
        var (spdCopy, rhsCopy) = (spd.Clone(), rhs.Clone());
        _torch.SymmetricEigen(spd);
        _torch.Svd(spd);
        _torch.SolvePositiveDefinite(spd, rhs);
        _torch.MultiplyTransposed(spd, spd);
        Assert.That(spd, Is.EqualTo(spdCopy));
        Assert.That(rhs, Is.EqualTo(rhsCopy));
    }
}
