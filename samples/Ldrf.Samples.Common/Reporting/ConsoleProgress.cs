namespace Ldrf.Samples.Common.Reporting;

/// <summary>A one-line progress display that rewrites itself.</summary>
public sealed class ConsoleProgress<T>(Func<T, string> format) : IProgress<T>
{
    /// <inheritdoc />
    public void Report(T value) => ConsoleProgress.Show(format(value));
}

/// <summary>The current progress line on the console (nothing when the output is redirected, so logs stay clean).</summary>
public static class ConsoleProgress
{
    private static int s_width;

    /// <summary>Shows <paramref name="text"/> in place of the current progress line.</summary>
    /// <param name="text">The line.</param>
    public static void Show(string text)
    {
        if (Console.IsOutputRedirected)
        {
            return;
        }

        Console.Write("\r" + text.PadRight(s_width));
        s_width = Math.Max(s_width, text.Length);
    }

    /// <summary>Clears the progress line.</summary>
    public static void Done()
    {
        if (!Console.IsOutputRedirected && s_width > 0)
        {
            Console.Write("\r" + new string(' ', s_width) + "\r");
        }

        s_width = 0;
    }
}
