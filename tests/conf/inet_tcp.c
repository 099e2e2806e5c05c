/*
 * TCP readiness, the kernel's as judge: which socket calls make which
 * events, on kernel TCP over loopback and on lwIP over the in-process wire
 * (inet_util.h).  Each test checks the sequence of events epoll promises,
 * not the timing of segments (README, "Differences from Linux").
 */
#include "inet_util.h"

TEST(inet_new_socket_is_out_hup)
{
	inet_begin();
	int s = sys_socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(s, 0);
	ASSERT_EQ_HEX(poll_mask(s), POLLOUT | POLLWRNORM | POLLHUP);
	ASSERT_OK(sys_close(s));
}

TEST(inet_listener_readable_while_connection_waits)
{
	inet_begin();
	struct sockaddr_in a;
	int l = inet_listener(&a, 4);
	int ep = new_ep();
	ADD(ep, l, EPOLLIN, 1);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	ASSERT_EQ_HEX(poll_mask(l), 0);
	int c = inet_connect_nb(&a);
	ASSERT_EQ_HEX(inet_wait(ep), EPOLLIN);
	int s = sys_accept(l, NULL, NULL);
	ASSERT_GE(s, 0);
	ASSERT_EQ(sk_wait0(ep, NULL), 0); /* the queue is empty again */
	ASSERT_OK(sys_close(s));
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(l));
	ASSERT_OK(sys_close(ep));
}

TEST(inet_nonblocking_connect_inprogress_then_out)
{
	inet_begin();
	struct sockaddr_in a;
	int l = inet_listener(&a, 4);
	int c = sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int ep = new_ep();
	ADD(ep, c, EPOLLOUT | EPOLLET, 1);
	int r = sys_connect(c, (struct sockaddr *)&a, sizeof(a));
	ASSERT_TRUE(r == 0 || errno == EINPROGRESS);
	ASSERT_EQ_HEX(inet_wait(ep), EPOLLOUT);
	int err = -1;
	socklen_t n = sizeof(err);
	ASSERT_OK(sys_getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &n));
	ASSERT_EQ(err, 0);
	/* The first connect after completion says 0, as inet_stream_connect. */
	ASSERT_OK(sys_connect(c, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_ERRNO(sys_connect(c, (struct sockaddr *)&a, sizeof(a)), EISCONN);
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(l));
	ASSERT_OK(sys_close(ep));
}

TEST(inet_refused_connect_err_hup_then_so_error)
{
	inet_begin();
	struct sockaddr_in a;
	int l = inet_listener(&a, 4);
	ASSERT_OK(sys_close(l)); /* nobody listens on a's port now */
	int c = sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r = sys_connect(c, (struct sockaddr *)&a, sizeof(a));
	ASSERT_TRUE(r == -1);
	if (errno == EINPROGRESS) {
		int m = inet_poll_for(c, POLLERR);
		ASSERT_EQ_HEX(m, POLLOUT | POLLWRNORM | POLLHUP | POLLERR |
		                         POLLIN | POLLRDNORM | POLLRDHUP);
		int err = 0;
		socklen_t n = sizeof(err);
		ASSERT_OK(sys_getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &n));
		ASSERT_EQ(err, ECONNREFUSED);
	} else {
		ASSERT_EQ(errno, ECONNREFUSED);
	}
	/* SO_ERROR read (or returned): ERR is gone, HUP stays. */
	ASSERT_EQ_HEX(poll_mask(c), POLLOUT | POLLWRNORM | POLLHUP | POLLIN |
	                                    POLLRDNORM | POLLRDHUP);
	ASSERT_OK(sys_close(c));
}

TEST(inet_data_wakes_in_et_per_wakeup)
{
	inet_begin();
	int c, s;
	char b[16];
	inet_pair(&c, &s, NULL);
	int ep = new_ep();
	ADD(ep, s, EPOLLIN | EPOLLET, 1);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	for (int i = 0; i < 3; i++) { /* each arrival wakes, unread or not */
		ASSERT_EQ(sys_send(c, "x", 1, 0), 1);
		ASSERT_EQ_HEX(inet_wait(ep), EPOLLIN);
		ASSERT_EQ(sk_wait0(ep, NULL), 0);
	}
	ASSERT_EQ(sys_recv(s, b, sizeof(b), 0), 3);
	ASSERT_ERRNO(sys_recv(s, b, sizeof(b), 0), EAGAIN);
	ASSERT_EQ_HEX(poll_mask(s), POLLOUT | POLLWRNORM);
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(s));
	ASSERT_OK(sys_close(ep));
}

