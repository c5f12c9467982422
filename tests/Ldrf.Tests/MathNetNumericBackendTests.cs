using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Tests;

public class MathNetNumericBackendTests
{
    private readonly MathNetNumericBackend _backend = MathNetNumericBackend.Instance;

    [TestCase(7, 4)]
    [TestCase(4, 7)]
    [TestCase(6, 6)]
    [TestCase(1, 5)]
    [TestCase(30, 200)]
    public void Svd_is_thin_descending_orthonormal_and_reconstructs(int rows, int columns)
    {
        var a = TestData.Gaussian(rows, columns, seed: rows * 31 + columns);
        var (u, s, vt) = _backend.Svd(a);
        var k = Math.Min(rows, columns);
        Assert.Multiple(() =>
        {
            Assert.That(u.RowCount, Is.EqualTo(rows));
            Assert.That(u.ColumnCount, Is.EqualTo(k));
            Assert.That(vt.RowCount, Is.EqualTo(k));
            Assert.That(vt.ColumnCount, Is.EqualTo(columns));
            for (var i = 1; i < k; i++)
            {
                Assert.That(s[i], IsFinite.AtMost(s[i - 1]));
            }

            Assert.That(TestData.RelativeError(u * Matrix<double>.Build.DiagonalOfDiagonalVector(s) * vt, a), IsFinite.LessThan(1e-13));
            Assert.That((u.TransposeThisAndMultiply(u) - Matrix<double>.Build.DenseIdentity(k)).FrobeniusNorm(), IsFinite.LessThan(1e-12));
            Assert.That((vt.TransposeAndMultiply(vt) - Matrix<double>.Build.DenseIdentity(k)).FrobeniusNorm(), IsFinite.LessThan(1e-12));
            for (var j = 0; j < k; j++)
            {
                var column = u.Column(j);
                Assert.That(column[column.AbsoluteMaximumIndex()], IsFinite.GreaterThan(0), "sign convention");
            }
        });
    }

    [Test]
    public void SymmetricEigen_is_descending_reconstructs_and_is_bit_reproducible()
    {
        var x = TestData.Gaussian(8, 20, seed: 5);
        var symmetric = x.TransposeAndMultiply(x);
        var (values, vectors) = _backend.SymmetricEigen(symmetric);
        var (values2, vectors2) = _backend.SymmetricEigen(symmetric.Clone());
        Assert.Multiple(() =>
        {
            for (var i = 1; i < values.Count; i++)
            {
                Assert.That(values[i], IsFinite.AtMost(values[i - 1]));
            }

            var rebuilt = vectors * Matrix<double>.Build.DiagonalOfDiagonalVector(values) * vectors.Transpose();
            Assert.That(TestData.RelativeError(rebuilt, symmetric), IsFinite.LessThan(1e-13));
            Assert.That(values2, Is.EqualTo(values));
            Assert.That(vectors2, Is.EqualTo(vectors));
            for (var j = 0; j < vectors.ColumnCount; j++)
            {
                var column = vectors.Column(j);
                Assert.That(column[column.AbsoluteMaximumIndex()], IsFinite.GreaterThan(0), "sign convention");
            }
        });
    }

    [Test]
    public void SolvePositiveDefinite_matches_the_inverse()
    {
        var x = TestData.Gaussian(6, 30, seed: 9);
        var spd = x.TransposeAndMultiply(x);
        var rhs = TestData.Gaussian(6, 3, seed: 10);
        var solution = _backend.SolvePositiveDefinite(spd, rhs);
        Assert.That(TestData.RelativeError(solution, spd.Inverse() * rhs), IsFinite.LessThan(1e-12));
    }

    [Test]
    public void Products_match_MathNet()
    {
        var a = TestData.Gaussian(4, 5, seed: 1);
        var b = TestData.Gaussian(5, 3, seed: 2);
        var c = TestData.Gaussian(3, 5, seed: 3);
        Assert.Multiple(() =>
        {
            Assert.That(_backend.Multiply(a, b), Is.EqualTo(a * b));
            Assert.That(_backend.MultiplyTransposed(a, c), Is.EqualTo(a * c.Transpose()));
            Assert.That(_backend.Name, Does.StartWith("MathNet"));
        });
    }
}
