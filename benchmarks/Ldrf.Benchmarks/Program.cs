using System.Globalization;
using BenchmarkDotNet.Running;

// LDRF_BENCH_THREADS=n caps libtorch's intra-op threads and MathNet's managed parallelism at n. On a
// shared machine libtorch's OpenMP threads degrade badly when other work takes the cores (an eigh of
// 1152 measured 3-5x slower on 2 threads than on 1 under load), so loaded runs should pin both to 1.
if (int.TryParse(Environment.GetEnvironmentVariable("LDRF_BENCH_THREADS"), NumberStyles.None, CultureInfo.InvariantCulture, out var threads) && threads > 0)
{
    TorchSharp.torch.set_num_threads(threads);
    MathNet.Numerics.Control.MaxDegreeOfParallelism = threads;
}

// Benchmarks run in process by default: the build applies the libtorch shim fix to this project's
// output folder, while BenchmarkDotNet's generated per-job projects would carry an unpatched copy.
// Pick suites with --filter, e.g. `--filter *StatisticsAccumulation*`; see benchmarks/README.md.
var effectiveArgs = args.Contains("--inProcess", StringComparer.OrdinalIgnoreCase) ? args : [.. args, "--inProcess"];
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(effectiveArgs);
