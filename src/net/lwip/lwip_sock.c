/*
 * uepoll-lwip sockets: what TCP and UDP share.  A socket is a struct lsk
 * behind a uepoll file made with uepoll_socket_create(): the file's
 * operations (poll, read, write, release) are here, the socket operations
 * in lwip_tcp.c and lwip_udp.c.  See lwip_int.h for the locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "net/lwip/lwip_int.h"

struct lsk *lsk_alloc(int type)
{
	struct lsk *sk = calloc(1, sizeof(*sk));
	if (!sk)
		return NULL;
	sk->wq = uepoll_wait_queue_create();
	if (!sk->wq) {
		free(sk);
		return NULL;
	}
	pthread_mutex_init(&sk->lock, NULL);
	sk->type = type;
	sk->state = LSK_NEW;
	sk->writable = true;
	sk->local.sin_family = AF_INET;
	sk->peer.sin_family = AF_INET;
	return sk;
}

void lsk_rx_queue(struct lsk *sk, struct lsk_buf *b)
{
	if (sk->rx_tail)
		sk->rx_tail->next = b;
	else
		sk->rx_head = b;
	sk->rx_tail = b;
	lsk_trace(UEPOLL_LWIP_RX_QUEUED, b->p->tot_len);
	lsk_wake(sk, LSK_KEY_IN);
}

void lsk_rx_drop_head(struct lsk *sk)
{
	struct lsk_buf *b = sk->rx_head;
	sk->rx_head = b->next;
	if (!sk->rx_head)
		sk->rx_tail = NULL;
	pbuf_free(b->p);
	free(b);
}

/* Drop the receive queue (core). */
void lsk_free_queues(struct lsk *sk)
{
	while (sk->rx_head)
		lsk_rx_drop_head(sk);
}

/* Wake the socket's waiters with key (0: all), outside lock. */
void lsk_wake(struct lsk *sk, uint32_t key)
{
	uepoll_wake_up(sk->wq, key);
}

static void lsk_destroy(struct lsk *sk)
{
	uepoll_wait_queue_destroy(sk->wq);
	pthread_mutex_destroy(&sk->lock);
	free(sk);
}

/* ---- the file operations ---- */

static uint32_t lsk_poll(struct uepoll_file *file, struct uepoll_poll_table *pt)
{
	struct lsk *sk = lsk_of(file);
	uepoll_poll_wait(file, sk->wq, pt);
	return sk->type == SOCK_STREAM ? lsk_tcp_poll(sk) : lsk_udp_poll(sk);
}

static const struct uepoll_socket_operations *lsk_ops(const struct lsk *sk)
{
	return sk->type == SOCK_STREAM ? &lsk_tcp_ops : &lsk_udp_ops;
}

static ssize_t lsk_read(struct uepoll_file *file, void *buf, size_t n)
{
	struct iovec iov = {buf, n};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	return lsk_ops(lsk_of(file))->recvmsg(file, &msg, MSG_DONTWAIT);
}

static ssize_t lsk_write(struct uepoll_file *file, const void *buf, size_t n)
{
	struct iovec iov = {(void *)buf, n};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	return lsk_ops(lsk_of(file))->sendmsg(file, &msg, MSG_DONTWAIT);
}

/* The last reference is gone: let the pcb go, free the socket. */
static void lsk_close(struct lsk *sk)
{
	LOCK_TCPIP_CORE();
	if (sk->type == SOCK_STREAM)
		lsk_tcp_release(sk);
	else
		lsk_udp_release(sk);
	lsk_free_queues(sk);
	UNLOCK_TCPIP_CORE();
	lsk_destroy(sk);
}

static void lsk_release(struct uepoll_file *file)
{
	lsk_close(lsk_of(file));
}

static const struct uepoll_file_operations lsk_fops = {
        .poll = lsk_poll,
        .read = lsk_read,
        .write = lsk_write,
        .release = lsk_release,
};

/* Give sk a descriptor (flags: SOCK_NONBLOCK, SOCK_CLOEXEC); frees it on
 * failure.  Returns the fd or -errno. */
