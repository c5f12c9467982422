#!/usr/bin/env bash
# Runs every suite with BenchmarkDotNet's short job and writes docs/benchmarks.md from the reports.
# Usage: benchmarks/run-full.sh [--report-only]   (--report-only rewrites the page from the last run's reports)
# An optional benchmarks/reading.md (a reading of the run, no numbers) is inserted after the target checks.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
results="BenchmarkDotNet.Artifacts/results"
# One thread for libtorch and MathNet: the 2-core machine is shared, and oversubscribed OpenMP threads
# made libtorch several times slower (see Program.cs). Override with LDRF_BENCH_THREADS=0 for the defaults.
threads="${LDRF_BENCH_THREADS:-1}"
command="LDRF_BENCH_THREADS=$threads nice -n 10 dotnet run -c Release --project benchmarks/Ldrf.Benchmarks -- --filter '*' --job short (every thread reniced to 10 while it runs)"
stamp="$results/run-times.txt"

if [[ "${1:-}" != "--report-only" ]]; then
  rm -rf BenchmarkDotNet.Artifacts
  mkdir -p "$results"
  started="$(date -u '+%Y-%m-%d %H:%M')"
  load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
  LDRF_BENCH_THREADS="$threads" nice -n 10 dotnet run -c Release --project benchmarks/Ldrf.Benchmarks -- --filter '*' --job short &
  run=$!
  # BenchmarkDotNet raises its process's priority; on a shared machine it should stay nice. Every few seconds
  # each thread of this run's processes (the dotnet host and its child) goes back to niceness 10.
  while kill -0 "$run" 2>/dev/null; do
    for pid in "$run" $(pgrep -P "$run" || true); do
      for task in /proc/"$pid"/task/*; do
        renice -n 10 -p "${task##*/}" >/dev/null 2>&1 || true
      done
    done
    sleep 5
  done
  wait "$run"
  printf '%s\n%s\n%s\n%s\n' "$started" "$(date -u '+%Y-%m-%d %H:%M')" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" > "$stamp"
fi

mapfile -t times < "$stamp"
python3 benchmarks/report.py "$results" "$command" "${times[0]}" "${times[1]}" "${times[2]}" "${times[3]}" benchmarks/reading.md > docs/benchmarks.md
echo "wrote docs/benchmarks.md"
