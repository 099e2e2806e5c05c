/*
 * Sockets after their peer is gone, and the wake-ups of failed sends
 * (issue 11, item 6): each case shrunk from a differential run.
 */
#include "socket_util.h"

#include <signal.h>

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/* A blocking read after SHUT_RD on a dgram socket is EOF at once. */
TEST_T(sock_dgram_shut_rd_blocking_read_returns_0, 5)
{
	int sv[2];
	char b[4];
	sk_pair(SOCK_DGRAM, sv);
	ASSERT_OK(sys_shutdown(sv[0], SHUT_RD));
	ASSERT_EQ(sys_read(sv[0], b, sizeof(b)), 0);
	ASSERT_EQ(sys_recv(sv[0], b, sizeof(b), 0), 0);
	/* Non-blocking, a dgram socket has no EOF: EAGAIN. */
	ASSERT_ERRNO(sys_recv(sv[0], b, sizeof(b), MSG_DONTWAIT), EAGAIN);
	ASSERT_OK(sys_close(sv[0]));
	ASSERT_OK(sys_close(sv[1]));
}

/* The same through a blocking read on a seqpacket socket. */
TEST_T(sock_seqpacket_shut_rd_blocking_read_returns_0, 5)
{
	int sv[2];
	char b[4];
	sk_pair(SOCK_SEQPACKET, sv);
	ASSERT_OK(sys_shutdown(sv[0], SHUT_RD));
	ASSERT_EQ(sys_read(sv[0], b, sizeof(b)), 0);
	ASSERT_OK(sys_close(sv[0]));
	ASSERT_OK(sys_close(sv[1]));
}

/*
 * A send that fails after the buffer was allocated frees it, and the free
 * is a write-space wake-up: an edge for an ET EPOLLOUT watcher.
 */
TEST(sock_dgram_failed_send_wakes_et_out)
{
	int sv[2];
	uint32_t ev;
	sk_pair(SOCK_DGRAM, sv);
	/* s0 now names s1's socket; s1's peer is gone. */
	ASSERT_EQ(sys_dup2(sv[1], sv[0]), sv[0]);
	ASSERT_ERRNO(sys_send(sv[1], "x", 1, 0), ECONNREFUSED);
	int ep = sk_ep();
	ADD(ep, sv[0], EPOLLIN | EPOLLOUT | EPOLLWRBAND | EPOLLRDHUP | EPOLLET,
	    1);
	ASSERT_EQ(sk_wait0(ep, &ev), 1);
	ASSERT_EQ_HEX(ev, EPOLLOUT | EPOLLWRBAND);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	ASSERT_ERRNO(sys_write(sv[0], "x", 1), ENOTCONN);
	ASSERT_EQ(sk_wait0(ep, &ev), 1);
	ASSERT_EQ_HEX(ev, EPOLLOUT | EPOLLWRBAND);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	ASSERT_OK(sys_close(ep));
	ASSERT_OK(sys_close(sv[0]));
	ASSERT_OK(sys_close(sv[1]));
}

/* Every failure after the allocation wakes; failures before it do not. */
TEST(sock_dgram_send_errors_and_et_out)
{
	struct sockaddr_un a;
	socklen_t al = sk_abstract(&a, "nobody");
	int s = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_GE(s, 0);
	int ep = sk_ep();
	ADD(ep, s, EPOLLOUT | EPOLLET, 1);
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
	/* Not connected: after the allocation, so an edge. */
	ASSERT_ERRNO(sys_send(s, "x", 1, 0), ENOTCONN);
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
	/* No such name: after the allocation too. */
	ASSERT_ERRNO(sys_sendto(s, "x", 1, 0, (struct sockaddr *)&a, al),
	             ECONNREFUSED);
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
	/* Too big, bad address: before it, no edge. */
	static char big[300000];
	ASSERT_ERRNO(sys_send(s, big, sizeof(big), 0), EMSGSIZE);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	struct sockaddr_un bad = a;
	bad.sun_family = AF_INET;
	ASSERT_ERRNO(sys_sendto(s, "x", 1, 0, (struct sockaddr *)&bad, al),
	             EINVAL);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	ASSERT_OK(sys_close(ep));
	ASSERT_OK(sys_close(s));
}

/*
 * The peer's SHUT_RD is our SEND_SHUTDOWN: the send fails before any
 * allocation, so no write-space edge follows.
 */
