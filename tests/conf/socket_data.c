/*
 * sockets: data (boundaries, MSG_PEEK, MSG_TRUNC, msghdr, read/write),
 * names and connections, and blocking behaviour with threads.
 */
#include "socket_util.h"

TEST(sock_stream_merges_sends)
{
	int sv[2];
	char b[16];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ(sys_send(sv[0], "ab", 2, 0), 2);
	ASSERT_EQ(sys_send(sv[0], "cd", 2, 0), 2);
	ASSERT_EQ(sys_recv(sv[1], b, 16, 0), 4);
	ASSERT_EQ(memcmp(b, "abcd", 4), 0);
}

TEST(sock_dgram_boundaries_and_trunc)
{
	int sv[2];
	char b[16];
	struct iovec iov = {b, 2};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	sk_pair(SOCK_DGRAM, sv);
	ASSERT_EQ(sys_send(sv[0], "abcd", 4, 0), 4);
	ASSERT_EQ(sys_send(sv[0], "ef", 2, 0), 2);
	ASSERT_EQ(sys_send(sv[0], "ghi", 3, 0), 3);
	ASSERT_EQ(sys_recvmsg(sv[1], &m, 0), 2);
	ASSERT_EQ_HEX(m.msg_flags, MSG_TRUNC);
	ASSERT_EQ(sys_recv(sv[1], b, 16, 0), 2);
	ASSERT_EQ(memcmp(b, "ef", 2), 0);
	ASSERT_EQ(sys_recv(sv[1], b, 1, MSG_TRUNC), 3);
	ASSERT_ERRNO(sys_recv(sv[1], b, 16, MSG_DONTWAIT), EAGAIN);
}

TEST(sock_seqpacket_boundaries)
{
	int sv[2];
	char b[16];
	sk_pair(SOCK_SEQPACKET, sv);
	ASSERT_EQ(sys_send(sv[0], "abc", 3, 0), 3);
	ASSERT_EQ(sys_send(sv[0], "de", 2, 0), 2);
	ASSERT_EQ(sys_recv(sv[1], b, 16, 0), 3);
	ASSERT_EQ(sys_recv(sv[1], b, 1, 0), 1); /* the rest is dropped */
	ASSERT_ERRNO(sys_recv(sv[1], b, 16, MSG_DONTWAIT), EAGAIN);
	ASSERT_OK(sys_close(sv[0]));
	ASSERT_EQ(sys_recv(sv[1], b, 16, 0), 0); /* EOF */
	ASSERT_EQ(sys_recv(sv[1], b, 16, MSG_DONTWAIT), 0);
}

TEST(sock_zero_length)
{
	int sv[2], dv[2];
	char b[4];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ(sys_send(sv[0], "", 0, 0), 0);
	ASSERT_EQ_HEX(sk_mask(sv[1]) & POLLIN, 0);
	sk_pair(SOCK_DGRAM, dv);
	ASSERT_EQ(sys_send(dv[0], "", 0, 0), 0);
	ASSERT_EQ_HEX(sk_mask(dv[1]) & POLLIN, POLLIN);
	ASSERT_EQ(sys_recv(dv[1], b, 4, 0), 0);
	ASSERT_EQ_HEX(sk_mask(dv[1]) & POLLIN, 0);
}

TEST(sock_peek_stream_and_dgram)
{
	int sv[2], dv[2];
	char b[16];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ(sys_send(sv[0], "ab", 2, 0), 2);
	ASSERT_EQ(sys_send(sv[0], "cd", 2, 0), 2);
	ASSERT_EQ(sys_recv(sv[1], b, 16, MSG_PEEK), 4);
	ASSERT_EQ(sys_recv(sv[1], b, 3, 0), 3);
	ASSERT_EQ(sys_recv(sv[1], b, 16, MSG_PEEK), 1);
	ASSERT_EQ(b[0], 'd');
	ASSERT_EQ(sys_recv(sv[1], b, 16, 0), 1);
	sk_pair(SOCK_DGRAM, dv);
	ASSERT_EQ(sys_send(dv[0], "xyz", 3, 0), 3);
	ASSERT_EQ(sys_recv(dv[1], b, 16, MSG_PEEK), 3);
	ASSERT_EQ(sys_recv(dv[1], b, 16, 0), 3);
	ASSERT_ERRNO(sys_recv(dv[1], b, 16, MSG_DONTWAIT), EAGAIN);
}

