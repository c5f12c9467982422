namespace Ldrf.Samples.Common.Data;

/// <summary>Where the four Fashion-MNIST files of one copy of the data set are.</summary>
/// <param name="Folder">The folder holding the files.</param>
/// <param name="IsFullSet">True for the full 60,000 / 10,000 set, false for the shipped 2,000 / 2,000 subset.</param>
/// <param name="TrainImagesPath">Training images (IDX3).</param>
/// <param name="TrainLabelsPath">Training labels (IDX1).</param>
/// <param name="TestImagesPath">Test images (IDX3).</param>
/// <param name="TestLabelsPath">Test labels (IDX1).</param>
public sealed record FashionMnistLocation(
    string Folder, bool IsFullSet, string TrainImagesPath, string TrainLabelsPath, string TestImagesPath, string TestLabelsPath);

/// <summary>
/// Finds Fashion-MNIST: a folder the user names, else the full set installed by Debian's
/// <c>dataset-fashion-mnist</c> package, else the small subset shipped in <c>samples/data/fashion-mnist-subset</c>.
/// </summary>
public static class FashionMnistLocator
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the full set.</summary>
    public const string DebianFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>The name of the shipped subset's folder (under <c>samples/data</c>, and copied to each app's output as <c>data/fashion-mnist-subset</c>).</summary>
    public const string SubsetFolderName = "fashion-mnist-subset";

    /// <summary>File names of the training images, training labels, test images and test labels.</summary>
    public static IReadOnlyList<string> FileNames { get; } =
    [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    ];

    /// <summary>Finds the data set.</summary>
    /// <param name="folder">A folder given by the user; when not null it must hold the four files (raw or <c>.gz</c>).</param>
    /// <returns>The located files.</returns>
    /// <exception cref="DirectoryNotFoundException">The given folder lacks the files, or no copy of the data set was found at all.</exception>
    public static FashionMnistLocation Locate(string? folder = null)
    {
        if (folder is not null)
        {
            return TryAt(folder, isFullSet: null)
                ?? throw new DirectoryNotFoundException(
                    $"'{folder}' does not hold the four Fashion-MNIST files ({string.Join(", ", FileNames)}, raw or .gz).");
        }

        return TryAt(DebianFolder, isFullSet: true) ?? LocateSubset();
    }

    /// <summary>Finds the shipped 2,000 / 2,000 subset, whatever else is installed.</summary>
    /// <returns>The located subset files.</returns>
    /// <exception cref="DirectoryNotFoundException">The subset was not found next to the app or in a parent folder's <c>samples/data</c>.</exception>
    public static FashionMnistLocation LocateSubset()
    {
        var folder = FindSubsetFolder()
            ?? throw new DirectoryNotFoundException(
                $"The shipped Fashion-MNIST subset was found neither in '{Path.Combine(AppContext.BaseDirectory, "data", SubsetFolderName)}' " +
                $"nor in a parent folder's samples/data/{SubsetFolderName}; install dataset-fashion-mnist or pass a folder.");
        return TryAt(folder, isFullSet: false)
            ?? throw new DirectoryNotFoundException($"'{folder}' does not hold the four Fashion-MNIST subset files.");
    }

    /// <summary>The repository's <c>samples/data</c> folder, found by walking up from the app's folder and the current folder; null when absent.</summary>
    /// <returns>The folder path, or null.</returns>
    public static string? FindRepositoryDataFolder()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "samples", "data");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    private static string? FindSubsetFolder()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "data", SubsetFolderName);
        if (Directory.Exists(beside))
        {
            return beside;
        }

        var data = FindRepositoryDataFolder();
        var inRepository = data is null ? null : Path.Combine(data, SubsetFolderName);
        return inRepository is not null && Directory.Exists(inRepository) ? inRepository : null;
    }

    private static FashionMnistLocation? TryAt(string folder, bool? isFullSet)
    {
        if (!Directory.Exists(folder))
        {
            return null;
        }

        var paths = new string[FileNames.Count];
        for (int i = 0; i < paths.Length; i++)
        {
            var raw = Path.Combine(folder, FileNames[i]);
            var gz = raw + ".gz";
            paths[i] = File.Exists(gz) ? gz : File.Exists(raw) ? raw : string.Empty;
            if (paths[i].Length == 0)
            {
                return null;
            }
        }

        // A user folder counts as full when its training labels say 60,000 (cheap: reads one small file).
        bool full = isFullSet ?? IdxFile.ReadLabels(paths[1]).Length >= 60_000;
        return new FashionMnistLocation(Path.GetFullPath(folder), full, paths[0], paths[1], paths[2], paths[3]);
    }
}
