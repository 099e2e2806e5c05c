/*
 * The socket object (see socket.h for the locking and lifetime rules):
 * references, creation and release, the file operations, listen/connect/
 * accept, names, shutdown, options, and the checks of sendmsg/recvmsg.
 * Its buffers and the sleeps of blocking calls are in sock_buf.c.
 */
#include "net/socket.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fdtable.h"

/* ---- tunables: the running kernel's, read once ---- */
static struct {
	int wmem_default, rmem_default, wmem_max, rmem_max;
	int max_dgram_qlen, somaxconn;
} tun = {212992, 212992, 212992, 212992, 10, 4096};
static pthread_once_t tun_once = PTHREAD_ONCE_INIT;

static void read_tunable(const char *path, int *v)
{
	FILE *fp = fopen(path, "re");
	int x;
	if (!fp)
		return;
	if (fscanf(fp, "%d", &x) == 1 && x > 0)
		*v = x;
	fclose(fp);
}

static void tun_init(void)
{
	read_tunable("/proc/sys/net/core/wmem_default", &tun.wmem_default);
	read_tunable("/proc/sys/net/core/rmem_default", &tun.rmem_default);
	read_tunable("/proc/sys/net/core/wmem_max", &tun.wmem_max);
	read_tunable("/proc/sys/net/core/rmem_max", &tun.rmem_max);
	read_tunable("/proc/sys/net/unix/max_dgram_qlen", &tun.max_dgram_qlen);
	read_tunable("/proc/sys/net/core/somaxconn", &tun.somaxconn);
}

/* The kernel's SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF on x86_64. */
#define SOCK_MIN_SNDBUF 4608
#define SOCK_MIN_RCVBUF 2304

/* ---- references ---- */

void uep_sock_hold(struct uep_sock *sk)
{
	atomic_fetch_add_explicit(&sk->refcnt, 1, memory_order_relaxed);
}

void uep_sock_put(struct uep_sock *sk)
{
	if (atomic_fetch_sub_explicit(&sk->refcnt, 1, memory_order_acq_rel) !=
	    1)
		return;
	assert(uep_list_empty(&sk->rcvq) && !sk->peer);
	uep_wq_destroy(&sk->wq);
	uep_wq_destroy(&sk->peer_wait);
	uep_mutex_destroy(&sk->lock);
	free(sk);
}

struct uep_sock *uep_sock_alloc(int type)
{
	pthread_once(&tun_once, tun_init);
	struct uep_sock *sk = calloc(1, sizeof(*sk));
	if (!sk)
		return NULL;
	atomic_init(&sk->refcnt, 1);
	sk->type = type;
	sk->ops = type == SOCK_STREAM  ? &uep_unix_stream_ops
	          : type == SOCK_DGRAM ? &uep_unix_dgram_ops
	                               : &uep_unix_seqpacket_ops;
	uep_mutex_init(&sk->lock);
	uep_wq_init(&sk->wq);
	uep_wq_init(&sk->peer_wait);
	sk->state = UEP_SS_CLOSE;
	uep_list_init(&sk->rcvq);
	sk->max_ack_backlog = tun.max_dgram_qlen;
	atomic_init(&sk->sndbuf, tun.wmem_default);
	atomic_init(&sk->rcvbuf, tun.rmem_default);
	uep_list_init(&sk->ns_link);
	return sk;
}

struct uep_sock *uep_sock_peer_get(struct uep_sock *sk)
{
	uep_mutex_lock(&sk->lock);
	struct uep_sock *p = sk->peer;
	if (p)
		uep_sock_hold(p);
	uep_mutex_unlock(&sk->lock);
	return p;
}

int uep_sock_error(struct uep_sock *sk)
{
	if (!atomic_load_explicit(&sk->err, memory_order_relaxed))
		return 0;
	return -atomic_exchange(&sk->err, 0);
}

void uep_sock_sigpipe(void)
{
	pthread_kill(pthread_self(), SIGPIPE);
}

/* ---- release ---- */

