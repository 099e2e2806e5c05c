/*
 * make demo: epoll's lifecycle happening inside uepoll, then the reason
 * epoll exists (O(n) poll against O(ready) epoll), measured.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "uepoll.h"

static double t0;

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- part 1: the lifecycle, traced ---- */

struct step {
	double at;
	struct uepoll_trace_event ev;
	int thread; /* 0 = waiter, 1 = writer */
};

static struct step steps[64];
static int nsteps;
static pthread_mutex_t steps_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int who;

static void on_trace(const struct uepoll_trace_event *ev, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&steps_lock);
	if (nsteps < 64)
		steps[nsteps++] = (struct step){now_us(), *ev, who};
	pthread_mutex_unlock(&steps_lock);
}

static int pipefd[2];

static void *writer(void *arg)
{
	(void)arg;
	who = 1;
	usleep(20000); /* let the waiter fall asleep */
	pthread_mutex_lock(&steps_lock);
	steps[nsteps++] = (struct step){now_us(), {0, pipefd[1], 0, 0}, 1};
	pthread_mutex_unlock(&steps_lock);
	if (uepoll_write(pipefd[1], "hello", 5) != 5)
		die("write");
	return NULL;
}

static const char *explain(const struct step *s)
{
	if ((int)s->ev.kind == 0)
		return "writer: uepoll_write(pipe, \"hello\")";
	switch (s->ev.kind) {
	case UEPOLL_TRACE_WAKE_UP:
		return "pipe's wait queue is woken (key EPOLLIN|EPOLLRDNORM)";
	case UEPOLL_TRACE_CALLBACK:
		return "ep_poll_callback: item moved to the ready list";
	case UEPOLL_TRACE_WAKE_WAITER:
		return "ep_poll_callback: wakes one thread sleeping in wait";
	case UEPOLL_TRACE_SLEEP:
		return "waiter: ready list empty, sleeps in uepoll_wait";
	case UEPOLL_TRACE_WAKE:
		return "waiter: awake";
	case UEPOLL_TRACE_HARVEST:
		return "ep_send_events: re-polls the item, copies it out";
	}
	return "?";
}

static void lifecycle(void)
{
	printf("1. One event's way through uepoll (times from the first "
	       "step)\n\n");
	int ep = uepoll_create1(0);
	if (ep < 0 || uepoll_pipe(pipefd) < 0)
		die("create");
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7};
	if (uepoll_ctl(ep, EPOLL_CTL_ADD, pipefd[0], &ev) < 0)
		die("ctl");
	printf("   epoll fd %d watches pipe read end %d (uepoll numbers start "
	       "at %d)\n\n",
	       ep, pipefd[0], UEPOLL_FD_BASE);

	pthread_t t;
	uepoll_set_trace(on_trace, NULL);
	pthread_create(&t, NULL, writer, NULL);
	struct epoll_event out;
	int n = uepoll_wait(ep, &out, 1, 2000);
	double done = now_us();
	uepoll_set_trace(NULL, NULL);
	pthread_join(t, NULL);
	if (n != 1)
		die("wait");

	t0 = steps[0].at;
	for (int i = 0; i < nsteps; i++)
		printf("   %9.1f us  [%s] %s\n", steps[i].at - t0,
		       steps[i].thread ? "writer" : "waiter",
		       explain(&steps[i]));
	printf("   %9.1f us  [waiter] uepoll_wait returns 1 event: events=0x%x "
	       "data=%llu\n\n",
	       done - t0, out.events, (unsigned long long)out.data.u64);

	char info[512];
	uepoll_fdinfo(ep, info, sizeof(info));
	printf("   uepoll_fdinfo (the kernel's fdinfo line, plus what the "
	       "kernel hides):\n");
	for (char *line = strtok(info, "\n"); line; line = strtok(NULL, "\n"))
		printf("     %s\n", line);
	uepoll_close(pipefd[0]);
	uepoll_close(pipefd[1]);
	uepoll_close(ep);
}

/* ---- part 2: O(n) poll against O(ready) epoll ---- */

#define NPIPES 10000
#define NACTIVE 5
#define ROUNDS 200

