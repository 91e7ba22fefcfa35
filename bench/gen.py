#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write Redis protocol (RESP) for redis-cli --pipe: COUNT jobs due from
START ms, spread evenly over SPREAD ms (0: all at START). Each payload holds
the job's due time in ms (what probe.c records), padded with '.' to
--payload-size bytes. Forms:

  enqueue  EVALSHA of deferd's enqueue_batch script ("at" mode; publishes
           the wake when a job becomes the earliest, and an "enqueued" event
           per job on --events), up to 256 jobs with the same due time and
           resource per call, like deferctl enqueue --batch does
  raw      MULTI / HSET handler payload / ZADD delayed / EXEC: the README's
           plain-Redis form (no wake)
  zset     ZADD KEY DUE "DUE:i": the classic delay queue (baseline_poll.py)

Python 3 standard library only."""
import argparse
import sys


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("form", choices=["enqueue", "raw", "zset"])
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--start", type=int, required=True, help="first due, epoch ms")
    ap.add_argument("--spread", type=int, default=0, help="ms")
    ap.add_argument("--handler", default="probe")
    ap.add_argument("--ns", default="deferd")
    ap.add_argument("--queue", default="default")
    ap.add_argument("--sha", default="", help="enqueue_batch script SHA1")
    ap.add_argument("--events", default="deferd:events",
                    help="events channel ('' for none), as deferctl passes it")
    ap.add_argument("--key", default="bench:classic", help="zset form key")
    ap.add_argument("--id-prefix", default="b")
    ap.add_argument("--resources", type=int, default=0,
                    help="jobs use resources r0..rN-1 in turn (0: none)")
    ap.add_argument("--payload-size", type=int, default=16)
    a = ap.parse_args()
    if a.form == "enqueue" and not a.sha:
        ap.error("enqueue needs --sha")
    P = "%s:{%s}:" % (a.ns, a.queue)
    delayed, wake = P + "delayed", P + "wake"
    w = sys.stdout.buffer
    buf = []
    groups = {}         # enqueue form: (due, resource) -> [id, payload, ...]

    def flush(key):
        due, res = key
        jobs = groups.pop(key)
        buf.append(cmd("EVALSHA", a.sha, 1, delayed, P, a.handler, "at", due,
                       "", res, "", wake, a.events, 0, *jobs))

    for i in range(a.count):
        due = a.start + (i * a.spread // a.count if a.count else 0)
        payload = str(due).ljust(a.payload_size, ".")
        jid = "%s-%07d" % (a.id_prefix, i)
        res = "r%d" % (i % a.resources) if a.resources > 0 else ""
        if a.form == "enqueue":
            g = groups.setdefault((due, res), [])
            g += [jid, payload]
            if len(g) >= 512:
                flush((due, res))
        elif a.form == "raw":
            hset = ["HSET", P + "job:" + jid, "handler", a.handler,
                    "payload", payload]
            if res:
                hset += ["resource", res]
            buf.append(cmd("MULTI") + cmd(*hset) +
                       cmd("ZADD", delayed, due, jid) + cmd("EXEC"))
        else:
            buf.append(cmd("ZADD", a.key, due, "%s:%d" % (payload, i)))
        if len(buf) >= 4096:
            w.write(b"".join(buf))
            buf = []
    for key in list(groups):
        flush(key)
    w.write(b"".join(buf))
    return 0


if __name__ == "__main__":
    sys.exit(main())
