/*
 * A small epoll HTTP/1.1 keep-alive server: every GET gets 200 and a fixed
 * body.  The same loop runs on two stacks:
 *
 *   http_server --tap NAME --addr A.B.C.D/NN --port P
 *       lwIP over the TAP device NAME (uepoll-lwip), uepoll's epoll
 *   http_server --kernel [--addr A.B.C.D] --port P
 *       the kernel's TCP and epoll (default address 127.0.0.1)
 *
 * With --tap, the program only registers the lwIP family and attaches the
 * NIC; from there on it makes the calls any epoll server makes, through
 * uepoll_socket(AF_INET, ...) and friends.  --quiet drops the log line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uepoll.h"
#ifdef UEP_HAVE_LWIP
#include "uepoll_lwip.h"
#endif

/* The calls of the loop, from one stack or the other. */
struct stack {
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*send)(int, const void *, size_t, int);
	int (*close)(int);
	int (*epoll_create1)(int);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
};

static const struct stack kernel_stack = {
        socket, bind,  listen,        accept4,   setsockopt, recv,
        send,   close, epoll_create1, epoll_ctl, epoll_wait,
};

static const struct stack uepoll_stack = {
        uepoll_socket,     uepoll_bind, uepoll_listen, uepoll_accept4,
        uepoll_setsockopt, uepoll_recv, uepoll_send,   uepoll_close,
        uepoll_create1,    uepoll_ctl,  uepoll_wait,
};

static const char body[] = "Hello from uepoll.\n";

#define BUF 8192
struct conn {
	int fd;
	size_t in_len, out_len, out_off;
	char in[BUF];
	char out[BUF];
};

static const struct stack *S;
static int ep;

static void conn_close(struct conn *c)
{
	S->epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	S->close(c->fd);
	free(c);
}

/* Answer every complete request in c->in; false: close the connection. */
static bool serve(struct conn *c)
{
	char *end;
	while ((end = memmem(c->in, c->in_len, "\r\n\r\n", 4))) {
		size_t req = (size_t)(end + 4 - c->in);
		bool get = c->in_len >= 4 && !memcmp(c->in, "GET ", 4);
		bool close_ =
		        memmem(c->in, req, "Connection: close", 17) != NULL;
		char head[160];
		int n = snprintf(head, sizeof(head),
		                 "HTTP/1.1 %s\r\nContent-Length: %zu\r\n"
		                 "Content-Type: text/plain\r\n%s\r\n",
		                 get ? "200 OK" : "405 Method Not Allowed",
		                 get ? sizeof(body) - 1 : 0,
		                 close_ ? "Connection: close\r\n" : "");
		size_t len = (size_t)n + (get ? sizeof(body) - 1 : 0);
		if (c->out_len + len > BUF)
			return false;
		memcpy(c->out + c->out_len, head, (size_t)n);
		if (get)
			memcpy(c->out + c->out_len + n, body, sizeof(body) - 1);
		c->out_len += len;
		memmove(c->in, c->in + req, c->in_len - req);
		c->in_len -= req;
		if (close_)
			return false;
	}
	return c->in_len < BUF;
}

/* Send what is pending; false on an error. */
static bool flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = S->send(c->fd, c->out + c->out_off,
		                    c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return true;
}

static void on_readable(struct conn *c)
{
	for (;;) {
		ssize_t n =
		        S->recv(c->fd, c->in + c->in_len, BUF - c->in_len, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			conn_close(c);
			return;
		}
		if (n < 0)
			break;
		c->in_len += (size_t)n;
		bool keep = serve(c);
		if (!flush(c) || !keep) {
			flush(c);
			conn_close(c);
			return;
		}
	}
	struct epoll_event ev = {
	        .events = EPOLLIN | (c->out_len ? EPOLLOUT : 0), .data.ptr = c};
	S->epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void on_accept(int l)
{
	for (;;) {
		int fd = S->accept4(l, NULL, NULL, SOCK_NONBLOCK);
		if (fd < 0)
			return;
		int one = 1;
		S->setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			S->close(fd);
			continue;
		}
		c->fd = fd;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (S->epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			S->close(fd);
			free(c);
		}
	}
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: http_server --tap NAME --addr A.B.C.D/NN --port P\n"
	        "       http_server --kernel [--addr A.B.C.D] --port P\n"
	        "  --tap     lwIP over the TAP device NAME, uepoll's epoll\n"
	        "  --kernel  the kernel's TCP and epoll\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *tap = NULL, *addr = NULL;
	int port = 0, kernel = 0, quiet = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--kernel"))
			kernel = 1;
		else if (!strcmp(argv[i], "--quiet"))
			quiet = 1;
		else if (!strcmp(argv[i], "--tap") && i + 1 < argc)
			tap = argv[++i];
		else if (!strcmp(argv[i], "--addr") && i + 1 < argc)
			addr = argv[++i];
		else if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else
			return usage();
	}
	if (!port || kernel == !!tap || (tap && !addr))
		return usage();
	signal(SIGPIPE, SIG_IGN);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port)};
	if (kernel) {
		S = &kernel_stack;
		inet_pton(AF_INET, addr ? addr : "127.0.0.1", &sa.sin_addr);
	} else {
#ifdef UEP_HAVE_LWIP
		S = &uepoll_stack;
		if (uepoll_lwip_tap(tap, addr) < 0 ||
		    uepoll_lwip_register() < 0) {
			perror("http_server: lwIP on the TAP device");
			return 1;
		}
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
#else
		(void)uepoll_stack;
		fprintf(stderr, "skip http_server --tap: lwIP not found "
		                "(apt-get install liblwip-dev)\n");
		return 77;
#endif
	}
	int l = S->socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	S->setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || S->bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    S->listen(l, 128) < 0) {
		perror("http_server: listen");
		return 1;
	}
	ep = S->epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	S->epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	if (!quiet)
		fprintf(stderr, "http_server: %s, port %d\n",
		        kernel ? "kernel TCP + epoll" : "lwIP + uepoll", port);
	struct epoll_event evs[64];
	for (;;) {
		int n = S->epoll_wait(ep, evs, 64, -1);
		if (n < 0 && errno != EINTR) {
			perror("http_server: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c)
				on_accept(l);
			else if (evs[i].events &
			         (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(c);
			else if (!flush(c))
				conn_close(c);
			else if (!c->out_len) {
				struct epoll_event e = {.events = EPOLLIN,
				                        .data.ptr = c};
				S->epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
			}
		}
	}
}
