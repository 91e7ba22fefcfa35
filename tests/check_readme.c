/* SPDX-License-Identifier: MIT */
/*
 * The README's "Putting jobs in" examples, read from README.md and run as
 * written against the shipped example handlers (handlers/), a real
 * redis-server and deferd. Each example that enqueues cancel-order must
 * leave order 42 cancelled and its stock released by release-stock; the
 * hello example must greet with its payload. The one change made to an
 * example is its time: a delay (30 minutes), a due time (2030) or a date
 * (2027) becomes "now", so that the test need not wait. The --batch line
 * (100,000 jobs) is left to check_deferctl's batch test.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define SECTION		"## Putting jobs in"
#define NEXT_SECTION	"\n### "
#define MAX_EXAMPLES	8

static struct h_world	 W;
static struct h_daemon	 D;

/* One example: shell lines for deferctl, or lines for redis-cli. */
struct example {
	bool	 shell;
	char	 text[2048];
};

/* Replace the first from in s (of size len) by to; whether it was there. */
static bool
replace(char *s, size_t len, const char *from, const char *to)
{
	char	*at = strstr(s, from), rest[2048];

	if (at == NULL)
		return (false);
	snprintf(rest, sizeof(rest), "%s", at + strlen(from));
	snprintf(at, len - (size_t)(at - s), "%s%s", to, rest);
	return (true);
}

/* The README section's code blocks, as examples (the caller frees text). */
static size_t
read_examples(struct example *ex, size_t max)
{
	char	*readme = h_read_file("README.md"), *sec, *end, *p;
	size_t	 n = 0;

	ck_assert_msg(readme != NULL, "README.md not found (run from the "
	    "source tree)");
	sec = strstr(readme, SECTION);
	ck_assert_ptr_nonnull(sec);
	end = strstr(sec, NEXT_SECTION);
	ck_assert_ptr_nonnull(end);
	*end = '\0';
	for (p = strstr(sec, "```"); p != NULL && n < max; ) {
		char	*body = strchr(p, '\n'), *close;

		if (body == NULL || (close = strstr(body + 1, "```")) == NULL)
			break;
		*close = '\0';
		ex[n].shell = strncmp(p, "```sh", 5) == 0;
		snprintf(ex[n].text, sizeof(ex[n].text), "%s", body + 1);
		n++;
		p = strstr(close + 3, "```");
	}
	free(readme);
	return (n);
}

/* Order 42: pending, 2 apples reserved out of a stock of 8. */
static void
order_reset(void)
{
	freeReplyObject(h_cmd(W.c, "DEL order:42 order:42:items stock"));
	freeReplyObject(h_cmd(W.c, "HSET order:42 status pending"));
	freeReplyObject(h_cmd(W.c, "HSET order:42:items apple 2"));
	freeReplyObject(h_cmd(W.c, "HSET stock apple 8"));
}

/* Whether order 42 is cancelled and its apples are back. */
static bool
order_cancelled(void)
{
	char	status[64], apples[64];

	h_cmd_str(W.c, status, sizeof(status), "HGET order:42 status");
	h_cmd_str(W.c, apples, sizeof(apples), "HGET stock apple");
	return (strcmp(status, "cancelled") == 0 && strcmp(apples, "10") == 0);
}

/* Run one shell line (deferctl found on PATH, its config from the env). */
static void
run_shell(const char *line)
{
	const char	*argv[] = { "/bin/sh", "-c", line, NULL };
	char		 out[1024];
	int		 status = h_run(argv, NULL, out, sizeof(out));

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "'%s' failed (status %d): %s", line, status, out);
}

/* Send lines to redis-cli, one command a line, on one connection. */
static void
run_redis(const char *lines)
{
	char		 cmd[512], out[1024];
	const char	*argv[] = { "/bin/sh", "-c", cmd, NULL };
	int		 status;

	snprintf(cmd, sizeof(cmd), "redis-cli -s '%s'", W.r.sock);
	status = h_run(argv, lines, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    strstr(out, "ERR") == NULL, "redis-cli failed: %s", out);
}

