/* SPDX-License-Identifier: MIT */
/*
 * Promise P13: least privilege towards Redis. The private Redis loads the
 * shipped config/redis-acl.conf (its "user" line as is, only the password
 * placeholder replaced by the SHA-256 of a test secret), and deferd and
 * deferctl run as that user through the whole pipeline: enqueue, handler,
 * retry, dead, a job holding a lock, deferctl lock, an expiration rule on
 * order:ttl:* keys, and the inspection commands. ACL LOG must show nothing
 * but deferd's two startup CONFIG GET probes (which it warns about once
 * each and then never repeats), and nothing at all after that; and the
 * user must be denied CONFIG SET, FLUSHALL, KEYS and foreign channels.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define USER		"deferd-worker"
#define SECRET		"acl-test-secret-7f3a9c1e5b"
#define PLACEHOLDER	"#<sha256-of-the-secret>"

static struct h_world	 W;
static char		 acldir[256];
static char		 aclpath[300];
static const char *const REDIS_EXTRA[] = { "--include", aclpath,
	"--notify-keyspace-events", "Exg", NULL };

/* SHA-256 of s in hex (sha256sum), into out (>= 65 bytes). */
static void
sha256_hex(const char *s, char *out)
{
	char	 cmd[256];
	FILE	*p;

	snprintf(cmd, sizeof(cmd), "printf %%s '%s' | sha256sum", s);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(out, 65, p));
	pclose(p);
	ck_assert_int_eq(strlen(out), 64);
}

/*
 * The shipped ACL file with the placeholder replaced: written to aclpath
 * for redis-server --include. Fails if the file has no user line or no
 * placeholder, so the test always loads what we ship.
 */
static void
write_acl(void)
{
	const char	*src = __FILE__, *end = strstr(src, "tests/check_acl.c");
	char		 path[1024], hash[80], *text, *at, *out;
	size_t		 need;

	ck_assert_ptr_nonnull(end);
	snprintf(path, sizeof(path), "%.*sconfig/redis-acl.conf", (int)(end - src), src);
	text = h_read_file(path);
	ck_assert_msg(text != NULL, "cannot read %s", path);
	ck_assert_msg(strstr(text, "\nuser " USER " ") != NULL, "no user line");
	at = strstr(text, PLACEHOLDER);
	ck_assert_msg(at != NULL, "no password placeholder");
	sha256_hex(SECRET, hash);
	need = strlen(text) + 80;
	out = malloc(need);
	ck_assert_ptr_nonnull(out);
	snprintf(out, need, "%.*s#%s%s", (int)(at - text), text, hash,
	    at + strlen(PLACEHOLDER));
	h_write_file(acldir, "redis-acl.conf", out, 0600);
	free(out);
	free(text);
}

static void
setup(void)
{
	h_tmpdir(acldir, sizeof(acldir));
	snprintf(aclpath, sizeof(aclpath), "%s/redis-acl.conf", acldir);
	write_acl();
	h_world_setup(&W, REDIS_EXTRA);
	h_write_file(W.work, "redis.pass", SECRET "\n", 0600);
}

static void
teardown(void)
{
	char	cmd[400];

	h_world_teardown(&W);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", acldir);
	if (system(cmd) != 0)
		fprintf(stderr, "check_acl: could not remove %s\n", acldir);
}

/* deferd's config: as the ACL user, with a lock lease and an expiration rule. */
static const char *
config_text(void)
{
	static char	buf[8192];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\", username: " USER ", password_file: %s/redis.pass}\n"
	    "concurrency: 4\n"
	    "lease: 2s\n"
	    "retry: {max_attempts: 2, backoff: 100ms, backoff_max: 200ms}\n"
	    "locks: {lease: 1s}\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 10s\n"
	    "  kill_grace: 500ms\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "expirations:\n"
	    "  rules:\n"
	    "    - {pattern: \"order:ttl:*\", handler: cancel, resource: \"order:{1}\"}\n",
	    W.r.url, W.work, W.hdir, W.out);
	return (buf);
}

