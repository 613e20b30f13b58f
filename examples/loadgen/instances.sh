#!/usr/bin/env bash
# N example-server instances on one fresh PostgreSQL database, live changes crossing through
# one broker, and the load generator split over N processes, process k holding the WebSockets
# of instance k's users (so most deliveries cross instances, and no process, server or
# generator, needs more descriptors than `ulimit -n` allows). Loopback only. Build first:
#   cargo build --release --example server --example loadgen
# Usage: examples/loadgen/instances.sh postgres|nats INSTANCES RATE [USERS] [SECONDS] [LOADGEN ARGS…]
# NATS must be running at 127.0.0.1:4222 for `nats`. Each instance takes 12 database
# connections, so PostgreSQL's default max_connections of 100 holds up to 7 instances.
set -euo pipefail
broker=$1; instances=$2; rate=$3; users=${4:-10000}; duration=${5:-30}
cd "$(dirname "$0")/../.."
SECRET=load-test-secret-at-least-32-bytes-long
# A previous large run leaves its connections in TIME_WAIT for a minute, holding the loopback
# ports this run needs: wait for them to go (at most 90 s).
for _ in $(seq 1 18); do
  [ "$(ss -tan state time-wait | wc -l)" -lt 1000 ] && break
  sleep 5
done
db=load_n_$(date +%s)
psql postgres://postgres@127.0.0.1:5432/test -qc "CREATE DATABASE $db"
pids=()
urls=()
for k in $(seq 1 "$instances"); do
  port=$((4000 + k))
  RUST_LOG=warn ./target/release/examples/server --bind 127.0.0.1:$port --jwt-secret "$SECRET" --no-demo \
    --send-rate 100000 --database-url postgres://postgres@127.0.0.1:5432/$db --broker "$broker" \
    --db-max-connections 12 --metrics-bind off > /tmp/load-n-$port.log 2>&1 &
  pids+=($!)
  urls+=(--url "http://127.0.0.1:$port")
done
for k in $(seq 1 "$instances"); do
  port=$((4000 + k))
  for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:$port/readyz > /dev/null 2>&1 && break; sleep 0.2; done
done
# The servers' resident memory, all instances together, before the run and at its peak.
rss() { for pid in "${pids[@]}"; do awk '/VmRSS/ {print $2}' "/proc/$pid/status"; done | awk '{s += $1} END {print s}'; }
echo "servers' RSS before: $(rss) KiB" >&2
( peak=0; while sleep 2; do r=$(rss 2>/dev/null) || break; [ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak" > /tmp/load-n-rss-peak; done ) &
sampler=$!
./target/release/examples/loadgen "${urls[@]}" --processes "$instances" \
  --jwt-secret "$SECRET" --users "$users" --rate "$rate" --duration "$duration" --open-rate 20 --search-rate 20 "${@:6}" || true
kill "$sampler" 2>/dev/null || true
echo "servers' RSS at peak: $(cat /tmp/load-n-rss-peak) KiB" >&2
for pid in "${pids[@]}"; do kill -INT "$pid"; done
wait || true
psql postgres://postgres@127.0.0.1:5432/test -qc "DROP DATABASE $db WITH (FORCE)"
