using Ldrf.Samples.Common.Data;
using TorchSharp;

namespace Ldrf.Samples.Tests;

public class BatchesTests
{
    [Test]
    public void Unshuffled_batches_keep_the_order_and_the_last_one_is_smaller()
    {
        using var images = torch.arange(10, dtype: torch.ScalarType.Float32).view(10, 1, 1, 1);
        using var labels = torch.arange(10, dtype: torch.ScalarType.Int64);
        var seen = new List<long>();
        var sizes = new List<long>();
        foreach (var (x, y) in Batches.Enumerate(images, labels, 4))
        {
            using (x)
            using (y)
            {
                sizes.Add(y.shape[0]);
                seen.AddRange(y.data<long>().ToArray());
                Assert.That(x.view(-1).data<float>().ToArray(), Is.EqualTo(y.data<long>().ToArray().Select(v => (float)v).ToArray()));
            }
        }

        Assert.That(sizes, Is.EqualTo(new long[] { 4, 4, 2 }));
        Assert.That(seen, Is.EqualTo(Enumerable.Range(0, 10).Select(i => (long)i)));
    }

    [Test]
    public void Shuffled_batches_cover_every_example_once_and_repeat_with_the_seed()
    {
        using var images = torch.arange(50, dtype: torch.ScalarType.Float32).view(50, 1, 1, 1);
        using var labels = torch.arange(50, dtype: torch.ScalarType.Int64);
        List<long> Order(int seed)
        {
            var order = new List<long>();
            foreach (var (x, y) in Batches.Enumerate(images, labels, 8, new Random(seed)))
            {
                using (x)
                using (y)
                {
                    order.AddRange(y.data<long>().ToArray());
                }
            }

            return order;
        }

        var first = Order(5);
        Assert.Multiple(() =>
        {
            Assert.That(first.Order(), Is.EqualTo(Enumerable.Range(0, 50).Select(i => (long)i)));
            Assert.That(first, Is.Not.EqualTo(Enumerable.Range(0, 50).Select(i => (long)i)));
            Assert.That(Order(5), Is.EqualTo(first));
            Assert.That(Order(6), Is.Not.EqualTo(first));
        });
    }

    [Test]
    public void Mismatched_counts_are_rejected_with_both_sizes()
    {
        using var images = torch.zeros(5, 1, 2, 2);
        using var labels = torch.zeros(4, dtype: torch.ScalarType.Int64);
        Assert.That(() => Batches.Enumerate(images, labels, 2),
            Throws.ArgumentException.With.Message.Contains("5").And.Message.Contains("4").And.Property("ParamName").EqualTo("labels"));
    }

    [Test]
    public void Leading_batches_are_views_of_the_first_images_and_the_last_one_is_smaller()
    {
        using var images = torch.arange(10 * 2, dtype: torch.ScalarType.Float32).reshape(10, 2);
        var batches = Batches.Leading(images, 7, 3);
        Assert.That(batches.Select(b => b.shape[0]), Is.EqualTo(new long[] { 3, 3, 1 }));
        Assert.That(batches[2][0, 0].item<float>(), Is.EqualTo(12f), "image 6 is the last one used");
        images[0, 0] = torch.tensor(-1f);
        Assert.That(batches[0][0, 0].item<float>(), Is.EqualTo(-1f), "a view, not a copy");
        Assert.That(() => Batches.Leading(images, 11, 3), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("count"));
        foreach (var b in batches)
        {
            b.Dispose();
        }
    }
}
