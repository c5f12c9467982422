using NUnit.Framework.Constraints;
using NUnit.Framework.Internal;

namespace Ldrf.Tests;

/// <summary>
/// The shared <see cref="IsFinite"/> constraints fail on NaN and on ±Infinity, where NUnit's own comparisons pass.
/// Constraints are applied directly (<c>ApplyTo(...).IsSuccess</c>): a failing <c>Assert.That</c> inside
/// <c>Assert.Throws</c> would still be recorded as this test's failure.
/// </summary>
public class FiniteAssertionTests
{
    private static readonly object[] NonFinite =
        [double.NaN, double.PositiveInfinity, double.NegativeInfinity, float.NaN, float.PositiveInfinity, float.NegativeInfinity];

    /// <summary>Each constraint with a finite value it accepts and one it rejects.</summary>
    private static IEnumerable<TestCaseData> Constraints()
    {
        yield return Case("Number", () => IsFinite.Number, 0.5, null);
        yield return Case("LessThan(1)", () => IsFinite.LessThan(1), 0.5, 1.0);
        yield return Case("AtMost(1)", () => IsFinite.AtMost(1), 1.0, 1.5);
        yield return Case("GreaterThan(1)", () => IsFinite.GreaterThan(1), 1.5, 1.0);
        yield return Case("AtLeast(1)", () => IsFinite.AtLeast(1), 1.0, 0.5);
        yield return Case("InRange(0, 1)", () => IsFinite.InRange(0, 1), 1.0, 1.5);
        yield return Case("EqualTo(1)", () => IsFinite.EqualTo(1), 1.0, 1.5);
        yield return Case("EqualTo(1, 0.1)", () => IsFinite.EqualTo(1, 0.1), 1.05, 1.2);
        yield return Case("EqualToWithinPercent(100, 1)", () => IsFinite.EqualToWithinPercent(100, 1), 100.5, 102.0);
        yield return Case("Satisfying(AtMost(0.2) or LessThan(-1))", () => IsFinite.Satisfying(Is.AtMost(0.2).Or.LessThan(-1), 0.2), 0.1, 0.3);
        yield return Case("AtLeast(1).And.LessThan(2)", () => IsFinite.AtLeast(1).And.LessThan(2), 1.5, 2.0);
        yield return Case("LessThan(1) on a float", () => IsFinite.LessThan(1), 0.5f, 1.5f);
        yield return Case("EqualTo(0, 0.1) on a float", () => IsFinite.EqualTo(0, 0.1), 0.05f, 0.2f);

        static TestCaseData Case(string name, Func<IResolveConstraint> constraint, object accepted, object? rejected) =>
            new TestCaseData(constraint, accepted, rejected).SetArgDisplayNames(name);
    }

    [TestCaseSource(nameof(Constraints))]
    public void Fails_on_NaN_and_infinity(Func<IResolveConstraint> constraint, object accepted, object? rejected)
    {
        Assert.Multiple(() =>
        {
            foreach (var value in NonFinite)
            {
                Assert.That(Succeeds(constraint(), value), Is.False, $"{value} ({value.GetType().Name})");
            }
        });
    }

    [TestCaseSource(nameof(Constraints))]
    public void Applies_the_comparison_to_finite_values(Func<IResolveConstraint> constraint, object accepted, object? rejected)
    {
        Assert.Multiple(() =>
        {
            Assert.That(Succeeds(constraint(), accepted), Is.True, $"accepts {accepted}");
            if (rejected is not null)
            {
                Assert.That(Succeeds(constraint(), rejected), Is.False, $"rejects {rejected}");
            }
        });
    }

