/* SPDX-License-Identifier: MIT */
/* Unit tests: the configuration loader (config.c) and Redis URLs (redisurl.c). */
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"
#include "redisurl.h"

#define SEC	1000LL
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)
#define MIB	(1024ULL * 1024)

/* A config text that must be refused with exactly this message. */
struct bad {
	const char	*text;
	const char	*msg;
};

static const struct bad bad_configs[] = {
	/* Unknown keys, with and without a suggestion. */
	{ "concurency: 4\n",
	  "t.yaml:1:1: unknown key 'concurency'; did you mean 'concurrency'?" },
	{ "Concurrency: 4\n",
	  "t.yaml:1:1: unknown key 'Concurrency'; did you mean 'concurrency'?" },
	{ "handlers:\n  timout: 1s\n",
	  "t.yaml:2:3: unknown key 'handlers.timout'; did you mean 'handlers.timeout'?" },
	{ "handlers:\n  foo: 1\n",
	  "t.yaml:2:3: unknown key 'handlers.foo'" },
	{ "handlers:\n  overrides:\n    x: {timout: 1s}\n",
	  "t.yaml:3:9: unknown key 'handlers.overrides.x.timout'; "
	  "did you mean 'handlers.overrides.x.timeout'?" },
	{ "sources:\n  - {list: q, hander: h}\n",
	  "t.yaml:2:15: unknown key 'sources[0].hander'; did you mean 'sources[0].handler'?" },
	/* One wrong type for each kind of value. */
	{ "handlers: {timeout: 10 seconds}\n",
	  "t.yaml:1:21: handlers.timeout: expected a duration like 500ms, 30s, 5m, "
	  "1h or 30d, got '10 seconds'" },
	{ "handlers: {max_output: big}\n",
	  "t.yaml:1:24: handlers.max_output: expected a size like 512KiB or 1MiB, "
	  "got 'big'" },
	{ "concurrency: many\n",
	  "t.yaml:1:14: concurrency: expected an integer, got 'many'" },
	{ "concurrency: 0x10\n",
	  "t.yaml:1:14: concurrency: expected an integer, got '0x10'" },
	{ "concurrency:\n",
	  "t.yaml:1:13: concurrency: expected an integer, got nothing" },
	{ "concurrency: [1]\n",
	  "t.yaml:1:14: concurrency: expected an integer, got a list" },
	{ "redis: {allow_eviction: maybe}\n",
	  "t.yaml:1:25: redis.allow_eviction: expected true or false, got 'maybe'" },
	{ "events: True\n",
	  "t.yaml:1:9: events: expected true or false, got 'True'" },
	{ "locks: {on_conflict: later}\n",
	  "t.yaml:1:22: locks.on_conflict: expected requeue, wait or fail, got 'later'" },
	{ "log: {level: verbose}\n",
	  "t.yaml:1:14: log.level: expected debug, info, warning or error, got 'verbose'" },
	{ "log: {format: xml}\n",
	  "t.yaml:1:15: log.format: expected text or json, got 'xml'" },
	{ "queues: default\n",
	  "t.yaml:1:9: queues: expected a list of queues, got 'default'" },
	{ "retry: 5\n",
	  "t.yaml:1:8: retry: expected a mapping, got '5'" },
	{ "handlers:\n  environment: [A]\n",
	  "t.yaml:2:16: handlers.environment: expected a mapping of variable names "
	  "to strings, got a list" },
	{ "handlers:\n  environment: {A: {b: c}}\n",
	  "t.yaml:2:20: handlers.environment.A: expected a string, got a mapping" },
	{ "sources: {zset: a}\n",
	  "t.yaml:1:10: sources: expected a list of sources, got a mapping" },
	{ "expirations: {rules: [x]}\n",
	  "t.yaml:1:23: expirations.rules[0]: expected a mapping, got 'x'" },
	{ "redis: {url: [a]}\n",
	  "t.yaml:1:14: redis.url: expected a string, got a list" },
	/* Out of range. */
	{ "concurrency: 0\n",
	  "t.yaml:1:14: concurrency: must be between 1 and 10000, got 0" },
	{ "concurrency: 99999999999999999999\n",
	  "t.yaml:1:14: concurrency: must be between 1 and 10000, got 99999999999999999999" },
	{ "lease: 500ms\n",
	  "t.yaml:1:8: lease: must be between 1s and 1d, got 500ms" },
	{ "lease: 1000000000000000ms\n",
	  "t.yaml:1:8: lease: must be between 1s and 1d, got 1000000000000000ms" },
	{ "redis: {connect_timeout: 2h}\n",
	  "t.yaml:1:26: redis.connect_timeout: must be between 1ms and 1h, got 2h" },
	{ "retry: {backoff: 31d, backoff_max: 31d}\n",
	  "t.yaml:1:18: retry.backoff: must be at most 30d, got 31d" },
	{ "results: {ttl: 3651d}\n",
	  "t.yaml:1:16: results.ttl: must be at most 3650d, got 3651d" },
	{ "dead: {ttl: 99999999d}\n",
	  "t.yaml:1:13: dead.ttl: must be at most 3650d, got 99999999d" },
	{ "locks: {lease: 2d}\n",
	  "t.yaml:1:16: locks.lease: must be between 1s and 1d, got 2d" },
	{ "handlers: {kill_grace: 2h}\n",
	  "t.yaml:1:24: handlers.kill_grace: must be at most 1h, got 2h" },
	{ "handlers: {overrides: {x: {timeout: 31d}}}\n",
	  "t.yaml:1:37: handlers.overrides.x.timeout: must be between 1ms and 30d, got 31d" },
	{ "handlers: {overrides: {x: {rate: fast}}}\n",
	  "t.yaml:1:34: handlers.overrides.x.rate: expected a rate like 100/s, 30/m or "
	  "500/h, got 'fast'" },
	{ "handlers: {overrides: {x: {rate: 0/s}}}\n",
	  "t.yaml:1:34: handlers.overrides.x.rate: expected a rate like 100/s, 30/m or "
	  "500/h, got '0/s'" },
	{ "shutdown_timeout: 2d\n",
	  "t.yaml:1:19: shutdown_timeout: must be at most 1d, got 2d" },
	{ "poll_interval: 5ms\n",
	  "t.yaml:1:16: poll_interval: must be between 10ms and 1h, got 5ms" },
	{ "poll_interval: 2h\n",
	  "t.yaml:1:16: poll_interval: must be between 10ms and 1h, got 2h" },
	{ "retry: {max_attempts: 0}\n",
	  "t.yaml:1:23: retry.max_attempts: must be between 1 and 1000, got 0" },
	{ "handlers: {timeout: 0}\n",
	  "t.yaml:1:21: handlers.timeout: must be between 1ms and 30d, got 0" },
	{ "handlers: {max_output: 1GiB}\n",
	  "t.yaml:1:24: handlers.max_output: must be at most 512MiB, got 1GiB" },
	{ "results: {ttl: 99999999999999999d}\n",
	  "t.yaml:1:16: results.ttl: '99999999999999999d' is too long" },
	{ "retry: {backoff: 20m, backoff_max: 10m}\n",
	  "t.yaml:1:18: retry.backoff (20m) must not be greater than retry.backoff_max (10m)" },
	{ "retry:\n  backoff_max: 500ms\n",
	  "t.yaml:2:16: retry.backoff (1s) must not be greater than retry.backoff_max (500ms)" },
	/* Duplicates, aliases, YAML syntax, document shape. */
	{ "concurrency: 1\nconcurrency: 2\n",
	  "t.yaml:2:1: duplicate key 'concurrency' (first given at line 1)" },
	{ "handlers:\n  overrides:\n    a: {}\n    a: {}\n",
	  "t.yaml:4:5: duplicate key 'handlers.overrides.a' (first given at line 3)" },
	{ "namespace: &n x\nlog: {level: info}\n",
	  "t.yaml:1:12: aliases and anchors are not supported" },
	{ "queues: [default]\nnamespace: *n\n",
	  "t.yaml:2:12: aliases and anchors are not supported" },
	{ "a: &a [x, x]\nb: &b [*a, *a]\n",
	  "t.yaml:1:4: aliases and anchors are not supported" },
	{ "handlers:\n\ttimeout: 1s\n",
	  "t.yaml:2:1: YAML syntax error: found character that cannot start any token "
	  "(while scanning for the next token)" },
	{ "queues: [a, b\n",
	  "t.yaml:2:1: YAML syntax error: did not find expected ',' or ']' "
	  "(while parsing a flow sequence)" },
	{ "- a\n- b\n",
	  "t.yaml:1:1: expected a mapping at the top level, got a list" },
	{ "deferd\n",
	  "t.yaml:1:1: expected a mapping at the top level, got 'deferd'" },
	{ "events: true\n---\nevents: false\n",
	  "t.yaml:2:1: only one YAML document is allowed" },
	{ "a: [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]\n",
	  "t.yaml:1:19: nesting deeper than 16 levels is not supported" },
	{ "namespace: \"a\\0b\"\n",
	  "t.yaml:1:12: NUL characters are not allowed" },
	{ "? [a]\n: 1\n",
	  "t.yaml:1:3: a key must be a string, got a list" },
	/* Redis. */
	{ "redis: {url: \"http://127.0.0.1\"}\n",
	  "t.yaml:1:14: redis.url: unsupported scheme 'http' (expected redis:// or unix://)" },
	{ "redis:\n  url: redis://127.0.0.1:0\n",
	  "t.yaml:2:8: redis.url: bad port '0' (expected 1 to 65535)" },
	{ "redis:\n  url: redis://u:secret@/0\n",
	  "t.yaml:2:8: redis.url: missing host name (a URL without a host is for "
	  "redis.sentinel or redis.cluster)" },
	{ "redis:\n  url: redis://127.0.0.1\n  sentinel: {master: m, nodes: [127.0.0.1]}\n",
	  "t.yaml:2:8: redis.url: names a server, but redis.sentinel finds the "
	  "master; write it without a host (e.g. redis://:password@/0) or drop "
	  "redis.sentinel" },
	{ "redis:\n  url: unix:///run/r.sock\n  sentinel: {master: m, nodes: [127.0.0.1]}\n",
	  "t.yaml:2:8: redis.url: names a server, but redis.sentinel finds the "
	  "master; write it without a host (e.g. redis://:password@/0) or drop "
	  "redis.sentinel" },
	{ "redis:\n  command_timeout: 1s\n  wait_replicas: 1\n  wait_timeout: 1s\n",
	  "t.yaml:4:17: redis.wait_timeout: must be shorter than "
	  "redis.command_timeout (a WAIT that long would drop the connection)" },
	{ "redis: {command_timeout: 500ms, wait_replicas: 2}\n",
	  "t.yaml:1:26: redis.wait_timeout: must be shorter than "
	  "redis.command_timeout (a WAIT that long would drop the connection)" },
	{ "redis: {wait_replicas: 101}\n",
	  "t.yaml:1:24: redis.wait_replicas: must be between 0 and 100, got 101" },
	{ "redis:\n  cluster: {nodes: []}\n",
	  "t.yaml:2:20: redis.cluster.nodes: must name at least one node "
	  "(host:port)" },
	{ "redis:\n  url: redis://127.0.0.1\n  cluster: {nodes: [127.0.0.1]}\n",
	  "t.yaml:2:8: redis.url: names a server, but redis.cluster names the "
	  "nodes; write it without a host (e.g. redis://:password@) or drop "
	  "redis.cluster" },
	{ "redis:\n  url: redis:///2\n  cluster: {nodes: [127.0.0.1]}\n",
	  "t.yaml:2:8: redis.url: a Redis Cluster has database 0 only" },
	{ "redis:\n  cluster: {nodes: [127.0.0.1]}\n"
	  "  sentinel: {master: m, nodes: [127.0.0.1]}\n",
	  "t.yaml:2:12: redis.cluster: give only one of redis.sentinel and "
	  "redis.cluster" },
	{ "redis: {cluster: {nodes: [127.0.0.1]}}\n"
	  "expirations: {rules: [{pattern: \"a:*\", handler: h, db: 3}]}\n",
	  "t.yaml:2:14: expirations.rules[0]: db 3, but a Redis Cluster has "
	  "database 0 only" },
	{ "redis: {cluster: {nodes: [127.0.0.1]}}\n"
	  "sources: [{list: l, handler: h}]\n",
	  "t.yaml:2:10: sources[0]: list sources are not supported with "
	  "redis.cluster yet" },
	{ "redis: {cluster: {nodes: [127.0.0.1]}}\n"
	  "queues: [q1]\n"
	  "sources: [{zset: delay, handler: h}]\n",
	  "t.yaml:3:10: sources[0]: with redis.cluster the zset must be in the "
	  "slot of its queue: give it the queue's hash tag, e.g. "
	  "\"{q1}:delay\"" },
	{ "redis:\n  sentinel: {master: m, nodes: []}\n",
	  "t.yaml:2:32: redis.sentinel.nodes: must name at least one node "
	  "(host:port)" },
	{ "redis:\n  sentinel: {master: m}\n",
	  "t.yaml:2:13: redis.sentinel: nodes is required (a list of nodes as "
	  "host:port)" },
	{ "redis:\n  sentinel: {nodes: [127.0.0.1]}\n",
	  "t.yaml:2:13: redis.sentinel: master is required (the name the "
	  "sentinels monitor)" },
	{ "redis:\n  sentinel: {master: \"\", nodes: [127.0.0.1]}\n",
	  "t.yaml:2:22: redis.sentinel.master: must not be empty" },
	{ "redis:\n  sentinel: {master: m, nodes: 127.0.0.1}\n",
	  "t.yaml:2:32: redis.sentinel.nodes: expected a list of nodes as "
	  "host:port, got '127.0.0.1'" },
	{ "redis:\n  sentinel: {master: m, nodes: [\"127.0.0.1:0\"]}\n",
	  "t.yaml:2:33: redis.sentinel.nodes[0]: bad port '0' (expected 1 to 65535)" },
	{ "redis:\n  sentinel: {master: m, nodes: [127.0.0.1, \"redis://h:1\"]}\n",
	  "t.yaml:2:44: redis.sentinel.nodes[1]: expected host:port, not a URL" },
	{ "redis:\n  sentinel: {master: m, nodes: [127.0.0.1], port: 1}\n",
	  "t.yaml:2:45: unknown key 'redis.sentinel.port'" },
	{ "redis:\n  sentinel:\n    master: m\n    nodes: [127.0.0.1]\n"
	  "    password_file: /nonexistent-deferd-test/pass\n",
	  "t.yaml:5:20: redis.sentinel.password_file: cannot read "
	  "'/nonexistent-deferd-test/pass': No such file or directory" },
	{ "redis:\n  url: unix://\n",
	  "t.yaml:2:8: redis.url: empty socket path" },
	{ "redis:\n  password_file: /nonexistent-deferd-test/pass\n",
	  "t.yaml:2:18: redis.password_file: cannot read '/nonexistent-deferd-test/pass': "
	  "No such file or directory" },
	/* Sources and rules. */
	{ "sources:\n  - {zset: a, list: b, handler: h}\n",
	  "t.yaml:2:21: sources[0].list: give only one of zset, list, channel or pattern" },
	{ "sources:\n  - {zset: a}\n",
	  "t.yaml:2:5: sources[0]: handler is required" },
	{ "sources:\n  - handler: h\n",
	  "t.yaml:2:5: sources[0]: one of zset, list, channel or pattern is required" },
	{ "sources:\n  - {list: a, handler: h, score_unit: s}\n",
	  "t.yaml:2:39: sources[0].score_unit: applies only to zset sources" },
	{ "sources:\n  - {zset: a, handler: h, score_unit: us}\n",
	  "t.yaml:2:39: sources[0].score_unit: expected s or ms, got 'us'" },
	{ "sources:\n  - {zset: a, handler: h, queue: other}\n",
	  "t.yaml:2:34: sources[0].queue: unknown queue 'other'; add it to queues" },
	{ "expirations:\n  rules:\n    - {pattern: \"x:*\", handler: h, queue: other}\n",
	  "t.yaml:3:43: expirations.rules[0].queue: unknown queue 'other'; add it to queues" },
	{ "expirations:\n  rules:\n    - {handler: h}\n",
	  "t.yaml:3:7: expirations.rules[0]: pattern is required" },
	{ "expirations:\n  rules:\n    - {pattern: \"x:*\", handler: h, resource: \"o:{2}\"}\n",
	  "t.yaml:3:46: expirations.rules[0]: resource 'o:{2}' uses {2} but the "
	  "pattern 'x:*' has 1 wildcard(s)" },
	{ "expirations:\n  rules:\n    - {pattern: \"k:[a-]*]\", handler: h, resource: \"o:{1}\"}\n",
	  "t.yaml:3:51: expirations.rules[0]: resource 'o:{1}' uses {1} but the "
	  "pattern 'k:[a-]*]' has 0 wildcard(s)" },
	{ "expirations:\n  rules:\n    - {pattern: \"x:*\", handler: h, resource: \"o:{1\"}\n",
	  "t.yaml:3:46: expirations.rules[0]: resource 'o:{1': placeholder at "
	  "offset 2 is not closed: expected '}' after {1" },
	{ "expirations:\n  rules:\n    - pattern: \"x:*\"\n      handler: ../x\n",
	  "t.yaml:4:16: expirations.rules[0].handler: expected a handler name matching "
	  "[A-Za-z0-9][A-Za-z0-9_.-]*, got '../x'" },
	{ "expirations:\n  rules:\n    - {pattern: \"x:*\", handler: h, db: -1}\n",
	  "t.yaml:3:40: expirations.rules[0].db: must be between 0 and 2147483647, got -1" },
	/* Handlers. */
	{ "handlers:\n  overrides:\n    ../x: {timeout: 1s}\n",
	  "t.yaml:3:5: handlers.overrides: expected a handler name matching "
	  "[A-Za-z0-9][A-Za-z0-9_.-]*, got '../x'" },
	{ "handlers:\n  overrides:\n    ok: {max_concurrency: 0}\n",
	  "t.yaml:3:27: handlers.overrides.ok.max_concurrency: must be between 1 and "
	  "10000, got 0" },
	{ "handlers:\n  environment: {1X: a}\n",
	  "t.yaml:2:17: handlers.environment: expected a variable name matching "
	  "[A-Za-z_][A-Za-z0-9_]*, got '1X'" },
	{ "handlers:\n  environment: {DEFERD_JOB_ID: x}\n",
	  "t.yaml:2:17: handlers.environment: 'DEFERD_JOB_ID' is reserved: deferd sets "
	  "the DEFERD_ variables itself" },
	{ "handlers:\n  environment: {PATH: /opt/bin}\n",
	  "t.yaml:2:17: handlers.environment: 'PATH' is reserved: handlers get a "
	  "fixed PATH (/usr/local/bin:/usr/bin:/bin); use absolute paths or a "
	  "wrapper script" },
	{ "handlers:\n  environment: {A: b, LD_PRELOAD: /tmp/x.so}\n",
	  "t.yaml:2:23: handlers.environment: 'LD_PRELOAD' is reserved: the "
	  "dynamic loader's variables would change what every handler runs" },
	{ "handlers:\n  environment: {NOTIFY_SOCKET: /run/x}\n",
	  "t.yaml:2:17: handlers.environment: 'NOTIFY_SOCKET' is reserved: it is "
	  "systemd's channel to deferd, not to handlers" },
	{ "handlers:\n  environment: {B: 1, A: 2, C: 3, A: 4, B: 5}\n",
	  "t.yaml:2:35: duplicate key 'handlers.environment.A' (first given at line 2)" },
	{ "handlers: {dir: /usr/bin}\n",
	  "t.yaml:1:17: handlers.dir: /usr/bin is a system directory: every program "
	  "in it would be a handler that any producer can name; use a directory of "
	  "its own such as /etc/deferd/handlers.d" },
	{ "handlers: {dir: \"\"}\n",
	  "t.yaml:1:17: handlers.dir: must not be empty" },
	/* Names and lists. */
	{ "namespace: \"a{b}\"\n",
	  "t.yaml:1:12: namespace: expected a name without braces or whitespace, got 'a{b}'" },
	{ "namespace: \"\"\n",
	  "t.yaml:1:12: namespace: must not be empty" },
	{ "queues: []\n",
	  "t.yaml:1:9: queues: must name at least one queue" },
	{ "queues: [default, \"a b\"]\n",
	  "t.yaml:1:19: queues[1]: expected a queue name of 1-100 characters from "
	  "[A-Za-z0-9_.:@-] or {name, weight}, got 'a b'" },
	{ "queues: [default, {name: b, weight: 0}]\n",
	  "t.yaml:1:37: queues[1].weight: must be between 1 and 1000, got 0" },
	{ "queues: [default, {weight: 2}]\n",
	  "t.yaml:1:19: queues[1]: a queue written as a mapping needs its name" },
	{ "queues: [a, {name: a, weight: 2}]\n",
	  "t.yaml:1:13: queues[1]: duplicate queue 'a'" },
	{ "queues_order: random\n",
	  "t.yaml:1:15: queues_order: expected weighted or strict, got 'random'" },
	{ "queues:\n  - mail\n  - mail\n",
	  "t.yaml:3:5: queues[1]: duplicate queue 'mail'" },
	{ "metrics: {listen: localhost}\n",
	  "t.yaml:1:19: metrics.listen: expected host:port with a port from 1 to 65535, "
	  "got 'localhost'" },
	/* Schedules: each mistake names its field at its place. */
	{ "schedules:\n  - {name: a, cron: \"0 0 32 * *\", handler: h}\n",
	  "t.yaml:2:21: schedules[0].cron: field 3 (day of month): 32 is not "
	  "within 1-31" },
	{ "schedules:\n  - {name: a, cron: \"0 0 * * *\", handler: h, "
	  "timezone: Mars/Olympus}\n",
	  "t.yaml:2:56: schedules[0].timezone: unknown time zone 'Mars/Olympus' "
	  "(not in the system's tzdata: apt-get install tzdata)" },
	{ "schedules:\n  - {name: a, every: 500ms, handler: h}\n",
	  "t.yaml:2:22: schedules[0].every: must be between 1s and 366d, got 500ms" },
	{ "schedules:\n  - {name: a, every: 1m, handler: h}\n"
	  "  - {name: a, every: 1h, handler: h}\n",
	  "t.yaml:3:12: schedules[1].name: duplicate schedule name 'a'" },
	{ "schedules:\n  - {name: a, every: 1m, cron: \"* * * * *\", handler: h}\n",
	  "t.yaml:2:22: schedules[0].every: give only one of cron and every" },
	{ "schedules:\n  - {name: a, handler: h}\n",
	  "t.yaml:2:5: schedules[0]: one of cron and every is required" },
	{ "schedules:\n  - {name: a, every: 1m}\n",
	  "t.yaml:2:5: schedules[0]: handler is required" },
	{ "schedules:\n  - {every: 1m, handler: h}\n",
	  "t.yaml:2:5: schedules[0]: name is required" },
	{ "schedules:\n  - {name: \"a:b\", every: 1m, handler: h}\n",
	  "t.yaml:2:12: schedules[0].name: expected a schedule name of 1-100 "
	  "characters matching [A-Za-z0-9][A-Za-z0-9_.-]*, got 'a:b'" },
	{ "schedules:\n  - {name: a, every: 1m, handler: h, missed: twice}\n",
	  "t.yaml:2:46: schedules[0].missed: expected skip, once or all, got 'twice'" },
	{ "schedules:\n  - {name: a, every: 1m, handler: h, queue: mail}\n",
	  "t.yaml:2:45: schedules[0].queue: unknown queue 'mail'; add it to queues" },
	{ "schedules:\n  - {name: a, every: 1m, handler: h, timezone: UTC}\n",
	  "t.yaml:2:48: schedules[0].timezone: applies only to cron schedules; "
	  "every counts from the epoch and needs no time zone" },
	{ "schedules: {a: 1}\n",
	  "t.yaml:1:12: schedules: expected a list of schedules, got a mapping" },
	{ "metrics: {listen: \"127.0.0.1:70000\"}\n",
	  "t.yaml:1:19: metrics.listen: expected host:port with a port from 1 to 65535, "
	  "got '127.0.0.1:70000'" },
	{ "dashboard: {listen: \"127.0.0.1:9465\", read_only: maybe}\n",
	  "t.yaml:1:50: dashboard.read_only: expected true or false, got 'maybe'" },
	{ "dashboard: {listen: 9465}\n",
	  "t.yaml:1:21: dashboard.listen: expected host:port with a port from 1 to "
	  "65535, got '9465'" },
};

