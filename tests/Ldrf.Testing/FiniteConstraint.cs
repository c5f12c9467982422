using System.Collections;
using System.Globalization;
using NUnit.Framework.Constraints;

namespace Ldrf.Testing;

/// <summary>
/// Succeeds only if the actual value is a finite number (or a sequence of finite numbers), every bound it is
/// compared with is finite, and the inner constraint, if any, succeeds. NUnit orders NaN below every number, so
/// <c>Is.LessThan(b)</c> alone passes for NaN, and <c>Is.GreaterThan(b)</c> passes for +Infinity and for any
/// number when <c>b</c> is NaN; this constraint fails on all of them. Build it through <see cref="IsFinite"/>.
/// </summary>
public sealed class FiniteConstraint : Constraint
{
    private readonly IConstraint? _inner;
    private readonly double[] _bounds;

    internal FiniteConstraint(IResolveConstraint? inner, params double[] bounds)
        : base(bounds.Cast<object>().ToArray())
    {
        _inner = inner?.Resolve();
        _bounds = bounds;
    }

    /// <inheritdoc/>
    public override string Description =>
        _inner is null ? "a finite number" : "a finite number and " + _inner.Description;

    /// <inheritdoc/>
    public override ConstraintResult ApplyTo<TActual>(TActual actual)
    {
        foreach (var bound in _bounds)
        {
            if (!double.IsFinite(bound))
            {
                return new FiniteResult(this, actual, $"The bound {Format(bound)} is not finite, so a comparison with it proves nothing.");
            }
        }

        if (actual is not string and IEnumerable sequence)
        {
            var index = 0;
            foreach (var element in sequence)
            {
                if (!IsFiniteNumber(element, out var shown))
                {
                    return new FiniteResult(this, actual, $"Element [{index}] is {shown}, not a finite number.");
                }

                index++;
            }
        }
        else if (!IsFiniteNumber(actual, out var shown))
        {
            return new FiniteResult(this, actual, $"Expected a finite number but was {shown}.");
        }

        return _inner is null ? new ConstraintResult(this, actual, isSuccess: true) : _inner.ApplyTo(actual);
    }

    /// <summary>Whether <paramref name="value"/> is a number other than NaN, +Infinity and -Infinity.</summary>
    public static bool IsFiniteNumber(object? value) => IsFiniteNumber(value, out _);

    private static bool IsFiniteNumber(object? value, out string shown)
    {
        double? number = value switch
        {
            double d => d,
            float f => f,
            Half h => (double)h,
            decimal or byte or sbyte or short or ushort or int or uint or long or ulong or nint or nuint => 0,
            _ => null,
        };
        shown = number is { } n && !double.IsFinite(n) ? Format(n) : value switch
        {
            null => "null",
            IFormattable formattable => $"{formattable.ToString(null, CultureInfo.InvariantCulture)} ({value.GetType().Name})",
            _ => $"{value} ({value.GetType().Name})",
        };
        return number is { } x && double.IsFinite(x);
    }

    private static string Format(double value) => value.ToString(CultureInfo.InvariantCulture);

    private sealed class FiniteResult(IConstraint constraint, object? actual, string reason)
        : ConstraintResult(constraint, actual, isSuccess: false)
    {
        public override void WriteAdditionalLinesTo(MessageWriter writer) => writer.WriteMessageLine(reason);
    }
}