int lsk_install(struct lsk *sk, int flags)
{
	int fd = uepoll_socket_create(
	        &lsk_fops, lsk_ops(sk), sk,
	        ((flags & SOCK_NONBLOCK) ? O_NONBLOCK : 0) |
	                ((flags & SOCK_CLOEXEC) ? O_CLOEXEC : 0));
	if (fd < 0) {
		int e = errno;
		lsk_close(sk);
		return -e;
	}
	return fd;
}

/* ---- addresses ---- */

int lsk_addr_in(const struct sockaddr *a, socklen_t len, ip_addr_t *ip,
                u16_t *port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)a;
	if (len < sizeof(*sin))
		return -EINVAL;
	if (sin->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	ip_addr_set_ip4_u32_val(*ip, sin->sin_addr.s_addr);
	*port = ntohs(sin->sin_port);
	return 0;
}

/* bind's address (core): EADDRNOTAVAIL unless INADDR_ANY (*idx 0) or the
 * address of an interface (*idx its index). */
int lsk_bind_addr(const struct sockaddr *a, socklen_t len, ip_addr_t *ip,
                  u16_t *port, u8_t *idx)
{
	int r = lsk_addr_in(a, len, ip, port);
	if (r)
		return r;
	*idx = ip_addr_isany(ip) ? 0 : lsk_netif_of_addr(ip);
	return ip_addr_isany(ip) || *idx ? 0 : -EADDRNOTAVAIL;
}

void lsk_addr_out(struct sockaddr_in *sin, const ip_addr_t *ip, u16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = ip_addr_get_ip4_u32(ip);
	sin->sin_port = htons(port);
}

size_t lsk_iov_len(const struct msghdr *msg)
{
	size_t n = 0;
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		n += msg->msg_iov[i].iov_len;
	return n;
}

/*
 * Copy n bytes of p from off into msg's iovec from byte at on.  Returns
 * what fitted.
 */
size_t lsk_copy_out(const struct msghdr *msg, size_t at, struct pbuf *p,
                    size_t off, size_t n)
{
	size_t done = 0, skip = at;
	for (size_t i = 0; i < msg->msg_iovlen && done < n; i++) {
		size_t l = msg->msg_iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t k = l - skip;
		if (k > n - done)
			k = n - done;
		pbuf_copy_partial(p, (char *)msg->msg_iov[i].iov_base + skip,
		                  (u16_t)k, (u16_t)(off + done));
		done += k;
		skip = 0;
	}
	return done;
}

/* ---- options ---- */

static int opt_int(const void *val, socklen_t len, int *v)
{
	if (len < sizeof(int))
		return -EINVAL;
	memcpy(v, val, sizeof(int));
	return 0;
}

static int put_int(void *val, socklen_t *len, int v)
{
	if ((int)*len < 0)
		return -EINVAL;
	socklen_t n = *len < sizeof(int) ? *len : sizeof(int);
	memcpy(val, &v, n);
	*len = n;
	return 0;
}

/* getsockname (peer 0) and getpeername (peer 1), TCP and UDP alike. */
int lsk_getname(struct uepoll_file *file, struct sockaddr *addr, socklen_t *len,
                int peer)
{
	struct lsk *sk = lsk_of(file);
	int r = 0;
	LOCK_TCPIP_CORE();
	if (peer && sk->state != LSK_CONNECTED)
		r = -ENOTCONN;
	else
		memcpy(addr, peer ? &sk->peer : &sk->local, sizeof(sk->peer));
	UNLOCK_TCPIP_CORE();
	*len = sizeof(struct sockaddr_in);
	return r;
}

