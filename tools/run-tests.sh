#!/bin/sh
# Run every test binary given; report each and fail if any failed.
# The closing line is "N passed, N failed" (test binaries, not checks).
set -u
pass=0; fail=0; failed=""
for t in "$@"; do
	echo "== $t"
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed ${t##*/}"; fi
done
echo
[ -n "$failed" ] && echo "failed:$failed"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
