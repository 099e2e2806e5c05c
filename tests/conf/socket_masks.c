/*
 * sockets: the poll mask after each state change (unix_poll for stream,
 * unix_dgram_poll for dgram and seqpacket), and OUT following the send
 * buffer's accounting.
 */
#include "socket_util.h"

#define RD (POLLIN | POLLRDNORM)
#define WR (POLLOUT | POLLWRNORM)

TEST(sock_stream_pair_fresh_out)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ_HEX(sk_mask(sv[0]), WR);
	ASSERT_EQ_HEX(sk_mask(sv[1]), WR);
}

TEST(sock_stream_data_in)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ(sys_send(sv[0], "ab", 2, 0), 2);
	ASSERT_EQ_HEX(sk_mask(sv[1]), RD | WR);
	ASSERT_EQ_HEX(sk_mask(sv[0]), WR);
}

TEST(sock_stream_peer_shut_wr)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_OK(sys_shutdown(sv[0], SHUT_WR));
	ASSERT_EQ_HEX(sk_mask(sv[1]), RD | WR | POLLRDHUP);
	ASSERT_EQ_HEX(sk_mask(sv[0]), WR);
}

TEST(sock_stream_both_shut_wr)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_OK(sys_shutdown(sv[0], SHUT_WR));
	ASSERT_OK(sys_shutdown(sv[1], SHUT_WR));
	ASSERT_EQ_HEX(sk_mask(sv[1]), RD | WR | POLLRDHUP | POLLHUP);
	ASSERT_EQ_HEX(sk_mask(sv[0]), RD | WR | POLLRDHUP | POLLHUP);
}

TEST(sock_stream_peer_closed)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_OK(sys_close(sv[0]));
	ASSERT_EQ_HEX(sk_mask(sv[1]), RD | WR | POLLRDHUP | POLLHUP);
}

TEST(sock_stream_own_shut_rd)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_OK(sys_shutdown(sv[0], SHUT_RD));
	ASSERT_EQ_HEX(sk_mask(sv[0]), RD | WR | POLLRDHUP);
	ASSERT_EQ_HEX(sk_mask(sv[1]), WR);
}

TEST(sock_stream_own_shut_rdwr)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_OK(sys_shutdown(sv[0], SHUT_RDWR));
	ASSERT_EQ_HEX(sk_mask(sv[0]), RD | WR | POLLRDHUP | POLLHUP);
	ASSERT_EQ_HEX(sk_mask(sv[1]), RD | WR | POLLRDHUP | POLLHUP);
}

TEST(sock_stream_peer_closed_unread_err)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	ASSERT_EQ(sys_send(sv[1], "x", 1, 0), 1);
	ASSERT_OK(sys_close(sv[0])); /* it had unread data: ECONNRESET */
	ASSERT_EQ_HEX(sk_mask(sv[1]), RD | WR | POLLRDHUP | POLLHUP | POLLERR);
	ASSERT_EQ(sk_getint(sv[1], SO_ERROR), ECONNRESET);
	ASSERT_EQ_HEX(sk_mask(sv[1]), RD | WR | POLLRDHUP | POLLHUP);
}

TEST(sock_stream_fresh_socket_hup)
{
	int fd = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ_HEX(sk_mask(fd), WR | POLLHUP);
}

TEST(sock_seqpacket_fresh_socket_hup)
{
	int fd = sys_socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ_HEX(sk_mask(fd), WR | POLLHUP);
}

TEST(sock_dgram_fresh_socket_out)
{
	int fd = sys_socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ_HEX(sk_mask(fd), WR);
}

TEST(sock_listener_in_when_pending)
{
	struct sockaddr_un a;
	socklen_t len;
	int l = sk_listener(SOCK_STREAM, "lmask", 5, &a, &len);
	ASSERT_EQ_HEX(sk_mask(l), 0);
	int c = sk_connect(SOCK_STREAM, &a, len, 0);
	ASSERT_EQ_HEX(sk_mask(l), RD);
	ASSERT_EQ_HEX(sk_mask(c), WR);
	int s = sys_accept(l, NULL, NULL);
	ASSERT_GE(s, 0);
	ASSERT_EQ_HEX(sk_mask(l), 0);
	ASSERT_EQ_HEX(sk_mask(s), WR);
}

TEST(sock_dgram_pair_peer_closed_still_out)
{
	int sv[2];
	sk_pair(SOCK_DGRAM, sv);
	ASSERT_EQ_HEX(sk_mask(sv[1]), WR);
	ASSERT_OK(sys_close(sv[0]));
	ASSERT_EQ_HEX(sk_mask(sv[1]), WR);
}

