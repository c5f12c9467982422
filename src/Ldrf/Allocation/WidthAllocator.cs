using System.Globalization;
using Ldrf.Numerics;

namespace Ldrf.Allocation;

/// <summary>
/// Turns a global FLOPs reduction target into per-layer widths with r ≤ C′ ≤ C, or explicit per-layer
/// keep ratios into widths, every width a multiple of a channel multiple.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Allocate(double)"/> keeps the same fraction α of every layer, clamped to [r, C]
/// (C′ = clamp(⌈α C⌉, r, C), rounded up to an allowed width), and bisects α to the widest widths that still
/// reach the target; it then widens layers by one allowed step, narrowest layers first, while the target still
/// holds, so the reduction lands within one step's cost of the target. Where that step is coarse and the
/// reduction overshoots the target by more than 5%, moves (a layer one allowed width wider or narrower, or one
/// wider and another narrower) are then taken while one brings the reduction closer to the target, even below it. Layers already at capacity stay there,
/// which is how the capacity bound redistributes the cut to the layers that can afford it.
/// </para>
/// <para>
/// The allowed widths of a layer of C channels, for a channel multiple m: the multiples of m up to C, and C
/// itself (so a layer narrower than m is not pruned). CPU convolution kernels work on blocks of 8 or 16 channels;
/// on the CPUs this library was measured on, libtorch's oneDNN kernels computed wrong values or NaN for forward
/// passes whose input width is above the block and not a multiple of it, and for input gradients (training)
/// whose layer's output width is not a multiple of it, however small (docs/troubleshooting.md). m = 16 keeps
/// every pruned width right for both, on AVX2 (blocks of 8) and AVX-512 (blocks of 16). m = 1 allows every width.
/// </para>
/// </remarks>
internal sealed class WidthAllocator
{
    private readonly PrunableLayer[] _layers;
    private readonly Dictionary<string, int> _index;
    private readonly (double Cost, int InputLayer, int InputChannels, int OutputLayer, int OutputChannels)[] _compute;
    private readonly double _fixedFlops;
    private readonly int _multiple;

    /// <summary>What the caller adds to every unreachable-target message (a leading space included), for example an option that would make more layers prunable.</summary>
    internal string UnreachableHint { get; init; } = "";

    // How far above the target a reduction may land before a width one step wider (below the target) is considered.
    private const double MaxOvershoot = 1.05;

    /// <summary>Creates an allocator.</summary>
    /// <param name="layers">The prunable layers (unique names, 1 ≤ r ≤ C).</param>
    /// <param name="computeLayers">The layers whose FLOPs depend on the widths.</param>
    /// <param name="fixedFlops">FLOPs that no pruning changes (≥ 0).</param>
    /// <param name="channelMultiple">Kept widths are multiples of this, or a layer's full width; 1 allows every width.</param>
    /// <exception cref="ArgumentException">A name is repeated or unknown, a size is out of range, or a cost is negative.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channelMultiple"/> is less than 1.</exception>
    public WidthAllocator(IEnumerable<PrunableLayer> layers, IEnumerable<ComputeLayer> computeLayers, double fixedFlops = 0, int channelMultiple = 1)
    {
        Guard.NotNull(layers, nameof(layers));
        Guard.NotNull(computeLayers, nameof(computeLayers));
        if (channelMultiple < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(channelMultiple), channelMultiple, $"'channelMultiple' must be at least 1 (1 allows every width) but is {channelMultiple}.");
        }