/* Run deferctl -c config ARGS... (NULL-terminated); its exit status. */
static int
ctl(const char *config, char *out, size_t outlen, ...)
{
	const char	*argv[16];
	va_list		 ap;
	int		 n = 0, status;

	argv[n++] = h_bin("deferctl");
	argv[n++] = "-c";
	argv[n++] = config;
	va_start(ap, outlen);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	status = h_run(argv, NULL, out, outlen);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : 128);
}

/* The ACL LOG as text: "reason object username" per entry ("" if empty). */
static void
acl_log(char *out, size_t len)
{
	redisReply	*r = h_cmd(W.c, "ACL LOG");
	size_t		 o = 0;

	out[0] = '\0';
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		const char *reason = "?", *object = "?", *user = "?";

		for (size_t k = 0; k + 1 < e->elements; k += 2) {
			const char *f = e->element[k]->str;
			const redisReply *v = e->element[k + 1];

			if (v->type != REDIS_REPLY_STRING)
				continue;
			if (strcmp(f, "reason") == 0)
				reason = v->str;
			else if (strcmp(f, "object") == 0)
				object = v->str;
			else if (strcmp(f, "username") == 0)
				user = v->str;
		}
		o += (size_t)snprintf(out + o, len > o ? len - o : 0, "%s %s %s\n",
		    reason, object, user);
	}
	freeReplyObject(r);
}

/* Whether ACL DRYRUN says the user may run cmd (space-separated words). */
static bool
dryrun_ok(const char *cmd)
{
	char	buf[512], full[512];

	snprintf(full, sizeof(full), "ACL DRYRUN " USER " %s", cmd);
	h_cmd_str(W.c, buf, sizeof(buf), full);
	return (strcmp(buf, "OK") == 0);
}

START_TEST(acl_user_denies_what_deferd_does_not_need)
{
	/* Allowed: proves the user is loaded and DRYRUN answers. */
	ck_assert(dryrun_ok("ZADD deferd:{default}:delayed 1 x"));
	ck_assert(dryrun_ok("EXISTS order:ttl:1"));
	ck_assert(dryrun_ok("SUBSCRIBE deferd:{default}:wake"));
	ck_assert(dryrun_ok("PSUBSCRIBE __keyevent@*__:expired"));
	/* Denied. */
	ck_assert(!dryrun_ok("CONFIG SET maxmemory-policy allkeys-lru"));
	ck_assert(!dryrun_ok("CONFIG GET requirepass"));
	ck_assert(!dryrun_ok("FLUSHALL"));
	ck_assert(!dryrun_ok("FLUSHDB"));
	ck_assert(!dryrun_ok("KEYS *"));
	ck_assert(!dryrun_ok("SUBSCRIBE otherchannel"));
	ck_assert(!dryrun_ok("PSUBSCRIBE *"));
	ck_assert(!dryrun_ok("PUBLISH otherchannel x"));
	ck_assert(!dryrun_ok("SCRIPT FLUSH"));
	ck_assert(!dryrun_ok("DEBUG SLEEP 0"));
	ck_assert(!dryrun_ok("CLIENT KILL TYPE normal"));
	ck_assert(!dryrun_ok("ACL LIST"));
	ck_assert(!dryrun_ok("GET app:secret"));
	ck_assert(!dryrun_ok("SET order:ttl:1 x"));	/* app keys: read only */
	ck_assert(!dryrun_ok("DEL order:ttl:1"));
}
END_TEST