static void contrast(void)
{
	static int rd[NPIPES], wr[NPIPES];
	static struct pollfd pfds[NPIPES];
	struct epoll_event evs[64];

	printf("\n2. %d idle pipes, %d active: poll is O(watched), epoll "
	       "O(ready)\n\n",
	       NPIPES, NACTIVE);
	int ep = uepoll_create1(0);
	for (int i = 0; i < NPIPES; i++) {
		int p[2];
		if (uepoll_pipe2(p, O_NONBLOCK) < 0)
			die("pipe");
		rd[i] = p[0];
		wr[i] = p[1];
		pfds[i] = (struct pollfd){.fd = p[0], .events = POLLIN};
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
		if (uepoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) < 0)
			die("ctl");
	}
	for (int i = 0; i < NACTIVE; i++)
		uepoll_write(wr[i * (NPIPES / NACTIVE)], "x", 1);

	double a = now_us();
	int got = 0;
	for (int r = 0; r < ROUNDS; r++)
		got = uepoll_poll(pfds, NPIPES, 0);
	double poll_us = (now_us() - a) / ROUNDS;

	a = now_us();
	int got2 = 0;
	for (int r = 0; r < ROUNDS; r++)
		got2 = uepoll_wait(ep, evs, 64, 0);
	double wait_us = (now_us() - a) / ROUNDS;

	printf("   uepoll_poll : %5d ready, %9.2f us per call (scans all %d)\n",
	       got, poll_us, NPIPES);
	printf("   uepoll_wait : %5d ready, %9.2f us per call (visits the %d "
	       "ready)\n",
	       got2, wait_us, NACTIVE);
	printf("   poll / wait : %9.0fx\n", poll_us / wait_us);

	struct uepoll_stats st;
	uepoll_stats(ep, &st);
	printf("\n   stats: %llu watches, %llu ready now, %llu harvests, %llu "
	       "events delivered\n",
	       (unsigned long long)st.watches, (unsigned long long)st.ready,
	       (unsigned long long)st.harvests, (unsigned long long)st.events);
	for (int i = 0; i < NPIPES; i++) {
		uepoll_close(rd[i]);
		uepoll_close(wr[i]);
	}
	uepoll_close(ep);
	printf("   (%d pipes, no kernel fd used: the hard limit here is "
	       "%ld)\n",
	       NPIPES, (long)sysconf(_SC_OPEN_MAX));
}

/* ---- part 3: a server with 10,000 connections, a handful active ---- */

#define NCONN 10000
#define NBUSY 5
#define SROUNDS 200

