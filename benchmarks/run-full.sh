#!/usr/bin/env bash
# Runs every suite with BenchmarkDotNet's short job and writes docs/benchmarks.md from the reports.
# Usage: benchmarks/run-full.sh [--report-only]   (--report-only rewrites the page from the last run's reports)
# An optional benchmarks/reading.md (a reading of the run, no numbers) is inserted after the target checks.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
results="BenchmarkDotNet.Artifacts/results"
command="nice -n 5 dotnet run -c Release --project benchmarks/Ldrf.Benchmarks -- --filter '*' --job short"
stamp="$results/run-times.txt"

if [[ "${1:-}" != "--report-only" ]]; then
  rm -rf BenchmarkDotNet.Artifacts
  mkdir -p "$results"
  started="$(date -u '+%Y-%m-%d %H:%M')"
  nice -n 5 dotnet run -c Release --project benchmarks/Ldrf.Benchmarks -- --filter '*' --job short
  printf '%s\n%s\n' "$started" "$(date -u '+%Y-%m-%d %H:%M')" > "$stamp"
fi

mapfile -t times < "$stamp"
python3 benchmarks/report.py "$results" "$command" "${times[0]}" "${times[1]}" benchmarks/reading.md > docs/benchmarks.md
echo "wrote docs/benchmarks.md"
