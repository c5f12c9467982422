using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using NUnit.Framework;

namespace Ldrf.Testing;

/// <summary>
/// The public-API approval test of a library: its exported surface as C#-like text, one type and its members per
/// block, compared with the approved file that sits beside the test assembly.
/// </summary>
/// <remarks>
/// The listing writes what <see cref="MemberInfo.ToString"/> leaves out and a caller depends on: nullable reference
/// types (<c>string?</c>, read through <see cref="NullabilityInfoContext"/>, generic arguments and array elements
/// included), parameter default values, <c>params</c>, <c>ref</c>/<c>out</c>/<c>in</c>, <c>this</c> on extension
/// methods, <c>static</c>, property accessors (<c>init</c> too) and enum and constant values.
/// </remarks>
public static class PublicApi
{
    private const BindingFlags DeclaredPublic = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<Type, string> Keywords = new()
    {
        [typeof(void)] = "void", [typeof(object)] = "object", [typeof(string)] = "string", [typeof(bool)] = "bool",
        [typeof(byte)] = "byte", [typeof(sbyte)] = "sbyte", [typeof(short)] = "short", [typeof(ushort)] = "ushort",
        [typeof(int)] = "int", [typeof(uint)] = "uint", [typeof(long)] = "long", [typeof(ulong)] = "ulong",
        [typeof(float)] = "float", [typeof(double)] = "double", [typeof(decimal)] = "decimal", [typeof(char)] = "char",
    };