static void server(void)
{
	static int cli[NCONN], srv[NCONN];
	static struct pollfd pfds[NCONN];
	struct epoll_event evs[64];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	const char name[] = "\0uepoll-demo";
	memcpy(a.sun_path, name, sizeof(name) - 1);
	socklen_t alen =
	        offsetof(struct sockaddr_un, sun_path) + sizeof(name) - 1;

	printf("\n3. A server: %d in-process connections, %d of them busy\n\n",
	       NCONN, NBUSY);
	int ep = uepoll_create1(0);
	int lfd = uepoll_socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0 || uepoll_bind(lfd, (struct sockaddr *)&a, alen) < 0 ||
	    uepoll_listen(lfd, 128) < 0)
		die("listen");
	struct epoll_event lev = {.events = EPOLLIN, .data.u32 = NCONN};
	uepoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);

	/* Clients connect; the accept loop runs on the listener's events. */
	double t = now_us();
	int accepted = 0;
	for (int i = 0; i < NCONN; i++) {
		cli[i] = uepoll_socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (cli[i] < 0 ||
		    uepoll_connect(cli[i], (struct sockaddr *)&a, alen) < 0)
			die("connect");
		int n = uepoll_wait(ep, evs, 64, 0);
		for (int k = 0; k < n; k++) {
			int s;
			while ((s = uepoll_accept4(lfd, NULL, NULL,
			                           SOCK_NONBLOCK)) >= 0) {
				struct epoll_event ev = {.events = EPOLLIN,
				                         .data.u32 = accepted};
				srv[accepted] = s;
				pfds[accepted] = (struct pollfd){s, POLLIN, 0};
				uepoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
				accepted++;
			}
		}
	}
	printf("   accepted %d connections in %.1f ms (each: connect, "
	       "listener readable, accept4, EPOLL_CTL_ADD)\n",
	       accepted, (now_us() - t) / 1e3);
	if (accepted != NCONN)
		die("accept");

	/* Rounds of requests from NBUSY clients, served through epoll. */
	char buf[16];
	int served = 0;
	t = now_us();
	for (int r = 0; r < SROUNDS; r++) {
		for (int b = 0; b < NBUSY; b++)
			uepoll_send(cli[(r * 7 + b * 1999) % NCONN], "ping", 4,
			            0);
		int n = uepoll_wait(ep, evs, 64, 0);
		for (int k = 0; k < n; k++) {
			int s = srv[evs[k].data.u32];
			if (uepoll_recv(s, buf, sizeof(buf), 0) == 4)
				served += uepoll_send(s, "pong", 4, 0) == 4;
		}
		for (int b = 0; b < NBUSY; b++)
			uepoll_recv(cli[(r * 7 + b * 1999) % NCONN], buf,
			            sizeof(buf), 0);
	}
	double with_wait = (now_us() - t) / SROUNDS;

	/* The same rounds, found by poll() over every connection. */
	t = now_us();
	for (int r = 0; r < SROUNDS; r++) {
		for (int b = 0; b < NBUSY; b++)
			uepoll_send(cli[(r * 7 + b * 1999) % NCONN], "ping", 4,
			            0);
		uepoll_poll(pfds, NCONN, 0);
		for (int k = 0; k < NCONN; k++) {
			if (!(pfds[k].revents & POLLIN))
				continue;
			if (uepoll_recv(srv[k], buf, sizeof(buf), 0) == 4)
				served +=
				        uepoll_send(srv[k], "pong", 4, 0) == 4;
		}
		for (int b = 0; b < NBUSY; b++)
			uepoll_recv(cli[(r * 7 + b * 1999) % NCONN], buf,
			            sizeof(buf), 0);
	}
	double with_poll = (now_us() - t) / SROUNDS;
	printf("   %d requests answered; per round of %d requests:\n", served,
	       NBUSY);
	printf("   found by uepoll_wait : %9.2f us\n", with_wait);
	printf("   found by uepoll_poll : %9.2f us  (%.0fx: it scans all %d)\n",
	       with_poll, with_poll / with_wait, NCONN);
	for (int i = 0; i < NCONN; i++) {
		uepoll_close(cli[i]);
		uepoll_close(srv[i]);
	}
	uepoll_close(lfd);
	uepoll_close(ep);
}

static void *timeline_writer(void *arg)
{
	(void)arg;
	usleep(2000);
	if (uepoll_write(pipefd[1], "x", 1) != 1)
		die("write");
	return NULL;
}

/* The same way, five times, written as a Chrome trace-event timeline. */
static void timeline(const char *path)
{
	int ep = uepoll_create1(0);
	if (ep < 0 || uepoll_pipe(pipefd) < 0)
		die("create");
	struct epoll_event ev = {.events = EPOLLIN}, out;
	if (uepoll_ctl(ep, EPOLL_CTL_ADD, pipefd[0], &ev) < 0)
		die("ctl");
	if (uepoll_trace_export_start(path) < 0)
		die("trace export");
	for (int i = 0; i < 5; i++) {
		pthread_t t;
		char c;
		pthread_create(&t, NULL, timeline_writer, NULL);
		if (uepoll_wait(ep, &out, 1, 2000) != 1 ||
		    uepoll_read(pipefd[0], &c, 1) != 1)
			die("wait");
		pthread_join(t, NULL);
	}
	if (uepoll_trace_export_stop() < 0)
		die("trace export");
	printf("\n   The same, five times, as a timeline: %s\n"
	       "   (Chrome trace-event JSON: open it in ui.perfetto.dev or "
	       "chrome://tracing)\n",
	       path);
	uepoll_close(pipefd[0]);
	uepoll_close(pipefd[1]);
	uepoll_close(ep);
}

/* part 4, in demo_lwip.c: the TCP/IP stack's share of the story */
void demo_lwip(void);

int main(int argc, char **argv)
{
	lifecycle();
	timeline(argc > 1 ? argv[1] : "uepoll-demo-trace.json");
	contrast();
	server();
	demo_lwip();
	return 0;
}
