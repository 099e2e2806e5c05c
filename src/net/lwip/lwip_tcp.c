/*
 * uepoll-lwip TCP: lwIP's raw TCP API as a stream socket with the readiness
 * of Linux's tcp_poll.  lwIP's callbacks are the kernel's socket callbacks:
 *   on_recv (data)      sk_data_ready: queue, wake LSK_KEY_IN
 *   on_recv (NULL: FIN) tcp_fin + sk_state_change: RCV_SHUTDOWN, wake all
 *   on_sent             sk_write_space: wake LSK_KEY_OUT if a writer found
 *                       no room and there is room again
 *   on_err              tcp_reset / tcp_done: the error, closed, wake all
 *   on_connected        tcp_finish_connect: established, wake all
 *   on_accept           the listener's sk_data_ready: queue the child
 * Received data stays on our queue until recv takes it; only then does
 * tcp_recved open lwIP's window (so unread data at close gives a reset,
 * as on Linux).  Locks: lwip_int.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "net/lwip/lwip_int.h"

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t e);
static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len);
static void on_err(void *arg, err_t e);

/* Room to send, as Linux's sk_stream_is_writeable: free >= used / 2. */
static bool tcp_room(struct tcp_pcb *pcb)
{
	size_t free_ = tcp_sndbuf(pcb), used = TCP_SND_BUF - free_;
	return free_ > 0 && free_ >= used / 2 &&
	       tcp_sndqueuelen(pcb) < TCP_SND_QUEUELEN / 2;
}

static void hook(struct lsk *sk, struct tcp_pcb *pcb)
{
	tcp_arg(pcb, sk);
	tcp_recv(pcb, on_recv);
	tcp_sent(pcb, on_sent);
	tcp_err(pcb, on_err);
	if (sk->nodelay)
		tcp_nagle_disable(pcb);
}

/* lwIP keeps the pcb (to finish its close) but will not call us again. */
static void unhook(struct tcp_pcb *pcb)
{
	tcp_arg(pcb, NULL);
	if (pcb->state == LISTEN) {
		tcp_accept(pcb, NULL);
		return;
	}
	tcp_recv(pcb, NULL);
	tcp_sent(pcb, NULL);
	tcp_err(pcb, NULL);
}

/* Both ways closed (the peer's FIN and our SHUT_WR): lwIP finishes. */
static void let_go(struct lsk *sk)
{
	unhook(sk->tcp);
	if (tcp_close(sk->tcp) != ERR_OK)
		tcp_abort(sk->tcp);
	sk->tcp = NULL;
	pthread_mutex_lock(&sk->lock);
	sk->state = LSK_CLOSED;
	pthread_mutex_unlock(&sk->lock);
}

/* ---- lwIP's callbacks (core held) ---- */

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t e)
{
	struct lsk *sk = arg;
	(void)e;
	if (!p) {
		sk->fin = true;
		pthread_mutex_lock(&sk->lock);
		sk->shut |= LSK_RCV_SHUT;
		bool both = sk->shut & LSK_SEND_SHUT;
		pthread_mutex_unlock(&sk->lock);
		if (both)
			let_go(sk);
		lsk_wake(sk, 0);
		return ERR_OK;
	}
	struct lsk_buf *b = malloc(sizeof(*b));
	bool drop;
	pthread_mutex_lock(&sk->lock);
	drop = (sk->shut & LSK_RCV_SHUT) || !b;
	if (!drop)
		sk->rx_bytes += p->tot_len;
	pthread_mutex_unlock(&sk->lock);
	if (drop) { /* after SHUT_RD: taken and thrown away */
		tcp_recved(pcb, p->tot_len);
		pbuf_free(p);
		free(b);
		return ERR_OK;
	}
	*b = (struct lsk_buf){.p = p};
	lsk_rx_queue(sk, b);
	return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct lsk *sk = arg;
	(void)len;
	bool room = tcp_room(pcb), wake;
	pthread_mutex_lock(&sk->lock);
	sk->writable = room;
	wake = room && sk->nospace;
	if (wake)
		sk->nospace = false;
	pthread_mutex_unlock(&sk->lock);
	if (wake)
		lsk_wake(sk, LSK_KEY_OUT);
	return ERR_OK;
}