/* The kernel's unix_release_sock; drops the caller's reference. */
void uep_unix_release_sock(struct uep_sock *sk, bool embrion)
{
	struct uep_list q;
	uep_list_init(&q);
	uep_unix_ns_remove(sk);
	uep_mutex_lock(&sk->lock);
	sk->dead = true;
	atomic_store(&sk->shutdown, UEP_SHUTDOWN_MASK);
	sk->state = UEP_SS_CLOSE;
	struct uep_sock *skpair = sk->peer;
	sk->peer = NULL;
	/*
	 * Unread data resets the peer.  An empty buffer at the head (a
	 * zero-length datagram) does not count, the one after it does (the
	 * kernel skips it for its out-of-band bookkeeping).
	 */
	struct uep_list *head = sk->rcvq.next;
	if (head != &sk->rcvq) {
		struct uep_skb *first =
		        uep_list_entry(head, struct uep_skb, link);
		if (first->len == first->consumed)
			head = head->next;
	}
	bool had_data = head != &sk->rcvq;
	uep_list_splice_init(&sk->rcvq, &q);
	atomic_store(&sk->rcvq_len, 0);
	uep_mutex_unlock(&sk->lock);

	uep_wake_up_all(&sk->peer_wait, 0);
	if (skpair) {
		if (sk->type != SOCK_DGRAM) {
			uep_mutex_lock(&skpair->lock);
			atomic_store(&skpair->shutdown, UEP_SHUTDOWN_MASK);
			if (had_data || embrion)
				atomic_store(&skpair->err, ECONNRESET);
			uep_mutex_unlock(&skpair->lock);
			uep_wake_up_all(&skpair->wq, 0);
		}
		uep_unix_dgram_peer_wake_disconnect(sk, skpair);
		uep_sock_put(skpair);
	}
	uep_skb_free_list(&q);
	uep_sock_put(sk);
}

/* ---- file operations ---- */

static uint32_t sock_poll(struct uepoll_file *f, struct uepoll_poll_table *pt)
{
	struct uep_sock *sk = uep_file_sock(f);
	return sk->ops->poll(sk, f, pt);
}

static ssize_t sock_read(struct uepoll_file *f, void *buf, size_t n)
{
	struct uep_sock *sk = uep_file_sock(f);
	struct iovec iov = {buf, n};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n == 0)
		return 0;
	/* sock_read_iter: the socket sleeps itself (UEP_FMODE_BLOCKS). */
	return sk->ops->recvmsg(sk, &msg, n,
	                        uep_file_nonblock(f) ? MSG_DONTWAIT : 0);
}

static ssize_t sock_write(struct uepoll_file *f, const void *buf, size_t n)
{
	struct uep_sock *sk = uep_file_sock(f);
	struct iovec iov = {(void *)buf, n};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	return sk->ops->sendmsg(sk, &msg, n,
	                        uep_file_nonblock(f) ? MSG_DONTWAIT : 0);
}

static void sock_release(struct uepoll_file *f)
{
	uep_unix_release_sock(uep_file_sock(f), false);
}

const struct uepoll_file_operations uep_socket_fops = {
        .poll = sock_poll,
        .read = sock_read,
        .write = sock_write,
        .release = sock_release,
};

static int sock_install(struct uep_sock *sk, int flags)
{
	struct uepoll_file *f = uep_file_alloc(
	        &uep_socket_fops, sk,
	        O_RDWR | ((flags & SOCK_NONBLOCK) ? O_NONBLOCK : 0));
	if (!f) {
		uep_unix_release_sock(sk, false);
		return -ENOMEM;
	}
	f->f_mode |= UEP_FMODE_BLOCKS;
	/* On failure the put releases sk through sock_release. */
	return uep_file_install(f, (flags & SOCK_CLOEXEC) ? O_CLOEXEC : 0);
}

/* __sys_socket's checks, then unix_create's. */
static int check_type(int domain, int *type, int protocol, int *flags)
{
	*flags = *type & ~0xf;
	*type &= 0xf;
	if (*flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK))
		return -EINVAL;
	if (domain != AF_UNIX)
		return -EAFNOSUPPORT;
	if (protocol && protocol != PF_UNIX)
		return -EPROTONOSUPPORT;
	switch (*type) {
	case SOCK_STREAM:
	case SOCK_DGRAM:
	case SOCK_SEQPACKET:
		return 0;
	case SOCK_RAW: /* the kernel maps it to SOCK_DGRAM */
		*type = SOCK_DGRAM;
		return 0;
	}
	return -ESOCKTNOSUPPORT;
}

int uep_socket_create(int domain, int type, int protocol)
{
	int flags;
	int err = check_type(domain, &type, protocol, &flags);
	if (err)
		return err;
	struct uep_sock *sk = uep_sock_alloc(type);
	if (!sk)
		return -ENOMEM;
	return sock_install(sk, flags);
}