/* Remove a temp dir made by h_tmpdir and the plain files in it. */
static void
rm_tmpdir(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;
	char		 path[1024];

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	ck_assert_int_eq(rmdir(dir), 0);
}

/* Load text as "t.yaml"; the config or NULL with the message in err. */
static struct config *
load(const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return (config_load_string("t.yaml", text, strlen(text), err, errlen));
}

/* Load text that must be valid; fails the test with the message otherwise. */
static struct config *
load_ok(const char *text)
{
	char		 err[1024];
	struct config	*c = load(text, err, sizeof(err));

	ck_assert_msg(c != NULL, "config refused: %s", err);
	return (c);
}

/* Each bad config text is refused with exactly its message. */
START_TEST(bad_config)
{
	const struct bad	*b = &bad_configs[_i];
	struct config		*c;
	char			 err[1024];

	c = load(b->text, err, sizeof(err));
	ck_assert_msg(c == NULL, "accepted: %s", b->text);
	ck_assert_str_eq(err, b->msg);
}
END_TEST

/* Every field of c has its documented default (dir: handlers.dir to expect). */
static void
assert_defaults(const struct config *c, const char *dir)
{
	ck_assert_str_eq(c->redis.url, "redis://127.0.0.1:6379/0");
	ck_assert_str_eq(c->redis.target.host, "127.0.0.1");
	ck_assert_int_eq(c->redis.target.port, 6379);
	ck_assert_int_eq(c->redis.target.db, 0);
	ck_assert_ptr_null(c->redis.target.unix_path);
	ck_assert_ptr_null(c->redis.target.username);
	ck_assert_ptr_null(c->redis.target.password);
	ck_assert_ptr_null(c->redis.password_file);
	ck_assert_int_eq(c->redis.connect_timeout_ms, 2 * SEC);
	ck_assert_int_eq(c->redis.command_timeout_ms, 10 * SEC);
	ck_assert(!c->redis.allow_eviction);
	ck_assert_str_eq(c->namespace, "deferd");
	ck_assert_uint_eq(c->nqueues, 1);
	ck_assert_str_eq(c->queues[0], "default");
	ck_assert_int_eq(c->concurrency, 8);
	ck_assert_int_eq(c->poll_interval_ms, SEC);
	ck_assert_int_eq(c->lease_ms, 30 * SEC);
	ck_assert_int_eq(c->shutdown_timeout_ms, 25 * SEC);
	ck_assert_int_eq(c->retry.max_attempts, 5);
	ck_assert_int_eq(c->retry.backoff_ms, SEC);
	ck_assert_int_eq(c->retry.backoff_max_ms, 10 * MIN);
	ck_assert_int_eq(c->results.ttl_ms, HOUR);
	ck_assert_int_eq(c->dead.max_jobs, 10000);
	ck_assert_int_eq(c->dead.ttl_ms, 30 * DAY);
	ck_assert_str_eq(c->handlers.dir, dir);
	ck_assert_ptr_null(c->handlers.workdir);
	ck_assert_int_eq(c->handlers.timeout_ms, 60 * SEC);
	ck_assert_int_eq(c->handlers.kill_grace_ms, 5 * SEC);
	ck_assert_uint_eq(c->handlers.max_output, MIB);
	ck_assert_uint_eq(c->handlers.max_payload, 16 * MIB);
	ck_assert_uint_eq(c->handlers.nenvironment, 0);
	ck_assert_uint_eq(c->handlers.noverrides, 0);
	ck_assert_int_eq(c->locks.lease_ms, 30 * SEC);
	ck_assert_int_eq(c->locks.on_conflict, CONFLICT_REQUEUE);
	ck_assert_int_eq(c->locks.requeue_delay_ms, SEC);
	ck_assert_int_eq(c->locks.wait_timeout_ms, 30 * SEC);
	ck_assert(!c->expirations.configure_redis);
	ck_assert_uint_eq(c->expirations.nrules, 0);
	ck_assert_uint_eq(c->nsources, 0);
	ck_assert_int_eq(c->log.level, LOG_LEVEL_INFO);
	ck_assert_int_eq(c->log.format, LOG_FORMAT_TEXT);
	ck_assert_ptr_null(c->metrics.listen);
	ck_assert(c->events);
}