/* lwIP has freed the pcb: a reset, or lwIP gave up (timeouts). */
static void on_err(void *arg, err_t e)
{
	struct lsk *sk = arg;
	sk->tcp = NULL;
	pthread_mutex_lock(&sk->lock);
	int err = e == ERR_ABRT ? ETIMEDOUT : ECONNRESET;
	if (e == ERR_RST && sk->state == LSK_CONNECTING)
		err = ECONNREFUSED;
	else if (e == ERR_RST && (sk->shut & LSK_RCV_SHUT))
		err = EPIPE; /* reset in CLOSE_WAIT, as tcp_reset says */
	sk->err = err;
	sk->state = LSK_CLOSED;
	sk->shut = LSK_RCV_SHUT | LSK_SEND_SHUT;
	pthread_mutex_unlock(&sk->lock);
	lsk_wake(sk, 0);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t e)
{
	struct lsk *sk = arg;
	(void)e;
	lsk_addr_out(&sk->local, &pcb->local_ip, pcb->local_port);
	bool room = tcp_room(pcb);
	pthread_mutex_lock(&sk->lock);
	sk->state = LSK_CONNECTED;
	sk->writable = room;
	pthread_mutex_unlock(&sk->lock);
	lsk_wake(sk, 0);
	return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t e)
{
	struct lsk *l = arg, *c;
	if (e != ERR_OK || !pcb)
		return ERR_VAL;
	/* Linux's sk_acceptq_is_full: backlog + 1 fit.  A full queue makes
	 * lwIP reset the connection (README, "Differences from Linux"). */
	if ((int)l->aq_len > l->backlog || !(c = lsk_alloc(SOCK_STREAM)))
		return ERR_MEM;
	c->tcp = pcb;
	c->nodelay = l->nodelay;
	c->netif_idx = l->netif_idx;
	c->state = LSK_CONNECTED;
	c->ss = LSK_SS_CONNECTED;
	c->writable = tcp_room(pcb);
	lsk_addr_out(&c->local, &pcb->local_ip, pcb->local_port);
	lsk_addr_out(&c->peer, &pcb->remote_ip, pcb->remote_port);
	hook(c, pcb);
	if (l->aq_tail)
		l->aq_tail->aq_next = c;
	else
		l->aq_head = c;
	l->aq_tail = c;
	pthread_mutex_lock(&l->lock);
	l->aq_len++;
	pthread_mutex_unlock(&l->lock);
	lsk_wake(l, LSK_KEY_IN);
	return ERR_OK;
}

/* ---- poll (lock only) ---- */

uint32_t lsk_tcp_poll(struct lsk *sk)
{
	uint32_t mask = 0;
	pthread_mutex_lock(&sk->lock);
	if (sk->state == LSK_LISTEN) {
		mask = sk->aq_len ? EPOLLIN | EPOLLRDNORM : 0;
		goto out;
	}
	if (sk->shut == (LSK_RCV_SHUT | LSK_SEND_SHUT) ||
	    sk->state == LSK_NEW || sk->state == LSK_CLOSED)
		mask |= EPOLLHUP;
	if (sk->shut & LSK_RCV_SHUT)
		mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
	if (sk->state != LSK_CONNECTING) {
		if (sk->rx_bytes)
			mask |= EPOLLIN | EPOLLRDNORM;
		if ((sk->shut & LSK_SEND_SHUT) || sk->writable)
			mask |= EPOLLOUT | EPOLLWRNORM;
		else
			sk->nospace = true;
	}
	if (sk->err)
		mask |= EPOLLERR;
out:
	pthread_mutex_unlock(&sk->lock);
	return mask;
}

/* ---- the socket operations ---- */

int lsk_tcp_open(struct lsk *sk)
{
	sk->tcp = tcp_new_ip_type(IPADDR_TYPE_V4);
	if (!sk->tcp)
		return -ENOBUFS;
	hook(sk, sk->tcp);
	return 0;
}

static int tcp_bind_(struct uepoll_file *f, const struct sockaddr *a,
                     socklen_t len)
{
	struct lsk *sk = lsk_of(f);
	ip_addr_t ip;
	u16_t port;
	u8_t idx;
	LOCK_TCPIP_CORE();
	int r = lsk_bind_addr(a, len, &ip, &port, &idx);
	if (r)
		goto out;
	if (!sk->tcp || sk->state != LSK_NEW || sk->local.sin_port) {
		r = -EINVAL;
	} else if (tcp_bind(sk->tcp, &ip, port) != ERR_OK) {
		r = -EADDRINUSE;
	} else {
		sk->netif_idx = idx;
		if (idx)
			tcp_bind_netif(sk->tcp, netif_get_by_index(idx));
		lsk_addr_out(&sk->local, &sk->tcp->local_ip,
		             sk->tcp->local_port);
	}
out:
	UNLOCK_TCPIP_CORE();
	return r;
}