int uep_socketpair_create(int domain, int type, int protocol, int sv[2])
{
	int flags;
	int err = check_type(domain, &type, protocol, &flags);
	if (err)
		return err;
	struct uep_sock *a = uep_sock_alloc(type);
	struct uep_sock *b = a ? uep_sock_alloc(type) : NULL;
	if (!b) {
		if (a)
			uep_sock_put(a);
		return -ENOMEM;
	}
	uep_sock_hold(a);
	uep_sock_hold(b);
	a->peer = b;
	b->peer = a;
	a->state = b->state = UEP_SS_ESTABLISHED;
	/* A failed install releases its socket, which tells the other. */
	int fa = sock_install(a, flags);
	if (fa < 0) {
		uep_unix_release_sock(b, false);
		return fa;
	}
	int fb = sock_install(b, flags);
	if (fb < 0) {
		uep_fd_close(fa);
		return fb;
	}
	sv[0] = fa;
	sv[1] = fb;
	return 0;
}

/* ---- listen, accept, connect ---- */

int uep_sock_listen(struct uep_sock *sk, int backlog)
{
	if (sk->type != SOCK_STREAM && sk->type != SOCK_SEQPACKET)
		return -EOPNOTSUPP;
	if ((unsigned)backlog > (unsigned)tun.somaxconn)
		backlog = tun.somaxconn;
	int err = -EINVAL;
	bool wake = false;
	uep_mutex_lock(&sk->lock);
	if (!sk->addr_len)
		goto out; /* no listens on an unbound socket */
	if (sk->state != UEP_SS_CLOSE && sk->state != UEP_SS_LISTEN)
		goto out;
	wake = backlog > sk->max_ack_backlog;
	sk->max_ack_backlog = backlog;
	sk->state = UEP_SS_LISTEN;
	err = 0;
out:
	uep_mutex_unlock(&sk->lock);
	if (wake)
		uep_wake_up_all(&sk->peer_wait, 0);
	return err;
}

static void copy_name_out(struct sockaddr *a, socklen_t *len,
                          const struct sockaddr_un *name, socklen_t n)
{
	socklen_t room = *len;
	memcpy(a, name, room < n ? room : n);
	*len = n;
}

int uep_sock_getname(struct uep_sock *sk, struct sockaddr *a, socklen_t *len,
                     bool peer)
{
	struct sockaddr_un name = {.sun_family = AF_UNIX};
	socklen_t n = offsetof(struct sockaddr_un, sun_path);
	if ((int)*len < 0)
		return -EINVAL;
	struct uep_sock *s = sk;
	if (peer) {
		s = uep_sock_peer_get(sk);
		if (!s)
			return -ENOTCONN;
	}
	uep_mutex_lock(&s->lock);
	if (s->addr_len) {
		name = s->addr;
		n = s->addr_len;
	}
	uep_mutex_unlock(&s->lock);
	if (peer)
		uep_sock_put(s);
	copy_name_out(a, len, &name, n);
	return 0;
}

int uep_sock_accept(struct uep_sock *sk, struct uepoll_file *f,
                    struct sockaddr *a, socklen_t *len, int flags)
{
	struct uep_sock_waiter sw = {.armed = false};
	struct uep_skb *skb = NULL;
	int err;
	if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK))
		return -EINVAL;
	if (a && len && (int)*len < 0)
		return -EINVAL;
	if (sk->type != SOCK_STREAM && sk->type != SOCK_SEQPACKET)
		return -EOPNOTSUPP;
	if (sk->state != UEP_SS_LISTEN)
		return -EINVAL;
	for (;;) {
		uep_mutex_lock(&sk->lock);
		err = uep_sock_error(sk);
		if (!err && !uep_list_empty(&sk->rcvq)) {
			skb = uep_list_entry(sk->rcvq.next, struct uep_skb,
			                     link);
			uep_list_del_init(&skb->link);
			atomic_fetch_sub(&sk->rcvq_len, 1);
		} else if (!err &&
		           (atomic_load(&sk->shutdown) & UEP_RCV_SHUTDOWN)) {
			err = -EINVAL; /* receive shutdown */
		} else if (!err) {
			err = -EAGAIN;
		}
		uep_mutex_unlock(&sk->lock);
		if (err != -EAGAIN || uep_file_nonblock(f))
			break;
		err = uep_sock_wait_step(&sw, &sk->wq, EPOLLIN | EPOLLERR,
		                         true);
		if (err)
			break;
	}
	uep_sock_wait_finish(&sw);
	if (!skb)
		return err;
	/* Room in the backlog: wake one blocked connect. */
	uep_wake_up(&sk->peer_wait, 0);
	struct uep_sock *newsk = skb->newsk;
	skb->newsk = NULL; /* its reference goes to the new file */
	uep_skb_free(skb);
	if (a && len)
		uep_sock_getname(newsk, a, len, true);
	return sock_install(newsk, flags);
}

