/* sockets: errors of each call, in the kernel's order. */
#include "socket_util.h"

#include <signal.h>

TEST(sock_err_enotsock_on_pipe)
{
	int p[2];
	char b[1];
	int v;
	socklen_t l = sizeof(v);
	struct sockaddr_un a;
	socklen_t len = sk_abstract(&a, "enotsock");
	ASSERT_OK(sys_pipe(p));
	ASSERT_ERRNO(sys_send(p[1], "x", 1, 0), ENOTSOCK);
	ASSERT_ERRNO(sys_recv(p[0], b, 1, MSG_DONTWAIT), ENOTSOCK);
	ASSERT_ERRNO(sys_bind(p[0], (struct sockaddr *)&a, len), ENOTSOCK);
	ASSERT_ERRNO(sys_listen(p[0], 1), ENOTSOCK);
	ASSERT_ERRNO(sys_accept(p[0], NULL, NULL), ENOTSOCK);
	ASSERT_ERRNO(sys_connect(p[0], (struct sockaddr *)&a, len), ENOTSOCK);
	ASSERT_ERRNO(sys_shutdown(p[0], SHUT_RD), ENOTSOCK);
	ASSERT_ERRNO(sys_getsockopt(p[0], SOL_SOCKET, SO_TYPE, &v, &l),
	             ENOTSOCK);
	ASSERT_ERRNO(sys_getsockname(p[0], (struct sockaddr *)&a, &l),
	             ENOTSOCK);
}

TEST(sock_err_ebadf)
{
	char b[1];
	ASSERT_ERRNO(sys_send(SYS_FD_HIGH, "x", 1, 0), EBADF);
	ASSERT_ERRNO(sys_recv(SYS_FD_HIGH, b, 1, 0), EBADF);
	ASSERT_ERRNO(sys_listen(SYS_FD_HIGH, 1), EBADF);
	ASSERT_ERRNO(sys_shutdown(SYS_FD_HIGH, SHUT_RD), EBADF);
}

TEST(sock_err_socket_args)
{
	ASSERT_ERRNO(sys_socket(AF_UNIX, SOCK_STREAM | 0x100, 0), EINVAL);
	ASSERT_ERRNO(sys_socket(AF_UNIX, SOCK_RDM, 0), ESOCKTNOSUPPORT);
	ASSERT_ERRNO(sys_socket(AF_UNIX, SOCK_STREAM, 7), EPROTONOSUPPORT);
	int sv[2];
	ASSERT_ERRNO(sys_socketpair(AF_UNIX, SOCK_RDM, 0, sv), ESOCKTNOSUPPORT);
	int fd = sys_socket(AF_UNIX, SOCK_RAW, 0); /* becomes SOCK_DGRAM */
	ASSERT_GE(fd, 0);
	ASSERT_EQ(sk_getint(fd, SO_TYPE), SOCK_DGRAM);
}

TEST(sock_err_bind)
{
	struct sockaddr_un a, b;
	socklen_t la = sk_abstract(&a, "bind-a"), lb = sk_abstract(&b, "b-b");
	int s = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	int t = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_OK(sys_bind(s, (struct sockaddr *)&a, la));
	ASSERT_ERRNO(sys_bind(t, (struct sockaddr *)&a, la), EADDRINUSE);
	ASSERT_ERRNO(sys_bind(s, (struct sockaddr *)&b, lb), EINVAL);
	struct sockaddr_un bad = a;
	bad.sun_family = AF_INET;
	ASSERT_ERRNO(sys_bind(t, (struct sockaddr *)&bad, la), EINVAL);
	ASSERT_ERRNO(sys_bind(t, (struct sockaddr *)&a, 1), EINVAL);
	ASSERT_ERRNO(sys_bind(t, (struct sockaddr *)&a, 200), EINVAL);
	/* A closed socket's abstract name is free again. */
	ASSERT_OK(sys_close(s));
	ASSERT_OK(sys_bind(t, (struct sockaddr *)&a, la));
}

TEST(sock_err_bind_path_in_use)
{
	struct sockaddr_un a;
	socklen_t la = sk_path(&a, "inuse");
	int s = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	int t = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_OK(sys_bind(s, (struct sockaddr *)&a, la));
	ASSERT_ERRNO(sys_bind(t, (struct sockaddr *)&a, la), EADDRINUSE);
	unlink(a.sun_path);
}

