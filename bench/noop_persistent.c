/* SPDX-License-Identifier: MIT */
/*
 * A no-op persistent handler (deferd's DEFERD_PROTOCOL=1): reads one JSON
 * job per line on stdin and answers {"id":"ID","status":"done"} for each on
 * stdout, at once, in the order the jobs came. Replies are gathered in an
 * output buffer and written with one write(2) when no more input is
 * immediately available (poll with a 0 timeout) or the buffer is large, so
 * a batch of jobs that arrived together costs one write. Exits 0 on EOF on
 * stdin, 1 on a read/write error, and skips (with a line on stderr) an input
 * line that has no string "id".
 *
 * The ID is copied as it appeared between its quotes, escapes included, so
 * the reply names the same string whatever it holds. Only the top-level
 * object's members are looked at; nested values are skipped.
 *
 * With NOOP_STAMPS=FILE in its environment it also records, for each job,
 * "DUE_MS START_MS" like bench/probe.c: DUE_MS is the first run of 13-19
 * digits in the payload (or "-"), START_MS the time the line was read
 * (CLOCK_REALTIME, with microseconds). The lines are kept in memory and
 * appended to FILE with O_APPEND writes of whole lines (at EOF or SIGTERM,
 * or when 256 KiB have gathered), so several processes can share FILE.
 * deferd closes stdin and sends SIGTERM at once when it stops, so SIGTERM
 * ends the handler the way EOF does (stamps written, exit 0).
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra -Werror -o noop noop_persistent.c
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IN_START	(1u << 20)	/* input buffer, grown for long lines */
#define OUT_FLUSH	(256u << 10)	/* write replies once this much is due */
#define STAMP_FLUSH	(256u << 10)

struct buf {
	char	*p;
	size_t	 len, cap;
};

static const char	*stamp_path;
static volatile sig_atomic_t	 terminated;
static struct buf	 out, stamps;

static void
die(const char *what)
{
	fprintf(stderr, "noop_persistent: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
buf_reserve(struct buf *b, size_t more)
{
	size_t	 cap = b->cap != 0 ? b->cap : 4096;
	char	*p;

	if (b->len + more <= b->cap)
		return;
	while (cap < b->len + more)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		die("realloc");
	b->p = p;
	b->cap = cap;
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Write all of b to fd (retrying short writes and EINTR) and empty it. */
static void
buf_write(struct buf *b, int fd, const char *what)
{
	size_t	 off = 0;
	ssize_t	 w;

	while (off < b->len) {
		if ((w = write(fd, b->p + off, b->len - off)) == -1) {
			if (errno == EINTR)
				continue;
			die(what);
		}
		off += (size_t)w;
	}
	b->len = 0;
}

static void
stamps_flush(void)
{
	int	 fd;

	if (stamps.len == 0)
		return;
	if ((fd = open(stamp_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) == -1)
		die(stamp_path);
	buf_write(&stamps, fd, stamp_path);
	close(fd);
}

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return (p);
}

/*
 * p at an opening quote: the position just past the closing quote, or NULL
 * if the string does not end before end. Escapes are stepped over, not
 * decoded.
 */
static const char *
skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p == end)
				return (NULL);
		} else if (*p == '"')
			return (p + 1);
	}
	return (NULL);
}

/* Skip one JSON value of any kind; NULL if it is cut short or malformed. */
static const char *
skip_value(const char *p, const char *end)
{
	int	 depth = 0;

	do {
		if (p >= end)
			return (NULL);
		switch (*p) {
		case '"':
			if ((p = skip_string(p, end)) == NULL)
				return (NULL);
			break;
		case '{':
		case '[':
			depth++;
			p++;
			break;
		case '}':
		case ']':
			if (depth-- == 0)
				return (NULL);
			p++;
			break;
		default:
			/* numbers, literals, and the ',' ':' inside objects */
			if (depth == 0) {
				while (p < end && *p != ',' && *p != '}' &&
				    *p != ']' && *p != ' ' && *p != '\t' &&
				    *p != '\r')
					p++;
				return (p);
			}
			p++;
			break;
		}
	} while (depth > 0);
	return (p);
}

/* The due time: the first run of 13-19 digits in [p, end), or "-". */
static void
find_due(const char *p, const char *end, char *due, size_t sz)
{
	size_t	 k;

	snprintf(due, sz, "-");
	while (p < end) {
		for (k = 0; p + k < end && p[k] >= '0' && p[k] <= '9'; k++)
			;
		if (k >= 13 && k < 20) {
			snprintf(due, sz, "%.*s", (int)k, p);
			return;
		}
		p += k != 0 ? k : 1;
	}
}

