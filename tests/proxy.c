/* SPDX-License-Identifier: MIT */
/* The half-open proxy of proxy.h: a poll loop in a forked child. */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "proxy.h"

#define MAXCONN	64

struct pair {
	int	down;	/* towards deferd */
	int	up;	/* towards Redis; -1 once severed */
};

static volatile sig_atomic_t	sever_asked;

static void
on_usr1(int sig)
{
	(void)sig;
	sever_asked = 1;
}

/* A unix stream socket bound to path (listen) or connected to it. */
static int
unix_socket(const char *path, int listening)
{
	struct sockaddr_un	sun;
	int			fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd == -1)
		return (-1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (listening) {
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
		    listen(fd, 16) == -1) {
			close(fd);
			return (-1);
		}
	} else if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Copy what is readable from one fd to the other; -1 at EOF or error. */
static int
pump(int from, int to)
{
	char	buf[16384];
	ssize_t	n = read(from, buf, sizeof(buf));

	if (n <= 0)
		return (-1);
	for (ssize_t off = 0; off < n; ) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));

		if (w <= 0)
			return (-1);
		off += w;
	}
	return (0);
}

/* Close a pair for good (its side towards deferd too). */
static void
pair_close(struct pair *p)
{
	close(p->down);
	if (p->up != -1)
		close(p->up);
	p->down = p->up = -1;
}

/* The child: accept, proxy, and sever on SIGUSR1 (then tell the parent). */
static void
proxy_loop(int lfd, const char *upstream, int ack)
{
	struct pair	pairs[MAXCONN];
	struct pollfd	pfd[1 + 2 * MAXCONN];
	int		owner[1 + 2 * MAXCONN];

	for (int i = 0; i < MAXCONN; i++)
		pairs[i].down = pairs[i].up = -1;
	for (;;) {
		nfds_t n = 0;

		if (sever_asked) {
			sever_asked = 0;
			for (int i = 0; i < MAXCONN; i++)
				if (pairs[i].up != -1) {
					close(pairs[i].up);
					pairs[i].up = -1;
				}
			if (write(ack, "s", 1) != 1)
				_exit(1);
		}
		pfd[n].fd = lfd;
		pfd[n].events = POLLIN;
		owner[n++] = -1;
		for (int i = 0; i < MAXCONN; i++) {
			if (pairs[i].up == -1)
				continue;	/* free, or severed: deferd's side stays silent */
			pfd[n].fd = pairs[i].down;
			pfd[n].events = POLLIN;
			owner[n++] = i;
			pfd[n].fd = pairs[i].up;
			pfd[n].events = POLLIN;
			owner[n++] = i;
		}
		if (poll(pfd, n, -1) == -1) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		for (nfds_t k = 1; k < n; k++) {
			struct pair *p = &pairs[owner[k]];

			if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) ||
			    p->up == -1)
				continue;
			if (pump(pfd[k].fd, pfd[k].fd == p->down ? p->up :
			    p->down) == -1)
				pair_close(p);
		}
		if (pfd[0].revents & POLLIN) {
			int down = accept(lfd, NULL, NULL), i = 0;

			while (i < MAXCONN && pairs[i].down != -1)
				i++;
			if (down == -1)
				continue;
			if (i == MAXCONN) {
				close(down);
				continue;
			}
			pairs[i].down = down;
			pairs[i].up = unix_socket(upstream, 0);
			if (pairs[i].up == -1)
				pair_close(&pairs[i]);
		}
	}
}

void
h_proxy_start(struct h_proxy *px, const char *dir, const char *upstream)
{
	sigset_t	usr1, old;
	int		lfd, ack[2];

	memset(px, 0, sizeof(*px));
	snprintf(px->sock, sizeof(px->sock), "%s/proxy.sock", dir);
	snprintf(px->url, sizeof(px->url), "unix://%s", px->sock);
	lfd = unix_socket(px->sock, 1);
	ck_assert_msg(lfd != -1, "proxy socket %s: %s", px->sock, strerror(errno));
	ck_assert_int_eq(pipe(ack), 0);
	/* SIGUSR1 stays blocked in the child until its handler is in place. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	px->pid = fork();
	ck_assert_int_ne(px->pid, -1);
	if (px->pid == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;	/* no SA_RESTART: poll returns */
		sigaction(SIGUSR1, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(ack[0]);
		proxy_loop(lfd, upstream, ack[1]);
		_exit(0);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(lfd);
	close(ack[1]);
	px->ack = ack[0];
}

void
h_proxy_sever(struct h_proxy *px)
{
	struct pollfd	pfd = { .fd = px->ack, .events = POLLIN };
	char		c;

	ck_assert_int_eq(kill(px->pid, SIGUSR1), 0);
	ck_assert_msg(poll(&pfd, 1, 10000) == 1, "the proxy did not sever");
	ck_assert_int_eq(read(px->ack, &c, 1), 1);
}

void
h_proxy_stop(struct h_proxy *px)
{
	if (px->pid <= 0)
		return;
	kill(px->pid, SIGKILL);
	waitpid(px->pid, NULL, 0);
	px->pid = 0;
	close(px->ack);
	unlink(px->sock);
}