int uep_sock_connect(struct uep_sock *sk, struct uepoll_file *f,
                     const struct sockaddr *a, socklen_t len)
{
	return sk->ops->connect(sk, (const struct sockaddr_un *)a, len,
	                        uep_file_nonblock(f));
}

/* unix_stream_connect, for SOCK_STREAM and SOCK_SEQPACKET. */
int uep_unix_stream_connect(struct uep_sock *sk, const struct sockaddr_un *a,
                            socklen_t len, bool nonblock)
{
	int err = uep_unix_validate_addr(a, len);
	if (err)
		return err;
	struct uep_sock *newsk = uep_sock_alloc(sk->type);
	struct uep_skb *skb = uep_skb_alloc(NULL, 0, 0);
	struct uep_sock *other = NULL;
	if (!newsk || !skb) {
		err = -ENOMEM;
		goto out;
	}
restart:
	other = uep_unix_find_other(a, len, sk->type, &err);
	if (!other)
		goto out;
	uep_mutex_lock(&other->lock);
	if (other->dead) {
		uep_mutex_unlock(&other->lock);
		uep_sock_put(other);
		goto restart;
	}
	if (other->state != UEP_SS_LISTEN ||
	    (atomic_load(&other->shutdown) & UEP_RCV_SHUTDOWN)) {
		err = -ECONNREFUSED;
		goto out_unlock;
	}
	if (atomic_load(&other->rcvq_len) > other->max_ack_backlog) {
		struct uep_sock_waiter sw;
		err = -EAGAIN;
		if (nonblock)
			goto out_unlock;
		/* unix_wait_for_peer */
		uep_sock_wait_prepare(&sw, &other->peer_wait, 0, true);
		bool sched =
		        !other->dead &&
		        !(atomic_load(&other->shutdown) & UEP_RCV_SHUTDOWN) &&
		        atomic_load(&other->rcvq_len) > other->max_ack_backlog;
		uep_mutex_unlock(&other->lock);
		err = sched ? uep_sock_wait_sleep(&sw) : 0;
		uep_sock_wait_finish(&sw);
		uep_sock_put(other);
		other = NULL;
		if (err)
			goto out;
		goto restart;
	}
	/* Self and simultaneous connects are refused by the state check:
	 * other is listening, so sk == other fails here, before sk->lock. */
	int state = atomic_load(&sk->state);
	if (state != UEP_SS_CLOSE) {
		err = state == UEP_SS_ESTABLISHED ? -EISCONN : -EINVAL;
		goto out_unlock;
	}
	uep_mutex_lock(&sk->lock);
	if (sk->state != UEP_SS_CLOSE) {
		err = sk->state == UEP_SS_ESTABLISHED ? -EISCONN : -EINVAL;
		uep_mutex_unlock(&sk->lock);
		goto out_unlock;
	}
	/* The way is open: newsk is the accept side, sk the connect side. */
	uep_sock_hold(sk);
	newsk->peer = sk;
	newsk->state = UEP_SS_ESTABLISHED;
	newsk->addr = other->addr;
	newsk->addr_len = other->addr_len;
	sk->state = UEP_SS_ESTABLISHED;
	uep_sock_hold(newsk);
	sk->peer = newsk;
	uep_mutex_unlock(&sk->lock);
	skb->newsk = newsk; /* carries newsk's own reference */
	newsk = NULL;
	uep_list_add_tail(&skb->link, &other->rcvq);
	atomic_fetch_add(&other->rcvq_len, 1);
	skb = NULL;
	uep_mutex_unlock(&other->lock);
	uep_wake_up(&other->wq, UEP_SOCK_DATA_READY);
	uep_sock_put(other);
	return 0;

out_unlock:
	uep_mutex_unlock(&other->lock);
	uep_sock_put(other);
out:
	if (skb)
		uep_skb_free(skb);
	if (newsk)
		uep_unix_release_sock(newsk, false);
	return err;
}

/* ---- shutdown, options ---- */

