using System.Globalization;
using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Statistics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.Baselines;

/// <summary>
/// The consumer's output on sampled patches, seen through per-channel contributions and computed from the
/// patch Grams alone (shared by ThiNet and Channel Pruning, whose selection and rescaling reason about per-channel contributions).
/// </summary>
/// <remarks>
/// <para>
/// With P kernel positions, patch feature f = c·P + j and the consumer's weights arranged as
/// W_p[c·P + j, o] = M[c, o·P + j] (F x out, F = C·P), the original output at a sample is y = W_pᵀ p and
/// channel c's contribution in the pruned network is x′_c = W_cᵀ p′_c (W_c the P rows of channel c).
/// Summing over samples and outputs, with G′ = Σ p′p′ᵀ, H = Σ p′pᵀ, G = Σ p pᵀ and the F x F matrix
/// V = W_p W_pᵀ:
/// </para>
/// <list type="bullet">
/// <item>K[c, d] = Σ x′_c·x′_d = tr(W_cᵀ G′_cd W_d) = Σ_{i∈c, l∈d} G′[i, l] V[i, l] (C x C);</item>
/// <item>b[c] = Σ x′_c·y = tr(W_cᵀ H_c,: W_p) = Σ_{i∈c} Σ_l H[i, l] V[i, l];</item>
/// <item>‖y‖² = tr(W_pᵀ G W_p) = Σ_{i,l} G[i, l] V[i, l].</item>
/// </list>
/// <para>
/// So ‖y − Σ_{c∈S} β_c x′_c‖² = ‖y‖² − 2 βᵀb_S + βᵀK_SS β for any subset S and coefficients β. One F x F
/// product (V) and O(F²) sums give everything; no patch is kept.
/// </para>
/// </remarks>
internal sealed class PatchContributions
{
    private PatchContributions(LayerPruningRequest request, ChannelStatistics patches, Matrix<double> patchWeights, int channels, int positions,
        Matrix<double> contributionGram, Vector<double> contributionCross, double outputEnergy)
    {
        LayerName = request.LayerName;
        ConsumerWeights = request.ConsumerWeights;
        Statistics = request.Statistics;
        Patches = patches;
        PatchWeights = patchWeights;
        Channels = channels;
        Positions = positions;
        ContributionGram = contributionGram;
        ContributionCross = contributionCross;
        OutputEnergy = outputEnergy;
    }

    public string LayerName { get; }

    /// <summary>M: C x out·P, the consumer's weights as the request gave them.</summary>
    public Matrix<double> ConsumerWeights { get; }

    /// <summary>The channel statistics of the consumer's input (the rebuild's fallback).</summary>
    public ChannelStatistics Statistics { get; }

    public ChannelStatistics Patches { get; }

    /// <summary>W_p: F x out.</summary>
    public Matrix<double> PatchWeights { get; }

    /// <summary>C.</summary>
    public int Channels { get; }

    /// <summary>P, the kernel positions per channel.</summary>
    public int Positions { get; }

    /// <summary>K: C x C.</summary>
    public Matrix<double> ContributionGram { get; }

    /// <summary>b: length C.</summary>
    public Vector<double> ContributionCross { get; }

    /// <summary>‖y‖².</summary>
    public double OutputEnergy { get; }

    public int Outputs => PatchWeights.ColumnCount;