int lsk_getsockopt(struct uepoll_file *file, int level, int name, void *val,
                   socklen_t *len)
{
	struct lsk *sk = lsk_of(file);
	int v;
	if (level == IPPROTO_TCP && sk->type == SOCK_STREAM &&
	    name == TCP_NODELAY) {
		LOCK_TCPIP_CORE();
		v = sk->nodelay;
		UNLOCK_TCPIP_CORE();
		return put_int(val, len, v);
	}
	if (level != SOL_SOCKET)
		return -ENOPROTOOPT;
	pthread_mutex_lock(&sk->lock);
	switch (name) {
	case SO_ERROR:
		v = sk->err;
		sk->err = 0;
		break;
	case SO_TYPE:
		v = sk->type;
		break;
	case SO_DOMAIN:
		v = AF_INET;
		break;
	case SO_PROTOCOL:
		v = sk->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
		break;
	case SO_ACCEPTCONN:
		v = sk->state == LSK_LISTEN;
		break;
	case SO_REUSEADDR:
		v = sk->reuseaddr;
		break;
	case SO_SNDBUF:
		v = TCP_SND_BUF;
		break;
	case SO_RCVBUF:
		v = TCP_WND;
		break;
	default:
		v = -1;
		break;
	}
	pthread_mutex_unlock(&sk->lock);
	if (v < 0)
		return -ENOPROTOOPT;
	return put_int(val, len, v);
}

int lsk_setsockopt(struct uepoll_file *file, int level, int name,
                   const void *val, socklen_t len)
{
	struct lsk *sk = lsk_of(file);
	int v, r = opt_int(val, len, &v);
	if (r)
		return r;
	LOCK_TCPIP_CORE();
	if (level == IPPROTO_TCP && sk->type == SOCK_STREAM &&
	    name == TCP_NODELAY) {
		sk->nodelay = v != 0;
		if (sk->tcp && sk->state != LSK_LISTEN) {
			if (v)
				tcp_nagle_disable(sk->tcp);
			else
				tcp_nagle_enable(sk->tcp);
		}
	} else if (level == SOL_SOCKET && name == SO_REUSEADDR) {
		pthread_mutex_lock(&sk->lock);
		sk->reuseaddr = v != 0;
		pthread_mutex_unlock(&sk->lock);
		struct tcp_pcb *t = sk->tcp;
		if (t && v)
			ip_set_option(t, SOF_REUSEADDR);
		else if (t)
			ip_reset_option(t, SOF_REUSEADDR);
		if (sk->udp && v)
			ip_set_option(sk->udp, SOF_REUSEADDR);
		else if (sk->udp)
			ip_reset_option(sk->udp, SOF_REUSEADDR);
	} else if (level == SOL_SOCKET &&
	           (name == SO_SNDBUF || name == SO_RCVBUF ||
	            name == SO_KEEPALIVE)) {
		/* lwIP's buffers are fixed at build time (README). */
	} else {
		r = -ENOPROTOOPT;
	}
	UNLOCK_TCPIP_CORE();
	return r;
}

/* ---- creation ---- */

static int lsk_create(int domain, int type, int protocol)
{
	int kind = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (domain != AF_INET)
		return -EAFNOSUPPORT;
	if (kind != SOCK_STREAM && kind != SOCK_DGRAM)
		return -ESOCKTNOSUPPORT;
	if (protocol &&
	    protocol != (kind == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP))
		return -EPROTONOSUPPORT;
	if (uepoll_lwip_init() < 0)
		return -errno;
	struct lsk *sk = lsk_alloc(kind);
	if (!sk)
		return -ENOMEM;
	LOCK_TCPIP_CORE();
	int r = kind == SOCK_STREAM ? lsk_tcp_open(sk) : lsk_udp_open(sk);
	UNLOCK_TCPIP_CORE();
	if (r < 0) {
		lsk_destroy(sk);
		return r;
	}
	return lsk_install(sk, type);
}

int uepoll_lwip_socket(int domain, int type, int protocol)
{
	int r = lsk_create(domain, type, protocol);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

static int lsk_family(int domain, int type, int protocol, void *arg)
{
	(void)arg;
	return uepoll_lwip_socket(domain, type, protocol);
}

int uepoll_lwip_register(void)
{
	if (uepoll_lwip_init() < 0)
		return -1;
	return uepoll_register_family(AF_INET, lsk_family, NULL);
}

int uepoll_lwip_unregister(void)
{
	return uepoll_register_family(AF_INET, NULL, NULL);
}