TEST(sock_seqpacket_pair_peer_closed)
{
	int sv[2];
	sk_pair(SOCK_SEQPACKET, sv);
	ASSERT_EQ_HEX(sk_mask(sv[1]), WR);
	ASSERT_OK(sys_close(sv[0]));
	ASSERT_EQ_HEX(sk_mask(sv[1]), RD | WR | POLLRDHUP | POLLHUP);
}

TEST(sock_dgram_shut_rd_mask)
{
	int sv[2];
	sk_pair(SOCK_DGRAM, sv);
	ASSERT_OK(sys_shutdown(sv[0], SHUT_RD));
	ASSERT_EQ_HEX(sk_mask(sv[0]), RD | WR | POLLRDHUP);
	ASSERT_EQ_HEX(sk_mask(sv[1]), WR); /* dgram: the peer is not told */
}

/* 1-byte sends cost 768 bytes each: allowed while charged < sndbuf. */
TEST(sock_stream_fill_small_sends)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	int sndbuf = sk_getint(sv[0], SO_SNDBUF);
	long n = sk_fill(sv[0], 1);
	ASSERT_EQ(n, (sndbuf + 767) / 768);
	ASSERT_EQ_HEX(sk_mask(sv[0]), 0);
}

TEST(sock_dgram_fill_small_sends)
{
	int sv[2];
	sk_pair(SOCK_DGRAM, sv);
	int sndbuf = sk_getint(sv[0], SO_SNDBUF);
	ASSERT_EQ(sk_fill(sv[0], 1), (sndbuf + 767) / 768);
	ASSERT_EQ_HEX(sk_mask(sv[0]), 0);
	ASSERT_EQ_HEX(sk_mask(sv[1]), RD | WR);
}

/* OUT comes back once at most a quarter of sndbuf is charged. */
TEST(sock_stream_out_returns_at_quarter)
{
	int sv[2];
	char buf[4096];
	sk_pair(SOCK_STREAM, sv);
	int sndbuf = sk_getint(sv[0], SO_SNDBUF);
	long n = sk_fill(sv[0], 1);
	long left = n;
	while ((left * 768 + 1) * 4 > sndbuf) {
		ASSERT_EQ_HEX(sk_mask(sv[0]) & POLLOUT, 0);
		ASSERT_EQ(sys_recv(sv[1], buf, 1, 0), 1);
		left--;
	}
	ASSERT_EQ_HEX(sk_mask(sv[0]), WR);
}

TEST(sock_stream_bulk_capacity)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	if (sk_getint(sv[0], SO_SNDBUF) != 212992)
		SKIP("wmem_default is not 212992");
	ASSERT_EQ(sk_fill(sv[0], 100000), 236544);
}

/*
 * A send just over a page-sized head goes wholly into page fragments,
 * and each fragment charges the sender a whole page: 3777-byte sends
 * fill the buffer after as many sends as 4096-byte ones.
 */
TEST(sock_stream_fragment_charges_whole_pages)
{
	int sv[2], tv[2];
	sk_pair(SOCK_STREAM, sv);
	sk_pair(SOCK_STREAM, tv);
	long odd = sk_fill(sv[0], 3777), page = sk_fill(tv[0], 4096);
	ASSERT_GT(page, 0);
	ASSERT_EQ(odd % 3777, 0); /* one buffer a send, none cut short */
	ASSERT_EQ(odd / 3777, page / 4096);
}

TEST(sock_dgram_bulk_capacity)
{
	int sv[2];
	sk_pair(SOCK_DGRAM, sv);
	if (sk_getint(sv[0], SO_SNDBUF) != 212992)
		SKIP("wmem_default is not 212992");
	ASSERT_EQ(sk_fill(sv[0], 100000), 300000);
	ASSERT_EQ_HEX(sk_mask(sv[0]), 0);
}

TEST(sock_small_sndbuf_limits_out)
{
	int sv[2];
	sk_pair(SOCK_STREAM, sv);
	int v = 4096;
	ASSERT_OK(sys_setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)));
	ASSERT_EQ(sk_getint(sv[0], SO_SNDBUF), 8192);
	ASSERT_EQ(sk_fill(sv[0], 1), 11);
	/* A large send is cut in sndbuf / 2 - 64 byte pieces. */
	int sw[2];
	sk_pair(SOCK_STREAM, sw);
	ASSERT_OK(sys_setsockopt(sw[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)));
	ASSERT_EQ(sk_fill(sw[0], 10000), 4032 * 2);
}
