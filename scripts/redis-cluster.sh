#!/usr/bin/env bash
# A private 3-master Redis Cluster on loopback, for the Cluster variant of the store and worker end-to-end tests
# (internal/redistest reads REDIS_CLUSTER_NODES). Never touches port 6379.
#
#   scripts/redis-cluster.sh start [DIR]   start 3 masters (no replicas) on free random ports P in
#                                          21000-29999 whose cluster bus port P+10000 is free too,
#                                          create the cluster, wait until it is ok, and print the
#                                          REDIS_CLUSTER_NODES value (host:port,host:port,host:port)
#   scripts/redis-cluster.sh stop [DIR]    shut down the masters started in DIR and remove DIR
#
# DIR holds the nodes' data, logs and the list of ports; it defaults to $REDIS_CLUSTER_DIR, else
# ${TMPDIR:-/tmp}/smsdispatch-redis-cluster. Persistence is off (--save '' --appendonly no). E.g.
#   export REDIS_CLUSTER_NODES=$(scripts/redis-cluster.sh start)
#   go test -count=1 ./store ./worker
#   scripts/redis-cluster.sh stop
# Exit status: 0 ok, 1 failure, 2 usage.
set -euo pipefail

usage() { echo "usage: $0 start|stop [DIR]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
mode=$1
dir=${2:-${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/smsdispatch-redis-cluster}}
nodes=3

for bin in redis-server redis-cli; do
	command -v "$bin" >/dev/null || { echo "redis-cluster.sh: $bin not found (apt-get install redis-server)" >&2; exit 1; }
done

# in_use PORT: whether anything listens on PORT (any address).
in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# ours PORT: whether the redis-server answering on PORT is the one started here (its process id
# is the one in its pidfile): a port taken by another process meanwhile is never used or stopped.
ours() {
	local pid
	[ -f "$dir/redis-$1.pid" ] || return 1
	pid=$(cat "$dir/redis-$1.pid")
	redis-cli -h 127.0.0.1 -p "$1" info server 2>/dev/null | tr -d '\r' | grep -qx "process_id:$pid"
}

stop() {
	[ -f "$dir/ports" ] || { echo "redis-cluster.sh: no cluster in $dir" >&2; return 1; }
	local p
	while read -r p; do
		[ -n "$p" ] || continue
		if ours "$p"; then
			redis-cli -h 127.0.0.1 -p "$p" shutdown nosave >/dev/null 2>&1 || true
		fi
		# A server that does not answer is ended by the pid it wrote (its own, never a name).
		if [ -f "$dir/redis-$p.pid" ]; then
			local pid
			pid=$(cat "$dir/redis-$p.pid")
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill "$pid" 2>/dev/null || true
		fi
	done <"$dir/ports"
	rm -rf "$dir"
}

start() {
	if [ -f "$dir/ports" ]; then
		echo "redis-cluster.sh: $dir already holds a cluster (run: $0 stop $dir)" >&2
		return 1
	fi
	mkdir -p "$dir"
	: >"$dir/ports"
	local ports=() tries=0 p
	while [ ${#ports[@]} -lt $nodes ]; do
		tries=$((tries + 1))
		if [ $tries -gt 50 ]; then
			echo "redis-cluster.sh: found no free port pair" >&2
			stop
			return 1
		fi
		p=$((21000 + RANDOM % 9000))
		if in_use "$p" || in_use $((p + 10000)) || [[ " ${ports[*]} " == *" $p "* ]]; then
			continue
		fi
		redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
			--cluster-config-file "nodes-$p.conf" --dir "$dir" --save '' --appendonly no \
			--daemonize yes --pidfile "$dir/redis-$p.pid" --logfile "$dir/redis-$p.log"
		echo "$p" >>"$dir/ports"
		local up=0
		for _ in $(seq 50); do
			if ours "$p"; then up=1; break; fi
			sleep 0.1
		done
		if [ $up = 1 ]; then
			ports+=("$p")
		else
			# Another process took the port (or its bus port) meanwhile: try another one.
			echo "redis-cluster.sh: redis-server on $p did not come up, trying another port" >&2
			if [ -f "$dir/redis-$p.pid" ]; then kill "$(cat "$dir/redis-$p.pid")" 2>/dev/null || true; fi
		fi
	done
	local seeds=() addrs
	for p in "${ports[@]}"; do seeds+=("127.0.0.1:$p"); done
	if ! redis-cli --cluster create "${seeds[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1; then
		echo "redis-cluster.sh: cluster create failed:" >&2
		cat "$dir/create.log" >&2
		stop
		return 1
	fi
	for p in "${ports[@]}"; do
		local ok=0
		for _ in $(seq 100); do
			if redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then ok=1; break; fi
			sleep 0.1
		done
		if [ $ok = 0 ]; then
			echo "redis-cluster.sh: node $p did not reach cluster_state:ok" >&2
			stop
			return 1
		fi
	done
	addrs=$(IFS=,; echo "${seeds[*]}")
	echo "$addrs"
}

case $mode in
start) start ;;
stop) stop ;;
*) usage ;;
esac
