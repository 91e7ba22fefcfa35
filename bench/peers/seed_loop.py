#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The seed loop beside deferd (bench/run peers): the classic delay queue
that deferd replaces, with an in-process no-op handler:

    while jobs remain:
        job = ZRANGEBYSCORE key 0 now LIMIT 0 1
        if none: sleep 1 s; continue
        if ZREM key job == 1: handler(job)      # a Python no-op

The COUNT jobs are in --key (gen.py zset form), all due already. Measured
from the first poll to the last job done: jobs/s, Redis CPU per job (INFO
cpu used_cpu_sys + used_cpu_user delta, after CONFIG RESETSTAT, whose INFO
commandstats goes to --cmdstats FILE) and this process's CPU per job.
Prints KEY=VALUE lines (S_...). Needs Debian's python3-redis."""
import argparse
import sys
import time

import redis


def cpu_seconds(r):
    info = r.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def handler(job):
    """The no-op handler: takes the job, does nothing."""
    return job


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True, help="redis unix socket")
    ap.add_argument("--key", default="bench:classic")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--cmdstats", default="")
    a = ap.parse_args()
    r = redis.Redis(unix_socket_path=a.socket)
    left_before = r.zcard(a.key)
    r.config_resetstat()
    r0 = cpu_seconds(r)
    c0 = time.process_time()
    t0 = time.perf_counter()
    deadline = time.monotonic() + a.timeout
    done = 0
    first = None
    while done < a.count and time.monotonic() < deadline:
        now = int(time.time() * 1000)
        jobs = r.zrangebyscore(a.key, 0, now, start=0, num=1)
        if not jobs:
            time.sleep(1)
            continue
        if r.zrem(a.key, jobs[0]) != 1:
            continue            # another worker won it
        handler(jobs[0])
        done += 1
        if first is None:
            first = time.perf_counter()
    t1 = time.perf_counter()
    c1 = time.process_time()
    r1 = cpu_seconds(r)
    if a.cmdstats:
        raw = r.execute_command("INFO", "commandstats")
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        if isinstance(raw, dict):       # parsed by redis-py
            text = "".join("cmdstat_%s:calls=%s,usec=%s\n" % (
                k[len("cmdstat_"):], v["calls"], v["usec"])
                for k, v in raw.items())
        with open(a.cmdstats, "w") as f:
            f.write(text)
    left = r.zcard(a.key)
    secs = t1 - t0
    print("S_waiting_before=%d" % left_before)
    print("S_jobs=%d" % done)
    print("S_done_s=%.3f" % secs)
    print("S_done_jobs_per_s=%.0f" % (done / secs if secs > 0 else 0))
    print("S_first_done_ms=%s" % ("" if first is None else "%.1f" % ((first - t0) * 1000)))
    print("S_redis_cpu_us_per_job=%.1f" % ((r1 - r0) * 1e6 / a.count))
    print("S_client_cpu_us_per_job=%.1f" % ((c1 - c0) * 1e6 / a.count))
    print("S_left=%d" % left)
    print("S_lost=%d" % (left + max(0, a.count - done)))
    return 0 if done == a.count else 1


if __name__ == "__main__":
    sys.exit(main())