TEST(sock_err_connect_refused)
{
	struct sockaddr_un a, p;
	socklen_t la = sk_abstract(&a, "nobody");
	socklen_t lp = sk_path(&p, "nobody");
	int c = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_ERRNO(sys_connect(c, (struct sockaddr *)&a, la), ECONNREFUSED);
	ASSERT_ERRNO(sys_connect(c, (struct sockaddr *)&p, lp), ENOENT);
	/* bound but not listening */
	int s = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_OK(sys_bind(s, (struct sockaddr *)&a, la));
	ASSERT_ERRNO(sys_connect(c, (struct sockaddr *)&a, la), ECONNREFUSED);
	/* a listener that shut down reading */
	ASSERT_OK(sys_listen(s, 4));
	ASSERT_OK(sys_shutdown(s, SHUT_RD));
	ASSERT_ERRNO(sys_connect(c, (struct sockaddr *)&a, la), ECONNREFUSED);
}

/* A path names one socket of any type; abstract names are per type. */
TEST(sock_err_connect_prototype)
{
	struct sockaddr_un a, p;
	socklen_t la = sk_abstract(&a, "proto"), lp = sk_path(&p, "proto");
	int d = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_OK(sys_bind(d, (struct sockaddr *)&a, la));
	int e = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_OK(sys_bind(e, (struct sockaddr *)&p, lp));
	int c = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_ERRNO(sys_connect(c, (struct sockaddr *)&a, la), ECONNREFUSED);
	ASSERT_ERRNO(sys_connect(c, (struct sockaddr *)&p, lp), EPROTOTYPE);
	int s = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_OK(sys_bind(s, (struct sockaddr *)&a, la));
	unlink(p.sun_path);
}

TEST(sock_err_isconn)
{
	struct sockaddr_un a;
	socklen_t la;
	int l = sk_listener(SOCK_STREAM, "isconn", 4, &a, &la);
	int c = sk_connect(SOCK_STREAM, &a, la, 0);
	ASSERT_ERRNO(sys_connect(c, (struct sockaddr *)&a, la), EISCONN);
	ASSERT_ERRNO(sys_sendto(c, "x", 1, 0, (struct sockaddr *)&a, la),
	             EISCONN);
	/* connect on the listener itself */
	ASSERT_ERRNO(sys_connect(l, (struct sockaddr *)&a, la), EINVAL);
}

TEST(sock_err_notconn)
{
	char b[4];
	struct sockaddr_un a;
	socklen_t l = sizeof(a);
	int s = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_ERRNO(sys_send(s, "x", 1, MSG_NOSIGNAL), ENOTCONN);
	ASSERT_ERRNO(sys_getpeername(s, (struct sockaddr *)&a, &l), ENOTCONN);
	ASSERT_ERRNO(sys_recv(s, b, 4, MSG_DONTWAIT), EINVAL);
	int d = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_ERRNO(sys_send(d, "x", 1, 0), ENOTCONN);
	int q = sys_socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ASSERT_ERRNO(sys_send(q, "x", 1, 0), ENOTCONN);
	ASSERT_ERRNO(sys_recv(q, b, 4, MSG_DONTWAIT), ENOTCONN);
}

TEST(sock_err_opnotsupp)
{
	struct sockaddr_un a;
	socklen_t la = sk_abstract(&a, "opnotsupp");
	int d = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_OK(sys_bind(d, (struct sockaddr *)&a, la));
	ASSERT_ERRNO(sys_listen(d, 1), EOPNOTSUPP);
	ASSERT_ERRNO(sys_accept(d, NULL, NULL), EOPNOTSUPP);
	int s = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_ERRNO(sys_sendto(s, "x", 1, 0, (struct sockaddr *)&a, la),
	             EOPNOTSUPP);
}

TEST(sock_err_listen_accept_einval)
{
	int s = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_ERRNO(sys_listen(s, 1), EINVAL); /* unbound */
	ASSERT_ERRNO(sys_accept(s, NULL, NULL), EINVAL);
	ASSERT_ERRNO(sys_accept4(s, NULL, NULL, 0x40000000), EINVAL);
	ASSERT_ERRNO(sys_shutdown(s, 3), EINVAL);
	ASSERT_ERRNO(sys_shutdown(s, -1), EINVAL);
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_ERRNO(sys_listen(sv[0], 1), EINVAL); /* connected */
}