/* An empty or near-empty file gets every default. */
START_TEST(defaults)
{
	static const char *texts[] = {
		"namespace: deferd\nevents: true\n", "", "{}\n", "# only a comment\n",
		"---\n", "redis:\nhandlers:\n",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct config *c = load_ok(texts[i]);

		ck_assert_str_eq(c->path, "t.yaml");
		assert_defaults(c, "/etc/deferd/handlers.d");
		config_free(c);
	}
}
END_TEST

/* The shipped example loads and matches the defaults (but handlers.dir). */
/* No numeric key accepts a value the Lua scripts would refuse. */
START_TEST(bounds_fit_the_scripts)
{
	const char	*key = config_unbounded_key();

	ck_assert_msg(key == NULL, "key '%s' has a bound beyond %lld", key,
	    (long long)CONFIG_SCRIPT_INT_MAX);
}
END_TEST

/*
 * 40,000 environment variables load, and a repeat among them is reported
 * at the repeat, naming the line of the first (keys are sorted, not
 * compared pairwise: before, such a file took seconds).
 */
START_TEST(big_environment_and_a_late_repeat)
{
	const size_t	 n = 40000;
	size_t		 cap = n * 24 + 64, len = 0;
	char		*text = malloc(cap), err[1024];
	struct config	*c;

	ck_assert_ptr_nonnull(text);
	len += (size_t)snprintf(text + len, cap - len, "handlers:\n  environment:\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len, "    V%zu: x%zu\n",
		    (i * 7919) % n, i);
	c = config_load_string("t.yaml", text, len, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->handlers.nenvironment, n);
	config_free(c);
	/* V3 again on the last line; V3 came first on line 2 + (3 * inv) % n. */
	len += (size_t)snprintf(text + len, cap - len, "    V3: again\n");
	c = config_load_string("t.yaml", text, len, err, sizeof(err));
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "duplicate key 'handlers.environment.V3'") != NULL,
	    "%s", err);
	ck_assert_msg(strncmp(err, "t.yaml:40003:5:", 15) == 0, "%s", err);
	free(text);
}
END_TEST