TEST(sock_read_write_and_iovecs)
{
	int sv[2];
	char a[3], b[5], c[16];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ(sys_write(sv[0], "hello", 5), 5);
	ASSERT_EQ(sys_read(sv[1], c, 16), 5);
	struct iovec out[2] = {{"abc", 3}, {"defgh", 5}};
	struct msghdr m = {.msg_iov = out, .msg_iovlen = 2};
	ASSERT_EQ(sys_sendmsg(sv[0], &m, 0), 8);
	struct iovec in[2] = {{a, 3}, {b, 5}};
	struct msghdr r = {.msg_iov = in, .msg_iovlen = 2};
	ASSERT_EQ(sys_recvmsg(sv[1], &r, 0), 8);
	ASSERT_EQ(memcmp(a, "abc", 3), 0);
	ASSERT_EQ(memcmp(b, "defgh", 5), 0);
	ASSERT_EQ(sys_read(sv[1], c, 0), 0);
}

TEST(sock_eof_after_shutdown)
{
	int sv[2];
	char b[4];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ(sys_send(sv[0], "x", 1, 0), 1);
	ASSERT_OK(sys_shutdown(sv[0], SHUT_WR));
	ASSERT_EQ(sys_recv(sv[1], b, 4, 0), 1);
	ASSERT_EQ(sys_recv(sv[1], b, 4, 0), 0);
	ASSERT_EQ(sys_read(sv[1], b, 4), 0);
	/* the other direction still works */
	ASSERT_EQ(sys_send(sv[1], "y", 1, 0), 1);
	ASSERT_EQ(sys_recv(sv[0], b, 4, 0), 1);
}

TEST(sock_dontwait_on_blocking)
{
	int sv[2];
	char b[4];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_ERRNO(sys_recv(sv[1], b, 4, MSG_DONTWAIT), EAGAIN);
	int nb[2];
	sk_pair(SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, nb);
	ASSERT_ERRNO(sys_recv(nb[1], b, 4, 0), EAGAIN);
	ASSERT_ERRNO(sys_read(nb[1], b, 4), EAGAIN);
	ASSERT_EQ(sys_fcntl(nb[0], F_GETFL, 0) & O_NONBLOCK, O_NONBLOCK);
	ASSERT_EQ(sys_fcntl(nb[0], F_GETFD, 0), FD_CLOEXEC);
	ASSERT_EQ(sys_fcntl(sv[0], F_GETFD, 0), 0);
}

TEST(sock_names)
{
	struct sockaddr_un a, got;
	socklen_t la, l = sizeof(got);
	int lst = sk_listener(SOCK_STREAM, "names", 4, &a, &la);
	ASSERT_OK(sys_getsockname(lst, (struct sockaddr *)&got, &l));
	ASSERT_EQ(l, la);
	ASSERT_EQ(memcmp(&got, &a, la), 0);
	int c = sk_connect(SOCK_STREAM, &a, la, 0);
	l = sizeof(got);
	ASSERT_OK(sys_getpeername(c, (struct sockaddr *)&got, &l));
	ASSERT_EQ(l, la);
	l = sizeof(got);
	ASSERT_OK(sys_getsockname(c, (struct sockaddr *)&got, &l));
	ASSERT_EQ(l, offsetof(struct sockaddr_un, sun_path));
	l = sizeof(got);
	int s = sys_accept(lst, (struct sockaddr *)&got, &l);
	ASSERT_GE(s, 0);
	ASSERT_EQ(l, offsetof(struct sockaddr_un, sun_path)); /* unbound */
	l = sizeof(got);
	ASSERT_OK(sys_getsockname(s, (struct sockaddr *)&got, &l));
	ASSERT_EQ(l, la);
	ASSERT_EQ(memcmp(&got, &a, la), 0);
}