TEST(sock_err_emsgsize)
{
	int sv[2];
	static char big[300000];
	sk_pair(SOCK_DGRAM, sv);
	int sndbuf = sk_getint(sv[0], SO_SNDBUF);
	ASSERT_ERRNO(sys_send(sv[0], big, (size_t)sndbuf - 31, 0), EMSGSIZE);
	ASSERT_EQ(sys_send(sv[0], big, (size_t)sndbuf - 32, MSG_DONTWAIT),
	          sndbuf - 32);
}

TEST(sock_err_sockopt)
{
	int sv[2], v = 0;
	socklen_t l = sizeof(v);
	sk_pair(SOCK_STREAM, sv);
	ASSERT_ERRNO(sys_getsockopt(sv[0], SOL_SOCKET, 12345, &v, &l),
	             ENOPROTOOPT);
	ASSERT_ERRNO(sys_setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, 2),
	             EINVAL);
	ASSERT_ERRNO(sys_setsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, sizeof(v)),
	             ENOPROTOOPT);
}

TEST(sock_err_dgram_eperm)
{
	struct sockaddr_un a, b;
	socklen_t la = sk_abstract(&a, "perm-a"),
	          lb = sk_abstract(&b, "perm-b");
	int s = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	int t = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	int u = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_OK(sys_bind(s, (struct sockaddr *)&a, la));
	ASSERT_OK(sys_bind(t, (struct sockaddr *)&b, lb));
	ASSERT_OK(sys_connect(s, (struct sockaddr *)&b, lb));
	/* s talks only to t: u may neither connect nor send to it */
	ASSERT_ERRNO(sys_connect(u, (struct sockaddr *)&a, la), EPERM);
	ASSERT_ERRNO(sys_sendto(u, "x", 1, 0, (struct sockaddr *)&a, la),
	             EPERM);
	ASSERT_EQ(sys_sendto(t, "x", 1, 0, (struct sockaddr *)&a, la), 1);
}

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

TEST(sock_err_epipe_and_sigpipe)
{
	int sv[2];
	signal(SIGPIPE, on_sigpipe);
	sk_pair(SOCK_STREAM, sv);
	ASSERT_OK(sys_shutdown(sv[0], SHUT_WR));
	ASSERT_ERRNO(sys_send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
	ASSERT_EQ(sigpipes, 0);
	ASSERT_ERRNO(sys_send(sv[0], "x", 1, 0), EPIPE);
	ASSERT_EQ(sigpipes, 1);
	ASSERT_ERRNO(sys_write(sv[0], "x", 1), EPIPE);
	ASSERT_EQ(sigpipes, 2);
	/* the peer shut reading */
	int sw[2];
	sk_pair(SOCK_STREAM, sw);
	ASSERT_OK(sys_shutdown(sw[1], SHUT_RD));
	ASSERT_ERRNO(sys_send(sw[0], "x", 1, 0), EPIPE);
	ASSERT_EQ(sigpipes, 3);
}

TEST(sock_err_seqpacket_epipe_no_signal)
{
	int sv[2];
	signal(SIGPIPE, on_sigpipe);
	sigpipes = 0;
	sk_pair(SOCK_SEQPACKET, sv);
	ASSERT_OK(sys_close(sv[1]));
	ASSERT_ERRNO(sys_send(sv[0], "x", 1, 0), EPIPE);
	ASSERT_EQ(sigpipes, 0);
}

TEST(sock_err_dgram_peer_closed_refused)
{
	int sv[2];
	sk_pair(SOCK_DGRAM, sv);
	ASSERT_OK(sys_close(sv[1]));
	ASSERT_ERRNO(sys_send(sv[0], "x", 1, 0), ECONNREFUSED);
	ASSERT_ERRNO(sys_send(sv[0], "x", 1, 0), ENOTCONN);
}

TEST(sock_err_stream_peer_closed)
{
	int sv[2];
	char b[4];
	signal(SIGPIPE, SIG_IGN);
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ(sys_send(sv[0], "x", 1, 0), 1);
	ASSERT_OK(sys_close(sv[1])); /* with unread data: ECONNRESET */
	ASSERT_ERRNO(sys_send(sv[0], "x", 1, 0), EPIPE);
	ASSERT_ERRNO(sys_recv(sv[0], b, 4, 0), ECONNRESET);
	ASSERT_EQ(sys_recv(sv[0], b, 4, 0), 0);
}

/* An iovec length past SSIZE_MAX (socket_util.h). */
TEST(sock_err_iov_len_past_ssize_max)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	sk_iov_len_past_ssize_max_is_einval(sv[0]);
	sk_pair(SOCK_DGRAM, sv);
	sk_iov_len_past_ssize_max_is_einval(sv[0]);
}