START_TEST(example_file)
{
	char		 path[1024], dir[1024], err[1024];
	const char	*src = __FILE__, *end = strstr(src, "tests/check_config.c");
	struct config	*c;

	ck_assert_ptr_nonnull(end);
	snprintf(path, sizeof(path), "%.*sconfig/deferd.yaml", (int)(end - src), src);
	c = config_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	if (path[0] == '/')
		snprintf(dir, sizeof(dir), "%.*sconfig/../handlers", (int)(end - src), src);
	else {
		char *cwd = getcwd(NULL, 0);

		snprintf(dir, sizeof(dir), "%s/%.*sconfig/../handlers", cwd,
		    (int)(end - src), src);
		free(cwd);
	}
	ck_assert_str_eq(c->path, path);
	assert_defaults(c, dir);
	config_free(c);
}
END_TEST

static const char rich_text[] =
	"redis:\n"
	"  url: \"redis://olduser:oldpass@127.0.0.1:6380/2\"\n"
	"  username: deferd\n"
	"  password_file: %s/pass\n"
	"  connect_timeout: 3s\n"
	"  command_timeout: 15s\n"
	"  allow_eviction: yes\n"
	"namespace: jobs\n"
	"queues: [default, mail, \"bulk.low\"]\n"
	"concurrency: 16\n"
	"poll_interval: 250ms\n"
	"lease: 45s\n"
	"shutdown_timeout: 20s\n"
	"retry: {max_attempts: 7, backoff: 2s, backoff_max: 5m}\n"
	"results: {ttl: 0}\n"
	"dead:\n"
	"  max_jobs: 500\n"
	"  ttl: 7d\n"
	"handlers:\n"
	"  dir: /srv/handlers\n"
	"  workdir: work\n"
	"  timeout: 90s\n"
	"  kill_grace: 2s\n"
	"  max_output: 512KiB\n"
	"  max_payload: 2MiB\n"
	"  environment:\n"
	"    TZ: UTC\n"
	"    APP_ENV: \"prod\"\n"
	"    EMPTY:\n"
	"  overrides:\n"
	"    cancel-order: {timeout: 10s, max_concurrency: 2, max_attempts: 10}\n"
	"    notify:\n"
	"      on_conflict: fail\n"
	"locks: {lease: 20s, on_conflict: wait, requeue_delay: 500ms, wait_timeout: 1m}\n"
	"expirations:\n"
	"  configure_redis: on\n"
	"  rules:\n"
	"    - {pattern: \"order:timeout:*\", handler: cancel-order, resource: \"order:{1}\"}\n"
	"    - pattern: \"cart:*\"\n"
	"      db: 3\n"
	"      handler: release-stock\n"
	"      queue: mail\n"
	"sources:\n"
	"  - {zset: delay-queue, handler: handle-msg, score_unit: ms, queue: bulk.low}\n"
	"  - {list: notify-queue, handler: notify}\n"
	"  - {channel: fm104.5, handler: on-radio}\n"
	"  - {pattern: \"news.*\", handler: on-news}\n"
	"log: {level: debug, format: json}\n"
	"metrics: {listen: \"127.0.0.1:9464\"}\n"
	"events: off\n";

