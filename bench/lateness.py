#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Read probe files ("DUE_MS START_MS" lines, see probe.c) and print the
lateness figures as KEY=VALUE lines (milliseconds unless named otherwise):

  count       lines read (jobs started)
  missing     --expect minus count (never negative)
  early       starts before their due time (start < due)
  first       lateness of the earliest start: min(start) - min(due)
  p50 p99 max min   lateness (start - due) percentiles (nearest rank)
  span_s      from the earliest due time to the last start, in seconds
  rate        count / span_s: jobs started per second

Lines whose due time is "-" are counted but have no lateness.
Python 3 standard library only."""
import argparse
import math
import sys


def pct(sorted_vals, p):
    """Nearest-rank percentile of a sorted list."""
    if not sorted_vals:
        return float("nan")
    k = max(0, math.ceil(p / 100.0 * len(sorted_vals)) - 1)
    return sorted_vals[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--expect", type=int, default=0)
    ap.add_argument("--prefix", default="", help="prefix for every key")
    a = ap.parse_args()
    late, dues, starts = [], [], []
    count = 0
    for path in a.files:
        try:
            f = open(path)
        except FileNotFoundError:
            continue
        with f:
            for line in f:
                parts = line.split()
                if len(parts) != 2:
                    continue
                count += 1
                start = float(parts[1])
                starts.append(start)
                if parts[0] != "-":
                    due = float(parts[0])
                    dues.append(due)
                    late.append(start - due)
    late.sort()
    out = {"count": count, "missing": max(0, a.expect - count)}
    out["early"] = sum(1 for x in late if x < 0)
    if late:
        out["first"] = min(starts) - min(dues)
        out["p50"] = pct(late, 50)
        out["p99"] = pct(late, 99)
        out["max"] = late[-1]
        out["min"] = late[0]
        span = (max(starts) - min(dues)) / 1000.0
        out["span_s"] = span
        out["rate"] = count / span if span > 0 else float("nan")
    for k, v in out.items():
        if isinstance(v, float):
            v = "%.3f" % v
        print("%s%s=%s" % (a.prefix, k, v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
