#!/usr/bin/env python3
"""Redis CPU per job of the claim and outcome scripts, alone.

usage: bench/script_cost.py [--jobs N] [--batch B] [--lua DIR] [--runs R]

Starts a private redis-server (unix socket, no persistence), loads N no-op
jobs due now with enqueue_batch.lua, claims them B at a time with claim.lua
and completes them B at a time with outcome.lua, as a daemon with B free
slots would. Prints the Redis CPU (INFO cpu, user + sys) per job of each
phase: the scripts' own cost, without deferd, the network or the bench's
polling. --lua compares another tree's scripts (e.g. an older checkout).
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))


def script(luadir, name):
    """The script as deferd sends it: lib.lua, then the script."""
    with open(os.path.join(luadir, 'lib.lua')) as f:
        lib = f.read()
    with open(os.path.join(luadir, name + '.lua')) as f:
        return lib + '\n' + f.read()


def cpu_s(r):
    i = r.info('cpu')
    return i['used_cpu_sys'] + i['used_cpu_user']


def one_run(r, luadir, n, batch):
    """Load n jobs, claim and complete them; return (claim, outcome) us/job."""
    r.flushall()
    enq = r.script_load(script(luadir, 'enqueue_batch'))
    claim = r.script_load(script(luadir, 'claim'))
    outcome = r.script_load(script(luadir, 'outcome'))
    p = 'bench:{q}:'
    delayed, active, dead = p + 'delayed', p + 'active', p + 'dead'
    for i in range(0, n, 256):
        args = [p, 'noop', 'at', '1000', '', '', '', '', '', '0']
        for k in range(i, min(i + 256, n)):
            args += ['job-%07d' % k, '{"n":12345678}']
        r.evalsha(enq, 1, delayed, *args)
    c0 = cpu_s(r)
    claimed = []
    while True:
        rep = r.evalsha(claim, 3, delayed, active, dead, p, batch, 30000,
                        os.urandom(8).hex(), 0, batch, 0, 0, 0, 5, '')
        runs = [(e[1], e[2]) for e in rep[5:] if e[0] == b'run']
        if not runs:
            break
        claimed.append(runs)
    c1 = cpu_s(r)
    for runs in claimed:
        args = [p, 3600000, 0, 0, p + 'wake', '']
        for job_id, token in runs:
            args += ['complete', job_id, token, '', '', '', '1']
        r.evalsha(outcome, 3, active, delayed, dead, *args)
    c2 = cpu_s(r)
    done = sum(len(runs) for runs in claimed)
    if done != n or r.zcard(active) != 0:
        raise SystemExit('script_cost: %d of %d jobs completed' % (done, n))
    return (c1 - c0) / n * 1e6, (c2 - c1) / n * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--jobs', type=int, default=50000)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--lua', default=os.path.join(HERE, '..', 'daemon', 'lua'))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix='deferd-script-cost.')
    sock = os.path.join(tmp, 'redis.sock')
    srv = subprocess.Popen(['redis-server', '--port', '0', '--unixsocket', sock,
                            '--save', '', '--appendonly', 'no'],
                           stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.02)
        r = redis.Redis(unix_socket_path=sock)
        for _ in range(a.runs):
            c, o = one_run(r, a.lua, a.jobs, a.batch)
            print('jobs %d, batch %d: claim %.2f us/job, outcome %.2f us/job, '
                  'total %.2f us/job' % (a.jobs, a.batch, c, o, c + o))
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
