#!/usr/bin/env bash
# A real S3-compatible object store on loopback for tests: OpenStack Swift (Debian's
# packages) with its s3api middleware -- the same technology as OVH Object Storage.
# Adapted from ../shared/recipes/swift-s3.sh for the test harness (SwiftS3Server.cs).
#
#   swift-s3.sh configure DIR PROXY_PORT [OBJECT_PORT CONTAINER_PORT ACCOUNT_PORT]
#        writes configuration and rings under DIR once; a second call keeps the existing
#        state (same data, same ports), so a stopped store can be started again.
#   swift-s3.sh run DIR object|container|account|proxy
#        execs one server in the foreground (the harness owns the process); the server
#        calls setsid itself, so its pid is also its process group id.
#   swift-s3.sh start DIR [PORT]   configure + all four servers in the background, waits
#                                  until ready, prints ENDPOINT, ACCESS_KEY, SECRET_KEY lines
#   swift-s3.sh stop DIR           SIGTERM to every server's process group, waits, then SIGKILL
#
# Needs: apt-get install -y swift swift-proxy swift-account swift-container swift-object
# Credentials: access key "fractal:agent", secret "secret123" (tempauth, admin of its account).
# Known difference from AWS/MinIO: Swift 2.30 rejects aws-chunked uploads with a clear
# error ("Transfering payloads in multiple chunks using aws-chunked is not supported"),
# so clients must send a plain signed payload (AWSSDK.S3: UseChunkEncoding = false on
# PutObjectRequest / UploadPartRequest).
set -euo pipefail
cmd=${1:?configure|run|start|stop}; dir=${2:?state dir}
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
# Swift's modules live in Debian's python; a pyenv/venv python3 earlier on PATH cannot import them.
py=/usr/bin/python3
servers=(object container account proxy)

# Is pid $1 alive (a zombie does not count: it holds no socket and nobody may reap it)?
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# Any live member of process group $1?
group_alive() {
  local p
  for p in $(ps -e -o pid= -o pgid= | awk -v g="$1" '$2 == g {print $1}'); do
    alive "$p" && return 0
  done
  return 1
}

stop() {
  local f pid pgids=()
  for f in "$dir"/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f"); rm -f "$f"
    [ -n "$pid" ] || continue
    pgids+=("$pid")
    # The server is a session (and group) leader after setsid; its workers share the group.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do
    local any=0
    for pid in "${pgids[@]}"; do group_alive "$pid" && any=1; done
    [ "$any" = 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pgids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
}

configure() {
  local port=${1:?proxy port} obj=${2:-$(($1 + 10))} cont=${3:-$(($1 + 11))} acct=${4:-$(($1 + 12))}
  mkdir -p "$dir"/{etc,run,srv/node/sdb1}
  if [ -f "$dir/etc/proxy-server.conf" ]; then
    return 0 # configured before: same data, same ports
  fi
  cat > "$dir/etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_suffix = fractal
swift_hash_path_prefix = fractal
[storage-policy:0]
name = gold
default = yes
EOF
  declare -A ports=([object]=$obj [container]=$cont [account]=$acct)
  # One python process builds all three rings (swift-ring-builder costs ~1 s of start-up per call).
  "$py" - "$dir/etc" "$obj" "$cont" "$acct" <<'EOF'
import sys
from swift.common.ring import RingBuilder
etc = sys.argv[1]
for name, port in zip(("object", "container", "account"), map(int, sys.argv[2:5])):
    b = RingBuilder(8, 1, 1)
    b.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port,
               'replication_ip': '127.0.0.1', 'replication_port': port,
               'device': 'sdb1', 'weight': 1, 'meta': ''})
    b.rebalance()
    b.save('%s/%s.builder' % (etc, name))
    b.get_ring().save('%s/%s.ring.gz' % (etc, name))
EOF
  local t
  for t in object container account; do
    cat > "$dir/etc/$t-server.conf" <<EOF
[DEFAULT]
devices = $dir/srv/node
mount_check = false
disable_fallocate = true
bind_ip = 127.0.0.1
bind_port = ${ports[$t]}
workers = 0
user = $(id -un)
swift_dir = $dir/etc
log_name = $t
[pipeline:main]
pipeline = $t-server
[app:$t-server]
use = egg:swift#$t
[$t-replicator]
[$t-updater]
[$t-auditor]
EOF
  done
  cat > "$dir/etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = $(id -un)
swift_dir = $dir/etc
[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
account_autocreate = true
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_fractal_agent = secret123 .admin
[filter:cache]
use = egg:swift#memcache
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF
  echo "$port" > "$dir/etc/proxy.port"
}

case "$cmd" in
  configure)
    shift 2
    configure "$@"
    ;;
  run)
    t=${3:?object|container|account|proxy}
    case "$t" in object|container|account|proxy) ;; *) echo "unknown server $t" >&2; exit 2 ;; esac
    echo $$ > "$dir/run/$t.pid"
    exec "swift-$t-server" "$dir/etc/$t-server.conf" >> "$dir/run/$t.log" 2>&1
    ;;
  start)
    configure "${3:-18080}"
    port=$(cat "$dir/etc/proxy.port")
    for t in "${servers[@]}"; do
      "swift-$t-server" "$dir/etc/$t-server.conf" >> "$dir/run/$t.log" 2>&1 &
      echo $! > "$dir/run/$t.pid"
    done
    for _ in $(seq 1 100); do
      curl -fs "http://127.0.0.1:$port/info" >/dev/null 2>&1 && break
      sleep 0.2
    done
    curl -fs "http://127.0.0.1:$port/info" >/dev/null
    echo "ENDPOINT=http://127.0.0.1:$port"
    echo "ACCESS_KEY=fractal:agent"
    echo "SECRET_KEY=secret123"
    ;;
  stop)
    stop
    ;;
  *)
    echo "usage: $0 configure|run|start|stop DIR ..." >&2
    exit 2
    ;;
esac
