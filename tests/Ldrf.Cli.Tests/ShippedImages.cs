using Ldrf.Cli;
using Ldrf.Samples.Common.Data;
using SkiaSharp;
using TorchSharp;

namespace Ldrf.Cli.Tests;

/// <summary>
/// The PNG files under data/fashion-mnist (the calibration images CI gives the installed tool): the first
/// <see cref="Count"/> test images of the shipped Fashion-MNIST subset, 28 x 28 gray. The explicit test writes them; the
/// other checks that the committed files still decode to exactly the subset's pixels. With the run parameters
/// <c>count</c> and <c>folder</c> the explicit test writes more images elsewhere (docs/cli.md's ResNet-18 example
/// calibrates on 32).
/// </summary>
public class ShippedImages
{
    private const int Count = 8;
    private const int Side = FashionMnist.ImageSize;

    [Test]
    [Explicit("Writes the committed PNG files: dotnet test tests/Ldrf.Cli.Tests -c Release --filter Name=Writes_the_shipped_pngs")]
    public void Writes_the_shipped_pngs()
    {
        var folder = TestContext.Parameters.Get("folder", Path.Combine(RepositoryFolder(), "tests", "Ldrf.Cli.Tests", "data", "fashion-mnist"));
        var count = TestContext.Parameters.Get("count", Count);
        Directory.CreateDirectory(folder);
        var pixels = SubsetPixels();
        for (var i = 0; i < count; i++)
        {
            using var bitmap = new SKBitmap(new SKImageInfo(Side, Side, SKColorType.Gray8, SKAlphaType.Opaque));
            for (var y = 0; y < Side; y++)
            {
                for (var x = 0; x < Side; x++)
                {
                    var v = pixels[(i * Side * Side) + (y * Side) + x];
                    bitmap.SetPixel(x, y, new SKColor(v, v, v));
                }
            }

            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(folder, $"test-{i:D2}.png"), data.ToArray());
        }
    }

    [Test]
    public void The_committed_pngs_hold_the_subset_pixels()
    {
        var pixels = SubsetPixels();
        var files = Calibration.ImageFiles(CliRun.Images);
        Assert.That(files, Has.Count.EqualTo(Count));
        var gray = new Preprocessing(Side, Side, 1, [0f], [1f]);
        for (var i = 0; i < Count; i++)
        {
            using var image = Calibration.Decode(files[i], gray);
            var decoded = image.mul(255).round().to(torch.ScalarType.Byte).data<byte>().ToArray();
            Assert.That(decoded, Is.EqualTo(pixels.AsSpan(i * Side * Side, Side * Side).ToArray()), files[i]);
        }
    }

    private static byte[] SubsetPixels()
    {
        var location = FashionMnistLocator.LocateSubset();
        return IdxFile.ReadImages(location.TestImagesPath).Pixels;
    }

    private static string RepositoryFolder()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ldrf.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("The repository (Ldrf.sln) is not above the test folder.");
    }
}