/* Assert the parts of the rich config outside redis and handlers. */
static void
assert_rich_core(const struct config *c)
{
	ck_assert_str_eq(c->namespace, "jobs");
	ck_assert_uint_eq(c->nqueues, 3);
	ck_assert_str_eq(c->queues[0], "default");
	ck_assert_str_eq(c->queues[1], "mail");
	ck_assert_str_eq(c->queues[2], "bulk.low");
	ck_assert_int_eq(c->concurrency, 16);
	ck_assert_int_eq(c->poll_interval_ms, 250);
	ck_assert_int_eq(c->lease_ms, 45 * SEC);
	ck_assert_int_eq(c->shutdown_timeout_ms, 20 * SEC);
	ck_assert_int_eq(c->retry.max_attempts, 7);
	ck_assert_int_eq(c->retry.backoff_ms, 2 * SEC);
	ck_assert_int_eq(c->retry.backoff_max_ms, 5 * MIN);
	ck_assert_int_eq(c->results.ttl_ms, 0);
	ck_assert_int_eq(c->dead.max_jobs, 500);
	ck_assert_int_eq(c->dead.ttl_ms, 7 * DAY);
	ck_assert_int_eq(c->locks.lease_ms, 20 * SEC);
	ck_assert_int_eq(c->locks.on_conflict, CONFLICT_WAIT);
	ck_assert_int_eq(c->locks.requeue_delay_ms, 500);
	ck_assert_int_eq(c->locks.wait_timeout_ms, MIN);
	ck_assert_int_eq(c->log.level, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(c->log.format, LOG_FORMAT_JSON);
	ck_assert_str_eq(c->metrics.listen, "127.0.0.1:9464");
	ck_assert(!c->events);
}

/* Assert handlers.* of the rich config (workdir relative to dir). */
static void
assert_rich_handlers(const struct config *c, const char *tmp)
{
	const struct handler_override	*o;
	char				 workdir[512];

	snprintf(workdir, sizeof(workdir), "%s/work", tmp);
	ck_assert_str_eq(c->handlers.dir, "/srv/handlers");
	ck_assert_str_eq(c->handlers.workdir, workdir);
	ck_assert_int_eq(c->handlers.timeout_ms, 90 * SEC);
	ck_assert_int_eq(c->handlers.kill_grace_ms, 2 * SEC);
	ck_assert_uint_eq(c->handlers.max_output, 512 * 1024);
	ck_assert_uint_eq(c->handlers.max_payload, 2 * MIB);
	ck_assert_uint_eq(c->handlers.nenvironment, 3);
	ck_assert_str_eq(c->handlers.environment[0].name, "TZ");
	ck_assert_str_eq(c->handlers.environment[0].value, "UTC");
	ck_assert_str_eq(c->handlers.environment[1].name, "APP_ENV");
	ck_assert_str_eq(c->handlers.environment[1].value, "prod");
	ck_assert_str_eq(c->handlers.environment[2].name, "EMPTY");
	ck_assert_str_eq(c->handlers.environment[2].value, "");
	ck_assert_uint_eq(c->handlers.noverrides, 2);
	o = config_override(c, "cancel-order");
	ck_assert_ptr_eq(o, &c->handlers.overrides[0]);
	ck_assert_int_eq(o->timeout_ms, 10 * SEC);
	ck_assert_int_eq(o->max_concurrency, 2);
	ck_assert_int_eq(o->max_attempts, 10);
	ck_assert_int_eq(o->on_conflict, CONFLICT_INHERIT);
	o = config_override(c, "notify");
	ck_assert_str_eq(o->name, "notify");
	ck_assert_int_eq(o->timeout_ms, -1);
	ck_assert_int_eq(o->max_concurrency, 0);
	ck_assert_int_eq(o->max_attempts, 0);
	ck_assert_int_eq(o->on_conflict, CONFLICT_FAIL);
	ck_assert_ptr_null(config_override(c, "other"));
	ck_assert_int_eq(config_handler_timeout_ms(c, "cancel-order"), 10 * SEC);
	ck_assert_int_eq(config_handler_timeout_ms(c, "notify"), 90 * SEC);
	ck_assert_int_eq(config_handler_max_attempts(c, "cancel-order"), 10);
	ck_assert_int_eq(config_handler_max_attempts(c, "other"), 7);
	ck_assert_int_eq(config_handler_max_concurrency(c, "cancel-order"), 2);
	ck_assert_int_eq(config_handler_max_concurrency(c, "notify"), 16);
}

/* Assert expirations.* and sources of the rich config. */
static void
assert_rich_sources(const struct config *c)
{
	const struct expiration_rule	*r = c->expirations.rules;
	const struct source		*s = c->sources;

	ck_assert(c->expirations.configure_redis);
	ck_assert_uint_eq(c->expirations.nrules, 2);
	ck_assert_str_eq(r[0].pattern, "order:timeout:*");
	ck_assert_int_eq(r[0].db, -1);
	ck_assert_str_eq(r[0].handler, "cancel-order");
	ck_assert_str_eq(r[0].resource, "order:{1}");
	ck_assert_ptr_null(r[0].queue);
	ck_assert_str_eq(r[1].pattern, "cart:*");
	ck_assert_int_eq(r[1].db, 3);
	ck_assert_str_eq(r[1].handler, "release-stock");
	ck_assert_ptr_null(r[1].resource);
	ck_assert_str_eq(r[1].queue, "mail");
	ck_assert_uint_eq(c->nsources, 4);
	ck_assert_int_eq(s[0].kind, SOURCE_ZSET);
	ck_assert_str_eq(s[0].name, "delay-queue");
	ck_assert_str_eq(s[0].handler, "handle-msg");
	ck_assert_str_eq(s[0].queue, "bulk.low");
	ck_assert_int_eq(s[0].score_unit_ms, 1);
	ck_assert_int_eq(s[1].kind, SOURCE_LIST);
	ck_assert_str_eq(s[1].name, "notify-queue");
	ck_assert_ptr_null(s[1].queue);
	ck_assert_int_eq(s[1].score_unit_ms, 1000);
	ck_assert_int_eq(s[2].kind, SOURCE_CHANNEL);
	ck_assert_str_eq(s[2].name, "fm104.5");
	ck_assert(!s[2].is_pattern);
	ck_assert_int_eq(s[3].kind, SOURCE_CHANNEL);
	ck_assert_str_eq(s[3].name, "news.*");
	ck_assert(s[3].is_pattern);
	ck_assert_str_eq(s[3].handler, "on-news");
}

/* A file setting every key yields exactly those values. */
START_TEST(rich_config)
{
	char		 tmp[256], text[8192], path[512], err[1024];
	struct config	*c;
	FILE		*f;

	h_tmpdir(tmp, sizeof(tmp));
	h_write_file(tmp, "pass", "s3cr%t\r\nsecond line\n", 0600);
	snprintf(text, sizeof(text), rich_text, tmp);
	snprintf(path, sizeof(path), "%s/deferd.yaml", tmp);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	c = config_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->path, path);
	ck_assert_str_eq(c->redis.url, "redis://olduser:oldpass@127.0.0.1:6380/2");
	ck_assert_str_eq(c->redis.target.host, "127.0.0.1");
	ck_assert_int_eq(c->redis.target.port, 6380);
	ck_assert_int_eq(c->redis.target.db, 2);
	ck_assert_str_eq(c->redis.target.username, "deferd");
	ck_assert_str_eq(c->redis.target.password, "s3cr%t");
	snprintf(text, sizeof(text), "%s/pass", tmp);
	ck_assert_str_eq(c->redis.password_file, text);
	ck_assert_int_eq(c->redis.connect_timeout_ms, 3 * SEC);
	ck_assert_int_eq(c->redis.command_timeout_ms, 15 * SEC);
	ck_assert(c->redis.allow_eviction);
	assert_rich_core(c);
	assert_rich_handlers(c, tmp);
	assert_rich_sources(c);
	config_free(c);
	rm_tmpdir(tmp);
}
END_TEST

