#!/usr/bin/env python3
"""Redis CPU per job of the claim and outcome scripts, alone.

usage: bench/script_cost.py [--jobs N] [--batch B] [--lua DIR] [--runs R]
                            [--history N] [--callgrind]

Starts a private redis-server (unix socket, no persistence), loads N no-op
jobs due now with enqueue_batch.lua, claims them B at a time with claim.lua
and completes them B at a time with outcome.lua, as a daemon with B free
slots would. Prints the Redis CPU (INFO cpu, user + sys) per job of each
phase: the scripts' own cost, without deferd, the network or the bench's
polling. --lua compares another tree's scripts (of a checkout whose
outcome.lua takes the same arguments). --history sets results.history
(default 1000, as the daemon's; 0: no finished-job records).

--callgrind runs redis-server under valgrind's callgrind and prints the
instructions Redis executed per job in each phase instead (Ir: the same to
0.1 % from run to run, where CPU time on a shared 2-core VM moves by 10-80 %;
use fewer jobs, it is ~50 times slower). Needs valgrind's callgrind_control.
"""
import argparse
import contextlib
import os
import shutil
import subprocess
import tempfile
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))


def script(luadir, name):
    """The script as deferd sends it: what it uses of lib.lua (that tree's
    tools/lua-lib-for.awk; all of lib.lua in a tree without it), then the
    script."""
    lib_path = os.path.join(luadir, 'lib.lua')
    path = os.path.join(luadir, name + '.lua')
    shaker = os.path.join(luadir, '..', '..', 'tools', 'lua-lib-for.awk')
    if os.path.exists(shaker):
        lib = subprocess.run(['awk', '-f', shaker, lib_path, path],
                             check=True, capture_output=True,
                             text=True).stdout
    else:
        with open(lib_path) as f:
            lib = f.read()
    with open(path) as f:
        return lib + f.read()


def cpu_s(r):
    i = r.info('cpu')
    return i['used_cpu_sys'] + i['used_cpu_user']


class CpuMeter:
    """Redis CPU seconds from INFO cpu (user + sys)."""

    def __init__(self, r):
        self.r = r

    def read(self):
        return cpu_s(self.r)


class IrMeter:
    """Instructions executed by a redis-server running under callgrind,
    read by dumping its counters (callgrind_control -d) into out_dir."""

    def __init__(self, pid, out_dir):
        self.pid, self.out_dir, self.total = pid, out_dir, 0

    def read(self):
        subprocess.run(['callgrind_control', '-d', str(self.pid)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        dumps = [os.path.join(self.out_dir, f)
                 for f in os.listdir(self.out_dir)]
        with open(max(dumps, key=os.path.getmtime)) as f:
            for line in f:
                if line.startswith(('totals:', 'summary:')):
                    self.total += int(line.split()[1])
                    break
        return self.total


# A history record as the daemon writes it for a no-op job.
RECORD = ('{"status":"done","handler":"noop","attempts":1,'
          '"enqueued_ms":1796649213410,"started_ms":1796649213411,'
          '"duration_ms":0,"exit":0,"daemon":"bench-host:12345"}')


def one_run(r, meter, luadir, n, batch, history, ttl=3600000):
    """Load n jobs, claim and complete them (results kept ttl ms, 0: not
    at all); return the meter's (claim, outcome) readings per job."""
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
    c0 = meter.read()
    claimed = []
    while True:
        rep = r.evalsha(claim, 3, delayed, active, dead, p, batch, 30000,
                        os.urandom(8).hex(), 0, batch, 0, 0, 0, 5, '')
        runs = [(e[1], e[2]) for e in rep[5:] if e[0] == b'run']
        for e in rep[5:]:
            if e[0] == b'runs':    # the packed jobs: id, token, body, ...
                runs += [(e[i], e[i + 1]) for i in range(1, len(e), 3)]
        if not runs:
            break
        claimed.append(runs)
    c1 = meter.read()
    for runs in claimed:
        args = [p, ttl, 0, 0, p + 'wake', '', history, 3600000]
        for job_id, token in runs:
            args += ['complete', job_id, token, '', '', '', '1', RECORD]
        r.evalsha(outcome, 3, active, delayed, dead, *args)
    c2 = meter.read()
    done = sum(len(runs) for runs in claimed)
    if done != n or r.zcard(active) != 0:
        raise SystemExit('script_cost: %d of %d jobs completed' % (done, n))
    return (c1 - c0) / n, (c2 - c1) / n


@contextlib.contextmanager
def private_redis(callgrind):
    """A private redis-server on a unix socket in a temp dir (no
    persistence), under callgrind if asked: yields (process, client,
    callgrind output dir); stopped and removed after."""
    tmp = tempfile.mkdtemp(prefix='deferd-script-cost.')
    sock = os.path.join(tmp, 'redis.sock')
    cg = os.path.join(tmp, 'cg')
    cmd = ['redis-server', '--port', '0', '--unixsocket', sock,
           '--save', '', '--appendonly', 'no']
    if callgrind:
        os.mkdir(cg)
        cmd = ['valgrind', '--tool=callgrind', '--callgrind-out-file=' +
               os.path.join(cg, 'out.%p')] + cmd
    srv = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(1500):
            if os.path.exists(sock):
                break
            time.sleep(0.02)
        yield srv, redis.Redis(unix_socket_path=sock), cg
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--jobs', type=int, default=50000)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--lua', default=os.path.join(HERE, '..', 'daemon', 'lua'))
    ap.add_argument('--history', type=int, default=1000)
    ap.add_argument('--callgrind', action='store_true')
    a = ap.parse_args()
    with private_redis(a.callgrind) as (srv, r, cg):
        if a.callgrind:
            meter, unit, scale, fmt = IrMeter(srv.pid, cg), 'Ir', 1, '%.0f'
        else:
            meter, unit, scale, fmt = CpuMeter(r), 'us', 1e6, '%.2f'
        for _ in range(a.runs):
            c, o = one_run(r, meter, a.lua, a.jobs, a.batch, a.history)
            c, o = c * scale, o * scale
            print(('jobs %d, batch %d, history %d: claim {0} %s/job, outcome {0} %s/job, '
                   'total {0} %s/job').format(fmt) %
                  (a.jobs, a.batch, a.history, c, unit, o, unit, c + o, unit))


if __name__ == '__main__':
    main()
