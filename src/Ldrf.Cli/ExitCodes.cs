namespace Ldrf.Cli;

/// <summary>The tool's exit codes (docs/cli.md lists them).</summary>
internal static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Success = 0;

    /// <summary>An unexpected error (a defect: run with --verbose and report it).</summary>
    public const int Failure = 1;

    /// <summary>The command line is wrong: an unknown command or option, a bad number, an unknown method, a missing file argument.</summary>
    public const int Usage = 2;

    /// <summary>An input cannot be used: a file that is not ONNX or not an image, calibration data of the wrong shape, an unreachable target.</summary>
    public const int BadInput = 3;

    /// <summary>The model uses an operator or form the importer or the pruner does not support.</summary>
    public const int Unsupported = 4;

    /// <summary>Pruning failed on the way (for example a pruned network computing NaN); nothing was written.</summary>
    public const int PruningFailed = 5;

    /// <summary>Cancelled (Ctrl+C); nothing was written. 128 + SIGINT, as shells report it.</summary>
    public const int Cancelled = 130;
}

/// <summary>A wrong option value found after parsing (exit code <see cref="ExitCodes.Usage"/>); the message names the option.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>An input file or value that cannot be used (exit code <see cref="ExitCodes.BadInput"/>); the message names it.</summary>
internal sealed class InputException(string message, Exception? inner = null) : Exception(message, inner);
