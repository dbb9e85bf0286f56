#!/usr/bin/env bash
# Runs every check and test: installs what the tests need (idempotent), restores, builds,
# verifies formatting, runs each test project, and ends with "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/apt.sh

# Real servers and tools the tests use (see ARCHITECTURE.md, "Testing with real parts").
ensure_apt_packages \
  mosquitto mosquitto-clients \
  swift swift-proxy swift-account swift-container swift-object \
  python3-onnx python3-numpy dataset-fashion-mnist \
  dpkg-dev lintian systemd adduser init-system-helpers util-linux binutils binutils-aarch64-linux-gnu curl \
  gcc libc6-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross

results=artifacts/test-results
rm -rf "$results" && mkdir -p "$results"
passed=0 failed=0 skipped=0

dotnet restore Fractal.sln -v quiet || { echo "restore failed"; echo "0 passed, 1 failed"; exit 1; }
if ! dotnet build Fractal.sln --no-restore -v quiet -nologo -clp:ErrorsOnly; then
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi

# House style: formatting is part of the test command.
if dotnet format Fractal.sln --verify-no-changes --no-restore -v quiet; then
  echo "format: ok"
else
  echo "format: changes needed (run: dotnet format Fractal.sln)"; failed=$((failed + 1))
fi

for project in tests/*/*.csproj; do
  name=$(basename "$project" .csproj)
  grep -q "<IsTestProject>true</IsTestProject>" "$project" || continue
  echo "== $name"
  runner=(dotnet test "$project")
  # The packaging tests need the .deb files: packaging/test.sh builds them, then runs the project.
  [ "$name" = Fractal.Packaging.Tests ] && runner=(bash packaging/test.sh)
  "${runner[@]}" --no-build -v quiet --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
    --logger "console;verbosity=minimal" 2>&1 | grep -E "^(Passed!|Failed!|  Failed |  Error Message| {3}[A-Z]|Expected:|Actual:|packaging)" | head -200
  trx="$results/$name.trx"
  counters=$(grep -o '<Counters [^>]*>' "$trx" 2>/dev/null || true)
  if [ -z "$counters" ]; then
    echo "$name: no results (test host crashed?)"; failed=$((failed + 1)); continue
  fi
  count() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  passed=$((passed + $(count passed)))
  failed=$((failed + $(count failed) + $(count error) + $(count timeout) + $(count aborted)))
  skipped=$((skipped + $(count notExecuted)))
done

if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