    /// <summary>
    /// Fails unless <paramref name="assembly"/>'s listing equals <c>PublicApi.approved.txt</c> in the test's output
    /// folder; on a difference writes <c>PublicApi.received.txt</c> to the test's work folder and names both files.
    /// </summary>
    /// <param name="assembly">The library whose public surface is approved.</param>
    /// <param name="approvedInRepository">The approved file's path in the repository, for the message.</param>
    public static void AssertMatchesApproved(Assembly assembly, string approvedInRepository)
    {
        var actual = Listing(assembly);

        // The approved listing is copied next to the test assembly (source paths are mapped away under CI).
        var approved = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "PublicApi.approved.txt")).ReplaceLineEndings("\n");
        if (approved != actual)
        {
            var receivedPath = Path.Combine(TestContext.CurrentContext.WorkDirectory, "PublicApi.received.txt");
            File.WriteAllText(receivedPath, actual);
            Assert.Fail($"The public API changed. Review {receivedPath} and copy it over {approvedInRepository} if intended.");
        }
    }

    /// <summary>The listing: exported types by full name, each followed by its declared public members, sorted.</summary>
    /// <param name="assembly">The library to list.</param>
    /// <returns>One line per type and member, '\n'-separated, ending with '\n'.</returns>
    public static string Listing(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var nullability = new NullabilityInfoContext();
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            var kind = type.IsInterface ? "interface" : type.IsEnum ? "enum" : type.IsValueType ? "struct"
                : type.IsSubclassOf(typeof(Delegate)) ? "delegate" : type.IsAbstract && type.IsSealed ? "static class" : "class";
            lines.Add($"{kind} {TypeName(type, null)}");
            var members = type.GetMembers(DeclaredPublic)
                .Where(m => m is not MethodInfo { IsSpecialName: true })
                .Where(m => !(type.IsEnum && m.Name == "value__"))
                .Where(m => m.DeclaringType == type && m.GetCustomAttribute<CompilerGeneratedAttribute>() is null)
                .Where(m => m is not Type) // nested types are listed as types of their own
                .Select(m => "    " + m.MemberType + " " + Member(m, nullability))
                .Order(StringComparer.Ordinal);
            lines.AddRange(members);
        }

        return string.Join('\n', lines) + '\n';
    }

    private static string Member(MemberInfo member, NullabilityInfoContext nullability) => member switch
    {
        ConstructorInfo c => $"{Static(c)}ctor({Parameters(c, nullability)})",
        MethodInfo m => $"{Static(m)}{Returned(m.ReturnParameter, nullability)} {m.Name}{GenericParameters(m)}({Parameters(m, nullability)})",
        PropertyInfo p => Property(p, nullability),
        FieldInfo f => Field(f, nullability),
        EventInfo e => $"{(e.AddMethod?.IsStatic == true ? "static " : "")}event {TypeName(e.EventHandlerType!, nullability.Create(e))} {e.Name}",
        _ => member.ToString() ?? member.Name,
    };

    private static string Static(MethodBase method) => method.IsStatic ? "static " : "";

    private static string GenericParameters(MethodInfo method) =>
        method.IsGenericMethodDefinition ? "<" + string.Join(", ", method.GetGenericArguments().Select(a => a.Name)) + ">" : "";

    private static string Returned(ParameterInfo returned, NullabilityInfoContext nullability) =>
        returned.ParameterType == typeof(void) ? "void" : TypeName(returned.ParameterType, nullability.Create(returned));

    private static string Parameters(MethodBase method, NullabilityInfoContext nullability)
    {
        var extension = method.IsDefined(typeof(ExtensionAttribute), inherit: false);
        return string.Join(", ", method.GetParameters().Select((p, i) => Parameter(p, nullability, extension && i == 0)));
    }

    private static string Parameter(ParameterInfo parameter, NullabilityInfoContext nullability, bool isThis)
    {
        var text = new StringBuilder();
        if (isThis)
        {
            text.Append("this ");
        }

        var type = parameter.ParameterType;
        if (type.IsByRef)
        {
            text.Append(parameter.IsOut ? "out " : parameter.IsIn ? "in " : "ref ");
        }
        else if (parameter.IsDefined(typeof(ParamArrayAttribute), inherit: false))
        {
            text.Append("params ");
        }

        text.Append(TypeName(type, nullability.Create(parameter))).Append(' ').Append(parameter.Name);
        if (parameter.HasDefaultValue)
        {
            text.Append(" = ").Append(Value(parameter.DefaultValue, type));
        }

        return text.ToString();
    }

    private static string Property(PropertyInfo property, NullabilityInfoContext nullability)
    {
        var getter = property.GetMethod is { IsPublic: true } g ? g : null;
        var setter = property.SetMethod is { IsPublic: true } s ? s : null;
        var accessors = new List<string>();
        if (getter is not null)
        {
            accessors.Add("get;");
        }

        if (setter is not null)
        {
            var init = setter.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit));
            accessors.Add(init ? "init;" : "set;");
        }

        var indexes = property.GetIndexParameters();
        var name = indexes.Length == 0
            ? property.Name
            : "this[" + string.Join(", ", indexes.Select(p => Parameter(p, nullability, isThis: false))) + "]";
        var isStatic = (getter ?? setter)?.IsStatic == true ? "static " : "";
        return $"{isStatic}{TypeName(property.PropertyType, nullability.Create(property))} {name} {{ {string.Join(' ', accessors)} }}";
    }

    private static string Field(FieldInfo field, NullabilityInfoContext nullability)
    {
        if (field.DeclaringType!.IsEnum)
        {
            return $"{field.Name} = {Convert.ToString(field.GetRawConstantValue(), CultureInfo.InvariantCulture)}";
        }

        var type = TypeName(field.FieldType, nullability.Create(field));
        if (field.IsLiteral)
        {
            return $"const {type} {field.Name} = {Value(field.GetRawConstantValue(), field.FieldType)}";
        }

        var modifiers = (field.IsStatic ? "static " : "") + (field.IsInitOnly ? "readonly " : "");
        return $"{modifiers}{type} {field.Name}";
    }

    private static string Value(object? value, Type type)
    {
        var declared = type.IsByRef ? type.GetElementType()! : type;
        declared = Nullable.GetUnderlyingType(declared) ?? declared;
        return value switch
        {
            null => declared.IsValueType ? "default" : "null",
            string s => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"",
            bool b => b ? "true" : "false",
            char c => "'" + c + "'",
            _ when declared.IsEnum => TypeName(declared, null) + "." + (Enum.GetName(declared, value) ?? Convert.ToString(value, CultureInfo.InvariantCulture)),
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            float f => f.ToString("R", CultureInfo.InvariantCulture) + "f",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
    }

    /// <summary>C#-like name: keywords for the built-in types, '?' where the member allows null, generic arguments and arrays spelled out.</summary>
    private static string TypeName(Type type, NullabilityInfo? info)
    {
        if (type.IsByRef)
        {
            return TypeName(type.GetElementType()!, info);
        }

        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return TypeName(underlying, info?.GenericTypeArguments.FirstOrDefault()) + "?";
        }

        var mark = !type.IsValueType && info is not null && IsNullable(info) ? "?" : "";
        if (type.IsArray)
        {
            var rank = new string(',', type.GetArrayRank() - 1);
            return TypeName(type.GetElementType()!, info?.ElementType) + "[" + rank + "]" + mark;
        }

        if (type.IsGenericParameter)
        {
            return type.Name + mark;
        }

        if (Keywords.TryGetValue(type, out var keyword))
        {
            return keyword + mark;
        }

        var name = (type.IsNested ? TypeName(type.DeclaringType!, null) + "." + type.Name : type.Namespace + "." + type.Name);
        if (!type.IsGenericType)
        {
            return name + mark;
        }

        // A nested type's generic arguments include its declaring type's; only its own are written after its name.
        var arguments = type.GetGenericArguments();
        var own = type.IsNested ? arguments.Skip(type.DeclaringType!.GetGenericArguments().Length).ToArray() : arguments;
        var tick = name.IndexOf('`', StringComparison.Ordinal);
        var bare = tick < 0 ? name : name[..tick];
        var infos = info?.GenericTypeArguments;
        var offset = arguments.Length - own.Length;
        var written = own.Select((a, i) => TypeName(a, infos is not null && offset + i < infos.Length ? infos[offset + i] : null));
        return own.Length == 0 ? name + mark : bare + "<" + string.Join(", ", written) + ">" + mark;
    }

    // A parameter is written into by the caller and read by the method; the other members are read by the caller.
    // Either side allowing null is what a caller must know, so either state marks the type nullable.
    private static bool IsNullable(NullabilityInfo info) =>
        info.ReadState == NullabilityState.Nullable || info.WriteState == NullabilityState.Nullable;
}
