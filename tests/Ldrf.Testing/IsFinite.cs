using NUnit.Framework;
using NUnit.Framework.Constraints;

namespace Ldrf.Testing;

/// <summary>
/// The one way the tests compare a computed error, accuracy, ratio or other floating-point result:
/// <c>Assert.That(error, IsFinite.LessThan(0.1))</c>. Each constraint first requires the actual value (every
/// element, for a sequence) and every bound to be finite, then applies NUnit's comparison. NUnit's own
/// <c>Is.LessThan</c>, <c>Is.AtMost</c> and the like pass for NaN, because NUnit orders NaN below every number.
/// </summary>
public static class IsFinite
{
    /// <summary>A finite number, nothing more.</summary>
    public static FiniteConstraint Number => new(null);

    /// <summary>A finite number below <paramref name="bound"/>.</summary>
    public static FiniteConstraint LessThan(double bound) => new(Is.LessThan(bound), bound);

    /// <summary>A finite number at most <paramref name="bound"/>.</summary>
    public static FiniteConstraint AtMost(double bound) => new(Is.AtMost(bound), bound);

    /// <summary>A finite number above <paramref name="bound"/>.</summary>
    public static FiniteConstraint GreaterThan(double bound) => new(Is.GreaterThan(bound), bound);

    /// <summary>A finite number at least <paramref name="bound"/>.</summary>
    public static FiniteConstraint AtLeast(double bound) => new(Is.AtLeast(bound), bound);

    /// <summary>A finite number in [<paramref name="from"/>, <paramref name="to"/>].</summary>
    public static FiniteConstraint InRange(double from, double to) => new(Is.InRange(from, to), from, to);

    /// <summary>A finite number exactly equal to <paramref name="expected"/> (NUnit's <c>Is.EqualTo</c> calls NaN equal to NaN).</summary>
    public static FiniteConstraint EqualTo(double expected) => new(Is.EqualTo(expected), expected);

    /// <summary>A finite number within <paramref name="tolerance"/> of <paramref name="expected"/>.</summary>
    /// <remarks>NUnit throws on a NaN tolerance; with a non-finite one the bound check fails instead.</remarks>
    public static FiniteConstraint EqualTo(double expected, double tolerance) =>
        new(double.IsFinite(tolerance) ? Is.EqualTo(expected).Within(tolerance) : null, expected, tolerance);

    /// <summary>Finite numbers, element by element within <paramref name="tolerance"/> of <paramref name="expected"/>'s finite numbers.</summary>
    public static FiniteConstraint EqualTo(IEnumerable<double> expected, double tolerance)
    {
        var values = expected.ToArray();
        return new(double.IsFinite(tolerance) ? Is.EqualTo(values).Within(tolerance) : null, [.. values, tolerance]);
    }

    /// <summary>A finite number within <paramref name="percent"/> percent of <paramref name="expected"/>.</summary>
    public static FiniteConstraint EqualToWithinPercent(double expected, double percent) =>
        new(double.IsFinite(percent) ? Is.EqualTo(expected).Within(percent).Percent : null, expected, percent);

    /// <summary>
    /// A finite number that satisfies <paramref name="constraint"/>, for a combination the methods above do not
    /// give (an <c>Or</c>, say; <c>IsFinite.LessThan(a).Or.LessThan(b)</c> would let NaN through the right side).
    /// Pass every computed number the constraint compares with as <paramref name="bounds"/>.
    /// </summary>
    public static FiniteConstraint Satisfying(IResolveConstraint constraint, params double[] bounds) => new(constraint, bounds);
}
