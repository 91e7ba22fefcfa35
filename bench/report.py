#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build bench/RESULTS.md from bench/results/*.csv (written by bench/run)
and the hand-written bench/FINDINGS.md (profiles, fixes, before/after).

usage: report.py RESULTS_DIR OUT.md            Python 3 standard library only."""
import csv
import os
import sys

TITLES = {
    "R": "R. Redis's own limit (redis-benchmark, unix socket)",
    "A": "A. Burst: jobs due at one instant, handler exits 0 at once",
    "B": "B. Spread: jobs due evenly over 10 s",
    "C": "C. Idle: no jobs",
    "D": "D. Enqueue",
    "E": "E. Scale: 1,000,000 delayed jobs in Redis",
    "F": "F. Expirations: rule keys expiring among 100,000 volatile keys",
    "G": "G. Locks: the burst with every job on one of 100 resources",
    "P": "P. Persistent: jobs due at one instant, no-op persistent handler",
    "S": "S. Schedules: one every-1s schedule for 60 s, by 1 and by 3 daemons",
    "W": "W. The dashboard under load: the spread, alone and with 200 clients polling",
    "peers": "Peers: deferd, BullMQ and the seed loop on one Redis",
}

ORDER = ["R", "A", "P", "B", "C", "D", "E", "F", "G", "S", "W", "peers"]

NOTES = {
    "R": "ZADD and the enqueue script with 8 clients and pipeline 16; the "
         "claim script on an empty queue (the idle poll) the same way, and "
         "claiming 8 due jobs per call from one client (what deferd does "
         "with `concurrency: 8`): Redis's ceiling for deferd's claim path.",
    "A": "`deferd`: jobs loaded with the enqueue_batch script (what "
         "deferctl enqueue --batch runs) via redis-cli --pipe, "
         "all due 2-3 s later; the probe records its own start. "
         "`spawn_limit`: bench/spawn_limit.c runs the same probe the same "
         "way (posix_spawn, new session, stdin pipe) with the same number "
         "in flight, without Redis: the machine's limit; the bench's "
         "progress loop watches both runs alike. `classic`: "
         "bench/baseline_poll.py (ZRANGEBYSCORE LIMIT 0 1 + ZREM, sleep 1 s "
         "when idle, subprocess one at a time) on fewer jobs (its rate does "
         "not depend on the count). Lateness = probe start - due time; "
         "jobs/s = jobs / (last start - due time); done_jobs_per_s = jobs / "
         "(last completion - due time), as in P. redis_cpu_us_per_job: "
         "INFO cpu (used_cpu_sys + used_cpu_user) from the end of loading "
         "to the drain, the bench's wait loops included; redis_*_per_job: "
         "INFO commandstats over the same window.",
    "B": "`deferd` runs at log level info (the target's figure); "
         "`deferd_debug` is a second run at log level debug, and "
         "`deferd_self_report` deferd's own debug log line \"starting Nms "
         "after due\" in that run (ms, taken just before posix_spawn), "
         "beside the probe's figure. `deferd_persistent`: the same spread "
         "for bench/noop_persistent.c as a persistent handler (processes "
         "2 x inflight 32), lateness from its receipt of each line.",
    "C": "`commands_per_s`: top-level commands from deferd (redis-cli "
         "MONITOR, script-internal calls excluded); "
         "`commands_incl_script_per_s`: every command Redis executed "
         "(INFO commandstats delta, our INFO/CONFIG/MONITOR excluded), i.e. "
         "including the calls inside the scripts. CPU = utime+stime from "
         "/proc/PID/stat over the window. `top_*`: calls per command.",
    "D": "`deferctl_one`: one process per job (fork/exec, config, connect, "
         "one script call). `deferctl_batch`: `enqueue --batch` of 100,000 "
         "lines (`_events`: with `events: true`, an \"enqueued\" event per "
         "job). `evalsha_pipe`: the enqueue_batch script, 256 jobs per call, "
         "through redis-cli --pipe. `bytes_per_job`: used_memory delta per "
         "deferctl job (packed: handler, payload, enqueued_ms, due_ms). "
         "`multi_pipe`: the README's "
         "plain MULTI/HSET/ZADD/EXEC form through redis-cli --pipe.",
    "E": "The backlog is packed jobs, the form deferd's scripts write "
         "(handler + 16-byte payload, 28-byte IDs like deferctl's; "
         "docs/keys.md), due over the hour after the first 10 "
         "minutes, loaded with a Lua loop. Then the same burst and spread "
         "as on the empty Redis, run by a fresh deferd.",
    "F": "`redis_alone`: a plain PSUBSCRIBE client, no deferd: when Redis "
         "itself publishes `expired` (lazy or sampled expiry). `deferd`: "
         "expiry time to handler start, when the feature exists.",
    "G": "`locks`: the burst with resource r0..r99; `no_locks`: the same "
         "burst without resources, measured beside it.",
    "P": "bench/noop_persistent.c as a persistent handler (`mode: "
         "persistent`, `concurrency: 8`, which persistent jobs do not "
         "count against): `deferd` with processes 2 x inflight 32 (the "
         "targets' figure), the other columns with the settings named in "
         "them (`p1_i1`: only `mode: persistent` set), each by a fresh "
         "deferd; `two_daemons`: two deferds with the first setting on "
         "the same Redis and queue (CPU figures summed); `no_records`: "
         "the first setting with `results: {ttl: 0, history: 0}`, what "
         "keeping results and finished-job records costs. `done_jobs_per_s`: "
         "jobs / (last completion - due time), the last completion being "
         "the first poll (every 2 ms, one redis-cli EVAL of ZCARD delayed + "
         "ZCARD active) that finds both empty. Lateness: the handler's "
         "receipt of the line minus the due time. CPU per job over the same "
         "window: Redis from INFO cpu (used_cpu_sys + used_cpu_user, the "
         "watcher's polls included; `redis_watch_us_per_job` is their "
         "command time), deferd and its handler processes from "
         "/proc/PID/stat. `redis_calls_per_job`: INFO commandstats, calls "
         "inside scripts included, ours excluded. `lost`: jobs left in "
         "delayed, active or dead plus jobs the handler never received.",
    "S": "`schedules: [{name: beat, every: 1s, handler: probe}]` on 1 "
         "daemon, then on 3 daemons sharing it, each run 60 s. Lateness = "
         "probe start - tick (the tick is in the job ID, cron:beat:TICK_MS). "
         "`ticks`: distinct ticks run; `duplicate_ticks`: ticks run more "
         "than once (must be 0); `missing_ticks`: ticks between the first "
         "and the last that did not run (must be 0).",
    "W": "The spread of B (probe handler, exec mode) by a fresh deferd "
         "with `dashboard.listen` set: `quiet` with nobody asking, "
         "`polled` while bench/dashboard_load.py runs 200 clients that "
         "each GET /api/overview over a new connection once a second; the "
         "`dashboard_*` rows are those requests (p50/p99 of their round "
         "trips). The target: p99 lateness polled at most 2 ms above quiet.",
    "peers": "One run, one private redis-server (unix socket, no "
             "persistence, `maxmemory-policy noeviction`), the systems one "
             "after another with the Redis flushed between them. "
             "`deferd_exec`: workload A's burst (probe handler, exec per "
             "job); `deferd_cN`: workload P's (no-op persistent handler, "
             "processes 2 x inflight N/2, so N jobs in flight), from the due "
             "time to the last completion. `bullmq_cN`: BullMQ "
             "(bench/peers/package.json) with a no-op processor, Worker "
             "concurrency N, the jobs added with addBulk "
             "(removeOnComplete/removeOnFail) before the worker starts, "
             "measured from the worker's creation to the last \"completed\" "
             "event (bench/peers/bullmq_bench.js). `seed_loop`: "
             "ZRANGEBYSCORE LIMIT 0 1 + ZREM per job with an in-process no-op "
             "handler (bench/peers/seed_loop.py, redis-py), from its first "
             "poll to its last job. Redis CPU: INFO cpu delta over each "
             "window; `client_cpu_us_per_job`: deferd (not its handlers), "
             "node or python. Ratios: jobs/s over the best BullMQ jobs/s, "
             "Redis CPU per job over the lowest BullMQ one; `best`: each "
             "system at its best concurrency of the sweep. The sweep is "
             "drawn in bench/results/peers.svg.",
}


def load(results):
    rows, machine = {}, {}
    for name in sorted(os.listdir(results)):
        path = os.path.join(results, name)
        if not name.endswith(".csv") or not os.path.isfile(path):
            continue
        with open(path, newline="") as f:
            r = list(csv.reader(f))
        if name == "machine.csv":
            machine = {k: v for k, v in r[1:]}
            continue
        for w, variant, metric, value, unit in r[1:]:
            rows.setdefault(w, []).append((variant, metric, value, unit))
    return rows, machine


def get(rows, w, variant, metric):
    for v, m, val, _ in rows.get(w, []):
        if v == variant and m == metric:
            try:
                return float(val)
            except ValueError:
                return None
    return None


def fmt(x):
    if x is None:
        return "–"
    if abs(x) >= 100 or x == int(x):
        return "{:,.0f}".format(x)
    return "{:.2f}".format(x)


def targets(rows):
    """(target, measured text, pass/miss/–) for every target."""
    out = []

    def add(name, ok, text):
        out.append((name, text, "–" if ok is None else ("pass" if ok else "**miss**")))

    d, s = get(rows, "A", "deferd", "jobs_per_s"), get(rows, "A", "spawn_limit", "jobs_per_s")
    ok = None if d is None or not s else d >= 0.8 * s
    add("A: burst ≥ 80% of the spawn limit", ok,
        "%s of %s jobs/s = %s%%" % (fmt(d), fmt(s), fmt(100 * d / s) if d and s else "–"))
    f = get(rows, "A", "deferd", "first_start_late")
    add("A: first job within 5 ms of due", None if f is None else f <= 5, "%s ms" % fmt(f))
    p, e = get(rows, "B", "deferd", "late_p99"), get(rows, "B", "deferd", "early")
    add("B: p99 lateness ≤ 5 ms", None if p is None else p <= 5, "%s ms" % fmt(p))
    add("B: zero jobs started early", None if e is None else e == 0, "%s" % fmt(e))
    p = get(rows, "B", "deferd_persistent", "late_p99")
    if p is not None:
        e = get(rows, "B", "deferd_persistent", "early")
        add("B: persistent handler p99 ≤ 5 ms, none early", p <= 5 and not e,
            "%s ms, %s early" % (fmt(p), fmt(e)))
    c = get(rows, "C", "deferd", "commands_per_s")
    ci = get(rows, "C", "deferd", "commands_incl_script_per_s")
    add("C: ≤ 1 Redis command/s per queue, idle", None if c is None else c <= 1.0,
        "%s/s (%s/s counting calls inside scripts)" % (fmt(c), fmt(ci)))
    u = get(rows, "C", "deferd", "cpu_pct")
    add("C: CPU ≤ 0.1% of a core, idle", None if u is None else u <= 0.1, "%s%%" % fmt(u))
    b = get(rows, "D", "deferctl_batch", "jobs_per_s")
    add("D: deferctl --batch ≥ 50,000 jobs/s", None if b is None else b >= 50000, "%s jobs/s" % fmt(b))
    r1, r0 = get(rows, "E", "backlog", "rss_peak_kb"), get(rows, "E", "empty", "rss_peak_kb")
    ok = None if r1 is None or r0 is None else (r1 < 10240 and r0 < 10240)
    add("E: deferd RSS < 10 MB, independent of backlog", ok,
        "peak %s kB with the backlog, %s kB without" % (fmt(r1), fmt(r0)))
    m = get(rows, "E", "backlog", "redis_bytes_per_job")
    add("E: Redis ≤ 250 bytes per delayed job (16-byte payload)", None if m is None else m <= 250,
        "%s bytes" % fmt(m))
    for kind, metric, label in (("burst", "jobs_per_s", "burst jobs/s"),
                                ("burst", "first_start_late", "burst first start"),
                                ("spread", "late_p99", "spread p99")):
        big = get(rows, "E", "backlog_" + kind, metric)
        small = get(rows, "E", "empty_" + kind, metric)
        if big is None or small is None:
            add("E: %s within 10%% of the empty Redis" % label, None, "–")
            continue
        if metric == "jobs_per_s":
            ok = big >= 0.9 * small
        else:   # lateness: 10%, or 1 ms for figures of a few ms
            ok = big <= max(1.1 * small, small + 1.0)
        add("E: %s within 10%% of the empty Redis" % label, ok,
            "%s vs %s" % (fmt(big), fmt(small)))
    if get(rows, "F", "deferd", "skipped"):
        add("F: expiry to handler p99 ≤ 10 ms, 100% within 1 s", None, "skipped: not available")
    else:
        p = get(rows, "F", "deferd", "late_p99")
        w, n = get(rows, "F", "deferd", "within_1s"), get(rows, "F", "deferd", "jobs")
        ok = None if p is None else (p <= 10 and w is not None and n and w >= n)
        add("F: expiry to handler p99 ≤ 10 ms, 100% within 1 s", ok,
            "p99 %s ms, %s of %s within 1 s" % (fmt(p), fmt(w), fmt(n)))
    if get(rows, "G", "deferd", "skipped"):
        add("G: locks ≥ 70% of the burst without", None, "skipped: not available")
    else:
        l, n = get(rows, "G", "locks", "jobs_per_s"), get(rows, "G", "no_locks", "jobs_per_s")
        ok = None if l is None or not n else l >= 0.7 * n
        add("G: locks ≥ 70% of the burst without", ok,
            "%s vs %s jobs/s = %s%%" % (fmt(l), fmt(n), fmt(100 * l / n) if l and n else "–"))
    if get(rows, "P", "deferd", "skipped"):
        add("P: persistent burst (targets below)", None, "skipped: not available")
    else:
        r = get(rows, "P", "deferd", "done_jobs_per_s")
        add("P: persistent burst ≥ 100,000 jobs/s", None if r is None else r >= 100000,
            "%s jobs/s" % fmt(r))
        f = get(rows, "P", "deferd", "first_start_late")
        add("P: first job within 5 ms of due", None if f is None else f <= 5, "%s ms" % fmt(f))
        c = get(rows, "P", "deferd", "redis_cpu_us_per_job")
        add("P: Redis CPU ≤ 8 µs per job", None if c is None else c <= 8, "%s µs" % fmt(c))
        c = get(rows, "P", "deferd", "deferd_cpu_us_per_job")
        add("P: deferd CPU ≤ 8 µs per job", None if c is None else c <= 8, "%s µs" % fmt(c))
        d1 = get(rows, "P", "p1_i1", "done_jobs_per_s")
        if d1 is not None and r:
            add("P: only `mode: persistent` (1 x 1) within 20% of the best", d1 >= 0.8 * r,
                "%s of %s jobs/s = %s%%" % (fmt(d1), fmt(r), fmt(100 * d1 / r)))
        r2 = get(rows, "P", "two_daemons", "done_jobs_per_s")
        c1 = get(rows, "P", "deferd", "redis_cpu_us_per_job")
        c2 = get(rows, "P", "two_daemons", "redis_cpu_us_per_job")
        if r2 is not None and r and c1 and c2:
            add("P: two daemons ≥ 1.6x one, Redis µs/job unchanged (≤ +10%)",
                r2 >= 1.6 * r and c2 <= 1.1 * c1,
                "%s vs %s jobs/s = %sx; Redis %s vs %s µs/job" % (
                    fmt(r2), fmt(r), fmt(r2 / r), fmt(c2), fmt(c1)))
        e, lost = get(rows, "P", "deferd", "early"), get(rows, "P", "deferd", "lost")
        ok = None if e is None or lost is None else (e == 0 and lost == 0)
        add("P: no early start, no lost job", ok, "%s early, %s lost" % (fmt(e), fmt(lost)))
    q, p = get(rows, "W", "quiet", "late_p99"), get(rows, "W", "polled", "late_p99")
    if q is not None and p is not None:
        add("W: 200 clients polling the dashboard raise spread p99 by ≤ 2 ms", p <= q + 2,
            "%s vs %s ms (%s dashboard requests/s, %s errors)" % (
                fmt(p), fmt(q), fmt(get(rows, "W", "polled", "dashboard_requests_per_s")),
                fmt(get(rows, "W", "polled", "dashboard_errors"))))
    d, b = get(rows, "peers", "best", "deferd_jobs_per_s"), get(rows, "peers", "best", "bullmq_jobs_per_s")
    if d is not None and b:
        add("peers: deferd at its best ≥ 4x BullMQ at its best", d >= 4 * b,
            "%s vs %s jobs/s = %sx (concurrency %s vs %s)" % (
                fmt(d), fmt(b), fmt(d / b), fmt(get(rows, "peers", "best", "deferd_concurrency")),
                fmt(get(rows, "peers", "best", "bullmq_concurrency"))))
    return out


def table(rows, w):
    variants, metrics, cell, units = [], [], {}, {}
    for v, m, val, unit in rows[w]:
        if v == "all":
            continue
        if v not in variants:
            variants.append(v)
        if m not in metrics:
            metrics.append(m)
        cell[(v, m)] = val
        units[m] = unit
    lines = ["| metric | unit | " + " | ".join("`%s`" % v for v in variants) + " |",
             "|---|---|" + "---:|" * len(variants)]
    for m in metrics:
        vals = []
        for v in variants:
            x = cell.get((v, m), "")
            try:
                x = fmt(float(x))
            except ValueError:
                pass
            vals.append(x)
        lines.append("| %s | %s | %s |" % (m, units[m], " | ".join(vals)))
    return lines


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    results, out = sys.argv[1], sys.argv[2]
    rows, mc = load(results)
    L = ["# deferd benchmark results", "",
         "Generated by `make bench` (bench/run-all; one workload: `bench/run A`) "
         "from bench/results/*.csv; the analysis at the end is "
         "bench/FINDINGS.md. Every figure comes from one run on one machine, "
         "beside the baselines measured in the same run.", "",
         "| machine | |", "|---|---|"]
    for k, label in (("nproc", "CPUs (nproc)"), ("cpu", "CPU model"), ("ram_mib", "RAM (MiB)"),
                     ("kernel", "kernel"), ("deferd", "deferd"), ("source", "deferd source"), ("redis_server", "redis-server"),
                     ("hiredis", "hiredis"), ("libevent", "libevent"),
                     ("python3_redis", "python3-redis (baseline)"),
                     ("concurrency", "deferd concurrency"), ("events", "deferd events (lifecycle)"), ("poll_interval", "poll_interval"),
                     ("lease", "lease"), ("date", "date of the last run")):
        L.append("| %s | %s |" % (label, mc.get(k, "?")))
    L += ["", "Redis: private redis-server on a unix socket, no persistence "
          "(`--save '' --appendonly no`). Handler: bench/probe.c, which records "
          "its own start time (CLOCK_REALTIME) and the due time carried in "
          "its payload; lateness is computed from those lines only "
          "(bench/lateness.py), never from deferd's figures.", "",
          "## Targets", "", "| target | measured | |", "|---|---|---|"]
    for name, text, st in targets(rows):
        L.append("| %s | %s | %s |" % (name, text, st))
    for w in ORDER:
        if w not in rows:
            continue
        date = next((val for v, m, val, _ in rows[w] if v == "all" and m == "date"), "?")
        L += ["", "## " + TITLES[w], "", NOTES[w] + " (run %s)" % date, ""]
        L += table(rows, w)
    findings = os.path.join(os.path.dirname(os.path.abspath(out)), "FINDINGS.md")
    if os.path.exists(findings):
        with open(findings) as f:
            L += ["", f.read().rstrip()]
    with open(out, "w") as f:
        f.write("\n".join(L) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
