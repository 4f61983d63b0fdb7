#!/usr/bin/env bash
# Runs cmd/bench against a private, throw-away redis-server on a free loopback port (never the
# shared instance on 6379), and stops that Redis afterwards. Arguments go to the bench, e.g.
#   scripts/bench.sh --numbers 100000
#   scripts/bench.sh --numbers 1000000 --json-out bench-1m.json
set -euo pipefail
cd "$(dirname "$0")/.."

command -v redis-server >/dev/null || { echo "bench.sh: redis-server not found (apt-get install redis-server)" >&2; exit 1; }

# A free port: ask the kernel for one, then make sure nothing listens there.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || echo $((20000 + RANDOM % 20000)))
if [ "$port" = 6379 ]; then port=16379; fi

dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
  --logfile "$dir/redis.log" --daemonize no &
redis_pid=$!
cleanup() {
  kill "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
redis-cli -p "$port" ping >/dev/null || { echo "bench.sh: redis-server on port $port did not start" >&2; cat "$dir/redis.log" >&2; exit 1; }
echo "bench.sh: private redis-server $(redis-server --version | awk '{print $3}') on 127.0.0.1:$port (pid $redis_pid)" >&2

go run ./cmd/bench --redis-url "redis://127.0.0.1:$port/0" "$@"
