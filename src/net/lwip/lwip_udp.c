/*
 * uepoll-lwip UDP: lwIP's raw UDP API as a datagram socket with the
 * readiness of Linux's udp_poll (datagram_poll): readable while a datagram
 * waits, always writable (lwIP sends or drops at once).  Locks: lwip_int.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/lwip/lwip_int.h"

/* Datagrams a socket keeps before it drops (Linux: SO_RCVBUF's worth). */
#define UDP_QUEUE_MAX 256

static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                   const ip_addr_t *addr, u16_t port)
{
	struct lsk *sk = arg;
	struct lsk_buf *b = malloc(sizeof(*b));
	(void)pcb;
	pthread_mutex_lock(&sk->lock);
	bool drop = !b || sk->rx_bytes >= UDP_QUEUE_MAX ||
	            (sk->shut & LSK_RCV_SHUT);
	if (!drop)
		sk->rx_bytes++;
	pthread_mutex_unlock(&sk->lock);
	if (drop) {
		pbuf_free(p);
		free(b);
		return;
	}
	*b = (struct lsk_buf){.p = p, .port = port};
	ip_addr_copy(b->from, *addr);
	lsk_rx_queue(sk, b);
}

int lsk_udp_open(struct lsk *sk)
{
	sk->udp = udp_new_ip_type(IPADDR_TYPE_V4);
	if (!sk->udp)
		return -ENOBUFS;
	udp_recv(sk->udp, on_udp, sk);
	return 0;
}

uint32_t lsk_udp_poll(struct lsk *sk)
{
	uint32_t mask = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
	pthread_mutex_lock(&sk->lock);
	if (sk->err)
		mask |= EPOLLERR;
	if (sk->shut & LSK_RCV_SHUT)
		mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
	if (sk->shut == (LSK_RCV_SHUT | LSK_SEND_SHUT))
		mask |= EPOLLHUP;
	if (sk->rx_bytes)
		mask |= EPOLLIN | EPOLLRDNORM;
	pthread_mutex_unlock(&sk->lock);
	return mask;
}

void lsk_udp_release(struct lsk *sk)
{
	if (sk->udp)
		udp_remove(sk->udp);
	sk->udp = NULL;
}

/* Tie the socket to the interface of its address or its peer (core). */
static void tie(struct lsk *sk, u8_t idx)
{
	if (!sk->netif_idx && idx) {
		sk->netif_idx = idx;
		udp_bind_netif(sk->udp, netif_get_by_index(idx));
	}
}

static int udp_bind_(struct uepoll_file *f, const struct sockaddr *a,
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
	if (sk->local.sin_port) {
		r = -EINVAL;
	} else if (udp_bind(sk->udp, &ip, port) != ERR_OK) {
		r = -EADDRINUSE;
	} else {
		tie(sk, idx);
		lsk_addr_out(&sk->local, &sk->udp->local_ip,
		             sk->udp->local_port);
	}
out:
	UNLOCK_TCPIP_CORE();
	return r;
}

static int udp_connect_(struct uepoll_file *f, const struct sockaddr *a,
                        socklen_t len)
{
	struct lsk *sk = lsk_of(f);
	ip_addr_t ip;
	u16_t port;
	int r = lsk_addr_in(a, len, &ip, &port);
	if (r)
		return r;
	LOCK_TCPIP_CORE();
	tie(sk, lsk_netif_to_peer(&ip));
	if (udp_connect(sk->udp, &ip, port) != ERR_OK) {
		r = -ENETUNREACH;
	} else {
		lsk_addr_out(&sk->local, &sk->udp->local_ip,
		             sk->udp->local_port);
		lsk_addr_out(&sk->peer, &ip, port);
		pthread_mutex_lock(&sk->lock);
		sk->state = LSK_CONNECTED;
		pthread_mutex_unlock(&sk->lock);
	}
	UNLOCK_TCPIP_CORE();
	return r;
}

