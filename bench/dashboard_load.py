#!/usr/bin/env python3
"""Clients polling the dashboard's overview, for workload W of bench/run.

usage: bench/dashboard_load.py --port P [--clients N] [--seconds S]
                               [--interval I] [--path /api/overview]

N threads each GET the path over a new connection every I seconds (0: as
fast as they can) for S seconds, as browsers on the overview page would
(it polls every 5 s; the default, 1 s, is five times that). Prints
KEY=VALUE lines: requests, errors, requests_per_s, p50_ms, p99_ms.
Python 3 standard library only.
"""
import argparse
import socket
import threading
import time


def one(port, path):
    """One GET; its status code (-1 on error)."""
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    try:
        s.sendall(b'GET ' + path.encode() + b' HTTP/1.0\r\n\r\n')
        data = b''
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    try:
        return int(data.split(b' ', 2)[1])
    except (IndexError, ValueError):
        return -1


def client(port, path, until, interval, lat, errors, lock):
    """Poll until the deadline; record each request's time or error."""
    while time.monotonic() < until:
        t0 = time.monotonic()
        try:
            ok = one(port, path) == 200
        except OSError:
            ok = False
        dt = time.monotonic() - t0
        with lock:
            if ok:
                lat.append(dt)
            else:
                errors[0] += 1
        if interval > 0:
            time.sleep(max(0.0, interval - dt))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--clients', type=int, default=200)
    ap.add_argument('--seconds', type=float, default=30)
    ap.add_argument('--interval', type=float, default=1.0)
    ap.add_argument('--path', default='/api/overview')
    a = ap.parse_args()
    lat, errors, lock = [], [0], threading.Lock()
    start = time.monotonic()
    until = start + a.seconds
    threads = [threading.Thread(target=client, args=(a.port, a.path, until,
               a.interval, lat, errors, lock), daemon=True)
               for _ in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    span = time.monotonic() - start
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0

    print('requests=%d' % len(lat))
    print('errors=%d' % errors[0])
    print('requests_per_s=%.1f' % (len(lat) / span))
    print('p50_ms=%.2f' % pct(0.50))
    print('p99_ms=%.2f' % pct(0.99))


if __name__ == '__main__':
    main()