TEST(sock_seqpacket_epipe_send_no_et_out)
{
	int sv[2];
	sk_pair(SOCK_SEQPACKET, sv);
	int ep = sk_ep();
	ADD(ep, sv[0], EPOLLOUT | EPOLLET, 1);
	ASSERT_EQ(sk_wait0(ep, NULL), 1);
	ASSERT_OK(sys_shutdown(sv[1], SHUT_RD));
	ASSERT_EQ(sk_wait0(ep, NULL), 1); /* the peer's shutdown wakes us */
	ASSERT_ERRNO(sys_send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	ASSERT_OK(sys_close(ep));
	ASSERT_OK(sys_close(sv[0]));
	ASSERT_OK(sys_close(sv[1]));
}

/*
 * write/send when the peer is gone, in each way it can go: stream sockets
 * fail with EPIPE and raise SIGPIPE (not with MSG_NOSIGNAL); seqpacket
 * sockets fail with EPIPE (ECONNRESET first if data was lost) and raise
 * nothing.
 */
static void peer_gone_cases(int type, int pipe_sig)
{
	int sv[2];
	struct sockaddr_un a;
	socklen_t al;
	signal(SIGPIPE, on_sigpipe);

	/* The peer closed. */
	sk_pair(type, sv);
	ASSERT_OK(sys_close(sv[1]));
	sigpipes = 0;
	ASSERT_ERRNO(sys_write(sv[0], "x", 1), EPIPE);
	ASSERT_ERRNO(sys_send(sv[0], "x", 1, 0), EPIPE);
	ASSERT_EQ(sigpipes, 2 * pipe_sig);
	ASSERT_ERRNO(sys_send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
	ASSERT_EQ(sigpipes, 2 * pipe_sig);
	ASSERT_OK(sys_close(sv[0]));

	/* The peer closed with our data unread. */
	sk_pair(type, sv);
	ASSERT_EQ(sys_send(sv[0], "y", 1, 0), 1);
	ASSERT_OK(sys_close(sv[1]));
	sigpipes = 0;
	if (type == SOCK_SEQPACKET)
		ASSERT_ERRNO(sys_write(sv[0], "x", 1), ECONNRESET);
	ASSERT_ERRNO(sys_write(sv[0], "x", 1), EPIPE);
	ASSERT_EQ(sigpipes, pipe_sig);
	ASSERT_OK(sys_close(sv[0]));

	/* dup2 over our own end: the socket behind s0 is now s1's. */
	sk_pair(type, sv);
	ASSERT_EQ(sys_dup2(sv[1], sv[0]), sv[0]);
	sigpipes = 0;
	ASSERT_ERRNO(sys_write(sv[0], "x", 1), EPIPE);
	ASSERT_ERRNO(sys_write(sv[1], "x", 1), EPIPE);
	ASSERT_EQ(sigpipes, 2 * pipe_sig);
	ASSERT_OK(sys_close(sv[0]));
	ASSERT_OK(sys_close(sv[1]));

	/* The accepted end closed. */
	int l = sk_listener(type, type == SOCK_STREAM ? "pg-s" : "pg-q", 4, &a,
	                    &al);
	int c = sk_connect(type, &a, al, 0);
	int s = sys_accept(l, NULL, NULL);
	ASSERT_GE(s, 0);
	ASSERT_OK(sys_close(s));
	sigpipes = 0;
	ASSERT_ERRNO(sys_write(c, "x", 1), EPIPE);
	ASSERT_EQ(sigpipes, pipe_sig);
	ASSERT_OK(sys_close(c));

	/* The listener closed before accepting. */
	c = sk_connect(type, &a, al, 0);
	ASSERT_EQ(sys_write(c, "x", 1), 1);
	ASSERT_OK(sys_close(l));
	sigpipes = 0;
	if (type == SOCK_SEQPACKET)
		ASSERT_ERRNO(sys_write(c, "x", 1), ECONNRESET);
	ASSERT_ERRNO(sys_write(c, "x", 1), EPIPE);
	ASSERT_EQ(sigpipes, pipe_sig);
	ASSERT_OK(sys_close(c));

	/* Never connected: ENOTCONN, no signal. */
	c = sys_socket(AF_UNIX, type, 0);
	ASSERT_GE(c, 0);
	sigpipes = 0;
	ASSERT_ERRNO(sys_write(c, "x", 1), ENOTCONN);
	ASSERT_EQ(sigpipes, 0);
	ASSERT_OK(sys_close(c));
	signal(SIGPIPE, SIG_DFL);
}

TEST(sock_stream_peer_gone_epipe_sigpipe)
{
	peer_gone_cases(SOCK_STREAM, 1);
}

TEST(sock_seqpacket_peer_gone_epipe_no_sigpipe)
{
	peer_gone_cases(SOCK_SEQPACKET, 0);
}

static int closer_fd;
static void *close_later(void *arg)
{
	(void)arg;
	sleep_ms(100);
	ASSERT_OK(sys_close(closer_fd));
	return NULL;
}

/*
 * A blocking write that sent part of its data when the peer went returns
 * the part it sent and raises no SIGPIPE; the next write does.
 */
TEST(sock_stream_blocking_write_peer_closes_returns_partial)
{
	static char buf[1 << 20];
	int sv[2];
	pthread_t t;
	sk_pair(SOCK_STREAM, sv);
	signal(SIGPIPE, on_sigpipe);
	sigpipes = 0;
	closer_fd = sv[1];
	ASSERT_OK(pthread_create(&t, NULL, close_later, NULL));
	ssize_t n = sys_write(sv[0], buf, sizeof(buf));
	ASSERT_OK(pthread_join(t, NULL));
	ASSERT_GT(n, 0);
	ASSERT_LT(n, (ssize_t)sizeof(buf));
	ASSERT_EQ(sigpipes, 0);
	ASSERT_ERRNO(sys_write(sv[0], buf, 1), EPIPE);
	ASSERT_EQ(sigpipes, 1);
	ASSERT_OK(sys_close(sv[0]));
	signal(SIGPIPE, SIG_DFL);
}

/*
 * Closing with unread data resets the peer (ECONNRESET), but an empty
 * datagram at the head of the queue does not count; one behind it does.
 */
TEST(sock_seqpacket_close_empty_datagram_no_reset)
{
	int sv[2];
	char b[8];
	ASSERT_OK(
	        sys_socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv));
	ASSERT_EQ(sys_write(sv[0], b, 0), 0); /* an empty datagram for s1 */
	ASSERT_EQ(sys_send(sv[1], "abc", 3, 0), 3);
	ASSERT_OK(sys_close(sv[1]));
	ASSERT_EQ(sys_read(sv[0], b, sizeof(b)), 3);
	ASSERT_EQ(sys_read(sv[0], b, sizeof(b)), 0);
	ASSERT_OK(sys_close(sv[0]));

	ASSERT_OK(
	        sys_socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv));
	ASSERT_EQ(sys_write(sv[0], b, 0), 0);
	ASSERT_EQ(sys_write(sv[0], b, 0), 0);
	ASSERT_EQ(sys_send(sv[1], "abc", 3, 0), 3);
	ASSERT_OK(sys_close(sv[1]));
	ASSERT_ERRNO(sys_read(sv[0], b, sizeof(b)), ECONNRESET);
	ASSERT_EQ(sys_read(sv[0], b, sizeof(b)), 3);
	ASSERT_OK(sys_close(sv[0]));
}

