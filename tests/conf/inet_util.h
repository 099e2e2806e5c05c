/*
 * Helpers of the TCP/IP conformance tests (inet_*.c).  The kernel target
 * uses kernel TCP and UDP over loopback; the uepoll target lwIP sockets
 * (src/net/lwip/) over the in-process wire, reached through
 * uepoll_socket(AF_INET, ...) once the lwIP family is registered.  Both
 * are asynchronous (softirq, wire thread), so the tests wait for events
 * with a timeout, and "no event" is checked after the network settled.
 */
#ifndef CONF_INET_UTIL_H
#define CONF_INET_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "socket_util.h"

#if defined(CONF_UEPOLL) && defined(UEP_HAVE_LWIP)
#include "uepoll_lwip.h"
/* The wire's two ends, addresses that exist only inside the process. */
#define INET_SERVER "192.0.2.2"
#define INET_CLIENT "192.0.2.1"
#else
#define INET_SERVER "127.0.0.1"
#endif

/* Long enough for any event under load; tests wait for it, not sleep. */
#define INET_WAIT_MS 5000

/* Bring up this target's network, or skip when it has none. */
static inline void inet_begin(void)
{
#ifdef CONF_UEPOLL
#ifdef UEP_HAVE_LWIP
	ASSERT_OK(uepoll_lwip_wire(INET_CLIENT, INET_SERVER));
	ASSERT_OK(uepoll_lwip_register());
#else
	SKIP("lwIP not found (apt-get install liblwip-dev)");
#endif
#endif
}

static inline void inet_addr_of(struct sockaddr_in *a, const char *ip, int port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	ASSERT_EQ(inet_pton(AF_INET, ip, &a->sin_addr), 1);
}

/* A listener on the server address, its address (with port) in *a. */
static inline int inet_listener(struct sockaddr_in *a, int backlog)
{
	int l = sys_socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(l, 0);
	inet_addr_of(a, INET_SERVER, 0);
	ASSERT_OK(sys_bind(l, (struct sockaddr *)a, sizeof(*a)));
	ASSERT_OK(sys_listen(l, backlog));
	socklen_t n = sizeof(*a);
	ASSERT_OK(sys_getsockname(l, (struct sockaddr *)a, &n));
	ASSERT_NE(a->sin_port, 0);
	return l;
}

/* A non-blocking connect to a: 0 or EINPROGRESS. */
static inline int inet_connect_nb(const struct sockaddr_in *a)
{
	int c = sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_GE(c, 0);
	int r = sys_connect(c, (const struct sockaddr *)a, sizeof(*a));
	if (r < 0)
		ASSERT_EQ(errno, EINPROGRESS);
	return c;
}

/* poll fd until all of bits are in its mask; returns the mask. */
static inline int inet_poll_for(int fd, int bits)
{
	int64_t end = now_ms() + INET_WAIT_MS;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = SK_ALL};
		ASSERT_GE(sys_poll(&p, 1, 10), 0);
		if ((p.revents & bits) == bits)
			return p.revents;
		if (now_ms() > end)
			FAIL("fd %d: mask 0x%x never had 0x%x", fd, p.revents,
			     bits);
	}
}

/* One epoll_wait with the long timeout: the first event's mask, or 0. */
static inline uint32_t inet_wait(int ep)
{
	struct epoll_event e[4];
	int n = sys_epoll_wait(ep, e, 4, INET_WAIT_MS);
	ASSERT_GE(n, 0);
	return n ? e[0].events : 0;
}

/* Let the network settle (ACKs, window updates) before a "no event". */
static inline void inet_settle(void)
{
	sleep_ms(300);
}

/* A connected pair, both non-blocking; the listener in *lp if asked. */
static inline void inet_pair(int *cli, int *srv, int *lp)
{
	struct sockaddr_in a;
	int l = inet_listener(&a, 16);
	*cli = inet_connect_nb(&a);
	inet_poll_for(l, POLLIN);
	*srv = sys_accept4(l, NULL, NULL, SOCK_NONBLOCK);
	ASSERT_GE(*srv, 0);
	inet_poll_for(*cli, POLLOUT);
	if (lp)
		*lp = l;
	else
		ASSERT_OK(sys_close(l));
}

#endif
