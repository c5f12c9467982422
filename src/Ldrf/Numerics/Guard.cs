using System.Globalization;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Numerics;

/// <summary>
/// Argument checks shared by the library; every message names the argument and the sizes. Where the checked value is
/// a part of the caller's argument (a request's weights, a context's producer), <c>name</c> is the part the message
/// names and <c>argument</c> the caller's argument, which becomes the exception's ParamName.
/// </summary>
internal static class Guard
{
    public static string Shape(Matrix<double> m) => string.Create(CultureInfo.InvariantCulture, $"{m.RowCount} x {m.ColumnCount}");

    public static void NotNull(object? value, string paramName, string? context = null)
    {
        if (value is null)
        {
            throw new ArgumentNullException(paramName, Prefix(context) + $"'{paramName}' must not be null.");
        }
    }

    /// <summary>Throws when any entry is NaN or infinite, giving the first bad position.</summary>
    public static void Finite(Matrix<double> m, string paramName, string? context = null, string? argument = null)
    {
        // Walk the storage once; column-major enumeration keeps it cheap for dense matrices.
        for (var j = 0; j < m.ColumnCount; j++)
        {
            for (var i = 0; i < m.RowCount; i++)
            {
                var v = m.At(i, j);
                if (!double.IsFinite(v))
                {
                    throw new ArgumentException(
                        Prefix(context) + string.Create(CultureInfo.InvariantCulture,
                            $"'{paramName}' ({Shape(m)}) contains {v} at [{i}, {j}]; every entry must be finite."),
                        argument ?? paramName);
                }
            }
        }
    }

    public static void Finite(Vector<double> v, string paramName, string? context = null)
    {
        for (var i = 0; i < v.Count; i++)
        {
            if (!double.IsFinite(v[i]))
            {
                throw new ArgumentException(
                    Prefix(context) + string.Create(CultureInfo.InvariantCulture,
                        $"'{paramName}' (length {v.Count}) contains {v[i]} at [{i}]; every entry must be finite."),
                    paramName);
            }
        }
    }

    public static void Rows(Matrix<double> m, int rows, string paramName, string expectation, string? context = null, string? argument = null)
    {
        if (m.RowCount != rows)
        {
            throw new ArgumentException(
                Prefix(context) + string.Create(CultureInfo.InvariantCulture,
                    $"'{paramName}' is {Shape(m)} but must have {rows} rows ({expectation})."),
                argument ?? paramName);
        }
    }

    public static string Prefix(string? context) => string.IsNullOrEmpty(context) ? string.Empty : $"Layer '{context}': ";
}
