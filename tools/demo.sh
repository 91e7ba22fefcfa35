#!/bin/sh
# make demo: order timeouts end to end. Starts a private redis-server and
# deferd with config/demo.yaml, places two orders that reserve stock and
# set order:timeout:ID with a 3 s TTL, pays one, lets the other time out,
# and prints the orders and the stock before and after.
set -u
build=${1:-build}
dir=$(mktemp -d)
sock=$dir/redis.sock
redis_pid=""; deferd_pid=""
cleanup() {
	[ -n "$deferd_pid" ] && kill "$deferd_pid" 2>/dev/null && wait "$deferd_pid" 2>/dev/null
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
chmod go-w handlers handlers/* 2>/dev/null

r() { redis-cli -s "$sock" "$@"; }
show() {
	echo "== $1"
	for id in 1001 1002; do
		printf '  order %s: status=%s items=%s timeout_ttl=%sms\n' "$id" \
		    "$(r HGET order:$id status)" \
		    "$(r HGETALL order:$id:items | paste -sd' ' -)" \
		    "$(r PTTL order:timeout:$id)"
	done
	printf '  stock: %s\n' "$(r HGETALL stock | paste -sd' ' -)"
}

redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --save "" \
    --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
redis_pid=$!
i=0
until r PING >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "demo: redis-server did not start" >&2; exit 1; }
	sleep 0.1
done
sed "s|@DIR@|$dir|g" config/demo.yaml > "$dir/demo.yaml"
sed -i "s|dir: ../handlers|dir: $(pwd)/handlers|" "$dir/demo.yaml"
"$build/deferd" -c "$dir/demo.yaml" 2> "$dir/deferd.log" &
deferd_pid=$!
i=0
until grep -q "notify-keyspace-events set\|ready" "$dir/deferd.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "demo: deferd did not start:" >&2; cat "$dir/deferd.log" >&2; exit 1; }
	sleep 0.1
done
sleep 0.3

r HSET stock widget 10 gadget 5 >/dev/null
echo "== before: stock $(r HGETALL stock | paste -sd' ' -), no orders"
for id in 1001 1002; do
	r HSET order:$id status pending >/dev/null
	r HSET order:$id:items widget 2 gadget 1 >/dev/null
	r HINCRBY stock widget -2 >/dev/null
	r HINCRBY stock gadget -1 >/dev/null
	r SET order:timeout:$id 1 EX 3 >/dev/null
done
show "two orders placed, stock reserved, 3 s to pay"
r DEL order:timeout:1001 >/dev/null
r HSET order:1001 status paid >/dev/null
echo "== order 1001 paid (its timeout key deleted); waiting for 1002 to time out"
i=0
until [ "$(r HGET order:1002 stock_released)" = 1 ]; do
	i=$((i + 1))
	[ $i -gt 150 ] && { echo "demo: order 1002 was not cancelled:" >&2; cat "$dir/deferd.log" >&2; exit 1; }
	sleep 0.1
done
show "after the timeout"
echo "== deferd's log"
grep -E "expired|cancel-order|release-stock" "$dir/deferd.log" | sed 's/^/  /'