    [Test]
    public void NUnit_alone_lets_NaN_and_infinity_through()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Succeeds(Is.LessThan(1.0), double.NaN), Is.True, "NaN < 1");
            Assert.That(Succeeds(Is.AtMost(1.0), double.NaN), Is.True, "NaN <= 1");
            Assert.That(Succeeds(Is.LessThan(1.0), double.NegativeInfinity), Is.True, "-Infinity < 1");
            Assert.That(Succeeds(Is.GreaterThan(1.0), double.PositiveInfinity), Is.True, "+Infinity > 1");
            Assert.That(Succeeds(Is.GreaterThan(double.NaN), 0.5), Is.True, "0.5 > NaN");
            Assert.That(Succeeds(Is.EqualTo(double.NaN).Within(1e-9), double.NaN), Is.True, "NaN == NaN");
        });
    }

    [Test]
    public void Fails_when_a_bound_is_not_finite()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Succeeds(IsFinite.GreaterThan(double.NaN), 0.5), Is.False, "0.5 > NaN");
            Assert.That(Succeeds(IsFinite.AtLeast(double.NegativeInfinity), 0.5), Is.False, "0.5 >= -Infinity");
            Assert.That(Succeeds(IsFinite.LessThan(double.PositiveInfinity), 0.5), Is.False, "0.5 < +Infinity");
            Assert.That(Succeeds(IsFinite.InRange(double.NaN, 1), 0.5), Is.False, "0.5 in [NaN, 1]");
            Assert.That(Succeeds(IsFinite.EqualTo(double.NaN), double.NaN), Is.False, "NaN == NaN");
            Assert.That(Succeeds(IsFinite.EqualTo(0.5, double.NaN), 0.5), Is.False, "tolerance NaN");
            Assert.That(Succeeds(IsFinite.Satisfying(Is.GreaterThan(double.NaN), double.NaN), 0.5), Is.False, "a bound passed to Satisfying");
        });
    }

    [Test]
    public void Checks_every_element_of_a_sequence()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Succeeds(IsFinite.EqualTo([1.0, 2.0], 0.1), new[] { 1.05, 2.0 }), Is.True, "close and finite");
            Assert.That(Succeeds(IsFinite.EqualTo([1.0, 2.0], 0.1), new[] { 1.5, 2.0 }), Is.False, "not close");
            Assert.That(Succeeds(IsFinite.EqualTo([1.0, 2.0], 0.1), new[] { 1.0, double.NaN }), Is.False, "a NaN element");
            Assert.That(Succeeds(IsFinite.EqualTo([1.0, double.NaN], 0.1), new[] { 1.0, double.NaN }), Is.False, "NaN in both");
            Assert.That(Succeeds(IsFinite.Number, new List<float> { 1f, float.PositiveInfinity }), Is.False, "an infinite float element");
            Assert.That(Succeeds(IsFinite.Number, new[] { 1.0, -2.0 }), Is.True, "finite elements");
        });
    }

    [Test]
    public void Fails_on_what_is_not_a_number()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Succeeds(IsFinite.Number, null), Is.False, "null");
            Assert.That(Succeeds(IsFinite.Number, "0.5"), Is.False, "a string");
            Assert.That(Succeeds(IsFinite.LessThan(1), 0), Is.True, "an int is finite");
            Assert.That(Succeeds(IsFinite.LessThan(1), 0.5m), Is.True, "a decimal is finite");
        });
    }

    [Test]
    public void The_message_says_the_value_is_not_finite()
    {
        var writer = new TextMessageWriter();
        IsFinite.LessThan(0.1).ApplyTo(double.NaN).WriteMessageTo(writer);
        var message = writer.ToString();
        Assert.That(message, Does.Contain("a finite number").And.Contain("less than 0.1").And.Contain("NaN"));
        Assert.That(message, Does.Contain("Expected a finite number but was NaN."));
    }

    [Test]
    public void Fails_an_assertion_on_NaN()
    {
        Assert.That(() => Assert.That(double.NaN, IsFinite.LessThan(1)), Throws.InstanceOf<AssertionException>()
            .With.Message.Contains("a finite number"));
    }

    private static bool Succeeds(IResolveConstraint constraint, object? value) => constraint.Resolve().ApplyTo(value).IsSuccess;
}
