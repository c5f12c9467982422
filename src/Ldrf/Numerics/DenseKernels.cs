using System.Runtime.InteropServices;
using SimdVector = System.Numerics.Vector<double>;

namespace Ldrf.Numerics;

/// <summary>Vectorized inner loops of the managed parts of the algorithm (the greedy selection's row updates, traces of products).</summary>
internal static class DenseKernels
{
    /// <summary>y -= a · x, over the length of <paramref name="y"/>.</summary>
    public static void SubtractScaled(Span<double> y, double a, ReadOnlySpan<double> x)
    {
        x = x[..y.Length];
        var lanes = MemoryMarshal.Cast<double, SimdVector>(y);
        var xLanes = MemoryMarshal.Cast<double, SimdVector>(x);
        var scale = new SimdVector(a);
        for (var i = 0; i < lanes.Length; i++)
        {
            lanes[i] -= scale * xLanes[i];
        }

        for (var i = lanes.Length * SimdVector.Count; i < y.Length; i++)
        {
            y[i] -= a * x[i];
        }
    }

    /// <summary>y -= a · x, over the length of <paramref name="y"/>, and returns ‖y‖² afterwards.</summary>
    public static double SubtractScaledSquaredNorm(Span<double> y, double a, ReadOnlySpan<double> x)
    {
        x = x[..y.Length];
        var lanes = MemoryMarshal.Cast<double, SimdVector>(y);
        var xLanes = MemoryMarshal.Cast<double, SimdVector>(x);
        var scale = new SimdVector(a);
        var sum = SimdVector.Zero;
        for (var i = 0; i < lanes.Length; i++)
        {
            var v = lanes[i] - (scale * xLanes[i]);
            lanes[i] = v;
            sum += v * v;
        }

        var norm = System.Numerics.Vector.Sum(sum);
        for (var i = lanes.Length * SimdVector.Count; i < y.Length; i++)
        {
            y[i] -= a * x[i];
            norm += y[i] * y[i];
        }

        return norm;
    }

    /// <summary>Σᵢ x[i] · y[i] over two spans of the same length.</summary>
    public static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        if (x.Length != y.Length)
        {
            throw new ArgumentException($"The spans have lengths {x.Length} and {y.Length}; they must be equal.", nameof(y));
        }

        var xLanes = MemoryMarshal.Cast<double, SimdVector>(x);
        var yLanes = MemoryMarshal.Cast<double, SimdVector>(y);
        var sum = SimdVector.Zero;
        for (var i = 0; i < xLanes.Length; i++)
        {
            sum += xLanes[i] * yLanes[i];
        }

        var dot = System.Numerics.Vector.Sum(sum);
        for (var i = xLanes.Length * SimdVector.Count; i < x.Length; i++)
        {
            dot += x[i] * y[i];
        }

        return dot;
    }
}
