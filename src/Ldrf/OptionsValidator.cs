using System.Globalization;
using Microsoft.Extensions.Options;

namespace Ldrf;

/// <summary>
/// Checks every value of an options object at once, for the options pattern (<see cref="IValidateOptions{TOptions}"/>:
/// <c>ValidateOnStart</c>, configuration binding) and for callers who pass options directly (<see cref="ThrowIfInvalid"/>).
/// </summary>
/// <remarks>
/// Options setters accept any value, so that configuration binding sets every value before anything is checked and
/// one report names every invalid option, instead of stopping at the first.
/// </remarks>
internal abstract class OptionsValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : class
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = InvalidValues(options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Every invalid value of <paramref name="options"/>, one message each naming the option; empty when all are valid.</summary>
    public IReadOnlyList<string> InvalidValues(TOptions options)
    {
        var failures = new Failures();
        Check(options, failures);
        return failures.Items;
    }

    /// <summary>
    /// Returns <paramref name="options"/> when every value is valid; otherwise throws an <see cref="ArgumentException"/>
    /// whose <see cref="ArgumentException.ParamName"/> is <paramref name="paramName"/> (the caller's argument) and whose
    /// message names every invalid option.
    /// </summary>
    public TOptions ThrowIfInvalid(TOptions options, string paramName)
    {
        ArgumentNullException.ThrowIfNull(options, paramName);
        var failures = InvalidValues(options);
        if (failures.Count > 0)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"'{paramName}' ({typeof(TOptions).Name}) has {failures.Count} invalid value(s): {string.Join(" ", failures)}"),
                paramName);
        }

        return options;
    }

    /// <summary>Adds a message to <paramref name="failures"/> for every invalid value.</summary>
    protected abstract void Check(TOptions options, Failures failures);

    /// <summary>The messages of one validation, all in the form "'Option' must be … but is …".</summary>
    protected internal sealed class Failures
    {
        private readonly List<string> _items = [];

        public IReadOnlyList<string> Items => _items;

        /// <summary>Records "'<paramref name="option"/>' must be <paramref name="what"/> but is <paramref name="value"/>." unless <paramref name="valid"/>.</summary>
        public void Require(bool valid, string option, object? value, string what)
        {
            if (!valid)
            {
                _items.Add(string.Create(CultureInfo.InvariantCulture, $"'{option}' must be {what} but is {value ?? "null"}."));
            }
        }

        /// <summary>Records an undefined enum value, listing the defined ones.</summary>
        public void Defined<TEnum>(TEnum value, string option)
            where TEnum : struct, Enum =>
            Require(Enum.IsDefined(value), option, value, $"one of {string.Join(", ", Enum.GetNames<TEnum>())}");

        /// <summary>Records a value that is negative, NaN or infinite.</summary>
        public void FiniteNonNegative(double value, string option) =>
            Require(value >= 0 && !double.IsInfinity(value), option, value, "finite and non-negative");

        /// <summary>Records a failure that is not about one value.</summary>
        public void Add(string message) => _items.Add(message);
    }
}