int uep_sock_shutdown(struct uep_sock *sk, int how)
{
	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	unsigned mode = (unsigned)how + 1;
	uep_mutex_lock(&sk->lock);
	atomic_fetch_or(&sk->shutdown, mode);
	struct uep_sock *other = sk->peer;
	if (other)
		uep_sock_hold(other);
	uep_mutex_unlock(&sk->lock);
	uep_wake_up_all(&sk->wq, 0); /* sk_state_change */
	if (other && sk->type != SOCK_DGRAM) {
		unsigned peer_mode = 0;
		if (mode & UEP_RCV_SHUTDOWN)
			peer_mode |= UEP_SEND_SHUTDOWN;
		if (mode & UEP_SEND_SHUTDOWN)
			peer_mode |= UEP_RCV_SHUTDOWN;
		uep_mutex_lock(&other->lock);
		atomic_fetch_or(&other->shutdown, peer_mode);
		uep_mutex_unlock(&other->lock);
		uep_wake_up_all(&other->wq, 0);
	}
	if (other)
		uep_sock_put(other);
	return 0;
}

int uep_sock_getsockopt(struct uep_sock *sk, int level, int name, void *val,
                        socklen_t *len)
{
	int v;
	if (level != SOL_SOCKET)
		return -EOPNOTSUPP;
	if ((int)*len < 0)
		return -EINVAL;
	switch (name) {
	case SO_TYPE:
		v = sk->type;
		break;
	case SO_ERROR:
		v = -uep_sock_error(sk);
		break;
	case SO_SNDBUF:
		v = atomic_load(&sk->sndbuf);
		break;
	case SO_RCVBUF:
		v = atomic_load(&sk->rcvbuf);
		break;
	case SO_ACCEPTCONN:
		v = sk->state == UEP_SS_LISTEN;
		break;
	case SO_DOMAIN:
		v = AF_UNIX;
		break;
	case SO_PROTOCOL:
		v = 0;
		break;
	default:
		return -ENOPROTOOPT;
	}
	socklen_t n = *len < sizeof(v) ? *len : sizeof(v);
	memcpy(val, &v, n);
	*len = n;
	return 0;
}

/* sock_setsockopt's buffer size: v up to max, doubled, at least min. */
static int buf_size(int v, int max, int min)
{
	unsigned u = (unsigned)v < (unsigned)max ? (unsigned)v : (unsigned)max;
	long b = (long)u * 2;
	return (int)(b > min ? b : min);
}

int uep_sock_setsockopt(struct uep_sock *sk, int level, int name,
                        const void *val, socklen_t len)
{
	int v;
	if (level != SOL_SOCKET)
		return -EOPNOTSUPP;
	if (len < sizeof(int))
		return -EINVAL;
	memcpy(&v, val, sizeof(v));
	switch (name) {
	case SO_SNDBUF:
		atomic_store(&sk->sndbuf,
		             buf_size(v, tun.wmem_max, SOCK_MIN_SNDBUF));
		/* Wake up sending tasks if we upped the value. */
		if (uep_sock_writable(sk))
			uep_wake_up(&sk->wq,
			            EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
		return 0;
	case SO_RCVBUF:
		atomic_store(&sk->rcvbuf,
		             buf_size(v, tun.rmem_max, SOCK_MIN_RCVBUF));
		return 0;
	}
	return -ENOPROTOOPT;
}

/* ---- send and receive ---- */

/* The bytes of msg's iovec (socket_api.c checked its count), or -EINVAL
 * past SSIZE_MAX. */
static ssize_t msg_len(const struct msghdr *msg)
{
	size_t len = 0;
	for (size_t i = 0; i < msg->msg_iovlen; i++) {
		if (msg->msg_iov[i].iov_len > SSIZE_MAX - len)
			return -EINVAL;
		len += msg->msg_iov[i].iov_len;
	}
	return (ssize_t)len;
}

ssize_t uep_sock_sendmsg(struct uep_sock *sk, struct uepoll_file *f,
                         const struct msghdr *msg, int flags)
{
	ssize_t len = msg_len(msg);
	if (len < 0)
		return len;
	if (uep_file_nonblock(f))
		flags |= MSG_DONTWAIT;
	return sk->ops->sendmsg(sk, msg, (size_t)len, flags);
}

ssize_t uep_sock_recvmsg(struct uep_sock *sk, struct uepoll_file *f,
                         struct msghdr *msg, int flags)
{
	ssize_t len = msg_len(msg);
	if (len < 0)
		return len;
	if (uep_file_nonblock(f))
		flags |= MSG_DONTWAIT;
	msg->msg_flags = 0;
	ssize_t r = sk->ops->recvmsg(sk, msg, (size_t)len, flags);
	if (r >= 0)
		msg->msg_controllen = 0; /* no ancillary data is ever passed */
	return r;
}
