using System.Buffers.Binary;
using System.IO.Compression;
using Ldrf.Samples.Common.Data;

namespace Ldrf.Samples.Tests;

/// <summary>The IDX reader on files written byte by byte by the test, raw and gzip'd, good and broken.</summary>
public class IdxFileTests
{
    private string _folder = string.Empty;

    [SetUp]
    public void CreateFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), "ldrf-idx-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
    }

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    [TestCase(false)]
    [TestCase(true)]
    public void Images_and_labels_are_read_raw_or_gzipped(bool gzip)
    {
        var pixels = Enumerable.Range(0, 3 * 4 * 5).Select(i => (byte)(i * 4)).ToArray();
        var images = Write("img", gzip, Header(0x803, 3, 4, 5), pixels);
        var labels = Write("lbl", gzip, Header(0x801, 3), [7, 0, 9]);

        var read = IdxFile.ReadImages(images);
        Assert.Multiple(() =>
        {
            Assert.That((read.Count, read.Rows, read.Columns), Is.EqualTo((3, 4, 5)));
            Assert.That(read.Pixels, Is.EqualTo(pixels));
            Assert.That(IdxFile.ReadLabels(labels), Is.EqualTo(new byte[] { 7, 0, 9 }));
        });
    }

    [Test]
    public void The_writer_produces_what_the_reader_reads()
    {
        var pixels = Enumerable.Range(0, 2 * 28 * 28).Select(i => (byte)(i % 251)).ToArray();
        var path = Path.Combine(_folder, "w-images.gz");
        IdxFile.WriteImages(path, pixels, 2, 28, 28);
        var read = IdxFile.ReadImages(path);
        Assert.That(read.Pixels, Is.EqualTo(pixels));
        Assert.That(() => IdxFile.WriteImages(path, pixels, 3, 28, 28),
            Throws.ArgumentException.With.Message.Contains("1568").And.Message.Contains("2352"));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void A_label_file_passed_as_images_is_rejected_for_its_magic_number(bool gzip)
    {
        var path = Write("lbl", gzip, Header(0x801, 2), [1, 2]);
        Assert.That(() => IdxFile.ReadImages(path),
            Throws.TypeOf<InvalidDataException>()
                .With.Message.Contains(path).And.Message.Contains("0x00000801").And.Message.Contains("0x00000803"));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void A_truncated_image_file_is_rejected(bool gzip)
    {
        var path = Write("img", gzip, Header(0x803, 2, 28, 28), new byte[28 * 28 + 100]);
        Assert.That(() => IdxFile.ReadImages(path),
            Throws.TypeOf<InvalidDataException>()
                .With.Message.Contains("truncated").And.Message.Contains("1568").And.Message.Contains("884"));
    }

    [Test]
    public void A_truncated_header_is_rejected()
    {
        var path = Write("lbl", gzip: false, [0, 0, 8], []);
        Assert.That(() => IdxFile.ReadLabels(path), Throws.TypeOf<InvalidDataException>().With.Message.Contains("truncated").And.Message.Contains("magic"));
    }

    [Test]
    public void Image_and_label_counts_must_match()
    {
        var images = Write("img", true, Header(0x803, 2, 28, 28), new byte[2 * 28 * 28]);
        var labels = Write("lbl", true, Header(0x801, 3), [0, 1, 2]);
        Assert.That(() => FashionMnist.Load(images, labels),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("2 images").And.Message.Contains("3 labels"));
    }

    [Test]
    public void Images_other_than_28_by_28_are_rejected()
    {
        var images = Write("img", false, Header(0x803, 1, 32, 32), new byte[32 * 32]);
        var labels = Write("lbl", false, Header(0x801, 1), [0]);
        Assert.That(() => FashionMnist.Load(images, labels),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("32 x 32"));
    }

    [Test]
    public void Labels_outside_0_to_9_are_rejected()
    {
        var images = Write("img", false, Header(0x803, 1, 28, 28), new byte[28 * 28]);
        var labels = Write("lbl", false, Header(0x801, 1), [10]);
        Assert.That(() => FashionMnist.Load(images, labels),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("label 10"));
    }

    [Test]
    public void Pixels_are_normalized_with_the_documented_mean_and_std()
    {
        var pixels = new byte[2 * 28 * 28];
        pixels[0] = 255;
        pixels[28 * 28] = 51;
        using var set = FashionMnist.FromBytes(pixels, [3, 4]);
        Assert.Multiple(() =>
        {
            Assert.That(set.Images.shape, Is.EqualTo(new long[] { 2, 1, 28, 28 }));
            Assert.That(set.Labels.dtype, Is.EqualTo(global::TorchSharp.torch.ScalarType.Int64));
            Assert.That(set.Images[0, 0, 0, 0].item<float>(), IsFinite.EqualTo((1 - 0.2860f) / 0.3530f, 1e-5));
            Assert.That(set.Images[1, 0, 0, 0].item<float>(), IsFinite.EqualTo((0.2f - 0.2860f) / 0.3530f, 1e-5));
            Assert.That(set.Images[0, 0, 5, 5].item<float>(), IsFinite.EqualTo(FashionMnist.NormalizedBlack, 1e-6));
        });
    }

    private static byte[] Header(int magic, params int[] sizes)
    {
        var header = new byte[4 * (sizes.Length + 1)];
        BinaryPrimitives.WriteInt32BigEndian(header, magic);
        for (int i = 0; i < sizes.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 * (i + 1)), sizes[i]);
        }

        return header;
    }

    private string Write(string name, bool gzip, byte[] header, byte[] body)
    {
        var path = Path.Combine(_folder, name + (gzip ? ".gz" : string.Empty));
        using Stream file = File.Create(path);
        using Stream stream = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        stream.Write(header);
        stream.Write(body);
        return path;
    }
}