/* Flow style and block style give the same config. */
/* A schedule with every key, and one with only what is required. */
START_TEST(schedules_parsed)
{
	struct config		*c = load_ok(
	    "queues: [default, mail]\n"
	    "schedules:\n"
	    "  - name: nightly-report\n"
	    "    cron: \"30 2 * * MON-FRI\"\n"
	    "    timezone: Europe/Berlin\n"
	    "    handler: report\n"
	    "    payload: \"{\\\"kind\\\": \\\"daily\\\"}\"\n"
	    "    queue: mail\n"
	    "    resource: reports\n"
	    "    missed: once\n"
	    "    jitter: 30s\n"
	    "  - {name: beat, every: 15s, handler: ping}\n");
	const struct schedule	*a = config_schedule(c, "nightly-report");
	const struct schedule	*b = config_schedule(c, "beat");

	ck_assert_int_eq(c->nschedules, 2);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(a->cron_expr, "30 2 * * MON-FRI");
	ck_assert_int_eq(a->every_ms, 0);
	ck_assert_str_eq(a->timezone, "Europe/Berlin");
	ck_assert_str_eq(a->handler, "report");
	ck_assert_str_eq(a->payload, "{\"kind\": \"daily\"}");
	ck_assert_str_eq(a->queue, "mail");
	ck_assert_str_eq(a->resource, "reports");
	ck_assert_int_eq(a->missed, MISSED_ONCE);
	ck_assert_int_eq(a->jitter_ms, 30 * SEC);
	ck_assert(a->cron.hour == (1u << 2) && a->cron.dow == 0x3e);
	ck_assert_int_eq(b->every_ms, 15 * SEC);
	ck_assert_ptr_null(b->cron_expr);
	ck_assert_ptr_null(b->timezone);
	ck_assert_ptr_null(b->payload);
	ck_assert_ptr_null(b->queue);
	ck_assert_int_eq(b->missed, MISSED_SKIP);
	ck_assert_int_eq(b->jitter_ms, 0);
	ck_assert_ptr_null(config_schedule(c, "other"));
	config_free(c);
}
END_TEST

/* The lease's intervals come from one place, derived at load. */
START_TEST(lease_timing)
{
	static const struct {
		int64_t	lease, extend, reap, subcheck;
	} cases[] = {
		{ 30 * SEC, 10 * SEC, 15 * SEC, 15 * SEC },
		{ SEC, 333, SEC, SEC },
		{ 10 * SEC, 3333, 5 * SEC, 5 * SEC },
		{ DAY, DAY / 3, 30 * SEC, 15 * SEC },
	};
	struct config	*c = load_ok("lease: 40s\n");

	ck_assert_int_eq(c->timing.extend_ms, 13333);
	ck_assert_int_eq(c->timing.reap_ms, 20 * SEC);
	ck_assert_int_eq(c->timing.subcheck_ms, 15 * SEC);
	config_free(c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lease_timing	t;

		config_lease_timing(cases[i].lease, &t);
		ck_assert_int_eq(t.extend_ms, cases[i].extend);
		ck_assert_int_eq(t.reap_ms, cases[i].reap);
		ck_assert_int_eq(t.subcheck_ms, cases[i].subcheck);
	}
}
END_TEST

START_TEST(flow_and_block)
{
	struct config	*a, *b;

	a = load_ok("retry: {max_attempts: 3, backoff: 5s}\nqueues: [a, b]\n"
	    "handlers: {overrides: {h: {timeout: 2s}}, environment: {X: y}}\n");
	b = load_ok("retry:\n  max_attempts: 3\n  backoff: 5s\nqueues:\n  - a\n  - b\n"
	    "handlers:\n  overrides:\n    h:\n      timeout: 2s\n"
	    "  environment:\n    X: y\n");
	ck_assert_int_eq(a->retry.max_attempts, b->retry.max_attempts);
	ck_assert_int_eq(a->retry.backoff_ms, 5 * SEC);
	ck_assert_int_eq(b->retry.backoff_ms, 5 * SEC);
	ck_assert_uint_eq(a->nqueues, 2);
	ck_assert_uint_eq(b->nqueues, 2);
	ck_assert_str_eq(b->queues[1], "b");
	ck_assert_int_eq(config_handler_timeout_ms(a, "h"), 2 * SEC);
	ck_assert_int_eq(config_handler_timeout_ms(b, "h"), 2 * SEC);
	ck_assert_str_eq(a->handlers.environment[0].value, "y");
	ck_assert_str_eq(b->handlers.environment[0].value, "y");
	config_free(a);
	config_free(b);
}
END_TEST

/* Relative paths are resolved against the config file's directory. */
START_TEST(relative_paths)
{
	char		 tmp[256], path[512], want[512], err[1024], *cwd;
	struct config	*c;

	h_tmpdir(tmp, sizeof(tmp));
	h_write_file(tmp, "deferd.yaml", "handlers:\n  dir: handlers.d\n"
	    "  workdir: ../var\n", 0644);
	snprintf(path, sizeof(path), "%s/deferd.yaml", tmp);
	c = config_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	snprintf(want, sizeof(want), "%s/handlers.d", tmp);
	ck_assert_str_eq(c->handlers.dir, want);
	snprintf(want, sizeof(want), "%s/../var", tmp);
	ck_assert_str_eq(c->handlers.workdir, want);
	config_free(c);

	/* A file name without a directory is relative to the current one. */
	ck_assert_ptr_nonnull(cwd = getcwd(NULL, 0));
	ck_assert_int_eq(chdir(tmp), 0);
	c = config_load("deferd.yaml", err, sizeof(err));
	ck_assert_int_eq(chdir(cwd), 0);
	free(cwd);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->path, "deferd.yaml");
	snprintf(want, sizeof(want), "%s/handlers.d", tmp);
	ck_assert_str_eq(c->handlers.dir, want);
	config_free(c);
	rm_tmpdir(tmp);
}
END_TEST