/*
 * One input line [p, end): find the top-level "id" (and, for the stamps,
 * "payload"/"payload_base64") and queue the reply.
 */
static void
handle_line(const char *p, const char *end, const char *start_ms)
{
	const char	*id = NULL, *id_end = NULL, *pl = NULL, *pl_end = NULL;
	const char	*k, *k_end, *v;
	char		 due[24], line[64];
	int		 n;

	p = skip_ws(p, end);
	if (p == end)
		return;			/* a blank line: nothing asked */
	if (*p++ != '{')
		goto bad;
	for (;;) {
		p = skip_ws(p, end);
		if (p < end && *p == '}')
			break;
		if (p == end || *p != '"' || (k_end = skip_string(p, end)) == NULL)
			goto bad;
		k = p + 1;
		p = skip_ws(k_end, end);
		if (p == end || *p++ != ':')
			goto bad;
		v = skip_ws(p, end);
		if ((p = skip_value(v, end)) == NULL)
			goto bad;
		if (*v == '"') {
			if (k_end - k - 1 == 2 && memcmp(k, "id", 2) == 0) {
				id = v + 1;
				id_end = p - 1;
			} else if ((k_end - k - 1 == 7 &&
			    memcmp(k, "payload", 7) == 0) ||
			    (k_end - k - 1 == 14 &&
			    memcmp(k, "payload_base64", 14) == 0)) {
				pl = v + 1;
				pl_end = p - 1;
			}
		}
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}')
			break;
		goto bad;
	}
	if (id == NULL)
		goto bad;
	buf_reserve(&out, (size_t)(id_end - id) + 32);
	buf_add(&out, "{\"id\":\"", 7);
	buf_add(&out, id, (size_t)(id_end - id));
	buf_add(&out, "\",\"status\":\"done\"}\n", 19);
	if (stamp_path != NULL) {
		if (pl != NULL)
			find_due(pl, pl_end, due, sizeof(due));
		else
			snprintf(due, sizeof(due), "-");
		n = snprintf(line, sizeof(line), "%s %s\n", due, start_ms);
		buf_add(&stamps, line, (size_t)n);
		if (stamps.len >= STAMP_FLUSH)
			stamps_flush();
	}
	return;
bad:
	fprintf(stderr, "noop_persistent: skipped a line without a string "
	    "\"id\" (%zu bytes)\n", (size_t)(end - p));
}

static void
on_term(int sig)
{
	(void)sig;
	terminated = 1;
}

/* Whether stdin has data (or EOF) to read right now. */
static int
input_ready(void)
{
	struct pollfd	pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	int		rc;

	while ((rc = poll(&pfd, 1, 0)) == -1 && errno == EINTR)
		;
	return (rc > 0);
}

int
main(void)
{
	struct buf	 in = { NULL, 0, 0 };
	struct timespec	 ts;
	char		 start_ms[32] = "";
	char		*nl, *line;
	ssize_t		 r;
	struct sigaction sa;
	int		 eof = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;	/* no SA_RESTART: read() returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	stamp_path = getenv("NOOP_STAMPS");
	if (stamp_path != NULL && *stamp_path == '\0')
		stamp_path = NULL;
	buf_reserve(&in, IN_START);
	buf_reserve(&out, OUT_FLUSH + 4096);
	while (!eof && !terminated) {
		if (in.len == in.cap)		/* a line longer than the buffer */
			buf_reserve(&in, in.cap);
		r = read(STDIN_FILENO, in.p + in.len, in.cap - in.len);
		if (r == -1) {
			if (errno == EINTR)
				continue;	/* the loop ends if it was SIGTERM */
			die("read");
		}
		if (r == 0) {
			eof = 1;
			if (in.len > 0)		/* a last line without '\n' */
				buf_add(&in, "\n", 1);
		}
		in.len += (size_t)r;
		if (stamp_path != NULL) {
			clock_gettime(CLOCK_REALTIME, &ts);
			snprintf(start_ms, sizeof(start_ms), "%lld.%03ld",
			    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
			    (ts.tv_nsec / 1000) % 1000);
		}
		line = in.p;
		while ((nl = memchr(line, '\n', in.len - (size_t)(line - in.p)))
		    != NULL) {
			handle_line(line, nl, start_ms);
			line = nl + 1;
		}
		in.len -= (size_t)(line - in.p);
		memmove(in.p, line, in.len);
		if (out.len > 0 && (eof || out.len >= OUT_FLUSH || !input_ready()))
			buf_write(&out, STDOUT_FILENO, "write");
	}
	if (stamp_path != NULL)
		stamps_flush();
	return (0);
}
