/*
 * sockets under edge-triggered epoll: which calls wake which queue.  Every
 * send wakes the receiver, every freed buffer wakes a writable sender,
 * shutdown and close wake both ends, every connect wakes the listener.
 */
#include "socket_util.h"

static int et_on(int fd, uint32_t ev)
{
	int ep = sk_ep();
	ADD(ep, fd, ev | EPOLLET, 1);
	return ep;
}

TEST(sock_et_every_send_wakes_receiver)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	int ep = et_on(sv[1], EPOLLIN);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(sys_send(sv[0], "x", 1, 0), 1);
		ASSERT_EQ(sk_wait0(ep, NULL), 1);
		ASSERT_EQ(sk_wait0(ep, NULL), 0);
	}
}

TEST(sock_et_partial_read_no_event)
{
	int sv[2];
	char b[8];
	sk_pair(SOCK_STREAM, sv);
	int ep = et_on(sv[1], EPOLLIN);
	ASSERT_EQ(sys_send(sv[0], "0123456789", 10, 0), 10);
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
	ASSERT_EQ(sys_recv(sv[1], b, 5, 0), 5);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
}

TEST(sock_et_sender_out_when_buffer_freed)
{
	int sv[2];
	char b[8];
	uint32_t ev;
	sk_pair(SOCK_STREAM, sv);
	int ep = et_on(sv[0], EPOLLOUT);
	ASSERT_EQ(sk_wait0(ep, &ev), 1); /* ADD of a ready file */
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	ASSERT_EQ(sys_send(sv[0], "xy", 2, 0), 2);
	ASSERT_EQ(sk_wait0(ep, NULL), 0); /* sending does not wake us */
	ASSERT_EQ(sys_recv(sv[1], b, 1, 0), 1);
	ASSERT_EQ(sk_wait0(ep, NULL), 0); /* buffer not freed yet */
	ASSERT_EQ(sys_recv(sv[1], b, 1, 0), 1);
	ASSERT_EQ(sk_wait0(ep, &ev), 1); /* freed: OUT */
	ASSERT_EQ_HEX(ev, EPOLLOUT);
}

TEST(sock_et_peek_does_not_wake_sender)
{
	int sv[2];
	char b[8];
	sk_pair(SOCK_DGRAM, sv);
	int ep = et_on(sv[0], EPOLLOUT);
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
	ASSERT_EQ(sys_send(sv[0], "ab", 2, 0), 2);
	ASSERT_EQ(sys_recv(sv[1], b, 8, MSG_PEEK), 2);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	ASSERT_EQ(sys_recv(sv[1], b, 8, 0), 2);
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
}

TEST(sock_et_dgram_every_send)
{
	int sv[2];
	sk_pair(SOCK_DGRAM, sv);
	int ep = et_on(sv[1], EPOLLIN);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(sys_send(sv[0], "x", 1, 0), 1);
		ASSERT_EQ(sk_wait0(ep, NULL), 1);
	}
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
}

TEST(sock_et_seqpacket_every_send)
{
	int sv[2];
	sk_pair(SOCK_SEQPACKET, sv);
	int ep = et_on(sv[1], EPOLLIN);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(sys_send(sv[0], "x", 1, 0), 1);
		ASSERT_EQ(sk_wait0(ep, NULL), 1);
	}
}

TEST(sock_et_peer_shutdown_wakes)
{
	int sv[2];
	uint32_t ev;
	sk_pair(SOCK_STREAM, sv);
	int ep = et_on(sv[1], EPOLLIN | EPOLLRDHUP);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	ASSERT_OK(sys_shutdown(sv[0], SHUT_WR));
	ASSERT_EQ(sk_wait0(ep, &ev), 1);
	ASSERT_EQ_HEX(ev, EPOLLIN | EPOLLRDHUP);
}

TEST(sock_et_own_shutdown_wakes_self)
{
	int sv[2];
	uint32_t ev;
	sk_pair(SOCK_STREAM, sv);
	int ep = et_on(sv[0], EPOLLOUT);
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
	ASSERT_OK(sys_shutdown(sv[0], SHUT_WR));
	ASSERT_EQ(sk_wait0(ep, &ev), 1);
	ASSERT_EQ_HEX(ev, EPOLLOUT);
}