static void
setup(void)
{
	char	cfg[2048], cwd[512], bin[512], path[2048];

	h_world_setup(&W, NULL);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	snprintf(cfg, sizeof(cfg),
	    "redis: {url: \"%s\"}\n"
	    "poll_interval: 200ms\n"
	    "handlers:\n"
	    "  dir: %s/handlers\n"
	    "  environment: {REDIS_CLI_ARGS: \"-s %s\"}\n",
	    W.r.url, cwd, W.r.sock);
	h_daemon_start(&D, W.work, cfg);
	ck_assert(h_daemon_log_has(&D, "ready", 15000));
	snprintf(bin, sizeof(bin), "%s", h_bin("deferctl"));
	snprintf(path, sizeof(path), "%s:%s", dirname(bin), getenv("PATH"));
	setenv("PATH", path, 1);
	setenv("DEFERD_CONFIG", D.config, 1);
}

static void
teardown(void)
{
	h_daemon_stop(&D);
	unsetenv("DEFERD_CONFIG");
	h_world_teardown(&W);
}

/* Each cancel-order example of the README cancels order 42. */
START_TEST(readme_examples_cancel_the_order)
{
	struct example	 ex[MAX_EXAMPLES];
	size_t		 n = read_examples(ex, MAX_EXAMPLES);
	int		 ran = 0;

	for (size_t i = 0; i < n; i++) {
		char	*t = ex[i].text, *line, *save;

		if (strstr(t, "cancel-order") == NULL)
			continue;
		order_reset();
		freeReplyObject(h_cmd(W.c, "DEL deferd:{default}:job:order-42"));
		freeReplyObject(h_cmd(W.c, "HDEL deferd:{default}:jobs order-42"));
		if (ex[i].shell) {
			for (line = strtok_r(t, "\n", &save); line != NULL;
			    line = strtok_r(NULL, "\n", &save)) {
				if (strstr(line, "cancel-order") == NULL)
					continue;
				ck_assert_msg(replace(line, sizeof(ex[i].text) -
				    (size_t)(line - t), "--in 30m", "--in 0s"),
				    "the example's delay changed: %s", line);
				run_shell(line);
			}
		} else {
			/* MULTI/EXEC: the 2030 due time; EVAL: the delay in ms. */
			ck_assert_msg(replace(t, sizeof(ex[i].text), " 1893456000000 ",
			    " 0 ") || replace(t, sizeof(ex[i].text), " 1800000 ",
			    " 0 "), "the example's time changed: %s", t);
			run_redis(t);
		}
		ck_assert_msg(H_WAIT_UNTIL(order_cancelled(), 15000 * SLOW),
		    "README example %zu did not cancel order 42 and release its "
		    "stock:\n%s", i, ex[i].text);
		ran++;
	}
	ck_assert_int_eq(ran, 3);	/* deferctl, MULTI/EXEC, EVAL */
}
END_TEST

/* The README's hello example greets with the payload file's content. */
START_TEST(readme_hello_example_greets)
{
	struct example	 ex[MAX_EXAMPLES];
	size_t		 n = read_examples(ex, MAX_EXAMPLES);
	char		 line[512], result[256], id[128], out[256];
	const char	*found = NULL;
	const char	*argv[] = { "/bin/sh", "-c", line, NULL };

	for (size_t i = 0; i < n && found == NULL; i++)
		found = strstr(ex[i].text, "deferctl enqueue --at");
	ck_assert_ptr_nonnull(found);
	snprintf(line, sizeof(line), "cd '%s' && %.*s", W.work,
	    (int)strcspn(found, "\n"), found);
	ck_assert_msg(replace(line, sizeof(line), "2027-12-24T18:00:00Z", "@0"),
	    "the example's date changed: %s", line);
	h_write_file(W.work, "payload.json", "{\"greeting\":true}", 0644);
	ck_assert_int_eq(WEXITSTATUS(h_run(argv, NULL, out, sizeof(out))), 0);
	snprintf(id, sizeof(id), "%.*s", (int)strcspn(out, "\n"), out);
	ck_assert_msg(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS "
	    "deferd:{default}:result:%s", id) == 1, 15000 * SLOW),
	    "job %s left no result", id);
	h_cmd_str(W.c, result, sizeof(result), "GET deferd:{default}:result:%s",
	    id);
	ck_assert_str_eq(result, "Hello from deferd: {\"greeting\":true}\n");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("readme");
	TCase	*tc = tcase_create("examples");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120 * SLOW);
	tcase_add_test(tc, readme_examples_cancel_the_order);
	tcase_add_test(tc, readme_hello_example_greets);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
