using Ldrf.Samples.Common.Data;

namespace Ldrf.Samples.Tests;

/// <summary>The shipped subset and the data locator.</summary>
public class SubsetAndLocatorTests
{
    [Test]
    public void The_shipped_subset_has_2000_images_per_split_balanced_over_10_classes()
    {
        var location = FashionMnistLocator.LocateSubset();
        Assert.That(location.IsFullSet, Is.False);
        foreach (var load in new Func<FashionMnistLocation, int?, FashionMnistSet>[] { FashionMnist.LoadTrain, FashionMnist.LoadTest })
        {
            using var set = load(location, null);
            Assert.That(set.Images.shape, Is.EqualTo(new long[] { 2000, 1, 28, 28 }));
            var counts = set.Labels.bincount(null, 0).data<long>().ToArray();
            Assert.That(counts, Is.EqualTo(Enumerable.Repeat(200L, 10).ToArray()));
            // Standardized images: the mean over 2,000 images lands near 0 and the spread near 1.
            Assert.That(set.Images.mean().item<float>(), IsFinite.EqualTo(0, 0.1));
            Assert.That(set.Images.std().item<float>(), IsFinite.EqualTo(1, 0.1));
        }
    }

    [Test]
    public void A_limit_keeps_the_first_examples()
    {
        var location = FashionMnistLocator.LocateSubset();
        using var all = FashionMnist.LoadTest(location);
        using var first = FashionMnist.LoadTest(location, 10);
        Assert.That(first.Count, Is.EqualTo(10));
        Assert.That(first.Labels.data<long>().ToArray(), Is.EqualTo(all.Labels[..10].data<long>().ToArray()));
    }

    [Test]
    public void A_user_folder_is_used_and_recognized_as_a_subset()
    {
        var subset = FashionMnistLocator.LocateSubset();
        var location = FashionMnistLocator.Locate(subset.Folder);
        Assert.That((location.Folder, location.IsFullSet), Is.EqualTo((subset.Folder, false)));
    }

    [Test]
    public void A_user_folder_with_uncompressed_files_is_found_and_loads()
    {
        var subset = FashionMnistLocator.LocateSubset();
        var folder = Path.Combine(Path.GetTempPath(), "ldrf-raw-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            foreach (var gz in new[] { subset.TrainImagesPath, subset.TrainLabelsPath, subset.TestImagesPath, subset.TestLabelsPath })
            {
                using var input = new System.IO.Compression.GZipStream(File.OpenRead(gz), System.IO.Compression.CompressionMode.Decompress);
                using var output = File.Create(Path.Combine(folder, Path.GetFileNameWithoutExtension(gz)));
                input.CopyTo(output);
            }

            var location = FashionMnistLocator.Locate(folder);
            Assert.That(location.TestImagesPath, Does.EndWith("t10k-images-idx3-ubyte"));
            using var raw = FashionMnist.LoadTest(location, 100);
            using var gzipped = FashionMnist.LoadTest(subset, 100);
            Assert.That(raw.Images.equal(gzipped.Images).all().item<bool>(), Is.True);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void A_user_folder_without_the_files_is_an_error_naming_the_folder()
    {
        var folder = Path.Combine(Path.GetTempPath(), "ldrf-empty-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            Assert.That(() => FashionMnistLocator.Locate(folder),
                Throws.TypeOf<DirectoryNotFoundException>().With.Message.Contains(folder).And.Message.Contains("train-images-idx3-ubyte"));
        }
        finally
        {
            Directory.Delete(folder);
        }
    }

    [Test]
    public void Without_a_folder_the_full_set_is_preferred_when_installed()
    {
        var location = FashionMnistLocator.Locate();
        bool installed = File.Exists(Path.Combine(FashionMnistLocator.DebianFolder, "train-labels-idx1-ubyte.gz"));
        Assert.That(location.IsFullSet, Is.EqualTo(installed));
    }
}