TEST(sock_et_peer_close_hup)
{
	int sv[2];
	uint32_t ev;
	sk_pair(SOCK_STREAM, sv);
	int ep = et_on(sv[1], EPOLLIN | EPOLLRDHUP);
	ASSERT_OK(sys_close(sv[0]));
	ASSERT_EQ(sk_wait0(ep, &ev), 1);
	ASSERT_EQ_HEX(ev, EPOLLIN | EPOLLRDHUP | EPOLLHUP);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
}

TEST(sock_et_dgram_peer_close_no_event)
{
	int sv[2];
	sk_pair(SOCK_DGRAM, sv);
	int ep = et_on(sv[1], EPOLLIN);
	ASSERT_OK(sys_close(sv[0]));
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
}

TEST(sock_et_listener_each_connect)
{
	struct sockaddr_un a;
	socklen_t len;
	int l = sk_listener(SOCK_STREAM, "etl", 10, &a, &len);
	int ep = et_on(l, EPOLLIN);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	for (int i = 0; i < 3; i++) {
		sk_connect(SOCK_STREAM, &a, len, 0);
		ASSERT_EQ(sk_wait0(ep, NULL), 1);
	}
	/* accepting does not wake the listener's pollers */
	ASSERT_GE(sys_accept(l, NULL, NULL), 0);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
}

TEST(sock_et_sndbuf_raise_wakes)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	int ep = et_on(sv[0], EPOLLOUT);
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
	int v = 100000;
	ASSERT_OK(sys_setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)));
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
}

TEST(sock_et_write_space_only_when_writable)
{
	int sv[2];
	char b[1];
	sk_pair(SOCK_STREAM, sv);
	int sndbuf = sk_getint(sv[0], SO_SNDBUF);
	long n = sk_fill(sv[0], 1);
	int ep = et_on(sv[0], EPOLLOUT);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	int events = 0;
	for (long left = n; left > 0; left--) {
		ASSERT_EQ(sys_recv(sv[1], b, 1, 0), 1);
		events += sk_wait0(ep, NULL);
	}
	/* one event per freed buffer once writable (<= a quarter charged) */
	long writable_at = (sndbuf / 4 - 1) / 768;
	ASSERT_EQ(events, writable_at + 1);
}

TEST(sock_lt_listener_oneshot)
{
	struct sockaddr_un a;
	socklen_t len;
	int l = sk_listener(SOCK_STREAM, "oneshot", 10, &a, &len);
	int ep = sk_ep();
	ADD(ep, l, EPOLLIN | EPOLLONESHOT, 7);
	sk_connect(SOCK_STREAM, &a, len, 0);
	sk_connect(SOCK_STREAM, &a, len, 0);
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	MOD(ep, l, EPOLLIN | EPOLLONESHOT, 7);
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
}

struct excl_arg {
	int ep;
	int woke;
};

static void *excl_waiter(void *p)
{
	struct excl_arg *a = p;
	struct epoll_event e;
	a->woke = sys_epoll_wait(a->ep, &e, 1, 300) == 1;
	return NULL;
}

/* One connect wakes exactly one of four exclusive waiters. */
TEST(sock_exclusive_listener_wakes_one)
{
	struct sockaddr_un a;
	socklen_t len;
	int l = sk_listener(SOCK_STREAM, "excl", 10, &a, &len);
	struct excl_arg args[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		args[i].ep = sk_ep();
		args[i].woke = 0;
		ADD(args[i].ep, l, EPOLLIN | EPOLLEXCLUSIVE, i);
		ASSERT_EQ(pthread_create(&th[i], NULL, excl_waiter, &args[i]),
		          0);
	}
	sleep_ms(100);
	sk_connect(SOCK_STREAM, &a, len, 0);
	int woke = 0;
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(pthread_join(th[i], NULL), 0);
		woke += args[i].woke;
	}
	ASSERT_EQ(woke, 1);
}
