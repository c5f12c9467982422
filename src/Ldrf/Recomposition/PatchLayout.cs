using System.Globalization;
using Ldrf.Numerics;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Recomposition;

/// <summary>
/// How a consumer's weights and its input patches line up (shared by LDRF's patch recomposition and the patch
/// baselines): with P kernel positions, patch feature f = c·P + j is channel c at position j, and the consumer's
/// weights arranged by patch feature are W_p[c·P + j, o] = M[c, o·P + j] (F x out, F = C·P).
/// </summary>
internal static class PatchLayout
{
    /// <summary>
    /// Checks patch statistics against the layer's C channels and its consumer M; returns P, the kernel positions
    /// per channel.
    /// </summary>
    /// <param name="layerName">For error messages.</param>
    /// <param name="channels">C.</param>
    /// <param name="consumerWeights">M, C x (out · P).</param>
    /// <param name="patches">The patch statistics (C · P features).</param>
    /// <param name="paramName">The public caller's argument that carries the patch statistics.</param>
    public static int Positions(string? layerName, int channels, Matrix<double> consumerWeights, ChannelStatistics patches, string paramName)
    {
        var name = layerName;
        var c = channels;
        var m = consumerWeights;
        var features = patches.Channels;
        if (features % c != 0)
        {
            throw new ArgumentException(
                Guard.Prefix(name) + string.Create(CultureInfo.InvariantCulture,
                    $"'PatchStatistics' has {features} features, which is not a multiple of the layer's C = {c} channels; it must have C · P features (P kernel positions)."),
                paramName);
        }

        var p = features / c;
        if (m.ColumnCount % p != 0)
        {
            throw new ArgumentException(
                Guard.Prefix(name) + string.Create(CultureInfo.InvariantCulture,
                    $"'PatchStatistics' has {features} features, so P = {features} / {c} = {p} kernel positions, but 'ConsumerWeights' is {Guard.Shape(m)} and {m.ColumnCount} is not a multiple of P (columns must be out · P)."),
                paramName);
        }

        if (patches.SampleCount == 0)
        {
            throw new ArgumentException(
                Guard.Prefix(name) + $"'PatchStatistics' ({features} features) have zero samples; accumulate sampled patches first.",
                paramName);
        }

        return p;
    }

    /// <summary>W_p[c·P + j, o] = M[c, o·P + j].</summary>
    public static Matrix<double> ToPatchWeights(Matrix<double> m, int positions)
    {
        var outputs = m.ColumnCount / positions;
        return Matrix<double>.Build.Dense(m.RowCount * positions, outputs, (f, o) => m.At(f / positions, (o * positions) + (f % positions)));
    }

    /// <summary>The inverse arrangement: M[c, o·P + j] = W_p[c·P + j, o].</summary>
    public static Matrix<double> FromPatchWeights(Matrix<double> wp, int positions)
    {
        var channels = wp.RowCount / positions;
        return Matrix<double>.Build.Dense(channels, wp.ColumnCount * positions, (c, col) => wp.At((c * positions) + (col % positions), col / positions));
    }

    /// <summary>The patch features of the channels <paramref name="kept"/> with P = <paramref name="positions"/>, channel-major.</summary>
    public static int[] Features(int[] kept, int positions)
    {
        var features = new int[kept.Length * positions];
        for (var i = 0; i < kept.Length; i++)
        {
            for (var j = 0; j < positions; j++)
            {
                features[(i * positions) + j] = (kept[i] * positions) + j;
            }
        }

        return features;
    }

    /// <summary>The error of a singular least-squares system over kept patches, naming the layer.</summary>
    public static ArgumentException Singular(string layerName, int channels, int unknowns, double lambda, double trace, Exception inner) => new(
        Guard.Prefix(layerName) + string.Create(CultureInfo.InvariantCulture,
            $"the least-squares system of the {channels} kept channels ({unknowns} unknowns) is singular with lambda = {lambda} (trace = {trace}); the survivors are linearly dependent or never active. Use a positive ridge scale."),
        "request",
        inner);
}