START_TEST(deferd_and_deferctl_run_everything_as_the_acl_user)
{
	struct h_daemon	d;
	char		buf[8192], log[4096], *s;
	int		status;

	h_write_file(W.hdir, "ok", "#!/bin/sh\nenv > \"$OUT/env-$DEFERD_JOB_ID\"\n"
	    "echo \"$DEFERD_JOB_ID\" >> \"$OUT/ok\"\n", 0755);
	h_write_file(W.hdir, "fail", "#!/bin/sh\necho x >> \"$OUT/fail\"\nexit 75\n", 0755);
	h_write_file(W.hdir, "locked", "#!/bin/sh\n"
	    "echo \"$DEFERD_RESOURCE $DEFERD_FENCING_TOKEN\" >> \"$OUT/locked\"\n"
	    "sleep 2.5\n", 0755);	/* 2.5 lock leases: extended while it runs */
	h_write_file(W.hdir, "cancel", "#!/bin/sh\n"
	    "{ cat; echo \" $DEFERD_RESOURCE\"; } >> \"$OUT/cancel\"\n", 0755);
	h_daemon_start(&d, W.work, config_text());
	ck_assert(h_daemon_log_has(&d, "ready", 15000 * SLOW));

	/* The one warning per check that CONFIG GET is refused, and only those. */
	ck_assert(h_daemon_log_has(&d, "cannot read maxmemory-policy", 1000));
	ck_assert(h_daemon_log_has(&d, "cannot read notify-keyspace-events", 1000));
	ck_assert_int_eq(h_log_count(&d, "cannot read maxmemory-policy"), 1);
	ck_assert_int_eq(h_log_count(&d, "cannot read notify-keyspace-events"), 1);
	acl_log(log, sizeof(log));
	for (char *line = log; *line != '\0'; line = strchr(line, '\n') + 1)
		ck_assert_msg(strncmp(line, "command config|get " USER "\n",
		    strlen("command config|get " USER "\n")) == 0,
		    "unexpected ACL LOG entry at startup: %s", line);
	h_cmd_str(W.c, buf, sizeof(buf), "ACL LOG RESET");
	h_cmd_str(W.c, buf, sizeof(buf), "CLIENT LIST");
	ck_assert_msg(strstr(buf, "user=" USER) != NULL, "deferd is not " USER);

	/* enqueue -> handler; retry -> dead; a lock; an expiration. */
	ck_assert_int_eq(ctl(d.config, buf, sizeof(buf), "enqueue", "--id", "a1",
	    "ok", "payload", NULL), 0);
	ck_assert_int_eq(ctl(d.config, buf, sizeof(buf), "enqueue", "--id", "f1",
	    "fail", NULL), 0);
	ck_assert_int_eq(ctl(d.config, buf, sizeof(buf), "enqueue", "--id", "r1",
	    "--resource", "res1", "locked", NULL), 0);
	h_cmd_str(W.c, buf, sizeof(buf), "SET order:ttl:42 x PX 300");
	ck_assert(H_WAIT_UNTIL(h_count_lines(h_world_out(&W, "ok")) == 1, 15000 * SLOW));
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 1, 15000 * SLOW));
	ck_assert_int_eq(h_count_lines(h_world_out(&W, "fail")), 2);
	ck_assert(H_WAIT_UNTIL(h_count_lines(h_world_out(&W, "cancel")) == 1, 15000 * SLOW));
	s = h_read_file(h_world_out(&W, "cancel"));
	ck_assert_str_eq(s, "order:ttl:42 order:42\n");
	free(s);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS deferd:{default}:result:r1") == 1,
	    15000 * SLOW));
	s = h_read_file(h_world_out(&W, "locked"));
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(strncmp(s, "res1 ", 5) == 0 && atoi(s + 5) > 0, "locked: %s", s);
	free(s);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:lock:res1"), 0);

	/* deferctl: inspection and a lock of its own. */
	ck_assert_int_eq(ctl(d.config, buf, sizeof(buf), "list", "dead", NULL), 0);
	ck_assert(strstr(buf, "f1") != NULL);
	ck_assert_int_eq(ctl(d.config, buf, sizeof(buf), "show", "f1", NULL), 0);
	ck_assert_int_eq(ctl(d.config, buf, sizeof(buf), "stats", NULL), 0);
	ck_assert_int_eq(ctl(d.config, buf, sizeof(buf), "retry", "f1", NULL), 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(h_world_out(&W, "fail")) >= 3, 15000 * SLOW));
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 1, 15000 * SLOW));
	ck_assert_int_eq(ctl(d.config, buf, sizeof(buf), "purge", "f1", NULL), 0);
	ck_assert_int_eq(ctl(d.config, buf, sizeof(buf), "lock", "--ttl", "1s", "res2",
	    "--", "/bin/true", NULL), 0);
	ck_assert_int_eq(ctl(d.config, buf, sizeof(buf), "enqueue", "--id", "c1",
	    "--in", "1h", "ok", NULL), 0);
	ck_assert_int_eq(ctl(d.config, buf, sizeof(buf), "cancel", "c1", NULL), 0);
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0, 10000 * SLOW));

	/* Nothing was denied during the whole run. */
	acl_log(log, sizeof(log));
	ck_assert_msg(log[0] == '\0', "ACL LOG is not empty:\n%s", log);

	/* The secret is neither in deferd's argv nor in a handler's env. */
	snprintf(buf, sizeof(buf), "/proc/%d/cmdline", (int)d.pid);
	s = h_read_file(buf);
	ck_assert_ptr_nonnull(s);
	ck_assert(strstr(s, SECRET) == NULL);
	free(s);
	s = h_read_file(h_world_out(&W, "env-a1"));
	ck_assert_ptr_nonnull(s);
	ck_assert(strstr(s, SECRET) == NULL);
	ck_assert(strstr(s, "redis.pass") == NULL);
	free(s);
	status = h_daemon_signal(&d, SIGTERM, true);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

