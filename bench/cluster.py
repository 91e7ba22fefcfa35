#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Workload K (issue "Outgrow one Redis"): the same burst on one Redis and
on a three-master Redis Cluster, side by side in one run.

Three queues whose slots fall on the three masters; N jobs due at one
instant, split over them, for the no-op persistent handler
(bench/noop_persistent.c); DAEMONS deferd processes that each claim all
three queues, first on one redis-server, then with redis.cluster. Reports
jobs/s from the due time to the last queue drained, and the Redis CPU per
job (in total and per shard), from /proc. Everything it starts runs on
loopback ports in a temp dir and is stopped by PID at the end.

  bench/cluster.py [--jobs N] [--daemons D] [--build DIR] [--csv FILE]

Needs redis-server, redis-cli, cc and redis-py (python3-redis)."""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
HZ = os.sysconf("SC_CLK_TCK")


def raw(r, *args):
    """A command's reply as Redis sent it (redis-py reshapes CLUSTER replies)."""
    c = r.connection_pool.get_connection(args[0])
    try:
        c.send_command(*args)
        return c.read_response()
    finally:
        r.connection_pool.release(c)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def children_cpu_s(pid):
    """CPU of pid's direct children (the persistent handlers)."""
    total = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                total += (int(fields[11]) + int(fields[12])) / HZ
        except OSError:
            pass
    return total


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="deferd-bench-k.")
        self.procs = []
        self.rows = []

    def spawn(self, argv, log, env=None):
        p = subprocess.Popen(argv, stdout=open(log, "ab"),
                             stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    def redis(self, name, extra):
        port = free_port()
        d = os.path.join(self.tmp, name)
        os.mkdir(d)
        p = self.spawn(["redis-server", "--port", str(port), "--bind",
                        "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--dir", d, "--maxmemory-policy", "noeviction"] + extra,
                       os.path.join(d, "redis.log"))
        r = redis.Redis(port=port)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        return port, p, r

    def cluster(self):
        nodes = []
        for i in range(3):
            nodes.append(self.redis("node%d" % i, [
                "--cluster-enabled", "yes", "--cluster-port", str(free_port()),
                "--cluster-node-timeout", "5000"]))
        subprocess.run(["redis-cli", "--cluster", "create"] +
                       ["127.0.0.1:%d" % n[0] for n in nodes] +
                       ["--cluster-yes"], check=True, capture_output=True)
        for _ in range(600):
            if all(b"cluster_state:ok" in raw(n[2], "CLUSTER", "INFO")
                   for n in nodes):
                return nodes
            time.sleep(0.05)
        sys.exit("bench: the cluster did not come up")

    def queues_on(self, nodes):
        """One queue name per master: qN whose slot that master holds."""
        slots = raw(nodes[0][2], "CLUSTER", "SLOTS")
        owner = {}
        for e in slots:
            for s in range(e[0], e[1] + 1):
                owner[s] = int(e[2][1])
        picked = {}
        for i in range(1000):
            q = "q%d" % i
            port = owner[raw(nodes[0][2], "CLUSTER", "KEYSLOT", "{%s}" % q)]
            picked.setdefault(port, q)
            if len(picked) == len(nodes):
                return picked
        sys.exit("bench: no queue for every master")

    def config(self, path, redis_yaml, queues):
        with open(path, "w") as f:
            f.write("redis: %s\nqueues: [%s]\nconcurrency: 64\n"
                    "handlers:\n  dir: %s\n"
                    "  overrides: {noop: {mode: persistent, processes: 2, "
                    "inflight: 32}}\nevents: false\n"
                    % (redis_yaml, ", ".join(queues), self.hdir))

    def load(self, r, queue, n, due, prefix):
        sha = r.script_load(open(os.path.join(self.tmp, "enqueue.lua")).read())
        resp = subprocess.run([sys.executable, os.path.join(HERE, "gen.py"),
                               "enqueue", "--count", str(n), "--start", str(due),
                               "--sha", sha, "--events", "", "--queue", queue,
                               "--handler", "noop", "--id-prefix", prefix],
                              check=True, capture_output=True).stdout
        out = subprocess.run(["redis-cli", "-p", str(r.connection_pool.connection_kwargs["port"]),
                              "--pipe"], input=resp, check=True,
                             capture_output=True).stdout
        if b"errors: 0," not in out:
            sys.exit("bench: loading failed: %r" % out)

    def left(self, where):
        return sum(r.zcard("deferd:{%s}:delayed" % q) + r.zcard("deferd:{%s}:active" % q)
                   for r, q in where)

    def run(self, variant, redis_yaml, servers, where):
        """servers: [(name, pid)]; where: [(client, queue)] per queue."""
        cfg = os.path.join(self.tmp, variant + ".yaml")
        self.config(cfg, redis_yaml, [q for _, q in where])
        daemons = []
        for i in range(self.a.daemons):
            log = os.path.join(self.tmp, "%s-deferd-%d.log" % (variant, i))
            daemons.append(self.spawn([os.path.join(self.a.build, "deferd"), "-c", cfg], log))
            for _ in range(200):
                if b"ready:" in open(log, "rb").read():
                    break
                time.sleep(0.05)
            else:
                sys.exit("bench: deferd did not start: %s" % log)
        n = self.a.jobs
        due = int(time.time() * 1000) + 2000 + n // 20
        for k, (r, q) in enumerate(where):
            self.load(r, q, n // len(where) + (1 if k < n % len(where) else 0), due,
                      "%s%d" % (variant, k))
        time.sleep(max(0, due / 1000 - time.time() - 0.05))
        r0 = {name: cpu_s(pid) for name, pid in servers}
        d0 = sum(cpu_s(p.pid) + children_cpu_s(p.pid) for p in daemons)
        limit = time.time() + n / 500 + 120
        while self.left(where) > 0:
            if time.time() > limit:
                sys.exit("bench: %s did not drain" % variant)
            time.sleep(0.002)
        t = time.time() * 1000 - due
        r1 = {name: cpu_s(pid) for name, pid in servers}
        d1 = sum(cpu_s(p.pid) + children_cpu_s(p.pid) for p in daemons)
        rate = n * 1000 / t
        total = sum(r1[s] - r0[s] for s in r0) * 1e6 / n
        self.row(variant, "jobs", n, "jobs")
        self.row(variant, "jobs_per_s", "%.0f" % rate, "jobs/s")
        self.row(variant, "redis_cpu_us_per_job", "%.1f" % total, "us")
        for s in r0:
            self.row(variant, "redis_cpu_us_per_job_%s" % s,
                     "%.1f" % ((r1[s] - r0[s]) * 1e6 / n), "us")
        self.row(variant, "deferd_and_handlers_cpu_us_per_job",
                 "%.1f" % ((d1 - d0) * 1e6 / n), "us")
        print("K %s: %.0f jobs/s; Redis CPU %.1f us/job (%s); deferd+handlers %.1f us/job"
              % (variant, rate, total, ", ".join("%s %.1f" % (s, (r1[s] - r0[s]) * 1e6 / n)
                                                   for s in r0), (d1 - d0) * 1e6 / n),
              flush=True)
        for p in daemons:
            p.send_signal(signal.SIGTERM)
        for p in daemons:
            p.wait(30)
        return rate

    def row(self, variant, metric, value, unit):
        self.rows.append("K,%s,%s,%s,%s" % (variant, metric, value, unit))

    def main(self):
        a = self.a
        self.hdir = os.path.join(self.tmp, "handlers")
        os.mkdir(self.hdir)
        subprocess.run(["cc", "-std=c11", "-O2", "-o", os.path.join(self.hdir, "noop"),
                        os.path.join(HERE, "noop_persistent.c")], check=True)
        root = os.path.dirname(HERE)
        with open(os.path.join(self.tmp, "enqueue.lua"), "w") as f:
            for part in ("lib.lua", "enqueue_batch.lua"):
                f.write(open(os.path.join(root, "daemon", "lua", part)).read())
        self.row("all", "loadavg_1min_before", open("/proc/loadavg").read().split()[0], "")
        nodes = self.cluster()
        picked = self.queues_on(nodes)
        queues = [picked[n[0]] for n in nodes]
        port, single, sr = self.redis("single", [])
        one = self.run("one_redis", "{url: \"redis://127.0.0.1:%d\"}" % port,
                       [("single", single.pid)], [(sr, q) for q in queues])
        three = self.run("cluster3", "{cluster: {nodes: [\"127.0.0.1:%d\"]}}" % nodes[0][0],
                         [("node%d" % i, n[1].pid) for i, n in enumerate(nodes)],
                         [(n[2], picked[n[0]]) for n in nodes])
        self.row("all", "cluster_over_one_redis", "%.2f" % (three / one), "x")
        self.row("all", "cores", os.cpu_count(), "")
        self.row("all", "loadavg_1min_after", open("/proc/loadavg").read().split()[0], "")
        print("K: cluster/one Redis = %.2fx on %d cores" % (three / one, os.cpu_count()))
        if a.csv:
            with open(a.csv, "w") as f:
                f.write("workload,variant,metric,value,unit\n" + "\n".join(self.rows) + "\n")

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=30000)
    ap.add_argument("--daemons", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build"))
    ap.add_argument("--csv", default="")
    b = Bench(ap.parse_args())
    try:
        b.main()
    finally:
        b.stop()


if __name__ == "__main__":
    main()
