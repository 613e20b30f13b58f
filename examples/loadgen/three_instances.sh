#!/usr/bin/env bash
# Three example-server instances on one fresh PostgreSQL database, live changes crossing
# through one broker, and the load generator spreading its users over the three (so most
# deliveries cross instances). Loopback only. Build first:
#   cargo build --release --example server --example loadgen
# Usage: examples/loadgen/three_instances.sh postgres|nats RATE [USERS] [SECONDS]
# NATS must be running at 127.0.0.1:4222 for `nats`.
set -euo pipefail
broker=$1; rate=$2; users=${3:-10000}; duration=${4:-30}
cd "$(dirname "$0")/../.."
SECRET=load-test-secret-at-least-32-bytes-long
db=load3_$(date +%s)
psql postgres://postgres@127.0.0.1:5432/test -qc "CREATE DATABASE $db"
pids=()
for port in 4001 4002 4003; do
  RUST_LOG=warn ./target/release/examples/server --bind 127.0.0.1:$port --jwt-secret "$SECRET" --no-demo \
    --send-rate 100000 --database-url postgres://postgres@127.0.0.1:5432/$db --broker "$broker" \
    --metrics-bind off > /tmp/load3-$port.log 2>&1 &
  pids+=($!)
done
for port in 4001 4002 4003; do
  for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:$port/readyz > /dev/null 2>&1 && break; sleep 0.2; done
done
./target/release/examples/loadgen --url http://127.0.0.1:4001 --url http://127.0.0.1:4002 --url http://127.0.0.1:4003 \
  --jwt-secret "$SECRET" --users "$users" --rate "$rate" --duration "$duration" --open-rate 20 --search-rate 20 || true
for pid in "${pids[@]}"; do kill -INT "$pid"; done
wait || true
psql postgres://postgres@127.0.0.1:5432/test -qc "DROP DATABASE $db WITH (FORCE)"