/*
 * docs/reliability.md P5: with CONFIG denied deferd cannot read
 * notify-keyspace-events, so the canary must tell whether expired events
 * arrive: with the flags off it says so (degraded, sweep only), and once
 * an operator turns them on it notices and expirations work.
 */
START_TEST(canary_tells_whether_expired_events_arrive)
{
	struct h_daemon	d;
	char		buf[256], *s;

	h_write_file(W.hdir, "cancel", "#!/bin/sh\n"
	    "{ cat; echo \" $DEFERD_RESOURCE\"; } >> \"$OUT/cancel\"\n", 0755);
	h_cmd_str(W.c, buf, sizeof(buf), "CONFIG SET notify-keyspace-events %s", "");
	ck_assert_str_eq(buf, "OK");
	h_daemon_start(&d, W.work, config_text());
	ck_assert(h_daemon_log_has(&d, "ready", 15000 * SLOW));
	ck_assert(h_daemon_log_has(&d, "no expired event arrived within 1s",
	    15000 * SLOW));
	h_cmd_str(W.c, buf, sizeof(buf), "CONFIG SET notify-keyspace-events Exg");
	ck_assert(h_daemon_log_has(&d, "key expiration events arrive again",
	    20000 * SLOW));
	h_cmd_str(W.c, buf, sizeof(buf), "SET order:ttl:7 x PX 100");
	ck_assert(H_WAIT_UNTIL(h_count_lines(h_world_out(&W, "cancel")) == 1,
	    15000 * SLOW));
	s = h_read_file(h_world_out(&W, "cancel"));
	ck_assert_str_eq(s, "order:ttl:7 order:7\n");
	free(s);
	ck_assert_int_eq(h_log_count(&d, "no expired event arrived"), 1);
	h_daemon_stop(&d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("acl");
	TCase	*tc = tcase_create("least_privilege");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, acl_user_denies_what_deferd_does_not_need);
	tcase_add_test(tc, deferd_and_deferctl_run_everything_as_the_acl_user);
	tcase_add_test(tc, canary_tells_whether_expired_events_arrive);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