TEST(sock_path_name_length)
{
	struct sockaddr_un a, got;
	socklen_t l = sizeof(got);
	socklen_t la = sk_path(&a, "plen");
	int s = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	/* a longer length than the path: the name ends at its NUL */
	ASSERT_OK(sys_bind(s, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_OK(sys_getsockname(s, (struct sockaddr *)&got, &l));
	ASSERT_EQ(l, la);
	ASSERT_STR_EQ(got.sun_path, a.sun_path);
	unlink(a.sun_path);
}

TEST(sock_autobind)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX}, got;
	socklen_t l = sizeof(got);
	int s = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_OK(sys_bind(s, (struct sockaddr *)&a, sizeof(sa_family_t)));
	ASSERT_OK(sys_getsockname(s, (struct sockaddr *)&got, &l));
	ASSERT_EQ(l, offsetof(struct sockaddr_un, sun_path) + 6);
	ASSERT_EQ(got.sun_path[0], 0);
}

TEST(sock_dgram_sendto_recvfrom_names)
{
	struct sockaddr_un a, b, got;
	socklen_t la = sk_abstract(&a, "dg-a"), lb = sk_abstract(&b, "dg-b");
	socklen_t l = sizeof(got);
	char buf[8];
	int s = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	int t = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_OK(sys_bind(s, (struct sockaddr *)&a, la));
	ASSERT_OK(sys_bind(t, (struct sockaddr *)&b, lb));
	ASSERT_EQ(sys_sendto(t, "hi", 2, 0, (struct sockaddr *)&a, la), 2);
	ASSERT_EQ(sys_recvfrom(s, buf, 8, 0, (struct sockaddr *)&got, &l), 2);
	ASSERT_EQ(l, lb);
	ASSERT_EQ(memcmp(&got, &b, lb), 0);
	int u = sys_socket(AF_UNIX, SOCK_DGRAM, 0); /* unnamed sender */
	ASSERT_EQ(sys_sendto(u, "yo", 2, 0, (struct sockaddr *)&a, la), 2);
	l = sizeof(got);
	ASSERT_EQ(sys_recvfrom(s, buf, 8, 0, (struct sockaddr *)&got, &l), 2);
	ASSERT_EQ(l, 0);
}

TEST(sock_dgram_connect_unspec)
{
	struct sockaddr_un a;
	socklen_t la = sk_abstract(&a, "unspec");
	int s = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	int c = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_OK(sys_bind(s, (struct sockaddr *)&a, la));
	ASSERT_OK(sys_connect(c, (struct sockaddr *)&a, la));
	ASSERT_EQ(sys_send(c, "x", 1, 0), 1);
	struct sockaddr u = {.sa_family = AF_UNSPEC};
	ASSERT_OK(sys_connect(c, &u, sizeof(u)));
	ASSERT_ERRNO(sys_send(c, "x", 1, 0), ENOTCONN);
}

/* A one-way dgram client: the server's queue limit gates it. */
TEST(sock_dgram_server_queue_full)
{
	struct sockaddr_un a;
	socklen_t la = sk_abstract(&a, "qfull");
	char b[4];
	int s = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_OK(sys_bind(s, (struct sockaddr *)&a, la));
	int c = sys_socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ASSERT_OK(sys_connect(c, (struct sockaddr *)&a, la));
	int ep = sk_ep();
	ADD(ep, c, EPOLLOUT | EPOLLET, 1);
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
	int n = 0;
	while (sys_send(c, "x", 1, 0) == 1)
		n++;
	ASSERT_EQ(errno, EAGAIN);
	ASSERT_EQ(n, 11); /* max_dgram_qlen 10: full beyond 10 */
	ASSERT_EQ_HEX(sk_mask(c), 0);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	ASSERT_EQ(sys_recv(s, b, 4, 0), 1);
	ASSERT_EQ(sk_wait0(ep, NULL), 1); /* relayed from the server */
	ASSERT_EQ_HEX(sk_mask(c), POLLOUT | POLLWRNORM);
	ASSERT_EQ(sys_send(c, "x", 1, 0), 1);
}

TEST(sock_backlog_full_nonblock_eagain)
{
	struct sockaddr_un a;
	socklen_t la;
	int l = sk_listener(SOCK_STREAM, "backlog", 2, &a, &la);
	for (int i = 0; i < 3; i++) /* backlog 2 admits 3 */
		sk_connect(SOCK_STREAM | SOCK_NONBLOCK, &a, la, 0);
	int c = sys_socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_ERRNO(sys_connect(c, (struct sockaddr *)&a, la), EAGAIN);
	ASSERT_GE(sys_accept(l, NULL, NULL), 0);
	ASSERT_OK(sys_connect(c, (struct sockaddr *)&a, la));
}