TEST(inet_peek_and_partial_read_keep_level)
{
	inet_begin();
	int c, s;
	char b[16];
	inet_pair(&c, &s, NULL);
	ASSERT_EQ(sys_send(c, "hello", 5, 0), 5);
	inet_poll_for(s, POLLIN);
	ASSERT_EQ(sys_recv(s, b, 5, MSG_PEEK), 5);
	ASSERT_EQ(sys_recv(s, b, 2, 0), 2);
	ASSERT_EQ(memcmp(b, "he", 2), 0);
	ASSERT_EQ_HEX(poll_mask(s) & POLLIN, POLLIN);
	ASSERT_EQ(sys_read(s, b, sizeof(b)), 3);
	ASSERT_EQ(memcmp(b, "llo", 3), 0);
	ASSERT_EQ_HEX(poll_mask(s) & POLLIN, 0);
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(s));
}

TEST(inet_fin_gives_rdhup_in_then_eof)
{
	inet_begin();
	int c, s;
	char b[4];
	inet_pair(&c, &s, NULL);
	int ep = new_ep();
	ADD(ep, s, EPOLLIN | EPOLLRDHUP | EPOLLET, 1);
	ASSERT_OK(sys_shutdown(c, SHUT_WR));
	ASSERT_EQ_HEX(inet_wait(ep), EPOLLIN | EPOLLRDHUP);
	ASSERT_EQ(sys_recv(s, b, sizeof(b), 0), 0);
	ASSERT_EQ_HEX(poll_mask(s),
	              POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT | POLLWRNORM);
	/* The side that shut down writing is still writable. */
	ASSERT_EQ_HEX(poll_mask(c), POLLOUT | POLLWRNORM);
	ASSERT_OK(sys_shutdown(s, SHUT_WR)); /* both ways now: HUP */
	int m = inet_poll_for(c, POLLHUP);
	ASSERT_EQ_HEX(m, POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT |
	                         POLLWRNORM | POLLHUP);
	ASSERT_EQ_HEX(poll_mask(s), POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT |
	                                    POLLWRNORM | POLLHUP);
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(s));
	ASSERT_OK(sys_close(ep));
}

TEST(inet_reset_gives_hup_err_then_econnreset)
{
	inet_begin();
	int c, s;
	char b[4];
	inet_pair(&c, &s, NULL);
	ASSERT_EQ(sys_send(s, "unread", 6, 0), 6);
	inet_poll_for(c, POLLIN);
	int ep = new_ep();
	ADD(ep, s, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, 1);
	ASSERT_EQ_HEX(inet_wait(ep), EPOLLOUT); /* the ADD */
	ASSERT_OK(sys_close(c)); /* unread data: a reset, not a FIN */
	uint32_t ev = inet_wait(ep);
	ASSERT_EQ_HEX(ev,
	              EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
	ASSERT_ERRNO(sys_recv(s, b, sizeof(b), 0), ECONNRESET);
	ASSERT_EQ(sys_recv(s, b, sizeof(b), 0), 0);
	ASSERT_EQ_HEX(poll_mask(s), POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT |
	                                    POLLWRNORM | POLLHUP);
	ASSERT_OK(sys_close(s));
	ASSERT_OK(sys_close(ep));
}

TEST(inet_full_send_buffer_then_out_when_peer_reads)
{
	inet_begin();
	int c, s;
	static char b[65536];
	inet_pair(&c, &s, NULL);
	int ep = new_ep();
	ADD(ep, c, EPOLLOUT | EPOLLET, 1);
	ASSERT_EQ_HEX(inet_wait(ep), EPOLLOUT);
	size_t sent = 0;
	for (int idle = 0; idle < 20;) { /* fill: until EAGAIN, settled */
		ssize_t n = sys_send(c, b, sizeof(b), 0);
		if (n > 0) {
			sent += (size_t)n;
			idle = 0;
		} else {
			ASSERT_EQ(errno, EAGAIN);
			idle++;
			sleep_ms(5);
		}
	}
	ASSERT_GT(sent, 0);
	ASSERT_EQ_HEX(poll_mask(c) & POLLOUT, 0);
	ASSERT_EQ(sk_wait0(ep, NULL), 0);
	/* The peer reads everything: room comes back, one OUT edge. */
	size_t got = 0;
	uint32_t ev = 0;
	int64_t end = now_ms() + INET_WAIT_MS;
	while (got < sent && now_ms() < end) {
		ssize_t n = sys_recv(s, b, sizeof(b), 0);
		if (n > 0)
			got += (size_t)n;
		else
			sleep_ms(1);
		struct epoll_event e;
		if (wait0(ep, &e, 1))
			ev |= e.events;
	}
	ASSERT_EQ(got, sent);
	if (!ev)
		ev = inet_wait(ep);
	ASSERT_EQ_HEX(ev, EPOLLOUT);
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(s));
	ASSERT_OK(sys_close(ep));
}

