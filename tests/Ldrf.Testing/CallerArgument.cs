using System.Reflection;
using NUnit.Framework;

namespace Ldrf.Testing;

/// <summary>
/// The bad-input catalogue's rule (docs/bad-input-catalogue.md): an argument exception's <c>ParamName</c> is an argument
/// of the public method the caller called, not a name from inside the library (an inner method's parameter, an option's
/// property). The catalogue tests assert every argument exception through <see cref="Throws{T}"/>.
/// </summary>
public static class CallerArgument
{
    /// <summary>
    /// Asserts that <paramref name="code"/>, a call of <paramref name="type"/>'s public method <paramref name="method"/>
    /// (or of a constructor: <c>".ctor"</c>), throws exactly <typeparamref name="T"/>, that the message contains every
    /// fragment, and that <c>ParamName</c> is one of that method's parameters; returns the exception.
    /// </summary>
    public static T Throws<T>(Type type, string method, TestDelegate code, params string[] fragments)
        where T : ArgumentException
    {
        var parameters = Parameters(type, method);
        Assert.That(parameters, Is.Not.Empty, $"{type.Name}.{method} is not a public method with parameters");
        var ex = Assert.Throws<T>(code)!;
        foreach (var fragment in fragments)
        {
            Assert.That(ex.Message, Does.Contain(fragment), $"the message must name '{fragment}'");
        }

        Assert.That(parameters, Does.Contain(ex.ParamName),
            $"ParamName '{ex.ParamName}' must be an argument of the public {type.Name}.{method} that was called ({string.Join(", ", parameters)})");
        return ex;
    }

    private static string[] Parameters(Type type, string method)
    {
        const BindingFlags flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static;
        IEnumerable<MethodBase> members = method == ".ctor"
            ? type.GetConstructors(flags)
            : type.GetMethods(flags).Where(m => m.Name == method);
        return members.SelectMany(m => m.GetParameters()).Select(p => p.Name!).Distinct(StringComparer.Ordinal).ToArray();
    }
}