    /// <summary>Validates the request's patch statistics and computes K, b and ‖y‖².</summary>
    public static PatchContributions Create(LayerPruningRequest request, INumericBackend backend, string method)
    {
        var name = request.LayerName;
        var c = request.Statistics.Channels;
        var m = request.ConsumerWeights;
        var patches = request.PatchStatistics ?? throw new ArgumentException(
            Guard.Prefix(name) + string.Create(CultureInfo.InvariantCulture,
                $"{method} reasons about the consumer's output and needs 'PatchStatistics' (C · P features for C = {c} channels and P kernel positions), but it is null. Pass the statistics of the consumer's unfolded input patches, or 'Statistics' itself for a 1 x 1 or linear consumer."),
            nameof(request));
        var p = PatchLayout.Positions(name, c, m, patches, nameof(request));
        var features = patches.Channels;
        var wp = PatchLayout.ToPatchWeights(m, p);
        var v = backend.MultiplyTransposed(wp, wp);
        var pruned = patches.PrunedGramView;
        var cross = patches.CrossView;
        var original = patches.OriginalGramView;
        var k = Matrix<double>.Build.Dense(c, c);
        var b = Vector<double>.Build.Dense(c);
        var energy = 0.0;
        for (var i = 0; i < features; i++)
        {
            var ci = i / p;
            var bRow = 0.0;
            for (var l = 0; l < features; l++)
            {
                var vil = v.At(i, l);
                k.At(ci, l / p, k.At(ci, l / p) + (pruned.At(i, l) * vil));
                bRow += cross.At(i, l) * vil;
                energy += original.At(i, l) * vil;
            }

            b[ci] += bRow;
        }

        return new PatchContributions(request, patches, wp, c, p, k, b, energy);
    }

    /// <summary>The patch features of the channels <paramref name="kept"/>, channel-major.</summary>
    public int[] Features(int[] kept) => PatchLayout.Features(kept, Positions);

    /// <summary>‖y − Σ_{c∈S} β_c x′_c‖² / ‖y‖² from K and b (0 when the output is identically zero).</summary>
    public double RelativeError(int[] kept, Vector<double> beta)
    {
        if (!(OutputEnergy > 0))
        {
            return 0;
        }

        var error = OutputEnergy;
        for (var i = 0; i < kept.Length; i++)
        {
            error -= 2 * beta[i] * ContributionCross[kept[i]];
            for (var l = 0; l < kept.Length; l++)
            {
                error += beta[i] * ContributionGram.At(kept[i], kept[l]) * beta[l];
            }
        }

        return Math.Max(0, error / OutputEnergy);
    }

    /// <summary>
    /// Least squares over the kept channels' patches: W′_S = (G′_SS + λI)⁻¹ H_S,: W_p with
    /// λ = <paramref name="ridgeScale"/> · tr(G′_SS) / (|S|·P), returned as M′ (C′ x out·P), with the relative
    /// output error ‖y − W′_Sᵀp′_S‖² / ‖y‖². With fewer than <see cref="PatchRidgeRecomposer.MinimumSamplesPerUnknown"/>
    /// patch samples per unknown (|S|·P) the kept channels are refitted by ridge on the channel statistics instead
    /// (the least-squares baselines' recomposition; LDRF's patch recomposition falls back the same way), with the
    /// relative output error on those statistics.
    /// </summary>
    public (Matrix<double> Weights, double Lambda, double RelativeError) Rebuild(int[] kept, double ridgeScale, INumericBackend backend)
    {
        if (!PatchRidgeRecomposer.EnoughSamples(Channels, Patches.Channels, Patches.SampleCount, kept.Length))
        {
            // Near one sample per unknown the patch fit interpolates the calibration patches and fails on other images
            // (measured: Channel Pruning on the pretrained ResNet-18 at 2x with 256 images, calibration errors
            // 0.0003-0.016, held-out output error 1.39).
            var channel = new RidgeRecomposer(backend, ridgeScale).Recompose(
                Embedding.Identity(ConsumerWeights, sparse: false), ConsumerWeights, Statistics, null, kept, LayerName);
            return (channel.ConsumerWeights, channel.Lambda, channel.RelativeOutputError);
        }

        var block = new KeptPatches(Patches, Features(kept));
        var rhs = block.CrossWith(PatchWeights, backend);
        var (solution, lambda) = block.Solve(LayerName, kept.Length, rhs, ridgeScale, null, backend);
        return (PatchLayout.FromPatchWeights(solution, Positions), lambda, block.RelativeError(solution, rhs, OutputEnergy, backend));
    }
}
