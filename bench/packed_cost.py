#!/usr/bin/env python3
"""Instructions per job: the claim and outcome scripts against a packed-job
prototype (bench/proto/), both under callgrind.

usage: bench/packed_cost.py [JOBS [BATCH]]   (default 3000 64)

The prototype is a measurement, not deferd's code: a job is one field of a
per-queue hash (NS:{Q}:packed, ID -> "handler\npayload") instead of a
hash of its own, and the lease token rides in the active member
("ID|token") instead of the job's hash. A second one ("body") keeps the
active member the ID and carries attempts and lease in the job's value
("J1 ATTEMPTS LEASE HANDLER\n\nPAYLOAD"), which the claim rewrites with one
HSET for all its jobs. They do only what the happy path needs (no bad-data checks, caps, reaping or events), so it bounds what
such a key schema could save; bench/FINDINGS.md (slice 13) has the figures.
Like script_cost.py --callgrind: a private redis-server under valgrind's
callgrind, instructions read with callgrind_control; three settings of
results.ttl and results.history. Needs valgrind and python3-redis.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import script_cost as sc  # noqa: E402

PROTO = os.path.join(HERE, 'proto')


def load_proto(name):
    with open(os.path.join(PROTO, name + '.lua')) as f:
        return f.read()

# The prototypes: name -> (script prefix, a job's body in the hash).
PROTOS = {
    'packed': ('packed', 'noop\n{"n":12345678}'),
    'body': ('body', 'J1 0 - noop\n\n{"n":12345678}'),
}


def packed_run(r, meter, n, batch, ttl, hist, proto='packed'):
    """Load n packed jobs, claim and complete them with prototype proto;
    return the meter's (claim, outcome) readings per job."""
    r.flushall()
    prefix, body = PROTOS[proto]
    claim = r.script_load(load_proto(prefix + '_claim'))
    outcome = r.script_load(load_proto(prefix + '_outcome'))
    p = 'bench:{q}:'
    delayed, active = p + 'delayed', p + 'active'
    for i in range(0, n, 256):
        pipe = r.pipeline(transaction=False)
        m = {}
        z = {}
        for k in range(i, min(i + 256, n)):
            m['job-%07d' % k] = body
            z['job-%07d' % k] = 1000
        pipe.hset(p + 'packed', mapping=m)
        pipe.zadd(delayed, z)
        pipe.execute()
    c0 = meter.read()
    claimed = []
    while True:
        rep = r.evalsha(claim, 2, delayed, active, p, batch, 30000, os.urandom(8).hex())
        runs = [(e[0], e[1]) for e in rep[1:]]
        if not runs:
            break
        claimed.append(runs)
    c1 = meter.read()
    for runs in claimed:
        args = [p, ttl, hist]
        for job_id, token in runs:
            args += [job_id, token, '', sc.RECORD]
        out = r.evalsha(outcome, 1, active, *args)
        assert all(x == 1 for x in out), out
    c2 = meter.read()
    assert r.zcard(active) == 0 and r.hlen(p + 'packed') == 0
    return (c1 - c0) / n, (c2 - c1) / n

def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    lua = os.path.join(HERE, '..', 'daemon', 'lua')
    with sc.private_redis(True) as (srv, r, cg):
        meter = sc.IrMeter(srv.pid, cg)
        for ttl, hist in ((3600000, 1000), (3600000, 0), (0, 0)):
            c, o = sc.one_run(r, meter, lua, n, batch, hist, ttl)
            line = 'ttl %d hist %d: today claim %.0f outcome %.0f total %.0f' % (
                ttl, hist, c, o, c + o)
            for proto in PROTOS:
                pc, po = packed_run(r, meter, n, batch, ttl, hist, proto)
                line += ' | %s claim %.0f outcome %.0f total %.0f' % (
                    proto, pc, po, pc + po)
            print(line + ' Ir/job', flush=True)


if __name__ == '__main__':
    main()
