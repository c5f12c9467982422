using BenchmarkDotNet.Running;

// Benchmarks run in process by default: the build applies the libtorch shim fix to this project's
// output folder, while BenchmarkDotNet's generated per-job projects would carry an unpatched copy.
// Pick suites with --filter, e.g. `--filter *GramAccumulation*`; see benchmarks/README.md.
var effectiveArgs = args.Contains("--inProcess", StringComparer.OrdinalIgnoreCase) ? args : [.. args, "--inProcess"];
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(effectiveArgs);
