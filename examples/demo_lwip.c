/*
 * make demo, part 4: the whole way in userspace, NIC -> TCP/IP stack ->
 * socket wait queue -> epoll -> the thread, on lwIP (uepoll-lwip) over the
 * in-process wire.  First one request's way, each step with its time; then
 * 10,000 idle TCP connections and a handful active, found by one sleep.
 */
#include <stdio.h>

void demo_lwip(void);

#ifndef UEP_HAVE_LWIP
void demo_lwip(void)
{
	printf("\n4. skip the TCP/IP scene: lwIP not found "
	       "(apt-get install liblwip-dev)\n");
}
#else
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uepoll.h"
#include "uepoll_lwip.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void fail(const char *what)
{
	fprintf(stderr, "demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- one request's way ---- */

enum who { NIC = 0, SERVER, CLIENT };
static const char *const who_name[] = {"wire  ", "server", "client"};
static __thread enum who me; /* threads we do not name are the wire's */

struct step {
	double at;
	enum who who;
	int kind;   /* > 0: a uepoll trace kind; < 0: a uepoll-lwip step */
	size_t len; /* bytes (lwIP steps) or the key (uepoll steps) */
	int fd;
};
#define MAX_STEPS 64
static struct step steps[MAX_STEPS];
static int nsteps;
static pthread_mutex_t steps_lock = PTHREAD_MUTEX_INITIALIZER;

static void record(int kind, size_t len, int fd)
{
	double at = now_us();
	pthread_mutex_lock(&steps_lock);
	if (nsteps < MAX_STEPS)
		steps[nsteps++] = (struct step){at, me, kind, len, fd};
	pthread_mutex_unlock(&steps_lock);
}

static void on_lwip(enum uepoll_lwip_step step, size_t len, void *arg)
{
	(void)arg;
	record(-(int)step, len, -1);
}

static void on_uepoll(const struct uepoll_trace_event *ev, void *arg)
{
	(void)arg;
	record((int)ev->kind, ev->kind == UEPOLL_TRACE_WAKE_UP ? ev->events : 0,
	       ev->fd);
}

static const char *say(const struct step *s, char *buf, size_t n)
{
	switch (-s->kind) {
	case UEPOLL_LWIP_SEND:
		snprintf(buf, n, "send(): %zu bytes given to TCP", s->len);
		return buf;
	case UEPOLL_LWIP_FRAME_OUT:
		snprintf(buf, n, "NIC: an IP packet of %zu bytes onto the wire",
		         s->len);
		return buf;
	case UEPOLL_LWIP_FRAME_IN:
		snprintf(buf, n,
		         "NIC: the driver takes the %zu-byte frame "
		         "(the interrupt)",
		         s->len);
		return buf;
	case UEPOLL_LWIP_STACK_IN:
		return "softirq: lwIP's IP and TCP input, core lock held";
	case UEPOLL_LWIP_RX_QUEUED:
		snprintf(buf, n, "TCP: %zu bytes on the socket's receive queue",
		         s->len);
		return buf;
	case UEPOLL_LWIP_RECV:
		snprintf(buf, n, "recv() returns %zu bytes", s->len);
		return buf;
	}
	switch (s->kind) {
	case UEPOLL_TRACE_WAKE_UP:
		snprintf(buf, n, "the socket's wait queue is woken (key 0x%zx)",
		         s->len);
		return buf;
	case UEPOLL_TRACE_CALLBACK:
		return "ep_poll_callback: the item goes on the ready list";
	case UEPOLL_TRACE_WAKE_WAITER:
		return "ep_poll_callback: wakes the thread in uepoll_wait";
	case UEPOLL_TRACE_SLEEP:
		return "uepoll_wait: nothing ready, sleeps";
	case UEPOLL_TRACE_WAKE:
		return "uepoll_wait: awake";
	case UEPOLL_TRACE_HARVEST:
		return "ep_send_events: re-polls the socket, copies the event";
	}
	return "?";
}

static const char request[] = "GET / HTTP/1.1\r\nHost: demo\r\n\r\n";
static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi\n";

struct pair {
	int ep, srv, cli;
};

static void *serve_one(void *arg)
{
	struct pair *p = arg;
	struct epoll_event ev;
	char buf[256];
	me = SERVER;
	if (uepoll_wait(p->ep, &ev, 1, 5000) != 1)
		fail("uepoll_wait");
	if (uepoll_recv(p->srv, buf, sizeof(buf), 0) <= 0)
		fail("recv");
	if (uepoll_send(p->srv, reply, sizeof(reply) - 1, 0) < 0)
		fail("send");
	return NULL;
}

static int listener(struct sockaddr_in *a, int backlog)
{
	int l = uepoll_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	socklen_t n = sizeof(*a);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.2", &a->sin_addr);
	if (l < 0 || uepoll_bind(l, (struct sockaddr *)a, sizeof(*a)) < 0 ||
	    uepoll_listen(l, backlog) < 0 ||
	    uepoll_getsockname(l, (struct sockaddr *)a, &n) < 0)
		fail("listen");
	return l;
}

static void one_request(void)
{
	struct sockaddr_in a;
	struct pair p;
	int one = 1;
	int l = listener(&a, 4);
	p.cli = uepoll_socket(AF_INET, SOCK_STREAM, 0);
	if (uepoll_connect(p.cli, (struct sockaddr *)&a, sizeof(a)) < 0)
		fail("connect");
	p.srv = uepoll_accept(l, NULL, NULL);
	p.ep = uepoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = p.srv};
	if (p.srv < 0 || uepoll_ctl(p.ep, EPOLL_CTL_ADD, p.srv, &ev) < 0)
		fail("accept");
	uepoll_setsockopt(p.cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	uepoll_setsockopt(p.srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	printf("   client 192.0.2.1 -> server %s:%d over the wire; the "
	       "server's thread sleeps in uepoll_wait on socket %d\n\n",
	       "192.0.2.2", ntohs(a.sin_port), p.srv);
	me = CLIENT;
	uepoll_lwip_set_trace(on_lwip, NULL);
	pthread_t t;
	pthread_create(&t, NULL, serve_one, &p);
	struct timespec nap = {0, 20000000};
	nanosleep(&nap, NULL); /* let the server fall asleep */
	nsteps = 0;
	uepoll_set_trace(on_uepoll, NULL);
	if (uepoll_send(p.cli, request, sizeof(request) - 1, 0) < 0)
		fail("send");
	char buf[256];
	ssize_t n = uepoll_recv(p.cli, buf, sizeof(buf), 0);
	uepoll_set_trace(NULL, NULL);
	uepoll_lwip_set_trace(NULL, NULL);
	pthread_join(t, NULL);
	if (n != (ssize_t)sizeof(reply) - 1)
		fail("reply");

	char line[96];
	double t0 = steps[0].at;
	for (int i = 0; i < nsteps; i++)
		printf("   %8.1f us  [%s] %s\n", steps[i].at - t0,
		       who_name[steps[i].who],
		       say(&steps[i], line, sizeof(line)));
	printf("\n   the client's recv() sleeps on its socket's wait queue "
	       "(no epoll item: no ep_poll_callback on that side)\n");
	uepoll_close(p.cli);
	uepoll_close(p.srv);
	uepoll_close(p.ep);
	uepoll_close(l);
}

/* ---- 10,000 idle connections, a handful active ---- */

#define NCONN 10000
#define NACTIVE 5

static void many(void)
{
	static int cli[NCONN], srv[NCONN];
	static struct pollfd pfds[NCONN];
	struct sockaddr_in a;
	struct epoll_event evs[64];
	int l = listener(&a, 1024);
	int ep = uepoll_create1(0);
	struct epoll_event lev = {.events = EPOLLIN, .data.u32 = NCONN};
	uepoll_ctl(ep, EPOLL_CTL_ADD, l, &lev);
	double t = now_us();
	int accepted = 0;
	for (int i = 0; i < NCONN || accepted < NCONN;) {
		/* Batches below the backlog: a full queue resets (README). */
		for (int k = 0; k < 256 && i < NCONN && i - accepted < 512;
		     k++, i++) {
			cli[i] = uepoll_socket(AF_INET,
			                       SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (cli[i] < 0 ||
			    (uepoll_connect(cli[i], (struct sockaddr *)&a,
			                    sizeof(a)) < 0 &&
			     errno != EINPROGRESS))
				fail("connect");
		}
		if (uepoll_wait(ep, evs, 64, 2000) <= 0)
			fail("the listener stayed quiet");
		int s;
		while ((s = uepoll_accept4(l, NULL, NULL, SOCK_NONBLOCK)) >=
		       0) {
			struct epoll_event ev = {.events = EPOLLIN,
			                         .data.u32 = accepted};
			srv[accepted] = s;
			pfds[accepted] = (struct pollfd){s, POLLIN, 0};
			uepoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
			accepted++;
		}
	}
	uepoll_ctl(ep, EPOLL_CTL_DEL, l, NULL);
	printf("\n   %d TCP connections over the wire in %.0f ms (3-way "
	       "handshakes through lwIP, accept4, EPOLL_CTL_ADD);\n"
	       "   lwIP finds a segment's connection, and a free port, by "
	       "walking lists: O(n) each, so\n"
	       "   n connections cost O(n^2) there (Linux hashes them)\n",
	       accepted, (now_us() - t) / 1e3);

	/* A handful of clients send; one uepoll_wait finds exactly them. */
	for (int k = 0; k < NACTIVE; k++)
		uepoll_send(cli[(k * 1987 + 13) % NCONN], "x", 1, 0);
	int found = 0;
	double wait_us = 0;
	while (found < NACTIVE) {
		double w = now_us();
		int n = uepoll_wait(ep, evs, 64, 2000);
		wait_us += now_us() - w;
		if (n <= 0)
			fail("uepoll_wait");
		for (int k = 0; k < n; k++) {
			char c;
			uepoll_recv(srv[evs[k].data.u32], &c, 1, 0);
			printf("   uepoll_wait: connection %u is readable\n",
			       evs[k].data.u32);
		}
		found += n;
	}
	double p0 = now_us();
	int ready = uepoll_poll(pfds, NCONN, 0);
	double poll_us = now_us() - p0;
	printf("   one sleep for all %d sockets: uepoll_wait found the %d "
	       "active in %.0f us (waiting included);\n"
	       "   a poll() over all of them looks at each: %.0f us for %d "
	       "ready\n",
	       NCONN, found, wait_us, poll_us, ready);
	t = now_us();
	for (int i = 0; i < NCONN; i++) {
		uepoll_close(cli[i]);
		uepoll_close(srv[i]);
	}
	uepoll_close(l);
	uepoll_close(ep);
	printf("   closed them all in %.0f ms\n", (now_us() - t) / 1e3);
}

void demo_lwip(void)
{
	printf("\n4. The whole way in userspace: NIC -> lwIP's TCP/IP -> "
	       "socket wait queue -> epoll -> thread\n\n");
	if (uepoll_lwip_wire("192.0.2.1", "192.0.2.2") < 0 ||
	    uepoll_lwip_register() < 0)
		fail("lwIP");
	one_request();
	many();
	uepoll_lwip_unregister();
}
#endif
