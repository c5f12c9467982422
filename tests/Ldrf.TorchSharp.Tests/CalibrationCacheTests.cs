using Ldrf.TorchSharp.Pruning;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests;

/// <summary>The calibration cache moves forward one batch at a time, never holding two positions' activations whole.</summary>
public class CalibrationCacheTests
{
    [Test]
    public void A_move_releases_each_batchs_old_activations_before_the_next_batch_is_computed()
    {
        var batches = new List<Tensor> { torch.ones(2, 3), torch.ones(2, 3) * 2, torch.ones(2, 3) * 3 };
        using var cache = new CalibrationCache(batches, long.MaxValue, _ => 0, CPU, ScalarType.Float32);
        cache.MoveTo(1, b => (batches[b] + 10, batches[b] + 20));
        var first = Enumerable.Range(0, 3).Select(b => cache.Inputs(b)).ToList();

        var alive = new List<bool>();
        cache.MoveTo(2, b =>
        {
            // When batch b is computed, every earlier batch's activations at position 1 are gone, the later ones are not.
            alive.AddRange(first.Select(f => !f.Original.IsInvalid && !f.Pruned.IsInvalid));
            var (x0, x1) = cache.Inputs(b);
            return (x0 * 2, x1 * 2);
        });

        Assert.That(alive, Is.EqualTo(new[] { true, true, true, false, true, true, false, false, true }));
        Assert.That(first.All(f => f.Original.IsInvalid && f.Pruned.IsInvalid), "the old position is released whole");
        Assert.That(cache.Position, Is.EqualTo(2));
        Assert.That(cache.Inputs(1).Pruned.mean().item<float>(), Is.EqualTo(44f), "batch 1 at position 2: (2 + 20) x 2");
        Assert.That(batches.All(b => !b.IsInvalid), "the caller's batches are never disposed");
        batches.ForEach(b => b.Dispose());
    }

    [Test]
    public void A_failed_move_leaves_the_cache_empty_and_says_so()
    {
        var batches = new List<Tensor> { torch.ones(2, 3), torch.ones(2, 3) };
        using var cache = new CalibrationCache(batches, long.MaxValue, _ => 0, CPU, ScalarType.Float32);
        cache.MoveTo(1, b => (batches[b] + 1, batches[b] + 1));
        var old = cache.Inputs(1);

        Assert.Throws<OperationCanceledException>(() => cache.MoveTo(2, b => b == 0 ? (batches[b] * 2, batches[b] * 2) : throw new OperationCanceledException()));
        Assert.That(old.Original.IsInvalid, "nothing of the half-made move is kept");
        Assert.That(() => cache.Inputs(0), Throws.InvalidOperationException.With.Message.Contains("part-way"));
        Assert.That(batches.All(b => !b.IsInvalid), "the caller's batches are never disposed");
        batches.ForEach(b => b.Dispose());
    }
}
