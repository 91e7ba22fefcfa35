#!/bin/sh
# make run: run deferd in the foreground with config/deferd.yaml and the
# example handlers in handlers/. When the configured Redis does not answer,
# a private redis-server (no persistence) is started on that address for
# the session and stopped when deferd exits.
set -u
build=${1:-build}
conf=${DEFERD_CONFIG:-config/deferd.yaml}
url=$(sed -n 's/^[[:space:]]*url:[[:space:]]*"\{0,1\}\([^" #]*\).*/\1/p' "$conf" | head -n 1)
url=${url:-redis://127.0.0.1:6379/0}

# Handlers must not be writable by group or others (umask 002 checkouts).
chmod go-w handlers handlers/* 2>/dev/null

redis_pid=""
cleanup() {
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
	[ -n "${redis_dir:-}" ] && rm -rf "$redis_dir"
}
trap cleanup EXIT INT TERM

case $url in
redis://*)
	hostport=${url#redis://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
	host=${hostport%:*}; port=${hostport##*:}
	[ "$host" = "$hostport" ] && port=6379
	if redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; then
		echo "run: using the Redis at $host:$port"
	else
		redis_dir=$(mktemp -d)
		echo "run: no Redis at $host:$port; starting a private redis-server there (no persistence)"
		setsid redis-server --bind "$host" --port "$port" --save "" --appendonly no \
		    --dir "$redis_dir" --logfile "$redis_dir/redis.log" &
		redis_pid=$!
		i=0
		until redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; do
			i=$((i + 1))
			if [ $i -gt 100 ] || ! kill -0 "$redis_pid" 2>/dev/null; then
				echo "run: redis-server did not start on $host:$port:" >&2
				cat "$redis_dir/redis.log" >&2
				exit 1
			fi
			sleep 0.1
		done
	fi
	;;
*)
	echo "run: using $url"
	;;
esac
echo "run: deferd -c $conf (Ctrl-C to stop). In another terminal:"
echo "    $build/deferctl -c $conf enqueue --in 5s hello 'Hello, world'"
"$build/deferd" -c "$conf"
