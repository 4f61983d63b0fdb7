#!/usr/bin/env bash
# Issue 12, scenario 2 at full size, through the documented commands (cmd/chaos drives them):
# 50,000 numbers, 2 workers, SMS_RATE_LIMIT=20, 1% of numbers answered with the 30-second rule,
# and a private redis-server (appendonly yes, appendfsync always, on a free port, never 6379)
# killed with -9 every 4 s for the first 20 s and restarted on the same data directory after 2 s
# down (--downtime 0 restarts it at once: Redis is then back within go-redis's own retries).
# It first measures the crash-free time with the same harness and no kills (pass --crash-free 50s
# to skip that), then checks the job finishes within crash-free + reconcile window + 60 s, exact,
# with no duplicate. Arguments go to cmd/chaos, e.g.
#   scripts/chaos-redis.sh --json-out chaos-redis.json
#   scripts/chaos-redis.sh --short         # the CI form (10,000 numbers, a kill every 2 s for 10 s, 1 s down)
# Exit status: 0 every criterion held, 1 one failed, 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-server >/dev/null || { echo "chaos-redis.sh: redis-server not found (apt-get install redis-server)" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/chaos" ./cmd/chaos
"$bin/chaos" --scenario redis "$@"