struct excl_arg {
	int ep;
	int got;
};

static void *excl_waiter(void *p)
{
	struct excl_arg *x = p;
	struct epoll_event e;
	x->got = sys_epoll_wait(x->ep, &e, 1, 1500);
	return NULL;
}

TEST(inet_exclusive_listener_wakes_one)
{
	inet_begin();
	struct sockaddr_in a;
	int l = inet_listener(&a, 8);
	struct excl_arg x[2];
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		x[i].ep = new_ep();
		x[i].got = -1;
		ADD(x[i].ep, l, EPOLLIN | EPOLLEXCLUSIVE, 1);
		ASSERT_EQ(pthread_create(&t[i], NULL, excl_waiter, &x[i]), 0);
	}
	sleep_ms(200); /* both asleep in epoll_wait */
	int c = inet_connect_nb(&a);
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(pthread_join(t[i], NULL), 0);
	ASSERT_EQ(x[0].got + x[1].got, 1);
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(l));
	for (int i = 0; i < 2; i++)
		ASSERT_OK(sys_close(x[i].ep));
}

TEST(inet_names_and_options)
{
	inet_begin();
	int c, s;
	inet_pair(&c, &s, NULL);
	struct sockaddr_in cl, cp, sl, sp;
	socklen_t n = sizeof(cl);
	ASSERT_OK(sys_getsockname(c, (struct sockaddr *)&cl, &n));
	n = sizeof(cp);
	ASSERT_OK(sys_getpeername(c, (struct sockaddr *)&cp, &n));
	ASSERT_EQ(n, sizeof(cp));
	n = sizeof(sl);
	ASSERT_OK(sys_getsockname(s, (struct sockaddr *)&sl, &n));
	n = sizeof(sp);
	ASSERT_OK(sys_getpeername(s, (struct sockaddr *)&sp, &n));
	ASSERT_EQ(cl.sin_addr.s_addr, sp.sin_addr.s_addr);
	ASSERT_EQ(cl.sin_port, sp.sin_port);
	ASSERT_EQ(cp.sin_addr.s_addr, sl.sin_addr.s_addr);
	ASSERT_EQ(cp.sin_port, sl.sin_port);
	int v = 1, g = 0;
	ASSERT_OK(sys_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)));
	n = sizeof(g);
	ASSERT_OK(sys_getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &g, &n));
	ASSERT_EQ(g, 1);
	ASSERT_OK(sys_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v)));
	n = sizeof(g);
	ASSERT_OK(sys_getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &g, &n));
	ASSERT_EQ(g, 1);
	n = sizeof(g);
	ASSERT_OK(sys_getsockopt(s, SOL_SOCKET, SO_TYPE, &g, &n));
	ASSERT_EQ(g, SOCK_STREAM);
	ASSERT_EQ_HEX(sys_fcntl(s, F_GETFL, 0) & O_NONBLOCK, O_NONBLOCK);
	int fresh = sys_socket(AF_INET, SOCK_STREAM, 0);
	n = sizeof(cp);
	ASSERT_ERRNO(sys_getpeername(fresh, (struct sockaddr *)&cp, &n),
	             ENOTCONN);
	ASSERT_ERRNO(sys_shutdown(fresh, SHUT_WR), ENOTCONN);
	ASSERT_OK(sys_close(fresh));
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(s));
}

static void *blocking_sender(void *p)
{
	int fd = *(int *)p;
	sleep_ms(100);
	ASSERT_EQ(sys_send(fd, "ping", 4, 0), 4);
	return NULL;
}

