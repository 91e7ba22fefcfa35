#!/bin/sh
# Run every test binary given; report each and fail if any failed.
# Each binary's output goes to the terminal and to BINARY.log beside it;
# the failing assertions are repeated at the end, so a log that keeps only
# its tail still says what failed. The closing line is "N passed, N failed"
# (test binaries, not checks), after each binary's wall time in seconds.
set -u
pass=0; fail=0; failed=""; summary=""; times=""
for t in "$@"; do
	echo "== $t"
	log="$t.log"
	start=$(date +%s)
	# The exit status of the test, not of tee.
	if { "$t" 2>&1; echo "rc=$?" > "$log.rc"; } | tee "$log" &&
	    [ "$(cat "$log.rc")" = "rc=0" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); failed="$failed ${t##*/}"
		summary="$summary$(grep -E ':[EF]:' "$log" | tail -n 20)
"
	fi
	rm -f "$log.rc"
	times="$times$(($(date +%s) - start))s ${t##*/}
"
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
