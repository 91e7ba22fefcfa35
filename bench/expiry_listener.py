#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A plain PSUBSCRIBE client: records when Redis publishes the `expired`
keyevent of each key containing --match, as probe.c lines "DUE_MS ARRIVAL_MS"
on stdout, where DUE_MS is the first run of 13+ digits in the key name (the
bench names keys bench:exp:EXPIRY_MS:i). Stops after --count events or
--timeout seconds. Speaks RESP over the unix socket itself: Python 3
standard library only."""
import argparse
import re
import socket
import sys
import time


def read_reply(f):
    """One RESP reply from the buffered socket file."""
    line = f.readline()
    if not line:
        raise EOFError
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b"-"):
        return rest
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if t == b"*":
        return [read_reply(f) for _ in range(int(rest))]
    raise ValueError("bad RESP: %r" % line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--timeout", type=float, required=True)
    ap.add_argument("--match", default="")
    a = ap.parse_args()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(a.socket)
    pat = b"__keyevent@*__:expired"
    s.sendall(b"*2\r\n$10\r\nPSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(pat), pat))
    f = s.makefile("rb")
    deadline = time.monotonic() + a.timeout
    digits = re.compile(rb"\d{13,19}")
    got = 0
    out = sys.stdout
    while got < a.count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            msg = read_reply(f)
        except (socket.timeout, TimeoutError, EOFError):
            break
        now = time.time() * 1000.0
        if not isinstance(msg, list) or len(msg) != 4 or msg[0] != b"pmessage":
            continue
        key = msg[3]
        if a.match.encode() not in key:
            continue
        m = digits.search(key)
        out.write("%s %.3f\n" % (m.group().decode() if m else "-", now))
        got += 1
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