TEST(sock_data_before_accept)
{
	struct sockaddr_un a;
	socklen_t la;
	char b[8];
	int l = sk_listener(SOCK_SEQPACKET, "early", 4, &a, &la);
	int c = sk_connect(SOCK_SEQPACKET, &a, la, 0);
	ASSERT_EQ(sys_send(c, "early", 5, 0), 5);
	int s = sys_accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ASSERT_GE(s, 0);
	ASSERT_EQ(sys_fcntl(s, F_GETFL, 0) & O_NONBLOCK, O_NONBLOCK);
	ASSERT_EQ(sys_fcntl(s, F_GETFD, 0), FD_CLOEXEC);
	ASSERT_EQ(sys_recv(s, b, 8, 0), 5);
	ASSERT_EQ(sk_getint(l, SO_ACCEPTCONN), 1);
	ASSERT_EQ(sk_getint(s, SO_ACCEPTCONN), 0);
	ASSERT_EQ(sk_getint(s, SO_TYPE), SOCK_SEQPACKET);
}

TEST(sock_listener_close_resets_pending)
{
	struct sockaddr_un a;
	socklen_t la;
	char b[4];
	int l = sk_listener(SOCK_STREAM, "reset", 4, &a, &la);
	int c = sk_connect(SOCK_STREAM, &a, la, 0);
	ASSERT_OK(sys_close(l));
	ASSERT_EQ_HEX(sk_mask(c), POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM |
	                                  POLLRDHUP | POLLHUP | POLLERR);
	ASSERT_ERRNO(sys_recv(c, b, 4, 0), ECONNRESET);
	ASSERT_EQ(sys_recv(c, b, 4, 0), 0);
}

TEST(sock_bufsize_options)
{
	int sv[2], v = 1;
	sk_pair(SOCK_STREAM, sv);
	ASSERT_OK(sys_setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)));
	ASSERT_EQ(sk_getint(sv[0], SO_SNDBUF), 4608);
	ASSERT_OK(sys_setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)));
	ASSERT_EQ(sk_getint(sv[0], SO_RCVBUF), 2304);
	v = 50000;
	ASSERT_OK(sys_setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)));
	ASSERT_EQ(sk_getint(sv[0], SO_RCVBUF), 100000);
	ASSERT_EQ(sk_getint(sv[0], SO_ERROR), 0);
	ASSERT_EQ(sk_getint(sv[0], SO_TYPE), SOCK_STREAM);
	ASSERT_EQ(sk_getint(sv[0], SO_DOMAIN), AF_UNIX);
}

/* ---- blocking, with threads ---- */

static void *send_later(void *p)
{
	int fd = *(int *)p;
	sleep_ms(50);
	ASSERT_EQ(sys_send(fd, "late", 4, 0), 4);
	return NULL;
}

TEST(sock_blocking_recv_woken_by_send)
{
	int sv[2];
	char b[8];
	pthread_t t;
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ(pthread_create(&t, NULL, send_later, &sv[0]), 0);
	ASSERT_EQ(sys_recv(sv[1], b, 8, 0), 4);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	int dv[2];
	sk_pair(SOCK_DGRAM, dv);
	ASSERT_EQ(pthread_create(&t, NULL, send_later, &dv[0]), 0);
	ASSERT_EQ(sys_read(dv[1], b, 8), 4);
	ASSERT_EQ(pthread_join(t, NULL), 0);
}

TEST(sock_blocking_waitall)
{
	int sv[2];
	char b[8];
	pthread_t t;
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ(sys_send(sv[0], "now-", 4, 0), 4);
	ASSERT_EQ(pthread_create(&t, NULL, send_later, &sv[0]), 0);
	ASSERT_EQ(sys_recv(sv[1], b, 8, MSG_WAITALL), 8);
	ASSERT_EQ(memcmp(b, "now-late", 8), 0);
	ASSERT_EQ(pthread_join(t, NULL), 0);
}

static void *shut_later(void *p)
{
	sleep_ms(50);
	ASSERT_OK(sys_shutdown(*(int *)p, SHUT_WR));
	return NULL;
}

