#!/usr/bin/env bash
# The main job on embedded defaults: a hub, an agent and simulated sensors (a thermometer and a
# camera streaming Fashion-MNIST frames) in one process; prints what reaches the hub's data lake.
# Ends by itself after SECONDS (default 20) or on Ctrl-C. No external servers needed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/apt.sh
# Optional: real camera frames. Without it the simulator generates patterns.
ensure_apt_packages dataset-fashion-mnist || echo "dataset-fashion-mnist not installed; using generated frames" >&2
dotnet build tools/Fractal.Demo -c Release -v quiet -nologo -clp:ErrorsOnly
exec dotnet tools/Fractal.Demo/bin/Release/net10.0/fractal-demo.dll --seconds "${1:-20}"