static int tcp_listen_(struct uepoll_file *f, int backlog)
{
	struct lsk *sk = lsk_of(f);
	int r = 0;
	if (backlog > SOMAXCONN)
		backlog = SOMAXCONN;
	LOCK_TCPIP_CORE();
	if (sk->state == LSK_LISTEN) {
		sk->backlog = backlog < 0 ? 0 : backlog;
		goto out;
	}
	if (sk->state != LSK_NEW || !sk->tcp) {
		r = -EINVAL;
		goto out;
	}
	if (!sk->local.sin_port &&
	    tcp_bind(sk->tcp, IP4_ADDR_ANY, 0) != ERR_OK) { /* autobind */
		r = -EADDRINUSE;
		goto out;
	}
	err_t e;
	struct tcp_pcb *l = tcp_listen_with_backlog_and_err(sk->tcp, 255, &e);
	if (!l) {
		r = e == ERR_USE ? -EADDRINUSE : -ENOBUFS;
		goto out;
	}
	sk->tcp = l;
	sk->backlog = backlog < 0 ? 0 : backlog;
	tcp_arg(l, sk);
	tcp_accept(l, on_accept);
	lsk_addr_out(&sk->local, &l->local_ip, l->local_port);
	pthread_mutex_lock(&sk->lock);
	sk->state = LSK_LISTEN;
	pthread_mutex_unlock(&sk->lock);
out:
	UNLOCK_TCPIP_CORE();
	return r;
}

static int tcp_accept_(struct uepoll_file *f, struct sockaddr *addr,
                       socklen_t *len, int flags)
{
	struct lsk *sk = lsk_of(f), *c;
	LOCK_TCPIP_CORE();
	if (sk->state != LSK_LISTEN) {
		UNLOCK_TCPIP_CORE();
		return -EINVAL;
	}
	c = sk->aq_head;
	if (c) {
		sk->aq_head = c->aq_next;
		if (!sk->aq_head)
			sk->aq_tail = NULL;
		c->aq_next = NULL;
		pthread_mutex_lock(&sk->lock);
		sk->aq_len--;
		pthread_mutex_unlock(&sk->lock);
	}
	UNLOCK_TCPIP_CORE();
	if (!c)
		return -EAGAIN;
	if (addr) {
		memcpy(addr, &c->peer, sizeof(c->peer));
		*len = sizeof(c->peer);
	}
	return lsk_install(c, flags);
}

/*
 * A connect after the one that started a connection, as inet_stream_connect
 * (core): EALREADY while under way, then once how it ended.
 */
static int connect_again(struct lsk *sk)
{
	int r = 0;
	pthread_mutex_lock(&sk->lock);
	if (sk->state == LSK_CONNECTING) {
		r = -EALREADY;
	} else if (sk->state == LSK_CONNECTED) {
		sk->ss = LSK_SS_CONNECTED;
	} else { /* refused, reset or timed out: the error, taken */
		r = sk->err ? -sk->err : -ECONNABORTED;
		sk->err = 0;
		sk->ss = LSK_SS_UNCONNECTED;
	}
	pthread_mutex_unlock(&sk->lock);
	return r;
}