TEST(inet_blocking_connect_accept_recv)
{
	inet_begin();
	struct sockaddr_in a;
	int l = inet_listener(&a, 4);
	int c = sys_socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_OK(sys_connect(c, (struct sockaddr *)&a, sizeof(a)));
	struct sockaddr_in peer;
	socklen_t n = sizeof(peer);
	int s = sys_accept(l, (struct sockaddr *)&peer, &n);
	ASSERT_GE(s, 0);
	ASSERT_EQ(n, sizeof(peer));
	ASSERT_EQ(peer.sin_family, AF_INET);
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, blocking_sender, &c), 0);
	char b[8];
	ASSERT_EQ(sys_recv(s, b, sizeof(b), 0), 4); /* sleeps until data */
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(memcmp(b, "ping", 4), 0);
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(s));
	ASSERT_OK(sys_close(l));
}

TEST(inet_udp_datagram_readable_and_source)
{
	inet_begin();
	int r = sys_socket(AF_INET, SOCK_DGRAM, 0);
	int w = sys_socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ASSERT_GE(r, 0);
	ASSERT_GE(w, 0);
	struct sockaddr_in a, from;
	inet_addr_of(&a, INET_SERVER, 0);
	ASSERT_OK(sys_bind(r, (struct sockaddr *)&a, sizeof(a)));
	socklen_t n = sizeof(a);
	ASSERT_OK(sys_getsockname(r, (struct sockaddr *)&a, &n));
	ASSERT_EQ_HEX(poll_mask(r), POLLOUT | POLLWRNORM);
	int ep = new_ep();
	ADD(ep, r, EPOLLIN | EPOLLET, 1);
	ASSERT_EQ(
	        sys_sendto(w, "dgram", 5, 0, (struct sockaddr *)&a, sizeof(a)),
	        5);
	ASSERT_EQ_HEX(inet_wait(ep), EPOLLIN);
	char b[16];
	n = sizeof(from);
	ASSERT_EQ(
	        sys_recvfrom(r, b, sizeof(b), 0, (struct sockaddr *)&from, &n),
	        5);
	ASSERT_EQ(memcmp(b, "dgram", 5), 0);
	struct sockaddr_in wl;
	socklen_t wn = sizeof(wl);
	ASSERT_OK(sys_getsockname(w, (struct sockaddr *)&wl, &wn));
	ASSERT_EQ(from.sin_port, wl.sin_port);
	ASSERT_EQ_HEX(poll_mask(r), POLLOUT | POLLWRNORM);
	ASSERT_OK(sys_close(r));
	ASSERT_OK(sys_close(w));
	ASSERT_OK(sys_close(ep));
}

TEST(inet_listener_close_resets_waiting_connection)
{
	inet_begin();
	struct sockaddr_in a;
	int l = inet_listener(&a, 4);
	int c = inet_connect_nb(&a);
	inet_poll_for(l, POLLIN); /* established, in the accept queue */
	inet_poll_for(c, POLLOUT);
	ASSERT_OK(sys_close(l)); /* never accepted: reset */
	int m = inet_poll_for(c, POLLERR);
	ASSERT_EQ_HEX(m, POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT |
	                         POLLWRNORM | POLLHUP | POLLERR);
	char b[4];
	ASSERT_ERRNO(sys_recv(c, b, sizeof(b), 0), ECONNRESET);
	ASSERT_OK(sys_close(c));
}

TEST(inet_send_after_shutdown_wr_is_epipe)
{
	inet_begin();
	int c, s;
	inet_pair(&c, &s, NULL);
	ASSERT_OK(sys_shutdown(c, SHUT_WR));
	ASSERT_ERRNO(sys_send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
	ASSERT_EQ_HEX(poll_mask(c), POLLOUT | POLLWRNORM);
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(s));
}

TEST(inet_shutdown_rd_reads_eof_and_rdhup)
{
	inet_begin();
	int c, s;
	char b[4];
	inet_pair(&c, &s, NULL);
	ASSERT_OK(sys_shutdown(s, SHUT_RD));
	ASSERT_EQ_HEX(poll_mask(s),
	              POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT | POLLWRNORM);
	ASSERT_EQ(sys_recv(s, b, sizeof(b), 0), 0);
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(s));
}
