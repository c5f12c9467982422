using System.Diagnostics;
using Ldrf.TorchSharp.Pruning;
using Spectre.Console;

namespace Ldrf.Cli;

/// <summary>
/// Shows a pruning run's progress: a live bar (layer i of n, stage, elapsed, estimate) on a terminal, or one plain line
/// per layer and stage when the output is redirected (a log, a CI job).
/// </summary>
internal sealed class ProgressDisplay(IAnsiConsole console, bool live)
{
    /// <summary>Runs <paramref name="work"/>, showing what it reports.</summary>
    public T Run<T>(Func<IProgress<PruningProgress>, T> work)
    {
        if (!live)
        {
            var plain = new Tracker(null, console);
            var result = work(plain);
            return result;
        }

        return console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context => work(new Tracker(context.AddTask("starting", maxValue: 1), null)));
    }

    // Called synchronously on the pruner's thread (Progress<T> would post to the thread pool and reorder events).
    private sealed class Tracker(ProgressTask? task, IAnsiConsole? plain) : IProgress<PruningProgress>
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private TimeSpan _layersStarted;
        private int _layers;
        private string? _last;

        public void Report(PruningProgress value)
        {
            if (value.Stage == PruningStage.PruningLayer && value.StepCount > 0)
            {
                if (_layers == 0)
                {
                    _layersStarted = _clock.Elapsed;
                }

                _layers = value.StepCount;
            }

            // Progress in layer units: capacity measurement counts as one, each layer one, the output check one.
            var total = _layers + 2.0;
            var (done, text) = value.Stage switch
            {
                PruningStage.MeasuringCapacity => (value.StepCount > 0 ? (double)value.Step / value.StepCount : 0, "measuring capacity on the original network"),
                PruningStage.PruningLayer when value.LayerPath is not null => (1.0 + value.Step, $"layer {value.Step + 1} of {value.StepCount}: pruning {value.LayerPath}"),
                PruningStage.PruningLayer => (1.0 + value.Step, $"{value.StepCount} layers pruned, building the pruned network"),
                PruningStage.CheckingOutput => (1.0 + _layers, "checking the output on held-out images"),
                PruningStage.MeasuringLatency => (1.0 + _layers, "measuring latency"),
                _ => (total, "done"),
            };

            if (task is not null)
            {
                task.MaxValue = total;
                task.Value = done;
                task.Description = Markup.Escape(text);
                return;
            }

            if (text == _last)
            {
                return;
            }

            _last = text;
            var elapsed = _clock.Elapsed;
            var estimate = value.Stage == PruningStage.PruningLayer && value.LayerPath is not null && value.Step > 0
                ? $", about {Format((elapsed - _layersStarted) / value.Step * (value.StepCount - value.Step))} left for the layers"
                : "";
            plain!.WriteLine($"[{Format(elapsed)}] {text}{estimate}");
        }

        private static string Format(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", null) : t.ToString(@"mm\:ss", null);
    }
}