/* Errors through config_load name the path as given. */
START_TEST(file_errors)
{
	char		 tmp[256], path[512], want[1024], err[1024];
	struct config	*c;

	h_tmpdir(tmp, sizeof(tmp));
	snprintf(path, sizeof(path), "%s/missing.yaml", tmp);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	ck_assert_str_eq(err, want);

	h_write_file(tmp, "bad.yaml", "queues: [default]\nconcurrency: lots\n", 0644);
	snprintf(path, sizeof(path), "%s/bad.yaml", tmp);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:2:14: concurrency: expected an integer, "
	    "got 'lots'", path);
	ck_assert_str_eq(err, want);

	h_write_file(tmp, "empty-pass", "", 0600);
	h_write_file(tmp, "c.yaml", "redis: {password_file: empty-pass}\n", 0644);
	snprintf(path, sizeof(path), "%s/c.yaml", tmp);
	ck_assert_ptr_null(c = config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:1:24: redis.password_file: cannot read "
	    "'%s/empty-pass': the file is empty", path, tmp);
	ck_assert_str_eq(err, want);

	/* Not a regular file (a FIFO would block, /dev/zero never ends). */
	h_write_file(tmp, "c.yaml", "redis: {password_file: /dev/zero}\n", 0644);
	ck_assert_ptr_null(c = config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:1:24: redis.password_file: cannot read "
	    "'/dev/zero': not a regular file", path);
	ck_assert_str_eq(err, want);
	{
		char long_pw[1100];

		memset(long_pw, 'p', 1025);
		strcpy(long_pw + 1025, "\n");
		h_write_file(tmp, "long-pass", long_pw, 0600);
		long_pw[1024] = '\n';
		long_pw[1025] = '\0';
		h_write_file(tmp, "max-pass", long_pw, 0600);
	}
	h_write_file(tmp, "c.yaml", "redis: {password_file: long-pass}\n", 0644);
	ck_assert_ptr_null(c = config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:1:24: redis.password_file: cannot read "
	    "'%s/long-pass': the password is longer than 1024 bytes", path, tmp);
	ck_assert_str_eq(err, want);
	h_write_file(tmp, "c.yaml", "redis: {password_file: max-pass}\n", 0644);
	ck_assert_ptr_nonnull(c = config_load(path, err, sizeof(err)));
	ck_assert_uint_eq(strlen(c->redis.target.password), 1024);
	config_free(c);
	rm_tmpdir(tmp);
}
END_TEST

/* redis.username overrides the URL's user; URL escapes are decoded. */
START_TEST(redis_overrides)
{
	struct config	*c;

	c = load_ok("redis:\n  url: \"unix:///run/redis.sock?db=4\"\n  username: worker\n");
	ck_assert_ptr_null(c->redis.target.host);
	ck_assert_str_eq(c->redis.target.unix_path, "/run/redis.sock");
	ck_assert_int_eq(c->redis.target.db, 4);
	ck_assert_str_eq(c->redis.target.username, "worker");
	ck_assert_ptr_null(c->redis.target.password);
	config_free(c);

	c = load_ok("redis: {url: \"redis://u%40x:p%3Aw@127.0.0.1\"}\n");
	ck_assert_str_eq(c->redis.target.username, "u@x");
	ck_assert_str_eq(c->redis.target.password, "p:w");
	config_free(c);
}
END_TEST

/*
 * redis.sentinel: the master's address is left to the sentinels (no host
 * in the target, even from the default URL), the URL still gives the
 * database and credentials, and each sentinel gets the sentinel ones.
 */
START_TEST(sentinel_parsed)
{
	struct config	*c, *d;
	char		 tmp[256], path[400], err[512], text[1024];

	c = load_ok("redis:\n  sentinel: {master: mm, nodes: [127.0.0.1, "
	    "\"127.0.0.1:26380\", \"[::1]:5000\"]}\n");
	ck_assert_str_eq(c->redis.sentinel.master, "mm");
	ck_assert_ptr_null(c->redis.target.host);
	ck_assert_ptr_null(c->redis.target.unix_path);
	ck_assert_uint_eq(c->redis.sentinel.nodes.n, 3);
	ck_assert_str_eq(c->redis.sentinel.nodes.v[0].host, "127.0.0.1");
	ck_assert_int_eq(c->redis.sentinel.nodes.v[0].port, 26379);
	ck_assert_int_eq(c->redis.sentinel.nodes.v[1].port, 26380);
	ck_assert_str_eq(c->redis.sentinel.nodes.v[2].host, "::1");
	ck_assert_int_eq(c->redis.sentinel.nodes.v[2].port, 5000);
	ck_assert_ptr_null(c->redis.sentinel.nodes.v[0].password);
	config_free(c);

	h_tmpdir(tmp, sizeof(tmp));
	h_write_file(tmp, "sentinel.pass", "s3cret\n", 0600);
	snprintf(text, sizeof(text),
	    "redis:\n"
	    "  url: redis://worker:data-pass@/3\n"
	    "  sentinel:\n"
	    "    master: mm\n"
	    "    nodes: [127.0.0.1]\n"
	    "    username: watcher\n"
	    "    password_file: %s/sentinel.pass\n", tmp);
	h_write_file(tmp, "c.yaml", text, 0644);
	snprintf(path, sizeof(path), "%s/c.yaml", tmp);
	ck_assert_msg((c = config_load(path, err, sizeof(err))) != NULL, "%s", err);
	ck_assert_ptr_null(c->redis.target.host);
	ck_assert_int_eq(c->redis.target.db, 3);
	ck_assert_str_eq(c->redis.target.username, "worker");
	ck_assert_str_eq(c->redis.target.password, "data-pass");
	ck_assert_str_eq(c->redis.sentinel.nodes.v[0].username, "watcher");
	ck_assert_str_eq(c->redis.sentinel.nodes.v[0].password, "s3cret");
	ck_assert_int_eq(c->redis.sentinel.nodes.v[0].db, 0);
	ck_assert_msg((d = config_load(path, err, sizeof(err))) != NULL, "%s", err);
	ck_assert(config_same_sentinel(c, d));
	config_free(d);
	d = load_ok("redis:\n  sentinel: {master: mm, nodes: [127.0.0.1]}\n");
	ck_assert(!config_same_sentinel(c, d));
	config_free(d);
	d = load_ok("redis: {url: \"redis://:pw@\", cluster: {nodes: [127.0.0.1, "
	    "\"127.0.0.1:7001\"]}}\n");
	ck_assert_ptr_null(d->redis.target.host);
	ck_assert_uint_eq(d->redis.cluster.nodes.n, 2);
	ck_assert_int_eq(d->redis.cluster.nodes.v[0].port, 6379);
	ck_assert_int_eq(d->redis.cluster.nodes.v[1].port, 7001);
	ck_assert_str_eq(d->redis.cluster.nodes.v[1].password, "pw");
	ck_assert(config_same_cluster(d, d));
	ck_assert(!config_same_cluster(c, d));
	config_free(d);
	/* Queues with weights, and the strict order. */
	d = load_ok("queues: [a, {name: b, weight: 3}]\nqueues_order: strict\n");
	ck_assert_uint_eq(d->nqueues, 2);
	ck_assert_str_eq(d->queues[1], "b");
	ck_assert_int_eq(d->queue_weights[0], 1);
	ck_assert_int_eq(d->queue_weights[1], 3);
	ck_assert_int_eq(d->queues_order, QUEUES_STRICT);
	config_free(d);
	/* A zset source whose key is in its queue's slot works on a cluster. */
	d = load_ok("redis: {cluster: {nodes: [127.0.0.1]}}\nqueues: [q1]\n"
	    "sources: [{zset: \"{q1}:delay\", handler: h}]\n");
	ck_assert_uint_eq(d->nsources, 1);
	config_free(d);
	d = load_ok("queues: [a]\n");
	ck_assert(!config_same_sentinel(c, d));
	ck_assert(config_same_sentinel(d, d));
	config_free(d);
	config_free(c);
	rm_tmpdir(tmp);
}
END_TEST

/* config_default_path: -c, then $DEFERD_CONFIG, then the built-in path. */
START_TEST(default_path)
{
	unsetenv("DEFERD_CONFIG");
	ck_assert_str_eq(config_default_path(NULL), CONFIG_DEFAULT_PATH);
	ck_assert_str_eq(config_default_path("x.yaml"), "x.yaml");
	setenv("DEFERD_CONFIG", "/tmp/env.yaml", 1);
	ck_assert_str_eq(config_default_path(NULL), "/tmp/env.yaml");
	ck_assert_str_eq(config_default_path("x.yaml"), "x.yaml");
	setenv("DEFERD_CONFIG", "", 1);
	ck_assert_str_eq(config_default_path(NULL), CONFIG_DEFAULT_PATH);
	unsetenv("DEFERD_CONFIG");
	config_free(NULL);
}
END_TEST

/* A URL that must parse, and what it must give. */
struct good_url {
	const char	*url;
	const char	*host;
	int		 port;
	const char	*unix_path;
	int		 db;
	const char	*user;
	const char	*password;
	const char	*describe;
};