/*
 * A socket's data-ready wake-up carries EPOLLPRI in its key (the kernel's
 * sock_def_readable): an ET item watching OUT|PRI is queued by an arrival
 * and reports OUT again.
 */
TEST(sock_data_ready_key_has_pri)
{
	int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
	for (int i = 0; i < 3; i++) {
		int sv[2];
		uint32_t ev;
		sk_pair(types[i], sv);
		int ep = sk_ep();
		ADD(ep, sv[0], EPOLLOUT | EPOLLPRI | EPOLLET, 1);
		ASSERT_EQ(sk_wait0(ep, &ev), 1);
		ASSERT_EQ(sk_wait0(ep, NULL), 0);
		ASSERT_EQ(sys_send(sv[1], "x", 1, 0), 1);
		ASSERT_EQ(sk_wait0(ep, &ev), 1);
		ASSERT_EQ_HEX(ev, EPOLLOUT);
		/* Watching OUT alone: the arrival does not queue it. */
		MOD(ep, sv[0], EPOLLOUT | EPOLLET, 1);
		ASSERT_EQ(sk_wait0(ep, NULL), 1); /* MOD re-polls */
		ASSERT_EQ(sys_send(sv[1], "x", 1, 0), 1);
		ASSERT_EQ(sk_wait0(ep, NULL), 0);
		ASSERT_OK(sys_close(ep));
		ASSERT_OK(sys_close(sv[0]));
		ASSERT_OK(sys_close(sv[1]));
	}
}
