#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The classic delayed-job loop that deferd replaces, as a baseline:

    while True:
        job = ZRANGEBYSCORE key 0 now LIMIT 0 1
        if none: sleep 1 s; continue
        if ZREM key job == 1: run the handler (one at a time)

The score is the due time in ms; the member is the payload, given to the
handler (the same probe.c) on stdin through subprocess, sequentially. Stops
after --count jobs or --timeout seconds, whichever comes first. Needs
Debian's python3-redis."""
import argparse
import os
import subprocess
import sys
import time

import redis


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True, help="redis unix socket")
    ap.add_argument("--key", default="bench:classic")
    ap.add_argument("--handler", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--timeout", type=float, required=True)
    a = ap.parse_args()
    r = redis.Redis(unix_socket_path=a.socket)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "PROBE_OUT": os.environ.get("PROBE_OUT", "")}
    cwd = os.path.dirname(os.path.abspath(a.handler))
    deadline = time.monotonic() + a.timeout
    done = 0
    while done < a.count and time.monotonic() < deadline:
        now = int(time.time() * 1000)
        jobs = r.zrangebyscore(a.key, 0, now, start=0, num=1)
        if not jobs:
            time.sleep(1)
            continue
        if r.zrem(a.key, jobs[0]) != 1:
            continue            # another worker won it
        subprocess.run([a.handler], input=jobs[0], env=env, cwd=cwd,
                       stdout=subprocess.DEVNULL, check=False)
        done += 1
    print("baseline_poll: ran %d job(s)" % done)
    return 0 if done == a.count else 1


if __name__ == "__main__":
    sys.exit(main())
