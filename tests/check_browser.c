/* SPDX-License-Identifier: MIT */
/*
 * The dashboard in a real browser: Debian's chromium, headless, loads the
 * overview from a running deferd (jobs in several states, a paused queue)
 * and the test asserts on the DOM the page's script built (--dump-dom),
 * then saves screenshots of the overview, a list and a job page
 * (DEFERD_BUILD/screenshots/) to look at.
 * .ci/run installs chromium; where it is not installed the test says so
 * and checks nothing.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define CHROMIUM	"/usr/bin/chromium"
#define O		"deferd:{mail}:"

static struct h_world	 W;
static int		 port;

static void
setup(void)
{
	h_world_setup(&W, NULL);
	port = h_free_port();
}

static void
teardown(void)
{
	h_world_teardown(&W);
}

/*
 * Run chromium headless on url with mode ("--dump-dom", or
 * "--screenshot=PATH"), letting the page's script run for a few seconds
 * of virtual time; its stdout into out. Returns the exit status.
 */
static int
chromium(const char *url, const char *mode, char *out, size_t outlen)
{
	char		 profile[400], log[400];
	/* Its own stderr (D-Bus complaints and the like) goes to a file. */
	const char	*argv[] = { "/bin/sh", "-c", "exec \"$0\" \"$@\" 2>>\"$LOG\"",
			    CHROMIUM, "--headless", "--no-sandbox",
			    "--disable-gpu", "--hide-scrollbars",
			    "--no-first-run", "--window-size=1100,720",
			    "--virtual-time-budget=5000", profile, mode, url,
			    NULL };
	int		 status;

	snprintf(profile, sizeof(profile), "--user-data-dir=%s/chromium",
	    W.work);
	snprintf(log, sizeof(log), "%s/chromium.log", W.work);
	setenv("LOG", log, 1);
	status = h_run(argv, NULL, out, outlen);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/*
 * A shell, in a process group of its own, that publishes a "done" event
 * on deferd:events every 50 ms (400 at most) for the live page to show.
 * Returns its pid (its group: kill with -pid).
 */
static pid_t
publish_events(void)
{
	char	 script[1024];
	pid_t	 pid;

	snprintf(script, sizeof(script), "i=0; while [ $i -lt 400 ]; do "
	    "redis-cli -s '%s' PUBLISH deferd:events "
	    "\"{\\\"event\\\":\\\"done\\\",\\\"queue\\\":\\\"default\\\","
	    "\\\"id\\\":\\\"pub-$i\\\",\\\"handler\\\":\\\"ok\\\","
	    "\\\"duration_ms\\\":5}\" >/dev/null; i=$((i + 1)); sleep 0.05; done",
	    W.r.sock);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	return (pid);
}

/*
 * The overview as a browser renders it: each queue's row with its
 * counts, the paused queue marked, the daemon that ran the jobs, Redis's
 * version; a job ID with markup in a queue name cannot happen, but the
 * daemon summary may hold some: it shows as text.
 */
START_TEST(overview_renders_the_counts)
{
	struct h_daemon	 d;
	char		 cfg[2048], url[64], shot[512], dir[400];
	static char	 dom[1 << 20];
	long long	 now;
	struct stat	 st;
	pid_t		 publisher;
	int		 live_rc;
	static const struct {
		const char	*name, *fragment;
	} pages[] = { { "overview", "" }, { "dead", "#/jobs/default/dead" },
	    { "job", "#/job/default/bad-1" } };

	if (access(CHROMIUM, X_OK) == -1) {
		printf("browser test skipped: %s is not installed (.ci/run "
		    "installs it)\n", CHROMIUM);
		return;
	}
	h_write_file(W.hdir, "ok", "#!/bin/sh\nexit 0\n", 0755);
	h_write_file(W.hdir, "bad", "#!/bin/sh\nexit 65\n", 0755);
	snprintf(cfg, sizeof(cfg), "redis: {url: \"%s\"}\n"
	    "queues: [default, mail]\nhandlers: {dir: %s}\n"
	    "dashboard: {listen: \"127.0.0.1:%d\"}\n", W.r.url, W.hdir, port);
	h_daemon_start(&d, W.work, cfg);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	for (int i = 0; i < 6; i++) {
		char	id[16];

		snprintf(id, sizeof(id), "ok-%d", i);
		h_enqueue(W.c, id, "ok", "", 0, 0);
	}
	h_enqueue(W.c, "bad-1", "bad", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD deferd:{default}:done") ==
	    6 && h_cmd_int(W.c, "ZCARD deferd:{default}:dead") == 1, 15000));
	now = (long long)h_redis_now_ms(W.c);
	freeReplyObject(h_cmd(W.c, "SET " O "paused %lld", now));
	for (int i = 0; i < 4; i++) {
		freeReplyObject(h_cmd(W.c, "HSET " O "job:m%d handler ok", i));
		freeReplyObject(h_cmd(W.c, "ZADD " O "delayed %lld m%d",
		    i < 3 ? now - 1000 : now + 3600000, i));
	}
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD deferd:stats") == 1,
	    15000 * SLOW));
	freeReplyObject(h_cmd(W.c, "SET deferd:stats:x %s", "{\"daemon\":"
	    "\"<img src=x onerror=alert(1)>\",\"ts_ms\":1}"));
	freeReplyObject(h_cmd(W.c, "ZADD deferd:stats %lld x", now));

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	ck_assert_int_eq(chromium(url, "--dump-dom", dom, sizeof(dom)), 0);
	ck_assert_msg(strstr(dom, "<tr><td>default</td><td class=\"n\">"
	    "<a href=\"#/jobs/default/delayed\">0</a></td>"
	    "<td class=\"n\">0</td><td class=\"n\">"
	    "<a href=\"#/jobs/default/active\">0</a></td>"
	    "<td class=\"n bad\"><a href=\"#/jobs/default/dead\">1</a></td>"
	    "<td class=\"n\"><a href=\"#/jobs/default/done\">6</a></td>"
	    "<td class=\"n bad\"><a href=\"#/jobs/default/failed\">1</a></td>"
	    "<td class=\"ok\">running</td></tr>") != NULL, "%s", dom);
	ck_assert_msg(strstr(dom, "<tr><td>mail</td><td class=\"n\">"
	    "<a href=\"#/jobs/mail/delayed\">4</a></td>"
	    "<td class=\"n warn\">3</td>") != NULL && strstr(dom,
	    "<td class=\"warn\">paused</td></tr>") != NULL, "%s", dom);
	ck_assert_msg(strstr(dom, "namespace deferd") != NULL, "%s", dom);
	ck_assert_msg(strstr(dom, "<td>&lt;img src=x onerror=alert(1)&gt;</td>")
	    != NULL, "%s", dom);
	ck_assert_msg(strstr(dom, "<dt>version</dt><dd>") != NULL, "%s", dom);

	/* The dead list links the job; the job page shows why it died. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/#/jobs/default/dead",
	    port);
	ck_assert_int_eq(chromium(url, "--dump-dom", dom, sizeof(dom)), 0);
	ck_assert_msg(strstr(dom, "<a href=\"#/job/default/bad-1\">bad-1</a>")
	    != NULL && strstr(dom, "<td class=\"err\">exit status 65</td>") !=
	    NULL && strstr(dom, ">retry all</button>") != NULL, "%s", dom);
	/* Filtered: by its handler it is there, by another it is not. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/#/jobs/default/dead"
	    "?handler=bad", port);
	ck_assert_int_eq(chromium(url, "--dump-dom", dom, sizeof(dom)), 0);
	ck_assert_msg(strstr(dom, ">bad-1</a>") != NULL && strstr(dom,
	    "name=\"handler\" placeholder=\"handler\" aria-label=\"handler\""
	    ">") != NULL, "%s", dom);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/#/jobs/default/dead"
	    "?prefix=zzz", port);
	ck_assert_int_eq(chromium(url, "--dump-dom", dom, sizeof(dom)), 0);
	ck_assert_msg(strstr(dom, ">bad-1</a>") == NULL && strstr(dom,
	    "<td class=\"muted\" colspan=\"6\">none</td>") != NULL, "%s", dom);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/#/job/default/bad-1",
	    port);
	ck_assert_int_eq(chromium(url, "--dump-dom", dom, sizeof(dom)), 0);
	ck_assert_msg(strstr(dom, "<h2 id=\"job-title\">job bad-1</h2>") !=
	    NULL && strstr(dom, "<dt>state</dt><dd>dead</dd>") != NULL &&
	    strstr(dom, "<dt>last_error</dt><dd>exit status 65</dd>") != NULL &&
	    strstr(dom, "<button type=\"button\">retry now</button>"
	    "<button type=\"button\">delete</button>") != NULL, "%s", dom);
	/* The live page shows events as they come (3, then it stops). */
	publisher = publish_events();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/#/live?until=3", port);
	live_rc = chromium(url, "--dump-dom", dom, sizeof(dom));
	kill(-publisher, SIGTERM);
	waitpid(publisher, NULL, 0);
	ck_assert_int_eq(live_rc, 0);
	ck_assert_msg(strstr(dom, "role=\"status\">live: stopped after 3 "
	    "event(s)</span>") != NULL && strstr(dom, "<a href=\"#/job/default/"
	    "pub-") != NULL && strstr(dom, "<td>done</td><td>default</td>") !=
	    NULL, "%s", dom);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);

	snprintf(dir, sizeof(dir), "%s/screenshots", getenv("DEFERD_BUILD") !=
	    NULL ? getenv("DEFERD_BUILD") : "build");
	(void)mkdir(dir, 0755);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s", port,
		    pages[i].fragment);
		snprintf(shot, sizeof(shot), "--screenshot=%s/%s.png", dir,
		    pages[i].name);
		ck_assert_int_eq(chromium(url, shot, dom, sizeof(dom)), 0);
		ck_assert_int_eq(stat(shot + strlen("--screenshot="), &st), 0);
		ck_assert_int_gt(st.st_size, 10000);
		printf("browser: screenshot %s (%lld bytes)\n",
		    shot + strlen("--screenshot="), (long long)st.st_size);
	}
	h_daemon_stop(&d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("browser");
	TCase	*tc = tcase_create("browser");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, overview_renders_the_counts);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
