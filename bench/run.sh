#!/usr/bin/env bash
# Edge data path benchmarks (issue 2): builds the benchmarks and the agent in Release, runs every
# benchmark and writes the Markdown results (machine, date, commands, tables) to
#   bench/results/edge-data-path-<UTC timestamp>.md   (progress and diagnostics: *.log beside it)
# The numbers that count are the ratios: each benchmark measures its baseline in the same run.
#
#   bench/run.sh [buffer|mqtt|drain|memory ...]     default: all four
# Extra options per benchmark through FRACTAL_BENCH_<OPTION> variables, e.g.
#   FRACTAL_BENCH_ROUNDS=5 bench/run.sh buffer
# Needs: mosquitto, OpenStack Swift (swift swift-proxy swift-account swift-container swift-object),
# iproute2 (ss). Benchmarks are not part of the test command.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

benchmarks=("$@")
if [ ${#benchmarks[@]} -eq 0 ]; then
  benchmarks=(buffer mqtt drain memory)
fi

dotnet build bench/Fractal.Benchmarks -c Release -nologo -v quiet
dotnet build src/Fractal.Agent -c Release -nologo -v quiet

mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/edge-data-path-$stamp.md
log=bench/results/edge-data-path-$stamp.log
dll=bench/Fractal.Benchmarks/bin/Release/net10.0/Fractal.Benchmarks.dll

disk_of() {
  local dev
  dev=$(df --output=source "$1" | tail -1)
  echo "$dev ($(df -h --output=fstype,size "$1" | tail -1 | xargs), $(lsblk -ndo ROTA "$dev" 2>/dev/null | sed 's/1/rotational/;s/0/non-rotational/' || echo '?'))"
}

{
  echo "## Run $stamp"
  echo
  echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(uname -m), memory $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
  echo "- disk (temp dir of the buffers): $(disk_of "${TMPDIR:-/tmp}")"
  echo "- load before: $(cut -d' ' -f1-3 /proc/loadavg); .NET $(dotnet --version); $(mosquitto -h 2>/dev/null | head -1)"
  echo "- command: \`bench/run.sh ${benchmarks[*]}\`"
} > "$out"

for benchmark in "${benchmarks[@]}"; do
  echo "running $benchmark ..." >&2
  dotnet "$dll" "$benchmark" >> "$out" 2>> "$log"
done

echo >&2
echo "results: $out (progress: $log)" >&2
cat "$out"
