using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

// LDRF_BENCH_THREADS=n caps libtorch's intra-op threads and MathNet's managed parallelism at n. On a
// shared machine libtorch's OpenMP threads degrade badly when other work takes the cores (an eigh of
// 1152 measured 3-5x slower on 2 threads than on 1 under load), so loaded runs should pin both to 1.
// The quick mode (CI's dry run, which only proves that the suites run) pins them to 1 unless told otherwise.
var threadSetting = Environment.GetEnvironmentVariable("LDRF_BENCH_THREADS")
    ?? (Environment.GetEnvironmentVariable("LDRF_BENCH_QUICK") == "1" ? "1" : null);
if (int.TryParse(threadSetting, NumberStyles.None, CultureInfo.InvariantCulture, out var threads) && threads > 0)
{
    TorchSharp.torch.set_num_threads(threads);
    MathNet.Numerics.Control.MaxDegreeOfParallelism = threads;
}

// Benchmarks run in process: the build applies the libtorch shim fix to this project's output folder,
// while BenchmarkDotNet's generated per-job projects would carry an unpatched copy. The in-process
// toolchain aborts a case after 5 minutes by default, shorter than a short job of a managed n = 2304
// solve on this machine, hence the longer limit. `--job dry|short|medium|long` is read here (the
// command-line parser would replace this toolchain); other options go to BenchmarkDotNet. Pick suites
// with --filter; see benchmarks/README.md.
var jobAt = Array.FindIndex(args, a => a == "--job" || a == "-j");
var jobName = jobAt >= 0 && jobAt + 1 < args.Length ? args[jobAt + 1].ToLowerInvariant() : "default";
var job = jobName switch
{
    "dry" => Job.Dry,
    "short" => Job.ShortRun,
    "medium" => Job.MediumRun,
    "long" => Job.LongRun,
    "default" => Job.Default,
    _ => throw new ArgumentException($"'--job {jobName}' is not supported here; use dry, short, medium, long or default.", nameof(args)),
};
var remaining = jobAt >= 0 ? [.. args[..jobAt], .. args[Math.Min(jobAt + 2, args.Length)..]] : args;
var config = DefaultConfig.Instance.AddJob(job.WithToolchain(new InProcessEmitToolchain(TimeSpan.FromMinutes(30), logOutput: true)));
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(remaining, config);