static int tcp_connect_(struct uepoll_file *f, const struct sockaddr *a,
                        socklen_t len)
{
	struct lsk *sk = lsk_of(f);
	ip_addr_t ip;
	u16_t port;
	int r = lsk_addr_in(a, len, &ip, &port);
	if (r)
		return r;
	LOCK_TCPIP_CORE();
	if (sk->ss == LSK_SS_CONNECTING) {
		r = connect_again(sk);
		goto out;
	}
	if (sk->ss == LSK_SS_UNCONNECTED && uepoll_connect_resumed(f)) {
		/*
		 * This thread slept on an attempt that a shutdown gave up
		 * (or that another caller was answered about): as
		 * inet_wait_for_connect finding TCP_CLOSE, its error, taken.
		 */
		pthread_mutex_lock(&sk->lock);
		r = sk->err ? -sk->err : -ECONNABORTED;
		sk->err = 0;
		pthread_mutex_unlock(&sk->lock);
		goto out;
	}
	/* Connected, or a listener: only a fresh or failed socket connects. */
	if (sk->ss == LSK_SS_CONNECTED || sk->state == LSK_LISTEN ||
	    sk->state == LSK_CONNECTED) {
		r = -EISCONN;
		goto out;
	}
	if (!sk->tcp && lsk_tcp_open(sk)) { /* after a failure: a new pcb */
		r = -ENOBUFS;
		goto out;
	}
	if (!sk->netif_idx)
		sk->netif_idx = lsk_netif_to_peer(&ip);
	if (sk->netif_idx)
		tcp_bind_netif(sk->tcp, netif_get_by_index(sk->netif_idx));
	err_t e = tcp_connect(sk->tcp, &ip, port, on_connected);
	if (e != ERR_OK) {
		r = e == ERR_RTE ? -ENETUNREACH : -EADDRNOTAVAIL;
		goto out;
	}
	lsk_addr_out(&sk->local, &sk->tcp->local_ip, sk->tcp->local_port);
	lsk_addr_out(&sk->peer, &ip, port);
	pthread_mutex_lock(&sk->lock);
	sk->state = LSK_CONNECTING;
	sk->shut = 0;
	sk->err = 0;
	pthread_mutex_unlock(&sk->lock);
	sk->ss = LSK_SS_CONNECTING;
	sk->fin = false;
	r = -EINPROGRESS;
out:
	UNLOCK_TCPIP_CORE();
	return r;
}

static int tcp_shutdown_(struct uepoll_file *f, int how)
{
	struct lsk *sk = lsk_of(f);
	int r = 0;
	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	unsigned bits = (unsigned)how + 1; /* SHUT_RD 0 -> RCV 1, ... */
	LOCK_TCPIP_CORE();
	if (sk->state == LSK_LISTEN)
		goto out;
	if (sk->state == LSK_CONNECTING) { /* inet_shutdown: disconnect */
		let_go(sk);
		pthread_mutex_lock(&sk->lock);
		sk->err = ECONNRESET;
		pthread_mutex_unlock(&sk->lock);
		sk->ss = LSK_SS_UNCONNECTED;
		lsk_wake(sk, 0);
		goto out;
	}
	if (sk->state != LSK_CONNECTED)
		r = -ENOTCONN; /* and yet the bits are set, as inet_shutdown */
	pthread_mutex_lock(&sk->lock);
	unsigned was = sk->shut;
	sk->shut |= bits;
	pthread_mutex_unlock(&sk->lock);
	if (!r && sk->tcp && (bits & LSK_SEND_SHUT) && !(was & LSK_SEND_SHUT)) {
		if (sk->fin)
			let_go(sk); /* the peer closed first: our FIN ends it */
		else if (tcp_shutdown(sk->tcp, 0, 1) != ERR_OK)
			r = -ENOBUFS;
	}
	lsk_wake(sk, 0);
out:
	UNLOCK_TCPIP_CORE();
	return r;
}

static ssize_t tcp_sendmsg_(struct uepoll_file *f, const struct msghdr *msg,
                            int flags)
{
	struct lsk *sk = lsk_of(f);
	ssize_t r = 0;
	size_t sent = 0;
	LOCK_TCPIP_CORE();
	pthread_mutex_lock(&sk->lock);
	int err = sk->err;
	sk->err = 0;
	unsigned shut = sk->shut;
	enum lsk_state st = sk->state;
	pthread_mutex_unlock(&sk->lock);
	if (err) {
		r = -err;
		goto out;
	}
	if ((shut & LSK_SEND_SHUT) || !sk->tcp || st == LSK_NEW ||
	    st == LSK_LISTEN) {
		r = st == LSK_NEW || st == LSK_LISTEN ? -ENOTCONN : -EPIPE;
		if (r == -EPIPE && !(flags & MSG_NOSIGNAL))
			pthread_kill(pthread_self(), SIGPIPE);
		goto out;
	}
	if (st == LSK_CONNECTING) {
		r = -EAGAIN;
		goto out;
	}
	size_t total = lsk_iov_len(msg);
	if (!total)
		goto out;
	size_t room = tcp_room(sk->tcp) ? tcp_sndbuf(sk->tcp) : 0;
	for (size_t i = 0; i < msg->msg_iovlen && sent < room; i++) {
		const char *b = msg->msg_iov[i].iov_base;
		size_t l = msg->msg_iov[i].iov_len;
		while (l && sent < room) {
			size_t n = l < room - sent ? l : room - sent;
			if (n > 0xffff)
				n = 0xffff;
			u8_t fl = TCP_WRITE_FLAG_COPY;
			if (n < l || i + 1 < msg->msg_iovlen ||
			    (flags & MSG_MORE))
				fl |= TCP_WRITE_FLAG_MORE;
			if (tcp_write(sk->tcp, b, (u16_t)n, fl) != ERR_OK) {
				room = sent; /* the segment queue is full */
				break;
			}
			b += n;
			l -= n;
			sent += n;
		}
	}
	if (sent) {
		lsk_trace(UEPOLL_LWIP_SEND, sent);
		if (!(flags & MSG_MORE))
			tcp_output(sk->tcp);
		r = (ssize_t)sent;
	} else {
		r = -EAGAIN;
	}
	bool more = tcp_room(sk->tcp);
	pthread_mutex_lock(&sk->lock);
	sk->writable = more;
	if (!more)
		sk->nospace = true;
	pthread_mutex_unlock(&sk->lock);
out:
	UNLOCK_TCPIP_CORE();
	return r;
}

