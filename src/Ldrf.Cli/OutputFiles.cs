namespace Ldrf.Cli;

/// <summary>
/// The files a command writes, each first under a temporary name beside its destination; <see cref="Commit"/> moves
/// them all into place at the end, and disposing without committing deletes them, so a failed or cancelled run leaves
/// no output, complete or half-written.
/// </summary>
internal sealed class OutputFiles : IDisposable
{
    private readonly List<(string Temp, string Final)> _files = [];

    /// <summary>A temporary path beside <paramref name="path"/> (same folder, so the move is a rename) with the same extension.</summary>
    /// <param name="path">The destination.</param>
    /// <param name="option">The option that named it, for the message when its folder does not exist.</param>
    public string Add(string path, string option)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder))
        {
            throw new InputException($"{option}: the folder '{folder}' of '{path}' does not exist.");
        }

        var temp = Path.Combine(folder, $".{Path.GetFileNameWithoutExtension(full)}.{Environment.ProcessId}.tmp{Path.GetExtension(full)}");
        _files.Add((temp, full));
        return temp;
    }

    /// <summary>Moves every written file into place.</summary>
    public void Commit()
    {
        foreach (var (temp, final) in _files)
        {
            File.Move(temp, final, overwrite: true);
        }

        _files.Clear();
    }

    public void Dispose()
    {
        foreach (var (temp, _) in _files)
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }
}