TEST(sock_blocking_recv_woken_by_shutdown)
{
	int sv[2];
	char b[8];
	pthread_t t;
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ(pthread_create(&t, NULL, shut_later, &sv[0]), 0);
	ASSERT_EQ(sys_recv(sv[1], b, 8, 0), 0);
	ASSERT_EQ(pthread_join(t, NULL), 0);
}

static void *drain(void *p)
{
	static char b[65536];
	int fd = *(int *)p;
	long total = 0;
	sleep_ms(50);
	while (total < 1000000) {
		ssize_t r = sys_recv(fd, b, sizeof(b), 0);
		ASSERT_GT(r, 0);
		total += r;
	}
	return NULL;
}

TEST(sock_blocking_send_waits_for_room)
{
	static char big[1000000];
	int sv[2];
	pthread_t t;
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ(pthread_create(&t, NULL, drain, &sv[1]), 0);
	ASSERT_EQ(sys_send(sv[0], big, sizeof(big), 0), (long)sizeof(big));
	ASSERT_EQ(pthread_join(t, NULL), 0);
}

struct conn_arg {
	struct sockaddr_un a;
	socklen_t len;
};

static void *connect_later(void *p)
{
	struct conn_arg *c = p;
	sleep_ms(50);
	sk_connect(SOCK_STREAM, &c->a, c->len, 0);
	return NULL;
}

TEST(sock_blocking_accept_and_connect)
{
	struct conn_arg c;
	pthread_t t;
	int l = sk_listener(SOCK_STREAM, "blk", 0, &c.a, &c.len);
	ASSERT_EQ(pthread_create(&t, NULL, connect_later, &c), 0);
	ASSERT_GE(sys_accept(l, NULL, NULL), 0); /* woken by the connect */
	ASSERT_EQ(pthread_join(t, NULL), 0);
	/* backlog 0 admits one; a blocking connect then waits for accept */
	sk_connect(SOCK_STREAM, &c.a, c.len, 0);
	ASSERT_EQ(pthread_create(&t, NULL, connect_later, &c), 0);
	sleep_ms(150);
	ASSERT_EQ_HEX(sk_mask(sys_dup(l)) & POLLIN, POLLIN);
	ASSERT_GE(sys_accept(l, NULL, NULL), 0);
	ASSERT_EQ(pthread_join(t, NULL), 0); /* its connect went through */
	ASSERT_GE(sys_accept(l, NULL, NULL), 0);
}

struct acc_arg {
	int l, ep, accepted;
};

static void *accept_loop(void *p)
{
	struct acc_arg *a = p;
	struct epoll_event e;
	while (sys_epoll_wait(a->ep, &e, 1, 300) == 1) {
		int s;
		while ((s = sys_accept4(a->l, NULL, NULL, SOCK_NONBLOCK)) >=
		       0) {
			a->accepted++;
			ASSERT_OK(sys_close(s));
		}
		ASSERT_EQ(errno, EAGAIN);
	}
	return NULL;
}

/* Four threads, each its own epoll with EXCLUSIVE on the listener. */
TEST(sock_accept_loop_exclusive_threads)
{
	struct sockaddr_un a;
	socklen_t la;
	int l = sk_listener(SOCK_STREAM | SOCK_NONBLOCK, "loop", 128, &a, &la);
	struct acc_arg args[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct acc_arg){l, sk_ep(), 0};
		ADD(args[i].ep, l, EPOLLIN | EPOLLEXCLUSIVE, i);
		ASSERT_EQ(pthread_create(&th[i], NULL, accept_loop, &args[i]),
		          0);
	}
	int c[100];
	for (int i = 0; i < 100; i++) {
		c[i] = sk_connect(SOCK_STREAM, &a, la, 0);
		if (i % 10 == 9)
			sleep_ms(5);
	}
	int total = 0;
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(pthread_join(th[i], NULL), 0);
		total += args[i].accepted;
	}
	ASSERT_EQ(total, 100);
	for (int i = 0; i < 100; i++)
		ASSERT_OK(sys_close(c[i]));
	ASSERT_OK(sys_close(l));
	for (int i = 0; i < 4; i++)
		ASSERT_OK(sys_close(args[i].ep));
}