static ssize_t tcp_recvmsg_(struct uepoll_file *f, struct msghdr *msg,
                            int flags)
{
	struct lsk *sk = lsk_of(f);
	size_t want = lsk_iov_len(msg), got = 0;
	ssize_t r;
	msg->msg_namelen = 0;
	msg->msg_flags = 0;
	LOCK_TCPIP_CORE();
	if (sk->state == LSK_LISTEN) {
		r = -ENOTCONN;
		goto out;
	}
	for (struct lsk_buf *b = sk->rx_head; b && got < want;) {
		size_t n = b->p->tot_len - b->off;
		if (n > want - got)
			n = want - got;
		got += lsk_copy_out(msg, got, b->p, b->off, n);
		struct lsk_buf *next = b->next;
		if (!(flags & MSG_PEEK)) { /* b is the head */
			b->off += n;
			if (b->off == b->p->tot_len)
				lsk_rx_drop_head(sk);
		}
		b = next;
	}
	if (got) {
		if (!(flags & MSG_PEEK)) {
			pthread_mutex_lock(&sk->lock);
			sk->rx_bytes -= got;
			pthread_mutex_unlock(&sk->lock);
			for (size_t left = got; sk->tcp && left;) {
				u16_t k = left > 0xffff ? 0xffff : (u16_t)left;
				tcp_recved(sk->tcp, k);
				left -= k;
			}
		}
		lsk_trace(UEPOLL_LWIP_RECV, got);
		r = (ssize_t)got;
		goto out;
	}
	pthread_mutex_lock(&sk->lock);
	r = want == 0 ? 0 : -EAGAIN;
	if (sk->fin)
		r = 0;
	else if (sk->err) {
		r = -sk->err;
		sk->err = 0;
	} else if (sk->shut & LSK_RCV_SHUT)
		r = 0;
	else if (sk->state == LSK_NEW || sk->state == LSK_CLOSED)
		r = -ENOTCONN;
	pthread_mutex_unlock(&sk->lock);
out:
	UNLOCK_TCPIP_CORE();
	return r;
}

/* The file's release (core held): reset or close the connection. */
void lsk_tcp_release(struct lsk *sk)
{
	while (sk->aq_head) { /* inet_csk_listen_stop: reset the children */
		struct lsk *c = sk->aq_head;
		sk->aq_head = c->aq_next;
		if (c->tcp) {
			unhook(c->tcp);
			tcp_abort(c->tcp);
		}
		lsk_free_queues(c);
		uepoll_wait_queue_destroy(c->wq);
		pthread_mutex_destroy(&c->lock);
		free(c);
	}
	if (!sk->tcp)
		return;
	unhook(sk->tcp);
	if (tcp_close(sk->tcp) != ERR_OK)
		tcp_abort(sk->tcp);
	sk->tcp = NULL;
}

const struct uepoll_socket_operations lsk_tcp_ops = {
        .bind = tcp_bind_,
        .connect = tcp_connect_,
        .listen = tcp_listen_,
        .accept = tcp_accept_,
        .getname = lsk_getname,
        .shutdown = tcp_shutdown_,
        .getsockopt = lsk_getsockopt,
        .setsockopt = lsk_setsockopt,
        .sendmsg = tcp_sendmsg_,
        .recvmsg = tcp_recvmsg_,
};
