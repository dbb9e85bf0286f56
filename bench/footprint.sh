#!/usr/bin/env bash
# Footprint of the packaged agent (issue 4): .deb size and installed size per architecture, time
# from process start to READY=1, resident memory idle and after a minute of MQTT ingest.
#
#   bench/footprint.sh [--agent DIR] [--debs DIR] [--ingest-seconds N] [--rate N] [--runs N]
#
#   --agent   directory holding the fractal-agent executable; default /usr/lib/fractal-agent when
#             the package is installed, else packaging/out/publish/linux-x64 (build-deb.sh's publish,
#             the same files the .deb installs).
#   --debs    where fractal-agent_*_{amd64,arm64}.deb are; default packaging/out.
#   --ingest-seconds  default 60; --rate readings per second, default 100; --runs start-up runs, default 5.
# The agent runs with packaging/deb/agent.json (the shipped conffile), its own state directory,
# free ports and the hub uplink off (readings accumulate in the buffer, the worst case for memory).
# Readings are 28x28 float tensors as JSON (a Fashion-MNIST image), published at QoS 1.
# Needs python3 and mosquitto-clients. Prints a Markdown table.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
agent=""
debs=$repo/packaging/out
ingest=60
rate=100
runs=5
while [ $# -gt 0 ]; do
  case "$1" in
    --agent) shift; agent=$1 ;;
    --debs) shift; debs=$1 ;;
    --ingest-seconds) shift; ingest=$1 ;;
    --rate) shift; rate=$1 ;;
    --runs) shift; runs=$1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "footprint.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$agent" ]; then
  if [ -x /usr/lib/fractal-agent/fractal-agent ]; then agent=/usr/lib/fractal-agent; else agent=$repo/packaging/out/publish/linux-x64; fi
fi
[ -x "$agent/fractal-agent" ] || { echo "footprint.sh: no fractal-agent in $agent (run packaging/deb/build-deb.sh)" >&2; exit 2; }
command -v mosquitto_pub >/dev/null || { echo "footprint.sh: needs mosquitto_pub (apt-get install mosquitto-clients)" >&2; exit 2; }

exec python3 - "$agent" "$debs" "$ingest" "$rate" "$runs" "$repo/packaging/deb/agent.json" <<'PY'
import glob, os, socket, statistics, subprocess, sys, tempfile, time, random

agent, debs, ingest, rate, runs, config = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        d = dict(l.split(":", 1) for l in f)
    return int(d["VmRSS"].split()[0]), int(d["VmHWM"].split()[0])

def metric(port, name):
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None

def start(workdir):
    state = os.path.join(workdir, "state"); os.makedirs(state, exist_ok=True)
    sock_path = os.path.join(workdir, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); sock.bind(sock_path)
    mqtt, metrics = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FRACTAL_", "DOTNET_"))}
    env.update(NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="30000000", STATE_DIRECTORY=state, FRACTAL_CONFIG=config,
               FRACTAL_Mqtt__EmbeddedPort=str(mqtt), FRACTAL_Metrics__Port=str(metrics), FRACTAL_Uplinks__Hub__Enabled="false")
    t0 = time.monotonic()
    proc = subprocess.Popen([os.path.join(agent, "fractal-agent")], env=env, cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock.settimeout(60)
    while True:
        msg = sock.recv(4096).decode()
        if "READY=1" in msg.split("\n"):
            return proc, time.monotonic() - t0, mqtt, metrics, sock

def stop(proc, sock):
    proc.terminate(); code = proc.wait(30); sock.close(); return code

rows = []
for arch in ("amd64", "arm64"):
    for deb in sorted(glob.glob(os.path.join(debs, f"fractal-agent_*_{arch}.deb")))[-1:]:
        installed = subprocess.run(["dpkg-deb", "--field", deb, "Installed-Size"], capture_output=True, text=True).stdout.strip()
        rows.append((f".deb size, {arch}", f"{os.path.getsize(deb) / 1e6:.1f} MB ({os.path.basename(deb)})"))
        rows.append((f"installed size, {arch}", f"{int(installed) / 1024:.1f} MiB"))

ready = []
for _ in range(runs):
    with tempfile.TemporaryDirectory() as d:
        proc, t, *_rest, sock = start(d)
        ready.append(t); stop(proc, sock)
rows.append((f"start to READY=1 (median of {runs}, min-max)", f"{statistics.median(ready):.2f} s ({min(ready):.2f}-{max(ready):.2f})"))

with tempfile.TemporaryDirectory() as d:
    proc, t, mqtt, metrics, sock = start(d)
    time.sleep(10)
    idle, _ = rss_kib(proc.pid)
    idle_managed = metric(metrics, "dotnet_total_memory_bytes")
    rows.append(("RSS idle (10 s after READY)", f"{idle / 1024:.1f} MiB" + (f" (managed heap {idle_managed / 2**20:.1f} MiB)" if idle_managed is not None else "")))
    value = [round(random.random(), 3) for _ in range(784)]
    line = ('{"shape":[28,28],"values":' + str(value).replace(" ", "") + '}\n').encode()
    pub = subprocess.Popen(["mosquitto_pub", "-p", str(mqtt), "-q", "1", "-i", "footprint", "-t", "fractal/sensors/fashion", "-l"],
                           stdin=subprocess.PIPE)
    sent, t_start = 0, time.monotonic()
    while time.monotonic() - t_start < ingest:
        due = int((time.monotonic() - t_start) * rate)
        while sent < due:
            pub.stdin.write(line); sent += 1
        pub.stdin.flush(); time.sleep(0.01)
    pub.stdin.close(); pub.wait(60)
    time.sleep(2)
    busy, peak = rss_kib(proc.pid)
    buffered = metric(metrics, "fractal_buffered_records")
    managed = metric(metrics, "dotnet_total_memory_bytes")
    rows.append((f"RSS after {ingest} s of ingest ({rate}/s, {len(line)} B JSON readings)", f"{busy / 1024:.1f} MiB (peak {peak / 1024:.1f} MiB; {('managed heap %.1f MiB; ' % (managed / 2**20)) if managed is not None else ''}{int(buffered or 0)} of {sent} readings buffered)"))
    code = stop(proc, sock)
    rows.append(("exit code on SIGTERM", str(code)))

print("| measure | value |\n| --- | --- |")
for k, v in rows:
    print(f"| {k} | {v} |")
PY
