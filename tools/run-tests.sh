#!/usr/bin/env bash
# Run every test binary given, DEFERD_TEST_JOBS at a time (default 2);
# report each and fail if any failed.
#
# Each binary's output goes to BINARY.log beside it and, when the binary
# ends, to the terminal in one piece; the failing assertions are repeated
# at the end, so a log that keeps only its tail still says what failed.
# The closing line is "N passed, N failed" (test binaries, not checks),
# after each binary's wall time in seconds.
#
# The binaries mostly wait on redis-server, deferd and handler processes,
# so two at a time on two cores roughly halve the wall time. Each one that
# runs at once gets its own TCP port range (DEFERD_TEST_PORTS, read by the
# harness's h_free_port), below the kernel's ephemeral ports; everything
# else a test uses is in its own temporary directory.
set -u
jobs=${DEFERD_TEST_JOBS:-2}
case $jobs in ''|*[!0-9]*|0) jobs=1 ;; esac
[ "$jobs" -gt 5 ] && jobs=5
pass=0; fail=0; failed=""; summary=""; times=""
declare -a slot_pid slot_test slot_start

# Start test $1 in slot $2, output to its log.
start_one() {
	local t=$1 s=$2 first=$((10000 + $2 * 3000))
	slot_test[$s]=$t
	slot_start[$s]=$(date +%s)
	DEFERD_TEST_PORTS="$first-$((first + 2999))" "$t" > "$t.log" 2>&1 &
	slot_pid[$s]=$!
}

# Slot $1's test ended with status $2: print its log and count it.
finish_one() {
	local s=$1 rc=$2 t=${slot_test[$1]}
	echo "== $t"
	cat "$t.log"
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
	else
		echo "$t: exit status $rc"
		fail=$((fail + 1)); failed="$failed ${t##*/}"
		summary="$summary$(grep -E ':[EF]:' "$t.log" | tail -n 20)
"
	fi
	times="$times$(($(date +%s) - ${slot_start[$s]}))s ${t##*/}
"
	slot_pid[$s]=""
}

# Wait until a slot is free; finish the tests that ended.
reap() {
	local s rc any=0
	while :; do
		for ((s = 0; s < jobs; s++)); do
			[ -n "${slot_pid[$s]:-}" ] || { any=1; continue; }
			if ! kill -0 "${slot_pid[$s]}" 2>/dev/null; then
				wait "${slot_pid[$s]}"; rc=$?
				finish_one "$s" "$rc"
				any=1
			fi
		done
		[ "$any" -eq 1 ] && return
		wait -n 2>/dev/null || sleep 0.2
	done
}

for t in "$@"; do
	reap
	for ((s = 0; s < jobs; s++)); do
		if [ -z "${slot_pid[$s]:-}" ]; then
			start_one "$t" "$s"
			break
		fi
	done
done
for ((s = 0; s < jobs; s++)); do
	if [ -n "${slot_pid[$s]:-}" ]; then
		wait "${slot_pid[$s]}"; rc=$?
		finish_one "$s" "$rc"
	fi
done
echo
echo "slowest test binaries:"
printf '%s' "$times" | sort -k1 -n -r | head -n 8
if [ -n "$failed" ]; then
	echo "failed:$failed"
	printf '%s' "$summary"
fi
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
