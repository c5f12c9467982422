using Ldrf.Cli;
using Spectre.Console;

// Ctrl+C cancels the run between calibration batches; the command then deletes its temporary files and exits with 130.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

var console = AnsiConsole.Console;
var live = !Console.IsOutputRedirected && console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi;
if (!live)
{
    // Redirected to a file or a CI log: tables are not cut to 80 columns.
    console.Profile.Width = 200;
}

return await new CliApp(console, Console.Error, live).RunAsync(args, cancel.Token);