        _multiple = channelMultiple;
        _layers = layers.ToArray();
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < _layers.Length; i++)
        {
            var layer = _layers[i] ?? throw new ArgumentNullException(nameof(layers), $"'layers'[{i}] is null.");
            if (string.IsNullOrEmpty(layer.Name) || !_index.TryAdd(layer.Name, i))
            {
                throw new ArgumentException($"'layers'[{i}] has an empty or repeated name '{layer.Name}'.", nameof(layers));
            }

            if (layer.Channels < 1 || layer.Capacity < 1 || layer.Capacity > layer.Channels)
            {
                throw new ArgumentException(
                    $"Layer '{layer.Name}': needs 1 ≤ Capacity ≤ Channels, but Capacity = {layer.Capacity} and Channels = {layer.Channels}.",
                    nameof(layers));
            }
        }

        if (!(fixedFlops >= 0) || double.IsInfinity(fixedFlops))
        {
            throw new ArgumentOutOfRangeException(nameof(fixedFlops), fixedFlops, $"'fixedFlops' must be finite and non-negative but is {fixedFlops}.");
        }

        _fixedFlops = fixedFlops;
        _compute = computeLayers.Select((c, i) => Link(c, i)).ToArray();
        FlopsBefore = Flops(_layers.Select(l => l.Channels).ToArray());
        if (!(FlopsBefore > 0))
        {
            throw new ArgumentException("The compute layers and fixed FLOPs add up to zero FLOPs; there is nothing to reduce.", nameof(computeLayers));
        }

        MaxReduction = FlopsBefore / Flops(_layers.Select(l => RoundUp(l.Capacity, l.Channels)).ToArray());
    }

    /// <summary>Kept widths are multiples of this, or a layer's full width.</summary>
    public int ChannelMultiple => _multiple;

    /// <summary>The prunable layers.</summary>
    public IReadOnlyList<PrunableLayer> Layers => _layers;

    /// <summary>FLOPs of the unpruned network.</summary>
    public double FlopsBefore { get; }

    /// <summary>The largest reachable reduction: every layer at its valid capacity (rounded up to an allowed width).</summary>
    public double MaxReduction { get; }

    /// <summary>Widths that reduce FLOPs by <paramref name="targetFlopsReduction"/> (for example 5 for 5x): at least the target, or as close to it as the allowed widths permit when that overshoots by more than 5%.</summary>
    /// <param name="targetFlopsReduction">FlopsBefore / FlopsAfter to reach, ≥ 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">The target is below 1, not finite, or above <see cref="MaxReduction"/> (the message gives it).</exception>
    public WidthAllocation Allocate(double targetFlopsReduction) =>
        Allocate(targetFlopsReduction, nameof(targetFlopsReduction), nameof(targetFlopsReduction), "the capacities");

    /// <summary>
    /// <see cref="Allocate(double)"/> for a caller whose own argument carries the target: <paramref name="paramName"/>
    /// is that argument (the exception's ParamName), <paramref name="target"/> how the message names the target, and
    /// <paramref name="capacityRemedy"/> what the message advises to lower when the layers' capacities bound the reduction.
    /// </summary>
    internal WidthAllocation Allocate(double targetFlopsReduction, string paramName, string target, string capacityRemedy)
    {
        CheckTarget(targetFlopsReduction, paramName, target);
        if (targetFlopsReduction > MaxReduction * (1 + 1e-12))
        {
            throw new ArgumentOutOfRangeException(paramName, targetFlopsReduction, Unreachable(targetFlopsReduction, capacityRemedy) + UnreachableHint);
        }

        double lo = 0, hi = 1;
        for (var iteration = 0; iteration < 60; iteration++)
        {
            var mid = (lo + hi) / 2;
            if (FlopsBefore / Flops(Widths(mid)) >= targetFlopsReduction)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        var widths = Widths(lo);
        var budget = FlopsBefore / targetFlopsReduction;
        var grew = true;
        while (grew)
        {
            grew = false;
            var order = Enumerable.Range(0, _layers.Length)
                .OrderBy(i => (double)widths[i] / _layers[i].Channels)
                .ThenBy(i => i);
            foreach (var i in order)
            {
                if (widths[i] >= _layers[i].Channels)
                {
                    continue;
                }

                var previous = widths[i];
                widths[i] = RoundUp(previous + 1, _layers[i].Channels);
                if (Flops(widths) <= budget)
                {
                    grew = true;
                }
                else
                {
                    widths[i] = previous;
                }
            }
        }

        return Result(Closest(widths, targetFlopsReduction, _layers.Select(l => RoundUp(l.Capacity, l.Channels)).ToArray()));
    }

    /// <summary>
    /// Widths chosen by the reconstruction error each width costs: starting from every layer's full width, the
    /// layer whose next allowed narrowing adds the least error per FLOP saved is narrowed, until the FLOPs
    /// reduction reaches <paramref name="targetFlopsReduction"/>; then layers are widened back, the most error
    /// saved per FLOP first, while the target still holds, and the result is brought within 5% of the target as
    /// <see cref="Allocate(double)"/> does.
    /// </summary>
    /// <remarks>
    /// This minimizes Σ_l e_l(C′_l) (each layer's error curve normalized to [0, 1]: the fraction of its response
    /// that C′_l channels cannot recover) for the FLOPs budget, greedily; the exact optimum of a budgeted sum over
    /// bilinear costs is a knapsack with interacting items, and the greedy marginal ratio is its usual answer. A
    /// curve that is not convex can make it take a step that a later, cheaper one would have made unnecessary; the
    /// widening pass takes back what it can. No layer goes below its capacity, <paramref name="minimumWidth"/>
    /// (rounded up to an allowed width) or one channel.
    /// </remarks>
    /// <param name="targetFlopsReduction">FlopsBefore / FlopsAfter to reach, ≥ 1.</param>
    /// <param name="errorCurves">
    /// Per prunable layer name, its normalized error at every width: <c>curve[k]</c> for k = 0..C kept channels,
    /// finite, in [0, 1]. A layer without a curve keeps its full width.
    /// </param>
    /// <param name="minimumWidth">The fewest channels any layer keeps (before rounding to an allowed width), ≥ 1.</param>
    /// <exception cref="ArgumentException">A curve names an unknown layer, has the wrong length or a value that is not finite in [0, 1].</exception>
    /// <exception cref="ArgumentOutOfRangeException">The target is below 1, not finite or unreachable, or <paramref name="minimumWidth"/> is below 1.</exception>
    public WidthAllocation AllocateByError(double targetFlopsReduction, IReadOnlyDictionary<string, IReadOnlyList<double>> errorCurves, int minimumWidth = 1) =>
        AllocateByError(targetFlopsReduction, errorCurves, minimumWidth, nameof(targetFlopsReduction), nameof(targetFlopsReduction));

    /// <summary>
    /// <see cref="AllocateByError(double, IReadOnlyDictionary{string, IReadOnlyList{double}}, int)"/> for a caller
    /// whose own argument carries the target: <paramref name="paramName"/> is that argument and <paramref name="target"/>
    /// how the message names the target.
    /// </summary>
    /// <param name="targetFlopsReduction">FlopsBefore / FlopsAfter to reach, ≥ 1.</param>
    /// <param name="errorCurves">Per prunable layer name, its normalized error at every width 0..C.</param>
    /// <param name="minimumWidth">The fewest channels any layer keeps, ≥ 1.</param>
    /// <param name="paramName">The caller's argument that carries the target.</param>
    /// <param name="target">How messages name the target.</param>
    /// <param name="fixedWidths">Layers whose widths are already decided (pruned earlier): they keep them, and only the others move.</param>
    internal WidthAllocation AllocateByError(
        double targetFlopsReduction, IReadOnlyDictionary<string, IReadOnlyList<double>> errorCurves, int minimumWidth, string paramName, string target,
        IReadOnlyDictionary<string, int>? fixedWidths = null)
    {
        CheckTarget(targetFlopsReduction, paramName, target);
        Guard.NotNull(errorCurves, nameof(errorCurves));
        if (minimumWidth < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(minimumWidth), minimumWidth, $"'minimumWidth' must be at least 1 but is {minimumWidth}.");
        }

        var curves = new IReadOnlyList<double>?[_layers.Length];
        foreach (var (name, curve) in errorCurves)
        {
            var i = IndexOf(name, nameof(errorCurves), nameof(errorCurves));
            if (curve is null || curve.Count != _layers[i].Channels + 1 || curve.Any(e => !(e >= 0 && e <= 1)))
            {
                throw new ArgumentException(
                    $"'errorCurves'['{name}'] must hold {_layers[i].Channels + 1} finite errors in [0, 1] (one per kept width 0..{_layers[i].Channels}) but {(curve is null ? "is null" : $"holds {curve.Count} values{(curve.Any(e => !(e >= 0 && e <= 1)) ? ", not all in [0, 1]" : "")}")}.",
                    nameof(errorCurves));
            }

            curves[i] = curve;
        }

        // A fixed layer stays at its width: no curve moves it, and its floor and ceiling are that width.
        var ceilings = _layers.Select(l => l.Channels).ToArray();
        foreach (var (name, width) in fixedWidths ?? new Dictionary<string, int>())
        {
            var i = IndexOf(name, nameof(fixedWidths), nameof(fixedWidths));
            (curves[i], ceilings[i]) = (null, width);
        }

        // The narrowest width each layer may take: its capacity and the minimum width, rounded up to an allowed width.
        var floors = _layers.Select((l, i) => curves[i] is null ? ceilings[i] : RoundUp(Math.Min(l.Channels, Math.Max(l.Capacity, minimumWidth)), l.Channels)).ToArray();
        var reachable = FlopsBefore / Flops(floors);
        if (targetFlopsReduction > reachable * (1 + 1e-12))
        {
            throw new ArgumentOutOfRangeException(paramName, targetFlopsReduction,
                string.Create(CultureInfo.InvariantCulture,
                    $"A {targetFlopsReduction:0.###}x FLOPs reduction is unreachable by error-curve allocation: with every layer that has an error curve at its narrowest allowed width (its capacity, the minimum width of {minimumWidth}{(_multiple > 1 ? $", rounded up to a multiple of {_multiple} channels" : "")}) the best reachable reduction is {reachable:0.###}x. Lower the target, the minimum width or the channel multiple, or give more layers a curve.{UnreachableHint}"));
        }

        var widths = (int[])ceilings.Clone();
        var budget = FlopsBefore / targetFlopsReduction;
        var flops = Flops(widths);
        while (flops > budget)
        {
            var (best, bestWidth, bestFlops, bestRatio) = (-1, 0, 0.0, double.PositiveInfinity);
            for (var i = 0; i < _layers.Length; i++)
            {
                var narrower = Narrower(widths[i], floors[i]);
                if (curves[i] is not { } curve || narrower >= widths[i])
                {
                    continue;
                }

                var previous = widths[i];
                widths[i] = narrower;
                var candidateFlops = Flops(widths);
                widths[i] = previous;
                var ratio = Math.Max(curve[narrower] - curve[previous], 0) / Math.Max(flops - candidateFlops, double.Epsilon);
                if (ratio < bestRatio)
                {
                    (best, bestWidth, bestFlops, bestRatio) = (i, narrower, candidateFlops, ratio);
                }
            }

            if (best < 0)
            {
                break;
            }

            widths[best] = bestWidth;
            flops = bestFlops;
        }

        // The last narrowing may have cut more than needed: widen back, the most error saved per FLOP first.
        for (var grew = true; grew;)
        {
            grew = false;
            var (best, bestWidth, bestFlops, bestRatio) = (-1, 0, 0.0, 0.0);
            for (var i = 0; i < _layers.Length; i++)
            {
                if (curves[i] is not { } curve || widths[i] >= _layers[i].Channels)
                {
                    continue;
                }

                var wider = RoundUp(widths[i] + 1, _layers[i].Channels);
                var previous = widths[i];
                widths[i] = wider;
                var candidateFlops = Flops(widths);
                widths[i] = previous;
                var ratio = Math.Max(curve[previous] - curve[wider], 0) / Math.Max(candidateFlops - flops, double.Epsilon);
                if (candidateFlops <= budget && ratio > bestRatio)
                {
                    (best, bestWidth, bestFlops, bestRatio) = (i, wider, candidateFlops, ratio);
                }
            }

            if (best >= 0)
            {
                (widths[best], flops, grew) = (bestWidth, bestFlops, true);
            }
        }

        return Result(Closest(widths, targetFlopsReduction, floors, ceilings));
    }

    /// <summary>
    /// Widths from one global ranking of every channel's score, as global magnitude pruning (Torch-Pruning's
    /// global mode) chooses them: the lowest-scored channels of the whole network are removed first, whichever
    /// layer they are in, until the FLOPs reduction reaches the target (widths rounded up to allowed widths, no
    /// layer below one channel or its capacity), then brought within 5% of the target as <see cref="Allocate(double)"/> does.
    /// It prices nothing but the scores: the comparison that error-curve allocation is measured against.
    /// </summary>
    /// <param name="targetFlopsReduction">FlopsBefore / FlopsAfter to reach, ≥ 1.</param>
    /// <param name="scores">Per prunable layer name, one finite score per channel; a layer without scores keeps its width.</param>
    /// <param name="paramName">The caller's argument that carries the target (the exception's ParamName).</param>
    /// <param name="target">How messages name the target.</param>
    internal WidthAllocation AllocateByScores(double targetFlopsReduction, IReadOnlyDictionary<string, IReadOnlyList<double>> scores, string paramName, string target)
    {
        CheckTarget(targetFlopsReduction, paramName, target);
        Guard.NotNull(scores, nameof(scores));
        var ranked = new List<(double Score, int Layer)>();
        var scored = new bool[_layers.Length];
        foreach (var (name, values) in scores)
        {
            var i = IndexOf(name, nameof(scores), nameof(scores));
            if (values is null || values.Count != _layers[i].Channels || values.Any(v => !double.IsFinite(v)))
            {
                throw new ArgumentException($"'scores'['{name}'] must hold one finite score per channel ({_layers[i].Channels}).", nameof(scores));
            }

            scored[i] = true;
            ranked.AddRange(values.Select(v => (v, i)));
        }

        // Only how many channels of each layer go matters, so the ranking is by score alone.
        ranked.Sort((a, b) => a.Score.CompareTo(b.Score));
        var raw = _layers.Select(l => l.Channels).ToArray();
        var floors = _layers.Select((l, i) => scored[i] ? Math.Max(l.Capacity, 1) : l.Channels).ToArray();
        var budget = FlopsBefore / targetFlopsReduction;
        int[] Allowed() => raw.Select((w, i) => RoundUp(w, _layers[i].Channels)).ToArray();
        foreach (var (_, layer) in ranked)
        {
            if (Flops(Allowed()) <= budget)
            {
                break;
            }

            if (raw[layer] > floors[layer])
            {
                raw[layer]--;
            }
        }

        var widths = Allowed();
        if (Flops(widths) > budget * (1 + 1e-12))
        {
            throw new ArgumentOutOfRangeException(paramName, targetFlopsReduction,
                string.Create(CultureInfo.InvariantCulture,
                    $"A {targetFlopsReduction:0.###}x FLOPs reduction is unreachable by global score ranking: with every scored layer at its narrowest allowed width the reduction is {FlopsBefore / Flops(widths):0.###}x. Lower the target or the channel multiple.{UnreachableHint}"));
        }

        return Result(Closest(widths, targetFlopsReduction, floors.Select((f, i) => RoundUp(f, _layers[i].Channels)).ToArray()));
    }

    /// <summary>
    /// Widths from explicit keep ratios: C′ = clamp(round(ratio · C), 1, C), then the nearest allowed width (the
    /// wider one on a tie; see the remarks on the channel multiple). Layers not named keep all their channels. The
    /// ratios are honoured even below a layer's capacity, since the caller asked for them.
    /// </summary>
    /// <param name="keepRatios">The fraction of channels to keep, in (0, 1], per prunable layer name.</param>
    /// <exception cref="ArgumentException">A name is unknown (the message lists the valid names) or a ratio is out of range.</exception>
    public WidthAllocation FromRatios(IReadOnlyDictionary<string, double> keepRatios) => FromRatios(keepRatios, nameof(keepRatios), nameof(keepRatios));

    /// <summary>
    /// <see cref="FromRatios(IReadOnlyDictionary{string, double})"/> for a caller whose own argument carries the ratios:
    /// <paramref name="paramName"/> is that argument and <paramref name="ratios"/> how the message names the ratios.
    /// </summary>
    internal WidthAllocation FromRatios(IReadOnlyDictionary<string, double> keepRatios, string paramName, string ratios)
    {
        Guard.NotNull(keepRatios, paramName);
        var widths = _layers.Select(l => l.Channels).ToArray();
        foreach (var (name, ratio) in keepRatios)
        {
            var i = IndexOf(name, ratios, paramName);
            if (!(ratio > 0 && ratio <= 1))
            {
                throw new ArgumentOutOfRangeException(paramName, ratio,
                    string.Create(CultureInfo.InvariantCulture, $"'{ratios}'['{name}'] must be in (0, 1] but is {ratio} (layer of {_layers[i].Channels} channels)."));
            }

            widths[i] = RoundNearest(Math.Clamp((int)Math.Round(ratio * _layers[i].Channels, MidpointRounding.AwayFromZero), 1, _layers[i].Channels), _layers[i].Channels);
        }

        return Result(widths);
    }

    /// <summary>FLOPs for the given widths (layers not named keep all their channels).</summary>
    /// <param name="keepCounts">Kept channels per prunable layer name, each in [1, C].</param>
    /// <exception cref="ArgumentException">A name is unknown or a count out of range.</exception>
    public double Flops(IReadOnlyDictionary<string, int> keepCounts)
    {
        Guard.NotNull(keepCounts, nameof(keepCounts));
        var widths = _layers.Select(l => l.Channels).ToArray();
        foreach (var (name, count) in keepCounts)
        {
            var i = IndexOf(name, nameof(keepCounts), nameof(keepCounts));
            if (count < 1 || count > _layers[i].Channels)
            {
                throw new ArgumentOutOfRangeException(nameof(keepCounts), count, $"'keepCounts'['{name}'] must be between 1 and {_layers[i].Channels} but is {count}.");
            }

            widths[i] = count;
        }

        return Flops(widths);
    }

    // The index of prunable layer `name`, named in the caller's `argument`; an unknown name lists the valid ones.
    private int IndexOf(string name, string argument, string paramName) =>
        _index.TryGetValue(name, out var i)
            ? i
            : throw new ArgumentException(
                $"'{argument}' names an unknown layer '{name}'; the {_layers.Length} prunable layers are: {string.Join(", ", _layers.Select(l => l.Name))}.",
                paramName);

    private static void CheckTarget(double targetFlopsReduction, string paramName, string target)
    {
        if (!(targetFlopsReduction >= 1) || double.IsInfinity(targetFlopsReduction))
        {
            throw new ArgumentOutOfRangeException(paramName, targetFlopsReduction,
                string.Create(CultureInfo.InvariantCulture, $"'{target}' must be a finite ratio ≥ 1 (for example 5 for 5x) but is {targetFlopsReduction}."));
        }
    }

    // Names what bounds the reduction: the capacities only where one keeps a layer above its narrowest allowed width
    // (with capacity bounds off every capacity is 1, and then only the target and the channel multiple can change).
    private string Unreachable(double target, string capacityRemedy)
    {
        var capacitiesBind = _layers.Any(l => RoundUp(l.Capacity, l.Channels) > RoundUp(1, l.Channels));
        var rounding = _multiple > 1 ? $" (rounded up to a multiple of {_multiple} channels)" : "";
        var floor = capacitiesBind
            ? $"at its valid capacity{rounding}"
            : _multiple > 1 ? $"at its narrowest allowed width ({_multiple} channels, or its full width when narrower)" : "at 1 channel";
        var remedy = (capacitiesBind, _multiple > 1) switch
        {
            (true, true) => $"Lower the target, {capacityRemedy} or the channel multiple.",
            (true, false) => $"Lower the target or {capacityRemedy}.",
            (false, true) => "Lower the target or the channel multiple.",
            (false, false) => "Lower the target.",
        };
        return string.Create(CultureInfo.InvariantCulture,
            $"A {target:0.###}x FLOPs reduction is unreachable: with every one of the {_layers.Length} prunable layers {floor} the best reachable reduction is {MaxReduction:0.###}x ({FlopsBefore:0.###e0} -> {FlopsBefore / MaxReduction:0.###e0} FLOPs). {remedy}");
    }

    // With coarse allowed widths, the widest widths that reach the target can overshoot it by a whole step. Then
    // moves (one layer one allowed width wider or narrower, or one wider and another narrower; never below a
    // layer's floor) are taken while one brings the reduction closer to the target, even below it.
    private int[] Closest(int[] widths, double target, int[] floors, int[]? ceilings = null)
    {
        double Distance(int[] w) => Math.Abs(Math.Log(FlopsBefore / Flops(w) / target));
        if (FlopsBefore / Flops(widths) <= target * MaxOvershoot)
        {
            return widths;
        }

        var best = (int[])widths.Clone();
        var bestDistance = Distance(best);
        for (var improved = true; improved;)
        {
            improved = false;
            var up = best.Select((w, i) => w < (ceilings?[i] ?? _layers[i].Channels) ? Math.Min(RoundUp(w + 1, _layers[i].Channels), ceilings?[i] ?? _layers[i].Channels) : w).ToArray();
            var down = best.Select((w, i) => Narrower(w, floors[i])).ToArray();
            var moves = new List<(int Layer, int Width)[]>();
            for (var i = 0; i < _layers.Length; i++)
            {
                moves.Add([(i, up[i])]);
                moves.Add([(i, down[i])]);
                for (var j = 0; j < _layers.Length; j++)
                {
                    if (j != i)
                    {
                        moves.Add([(i, up[i]), (j, down[j])]);
                    }
                }
            }

            foreach (var move in moves.Where(m => m.All(s => s.Width != best[s.Layer])))
            {
                var candidate = (int[])best.Clone();
                foreach (var (layer, width) in move)
                {
                    candidate[layer] = width;
                }

                var distance = Distance(candidate);
                if (distance < bestDistance - 1e-12)
                {
                    (best, bestDistance, improved) = (candidate, distance, true);
                    break;
                }
            }
        }

        return best;
    }

    /// <summary>Every allowed width of a layer of <paramref name="channels"/> channels, ascending: the multiples of the channel multiple below it, and the full width.</summary>
    internal int[] AllowedWidths(int channels) =>
        [.. Enumerable.Range(1, (channels - 1) / _multiple).Select(i => i * _multiple), channels];

    // The next allowed width below `width`, or `width` itself when none is at or above `floor`.
    private int Narrower(int width, int floor)
    {
        var down = width % _multiple == 0 ? width - _multiple : width / _multiple * _multiple;
        return down >= Math.Max(floor, 1) ? down : width;
    }

    private int[] Widths(double alpha) => _layers
        .Select(l => RoundUp(Math.Clamp((int)Math.Ceiling(alpha * l.Channels), l.Capacity, l.Channels), l.Channels))
        .ToArray();

    // The narrowest allowed width of at least `width` (1 ≤ width ≤ channels): a multiple of the channel multiple,
    // or `channels` itself, which is always allowed.
    private int RoundUp(int width, int channels) => Math.Min(channels, (width + _multiple - 1) / _multiple * _multiple);

    // The allowed width nearest to `width` (the wider one on a tie).
    private int RoundNearest(int width, int channels)
    {
        var up = RoundUp(width, channels);
        var down = width / _multiple * _multiple;
        return down == 0 || up - width <= width - down ? up : down;
    }

    private double Flops(int[] widths)
    {
        var total = _fixedFlops;
        foreach (var (cost, inputLayer, inputChannels, outputLayer, outputChannels) in _compute)
        {
            var input = inputLayer >= 0 ? widths[inputLayer] : inputChannels;
            var output = outputLayer >= 0 ? widths[outputLayer] : outputChannels;
            total += cost * input * output;
        }

        return total;
    }

    private WidthAllocation Result(int[] widths)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < _layers.Length; i++)
        {
            counts[_layers[i].Name] = widths[i];
        }

        return new WidthAllocation(counts, FlopsBefore, Flops(widths));
    }

    private (double, int, int, int, int) Link(ComputeLayer layer, int position)
    {
        if (layer is null)
        {
            throw new ArgumentNullException("computeLayers", $"'computeLayers'[{position}] is null.");
        }

        if (!(layer.CostPerPair >= 0) || double.IsInfinity(layer.CostPerPair))
        {
            throw new ArgumentException($"Compute layer '{layer.Name}': CostPerPair must be finite and non-negative but is {layer.CostPerPair}.", "computeLayers");
        }

        return (layer.CostPerPair, Resolve(layer, layer.InputLayer, layer.InputChannels, "Input"), layer.InputChannels,
            Resolve(layer, layer.OutputLayer, layer.OutputChannels, "Output"), layer.OutputChannels);
    }

    private int Resolve(ComputeLayer layer, string? link, int channels, string side)
    {
        if (link is null)
        {
            if (channels < 1)
            {
                throw new ArgumentException($"Compute layer '{layer.Name}': {side}Channels must be at least 1 but is {channels}.", "computeLayers");
            }

            return -1;
        }

        if (!_index.TryGetValue(link, out var i))
        {
            throw new ArgumentException(
                $"Compute layer '{layer.Name}': {side}Layer '{link}' is not a prunable layer; the prunable layers are: {string.Join(", ", _layers.Select(l => l.Name))}.",
                "computeLayers");
        }

        if (channels != _layers[i].Channels)
        {
            throw new ArgumentException(
                $"Compute layer '{layer.Name}': {side}Channels is {channels} but {side}Layer '{link}' has {_layers[i].Channels} channels.",
                "computeLayers");
        }

        return i;
    }
}