static const struct good_url good_urls[] = {
	{ "redis://127.0.0.1", "127.0.0.1", 6379, NULL, 0, NULL, NULL, "127.0.0.1:6379/0" },
	{ "redis://127.0.0.1:6380", "127.0.0.1", 6380, NULL, 0, NULL, NULL,
	  "127.0.0.1:6380/0" },
	{ "redis://10.1.2.3/5", "10.1.2.3", 6379, NULL, 5, NULL, NULL, "10.1.2.3:6379/5" },
	{ "redis://10.1.2.3:7000/15", "10.1.2.3", 7000, NULL, 15, NULL, NULL,
	  "10.1.2.3:7000/15" },
	{ "redis://10.1.2.3/", "10.1.2.3", 6379, NULL, 0, NULL, NULL, "10.1.2.3:6379/0" },
	/* No host: for redis.sentinel, which names the master. */
	{ "redis://", NULL, 6379, NULL, 0, NULL, NULL, "?:6379/0" },
	{ "redis://:pw@/2", NULL, 6379, NULL, 2, NULL, "pw", "?:6379/2" },
	{ "REDIS://[::1]:6390/1", "::1", 6390, NULL, 1, NULL, NULL, "[::1]:6390/1" },
	{ "redis://[::1]", "::1", 6379, NULL, 0, NULL, NULL, "[::1]:6379/0" },
	{ "redis://user:pa%20ss%2F%40@127.0.0.1:6379/0", "127.0.0.1", 6379, NULL, 0,
	  "user", "pa ss/@", "127.0.0.1:6379/0" },
	{ "redis://:only-pass@127.0.0.1", "127.0.0.1", 6379, NULL, 0, NULL, "only-pass",
	  "127.0.0.1:6379/0" },
	{ "redis://only-user@127.0.0.1", "127.0.0.1", 6379, NULL, 0, "only-user", NULL,
	  "127.0.0.1:6379/0" },
	{ "unix:///run/redis/redis.sock", NULL, 6379, "/run/redis/redis.sock", 0, NULL,
	  NULL, "unix:/run/redis/redis.sock/0" },
	{ "unix:///run/redis.sock?db=3", NULL, 6379, "/run/redis.sock", 3, NULL, NULL,
	  "unix:/run/redis.sock/3" },
	{ "unix://app:s%3Acret@/run/redis.sock?db=1", NULL, 6379, "/run/redis.sock", 1,
	  "app", "s:cret", "unix:/run/redis.sock/1" },
};

/* Compare a possibly NULL string with the expected one. */
static void
assert_str_or_null(const char *got, const char *want, const char *what)
{
	if (want == NULL)
		ck_assert_msg(got == NULL, "%s: '%s', want NULL", what, got);
	else
		ck_assert_msg(got != NULL && strcmp(got, want) == 0, "%s: '%s', want '%s'",
		    what, got != NULL ? got : "(null)", want);
}

/* Valid URLs parse into the expected target and description. */
START_TEST(url_good)
{
	const struct good_url	*g = &good_urls[_i];
	struct redis_target	 t, copy;
	char			 err[256], buf[256];

	ck_assert_msg(redisurl_parse(g->url, &t, err, sizeof(err)) == 0, "%s: %s",
	    g->url, err);
	assert_str_or_null(t.host, g->host, "host");
	assert_str_or_null(t.unix_path, g->unix_path, "unix_path");
	assert_str_or_null(t.username, g->user, "username");
	assert_str_or_null(t.password, g->password, "password");
	ck_assert_int_eq(t.port, g->port);
	ck_assert_int_eq(t.db, g->db);
	ck_assert_str_eq(redisurl_describe(&t, buf, sizeof(buf)), g->describe);
	redisurl_copy(&copy, &t);
	redisurl_clear(&t);
	ck_assert_ptr_null(t.host);
	assert_str_or_null(copy.host, g->host, "copied host");
	assert_str_or_null(copy.password, g->password, "copied password");
	redisurl_clear(&copy);
}
END_TEST

/* A host name is resolved to a numeric address. */
START_TEST(url_localhost)
{
	struct redis_target	t;
	char			err[256];

	ck_assert_msg(redisurl_parse("redis://localhost:6390", &t, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_msg(strcmp(t.host, "127.0.0.1") == 0 || strcmp(t.host, "::1") == 0,
	    "localhost resolved to %s", t.host);
	ck_assert_int_eq(t.port, 6390);
	redisurl_clear(&t);
}
END_TEST

static const struct bad bad_urls[] = {
	{ "http://127.0.0.1", "unsupported scheme 'http' (expected redis:// or unix://)" },
	{ "127.0.0.1:6379", "expected redis://host[:port][/db] or unix:///path/to/socket[?db=N]" },
	{ "u:secret@h://x", "expected redis://host[:port][/db] or "
	  "unix:///path/to/socket[?db=N]" },
	{ "rediss://127.0.0.1", "TLS (rediss://) is not supported; use a unix socket "
	  "or a TLS tunnel" },
	{ "redis://:secret@:6379", "missing host name" },
	{ "redis://127.0.0.1:", "bad port '' (expected 1 to 65535)" },
	{ "redis://127.0.0.1:65536", "bad port '65536' (expected 1 to 65535)" },
	{ "redis://127.0.0.1:http", "bad port 'http' (expected 1 to 65535)" },
	{ "redis://127.0.0.1/x", "bad database number 'x' (expected an integer from 0)" },
	{ "redis://127.0.0.1/-1", "bad database number '-1' (expected an integer from 0)" },
	{ "redis://127.0.0.1?db=1", "query or fragment not supported in redis:// URLs "
	  "(write the database as /N)" },
	{ "redis://::1:6379", "an IPv6 address must be in brackets, like redis://[::1]:6379" },
	{ "redis://[::1", "bad IPv6 address: expected [address]" },
	{ "redis://u:bad%zzpass@127.0.0.1", "bad percent-escape in the password "
	  "(expected %XX with two hex digits, not %00)" },
	{ "redis://us%4@127.0.0.1", "bad percent-escape in the user name "
	  "(expected %XX with two hex digits, not %00)" },
	{ "unix://", "empty socket path" },
	{ "unix://?db=1", "empty socket path" },
	{ "unix://host/run/redis.sock", "a unix:// URL takes no host; write "
	  "unix:///path/to/socket" },
	{ "unix:///run/redis.sock?db=x", "bad database number 'x' (expected an integer "
	  "from 0)" },
	{ "unix:///run/redis.sock?timeout=1", "unknown parameter 'timeout=1' (only db=N "
	  "is supported)" },
};

/* Bad URLs are refused with exactly their message, never the password. */
START_TEST(url_bad)
{
	const struct bad	*b = &bad_urls[_i];
	struct redis_target	 t;
	char			 err[256];

	ck_assert_msg(redisurl_parse(b->text, &t, err, sizeof(err)) == -1, "accepted %s",
	    b->text);
	ck_assert_str_eq(err, b->msg);
	ck_assert_ptr_null(t.host);
	ck_assert_ptr_null(t.username);
	ck_assert_ptr_null(t.password);
	ck_assert(strstr(err, "secret") == NULL);
}
END_TEST

/* Run the config and redisurl test cases. */
int
main(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("config");
	TCase	*tu = tcase_create("redisurl");

	tcase_add_loop_test(tc, bad_config, 0,
	    (int)(sizeof(bad_configs) / sizeof(bad_configs[0])));
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, bounds_fit_the_scripts);
	tcase_add_test(tc, big_environment_and_a_late_repeat);
	tcase_add_test(tc, example_file);
	tcase_add_test(tc, rich_config);
	tcase_add_test(tc, schedules_parsed);
	tcase_add_test(tc, lease_timing);
	tcase_add_test(tc, flow_and_block);
	tcase_add_test(tc, relative_paths);
	tcase_add_test(tc, file_errors);
	tcase_add_test(tc, redis_overrides);
	tcase_add_test(tc, default_path);
	tcase_add_test(tc, sentinel_parsed);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tu, url_good, 0,
	    (int)(sizeof(good_urls) / sizeof(good_urls[0])));
	tcase_add_test(tu, url_localhost);
	tcase_add_loop_test(tu, url_bad, 0, (int)(sizeof(bad_urls) / sizeof(bad_urls[0])));
	suite_add_tcase(s, tu);
	return (h_main(s));
}
