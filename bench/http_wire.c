/*
 * HTTP request/response over TCP in one process, two stacks side by side:
 * lwIP sockets over the in-process wire with uepoll's epoll, then kernel
 * TCP over loopback with the kernel's epoll.  The same server loop (one
 * thread, keep-alive, a fixed reply) and the same client (one thread, C
 * connections, one request in flight on each) run on both.
 *
 *   http_wire [--seconds S] [--conns C] [--only lwip|kernel]
 *
 * Prints requests/s and the p50/p99 of a request's round trip.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "uepoll.h"
#include "uepoll_lwip.h"

struct stack {
	const char *name, *addr;
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*send)(int, const void *, size_t, int);
	int (*close)(int);
	int (*epoll_create1)(int);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
};

static const struct stack lwip_stack = {
        "lwIP wire + uepoll", "192.0.2.2",        uepoll_socket,
        uepoll_bind,          uepoll_listen,      uepoll_accept4,
        uepoll_connect,       uepoll_getsockname, uepoll_setsockopt,
        uepoll_recv,          uepoll_send,        uepoll_close,
        uepoll_create1,       uepoll_ctl,         uepoll_wait,
};
static const struct stack kernel_stack = {
        "kernel lo + epoll",
        "127.0.0.1",
        socket,
        bind,
        listen,
        accept4,
        connect,
        getsockname,
        setsockopt,
        recv,
        send,
        close,
        epoll_create1,
        epoll_ctl,
        epoll_wait,
};

static const char req[] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
static const char rep[] = "HTTP/1.1 200 OK\r\nContent-Length: 19\r\n"
                          "Content-Type: text/plain\r\n\r\n"
                          "Hello from uepoll.\n";

static const struct stack *S;
static volatile int stop;

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "http_wire: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The server: the loop of examples/http_server.c, cut to the bone. */
static void *server(void *arg)
{
	int l = *(int *)arg, ep = S->epoll_create1(0), one = 1;
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = l}, evs[64];
	char buf[4096];
	S->epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	while (!stop) {
		int n = S->epoll_wait(ep, evs, 64, 100);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == l) {
				int c;
				while ((c = S->accept4(l, NULL, NULL,
				                       SOCK_NONBLOCK)) >= 0) {
					S->setsockopt(c, IPPROTO_TCP,
					              TCP_NODELAY, &one,
					              sizeof(one));
					ev.data.fd = c;
					S->epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			ssize_t r = S->recv(fd, buf, sizeof(buf), 0);
			if (r <= 0) {
				if (r == 0 || errno != EAGAIN) {
					S->epoll_ctl(ep, EPOLL_CTL_DEL, fd,
					             NULL);
					S->close(fd);
				}
				continue;
			}
			/* One request per read: the client has one in flight.
			 */
			if (memmem(buf, (size_t)r, "\r\n\r\n", 4))
				S->send(fd, rep, sizeof(rep) - 1, MSG_NOSIGNAL);
		}
	}
	S->close(ep);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void run(const struct stack *st, int conns, double seconds)
{
	S = st;
	stop = 0;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	inet_pton(AF_INET, st->addr, &a.sin_addr);
	int l = S->socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (l < 0 || S->bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    S->listen(l, 128) < 0 ||
	    S->getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		die("listen");
	pthread_t t;
	pthread_create(&t, NULL, server, &l);

	int ep = S->epoll_create1(0), one = 1;
	int *fd = calloc((size_t)conns, sizeof(int));
	size_t *got = calloc((size_t)conns, sizeof(size_t));
	double *sent_at = calloc((size_t)conns, sizeof(double));
	size_t cap = 4u << 20, nlat = 0;
	double *lat = malloc(cap * sizeof(double));
	for (int i = 0; i < conns; i++) {
		fd[i] = S->socket(AF_INET, SOCK_STREAM, 0);
		if (fd[i] < 0 ||
		    S->connect(fd[i], (struct sockaddr *)&a, sizeof(a)) < 0)
			die("connect");
		S->setsockopt(fd[i], IPPROTO_TCP, TCP_NODELAY, &one,
		              sizeof(one));
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
		S->epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev);
	}
	double start = now_us(), end = start + seconds * 1e6;
	for (int i = 0; i < conns; i++) {
		sent_at[i] = now_us();
		S->send(fd[i], req, sizeof(req) - 1, MSG_NOSIGNAL);
	}
	struct epoll_event evs[64];
	char buf[4096];
	double now = start;
	while (now < end) {
		int n = S->epoll_wait(ep, evs, 64, 1000);
		if (n <= 0)
			die("no reply within a second");
		now = now_us();
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			ssize_t r = S->recv(fd[i], buf, sizeof(buf), 0);
			if (r <= 0)
				die("recv");
			got[i] += (size_t)r;
			if (got[i] < sizeof(rep) - 1)
				continue;
			got[i] = 0;
			if (nlat < cap)
				lat[nlat++] = now - sent_at[i];
			sent_at[i] = now_us();
			S->send(fd[i], req, sizeof(req) - 1, MSG_NOSIGNAL);
		}
	}
	double took = now_us() - start;
	stop = 1;
	pthread_join(t, NULL);
	for (int i = 0; i < conns; i++)
		S->close(fd[i]);
	S->close(ep);
	S->close(l);
	qsort(lat, nlat, sizeof(double), cmp);
	printf("%-20s %9.0f req/s   p50 %7.1f us   p99 %7.1f us   (%zu "
	       "requests, %d connections)\n",
	       st->name, (double)nlat / (took / 1e6), lat[nlat / 2],
	       lat[nlat * 99 / 100], nlat, conns);
	free(lat);
	free(fd);
	free(got);
	free(sent_at);
}

int main(int argc, char **argv)
{
	double seconds = 3;
	int conns = 16;
	const char *only = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--conns"))
			conns = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--only"))
			only = argv[i + 1];
	}
	if (!only || !strcmp(only, "lwip")) {
		if (uepoll_lwip_wire("192.0.2.1", "192.0.2.2") < 0 ||
		    uepoll_lwip_register() < 0)
			die("lwIP");
		run(&lwip_stack, conns, seconds);
	}
	if (!only || !strcmp(only, "kernel"))
		run(&kernel_stack, conns, seconds);
	return 0;
}