static int udp_shutdown_(struct uepoll_file *f, int how)
{
	struct lsk *sk = lsk_of(f);
	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	LOCK_TCPIP_CORE();
	pthread_mutex_lock(&sk->lock);
	int r = sk->state == LSK_CONNECTED ? 0 : -ENOTCONN;
	sk->shut |= (unsigned)how + 1;
	pthread_mutex_unlock(&sk->lock);
	lsk_wake(sk, 0);
	UNLOCK_TCPIP_CORE();
	return r;
}

static ssize_t udp_sendmsg_(struct uepoll_file *f, const struct msghdr *msg,
                            int flags)
{
	struct lsk *sk = lsk_of(f);
	size_t total = lsk_iov_len(msg);
	ip_addr_t ip;
	u16_t port = 0;
	(void)flags;
	if (total > 65507)
		return -EMSGSIZE;
	if (msg->msg_namelen) {
		int r = lsk_addr_in(msg->msg_name, msg->msg_namelen, &ip,
		                    &port);
		if (r)
			return r;
	}
	LOCK_TCPIP_CORE();
	ssize_t r = (ssize_t)total;
	struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)total, PBUF_RAM);
	if (!p) {
		r = -ENOBUFS;
		goto out;
	}
	size_t at = 0;
	for (size_t i = 0; i < msg->msg_iovlen; i++) {
		pbuf_take_at(p, msg->msg_iov[i].iov_base,
		             (u16_t)msg->msg_iov[i].iov_len, (u16_t)at);
		at += msg->msg_iov[i].iov_len;
	}
	err_t e;
	if (msg->msg_namelen) {
		tie(sk, lsk_netif_to_peer(&ip));
		e = udp_sendto(sk->udp, p, &ip, port);
	} else if (sk->state == LSK_CONNECTED) {
		e = udp_send(sk->udp, p);
	} else {
		e = ERR_CONN;
	}
	pbuf_free(p);
	if (e == ERR_CONN)
		r = -EDESTADDRREQ;
	else if (e == ERR_RTE)
		r = -ENETUNREACH;
	else if (e != ERR_OK)
		r = -ENOBUFS;
	else {
		lsk_trace(UEPOLL_LWIP_SEND, total);
		lsk_addr_out(&sk->local, &sk->udp->local_ip,
		             sk->udp->local_port);
	}
out:
	UNLOCK_TCPIP_CORE();
	return r;
}

static ssize_t udp_recvmsg_(struct uepoll_file *f, struct msghdr *msg,
                            int flags)
{
	struct lsk *sk = lsk_of(f);
	size_t want = lsk_iov_len(msg);
	ssize_t r;
	msg->msg_flags = 0;
	LOCK_TCPIP_CORE();
	struct lsk_buf *b = sk->rx_head;
	if (!b) {
		pthread_mutex_lock(&sk->lock);
		r = (sk->shut & LSK_RCV_SHUT) ? 0 : -EAGAIN;
		pthread_mutex_unlock(&sk->lock);
		goto out;
	}
	size_t len = b->p->tot_len, n = len < want ? len : want;
	lsk_copy_out(msg, 0, b->p, 0, n);
	if (n < len)
		msg->msg_flags |= MSG_TRUNC;
	if (msg->msg_name) {
		lsk_addr_out(msg->msg_name, &b->from, b->port);
		msg->msg_namelen = sizeof(struct sockaddr_in);
	}
	r = (flags & MSG_TRUNC) ? (ssize_t)len : (ssize_t)n;
	if (!(flags & MSG_PEEK)) {
		lsk_rx_drop_head(sk);
		pthread_mutex_lock(&sk->lock);
		sk->rx_bytes--;
		pthread_mutex_unlock(&sk->lock);
	}
	lsk_trace(UEPOLL_LWIP_RECV, n);
out:
	UNLOCK_TCPIP_CORE();
	return r;
}

const struct uepoll_socket_operations lsk_udp_ops = {
        .bind = udp_bind_,
        .connect = udp_connect_,
        .getname = lsk_getname,
        .shutdown = udp_shutdown_,
        .getsockopt = lsk_getsockopt,
        .setsockopt = lsk_setsockopt,
        .sendmsg = udp_sendmsg_,
        .recvmsg = udp_recvmsg_,
};
