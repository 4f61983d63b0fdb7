#!/usr/bin/env bash
# Issue 12, scenario 1 at full size, through the documented commands (cmd/chaos drives them):
# 100,000 numbers, 2 workers, SMS_RATE_LIMIT=10, 30 ms sandbox API latency, 1% of numbers answered
# with the 30-second rule (so about half the SendSms calls are ~2-number retry batches), and a
# kill -9 of a random worker every 4 s for the first 60 s, restarted at once. It first measures
# the crash-free time with the same harness and no kills (pass --crash-free 115s to skip that),
# then checks the job finishes within crash-free + reconcile window + 60 s, exact, with no
# duplicate. Redis is a private redis-server on a free port (never 6379), stopped afterwards.
# Arguments go to cmd/chaos, e.g.
#   scripts/chaos-kill.sh --json-out chaos-kill.json
#   scripts/chaos-kill.sh --short          # the CI form (10,000 numbers, a kill every 1 s for 10 s)
# Exit status: 0 every criterion held, 1 one failed, 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-server >/dev/null || { echo "chaos-kill.sh: redis-server not found (apt-get install redis-server)" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/chaos" ./cmd/chaos
"$bin/chaos" --scenario kill "$@"
