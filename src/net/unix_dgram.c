/*
 * SOCK_DGRAM and SOCK_SEQPACKET (unix_dgram_sendmsg, __unix_dgram_recvmsg,
 * unix_dgram_poll, unix_dgram_connect, and the seqpacket wrappers).
 *
 * One send is one buffer, one receive takes one buffer (MSG_TRUNC when it
 * does not fit).  The receiver's queue limit (max_dgram_qlen) applies only
 * when the receiver is not connected back to the sender; a sender blocked
 * on it, or polling for OUT, hooks its relay entry (peer_wake) on the
 * receiver's peer_wait, which every receive wakes: the relay passes the
 * wake-up on to the sender's own queue and unhooks itself.
 */
#include <errno.h>
#include <stdlib.h>

#include "net/socket.h"

#define PAGE_SIZE 4096L
#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
/* SKB_MAX_ALLOC: an order-2 head minus the shared info. */
#define SKB_MAX_ALLOC (4 * PAGE_SIZE - 320)
#define MAX_SKB_FRAGS 17

/* ---- the relay ---- */

/* Runs under other->peer_wait.lock: unhook, then wake our own queue. */
static int peer_wake_relay(struct uep_wait_entry *e, uint32_t key)
{
	struct uep_sock *u = uep_container_of(e, struct uep_sock, peer_wake);
	uep_wq_del_locked(&u->peer_wake_other->peer_wait, e);
	u->peer_wake_other = NULL;
	uep_wake_up(&u->wq, key);
	return 0;
}

static bool peer_wake_connect(struct uep_sock *sk, struct uep_sock *other)
{
	bool rc = false;
	uep_wq_lock(&other->peer_wait);
	if (!sk->peer_wake_other) {
		sk->peer_wake_other = other;
		sk->peer_wake.func = peer_wake_relay;
		sk->peer_wake.flags = 0;
		uep_list_init(&sk->peer_wake.link);
		uep_wq_add_locked(&other->peer_wait, &sk->peer_wake);
		rc = true;
	}
	uep_wq_unlock(&other->peer_wait);
	return rc;
}

void uep_unix_dgram_peer_wake_disconnect(struct uep_sock *sk,
                                         struct uep_sock *other)
{
	uep_wq_lock(&other->peer_wait);
	if (sk->peer_wake_other == other) {
		uep_wq_del_locked(&other->peer_wait, &sk->peer_wake);
		sk->peer_wake_other = NULL;
	}
	uep_wq_unlock(&other->peer_wait);
}

static void peer_wake_disconnect_wakeup(struct uep_sock *sk,
                                        struct uep_sock *other)
{
	uep_unix_dgram_peer_wake_disconnect(sk, other);
	uep_wake_up(&sk->wq, EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
}

/* True when sk must wait for other's queue (and the relay is hooked). */
static bool peer_wake_me(struct uep_sock *sk, struct uep_sock *other)
{
	bool connected = peer_wake_connect(sk, other);
	if (uep_sock_rcvq_full(other) && !atomic_load(&other->dead))
		return true;
	if (connected)
		uep_unix_dgram_peer_wake_disconnect(sk, other);
	return false;
}

/*
 * sk lost its peer other: drop what other sent us, and tell other if it
 * was connected back to us.  No socket lock held.
 */
void uep_unix_dgram_disconnected(struct uep_sock *sk, struct uep_sock *other)
{
	struct uep_list q;
	uep_list_init(&q);
	uep_mutex_lock(&sk->lock);
	uep_list_splice_init(&sk->rcvq, &q);
	atomic_store(&sk->rcvq_len, 0);
	uep_mutex_unlock(&sk->lock);
	if (uep_list_empty(&q))
		return;
	uep_skb_free_list(&q);
	uep_wake_up_all(&sk->peer_wait, 0);
	if (!atomic_load(&other->dead) && atomic_load(&other->peer) == sk) {
		atomic_store(&other->err, ECONNRESET);
		uep_wake_up(&other->wq, EPOLLERR);
	}
}

static void double_lock(struct uep_sock *a, struct uep_sock *b)
{
	if (a == b) {
		uep_mutex_lock(&a->lock);
		return;
	}
	if (a > b) {
		struct uep_sock *t = a;
		a = b;
		b = t;
	}
	uep_mutex_lock(&a->lock);
	uep_mutex_lock(&b->lock);
}

static void double_unlock(struct uep_sock *a, struct uep_sock *b)
{
	uep_mutex_unlock(&a->lock);
	if (a != b)
		uep_mutex_unlock(&b->lock);
}

/* ---- send ---- */

/*
 * Sleep until other's queue has room (unix_wait_for_peer).  Must be called
 * with other->lock held; returns with it dropped.
 */
static int wait_for_peer(struct uep_sock *other)
{
	struct uep_sock_waiter sw;
	uep_sock_wait_prepare(&sw, &other->peer_wait, 0, true);
	bool sched = !atomic_load(&other->dead) &&
	             !(atomic_load(&other->shutdown) & UEP_RCV_SHUTDOWN) &&
	             uep_sock_rcvq_full(other);
	uep_mutex_unlock(&other->lock);
	int err = sched ? uep_sock_wait_sleep(&sw) : 0;
	uep_sock_wait_finish(&sw);
	return err;
}

static ssize_t dgram_sendmsg(struct uep_sock *sk, const struct msghdr *msg,
                             size_t len, int flags)
{
	const struct sockaddr_un *sun = NULL;
	socklen_t namelen = msg->msg_name ? msg->msg_namelen : 0;
	bool nonblock = flags & MSG_DONTWAIT;
	struct uep_sock *other = NULL;
	struct uep_skb *skb = NULL;
	ssize_t err;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (namelen) {
		sun = msg->msg_name;
		err = uep_unix_validate_addr(sun, namelen);
		if (err)
			return err;
	}
	err = -EMSGSIZE;
	if ((long)len > (long)atomic_load(&sk->sndbuf) - 32)
		goto out;
	long data_len = 0;
	if ((long)len > SKB_MAX_ALLOC) {
		data_len = (long)len - SKB_MAX_ALLOC;
		if (data_len > MAX_SKB_FRAGS * PAGE_SIZE)
			data_len = MAX_SKB_FRAGS * PAGE_SIZE;
		data_len = PAGE_ALIGN(data_len);
	}
	err = uep_sock_wait_wmem(sk, nonblock);
	if (err)
		goto out;
	skb = uep_skb_alloc(sk, len,
	                    (uint32_t)uep_unix_truesize(sk->type,
	                                                len - (size_t)data_len,
	                                                (size_t)data_len));
	err = -ENOMEM;
	if (!skb)
		goto out;
	uep_iov_from(msg, 0, skb->data, len);
	/*
	 * The peer is looked up after the allocation, as the kernel does:
	 * every failure from here frees the buffer, and the free is a
	 * write-space wake-up (an ET EPOLLOUT edge).
	 */
	if (!sun) {
		other = uep_sock_peer_get(sk);
		err = -ENOTCONN;
		if (!other)
			goto out;
	}

restart:
	if (!other) {
		err = -ECONNRESET;
		if (!sun)
			goto out;
		int e;
		other = uep_unix_find_other(sun, namelen, sk->type, &e);
		err = e;
		if (!other)
			goto out;
	}
	uep_mutex_lock(&other->lock);
	struct uep_sock *op = atomic_load(&other->peer);
	if (op && op != sk) {
		err = -EPERM; /* other is connected elsewhere */
		goto out_unlock;
	}
	if (atomic_load(&other->dead)) {
		uep_mutex_unlock(&other->lock);
		err = 0;
		uep_mutex_lock(&sk->lock);
		if (sk->type == SOCK_SEQPACKET) {
			uep_mutex_unlock(&sk->lock);
			err = -EPIPE;
		} else if (atomic_load(&sk->peer) == other) {
			sk->peer = NULL;
			atomic_store(&sk->state, UEP_SS_CLOSE);
			uep_mutex_unlock(&sk->lock);
			peer_wake_disconnect_wakeup(sk, other);
			uep_unix_dgram_disconnected(sk, other);
			uep_sock_put(other); /* the peer reference */
			err = -ECONNREFUSED;
		} else {
			uep_mutex_unlock(&sk->lock);
		}
		uep_sock_put(other);
		other = NULL;
		if (err)
			goto out;
		goto restart;
	}
	err = -EPIPE;
	if (atomic_load(&other->shutdown) & UEP_RCV_SHUTDOWN)
		goto out_unlock;
	if (other != sk && atomic_load(&other->peer) != sk &&
	    uep_sock_rcvq_full(other)) {
		if (!nonblock) {
			err = wait_for_peer(other);
			if (err)
				goto out;
			goto restart;
		}
		uep_mutex_unlock(&other->lock);
		uep_mutex_lock(&sk->lock);
		bool wait = atomic_load(&sk->peer) != other ||
		            peer_wake_me(sk, other);
		uep_mutex_unlock(&sk->lock);
		err = -EAGAIN;
		if (wait)
			goto out;
		goto restart;
	}
	uep_list_add_tail(&skb->link, &other->rcvq);
	atomic_fetch_add(&other->rcvq_len, 1);
	skb = NULL;
	uep_mutex_unlock(&other->lock);
	uep_wake_up(&other->wq, UEP_SOCK_DATA_READY);
	uep_sock_put(other);
	return (ssize_t)len;

out_unlock:
	uep_mutex_unlock(&other->lock);
out:
	if (skb)
		uep_skb_free(skb);
	if (other)
		uep_sock_put(other);
	return err;
}

static ssize_t seqpacket_sendmsg(struct uep_sock *sk, const struct msghdr *msg,
                                 size_t len, int flags)
{
	int err = uep_sock_error(sk);
	if (err)
		return err;
	if (atomic_load(&sk->state) != UEP_SS_ESTABLISHED)
		return -ENOTCONN;
	struct msghdr m = *msg;
	m.msg_name = NULL; /* an address is ignored */
	m.msg_namelen = 0;
	return dgram_sendmsg(sk, &m, len, flags);
}

/* ---- receive ---- */

static ssize_t dgram_recvmsg(struct uep_sock *sk, struct msghdr *msg,
                             size_t len, int flags)
{
	struct uep_sock_waiter sw = {.armed = false};
	struct uep_skb *skb = NULL;
	bool peek = flags & MSG_PEEK;
	size_t size = 0, skb_len = 0;
	struct uep_sock *from = NULL;
	bool got = false;
	ssize_t err;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	for (;;) {
		uep_mutex_lock(&sk->lock);
		err = uep_sock_error(sk);
		if (!err && !uep_list_empty(&sk->rcvq)) {
			skb = uep_list_entry(sk->rcvq.next, struct uep_skb,
			                     link);
			skb_len = skb->len;
			size = len < skb_len ? len : skb_len;
			uep_iov_to(msg, 0, skb->data, size);
			from = skb->owner;
			if (from)
				uep_sock_hold(from);
			if (!peek) {
				uep_list_del_init(&skb->link);
				atomic_fetch_sub(&sk->rcvq_len, 1);
			} else {
				skb = NULL;
			}
			uep_mutex_unlock(&sk->lock);
			got = true;
			err = 0;
			break;
		}
		if (!err)
			err = -EAGAIN;
		uep_mutex_unlock(&sk->lock);
		if (err != -EAGAIN || (flags & MSG_DONTWAIT))
			break;
		/* __skb_wait_for_more_packets */
		if (atomic_load(&sk->shutdown) & UEP_RCV_SHUTDOWN) {
			err = 0;
			break;
		}
		if (sk->type == SOCK_SEQPACKET &&
		    atomic_load(&sk->state) != UEP_SS_ESTABLISHED) {
			err = -ENOTCONN;
			break;
		}
		err = uep_sock_wait_step(
		        &sw, &sk->wq, EPOLLIN | EPOLLRDNORM | EPOLLERR, true);
		if (err)
			break;
	}
	uep_sock_wait_finish(&sw);
	if (!got) {
		/* EOF on a disconnected non-blocking seqpacket socket. */
		if (sk->type == SOCK_SEQPACKET && err == -EAGAIN &&
		    (atomic_load(&sk->shutdown) & UEP_RCV_SHUTDOWN))
			err = 0;
		return err;
	}
	/* Room in our queue: wake senders waiting for it (even on PEEK). */
	uep_wake_up(&sk->peer_wait, EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
	if (size < skb_len)
		msg->msg_flags |= MSG_TRUNC;
	if (msg->msg_name)
		uep_unix_copy_addr(msg, from);
	if (from)
		uep_sock_put(from);
	if (skb)
		uep_skb_free(skb);
	return (flags & MSG_TRUNC) ? (ssize_t)skb_len : (ssize_t)size;
}

static ssize_t seqpacket_recvmsg(struct uep_sock *sk, struct msghdr *msg,
                                 size_t len, int flags)
{
	if (atomic_load(&sk->state) != UEP_SS_ESTABLISHED)
		return -ENOTCONN;
	return dgram_recvmsg(sk, msg, len, flags);
}

/* ---- poll, connect ---- */

static uint32_t dgram_poll(struct uep_sock *sk, struct uepoll_file *f,
                           struct uepoll_poll_table *pt)
{
	uint32_t mask = 0;
	uepoll_poll_wait(f, &sk->wq, pt);
	unsigned shutdown = atomic_load(&sk->shutdown);
	if (atomic_load(&sk->err))
		mask |= EPOLLERR;
	if (shutdown & UEP_RCV_SHUTDOWN)
		mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM;
	if (shutdown == UEP_SHUTDOWN_MASK)
		mask |= EPOLLHUP;
	if (atomic_load(&sk->rcvq_len))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (sk->type == SOCK_SEQPACKET &&
	    atomic_load(&sk->state) == UEP_SS_CLOSE)
		mask |= EPOLLHUP;
	/* No write status requested: skip the OUT tests (and the relay). */
	uint32_t want = pt && pt->key ? pt->key : ~0u;
	if (!(want & (EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND)))
		return mask;
	bool writable = uep_sock_writable(sk);
	if (writable) {
		uep_mutex_lock(&sk->lock);
		struct uep_sock *other = atomic_load(&sk->peer);
		if (other && atomic_load(&other->peer) != sk &&
		    uep_sock_rcvq_full(other) && peer_wake_me(sk, other))
			writable = false;
		uep_mutex_unlock(&sk->lock);
	}
	if (writable)
		mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
	return mask;
}

static int dgram_connect(struct uep_sock *sk, const struct sockaddr_un *a,
                         socklen_t len, bool nonblock)
{
	struct uep_sock *other = NULL;
	int err;
	(void)nonblock;
	if (len < sizeof(sa_family_t))
		return -EINVAL;
	if (a->sun_family != AF_UNSPEC) {
		err = uep_unix_validate_addr(a, len);
		if (err)
			return err;
	restart:
		other = uep_unix_find_other(a, len, sk->type, &err);
		if (!other)
			return err;
		double_lock(sk, other);
		if (atomic_load(&other->dead)) {
			double_unlock(sk, other);
			uep_sock_put(other);
			goto restart;
		}
		struct uep_sock *op = atomic_load(&other->peer);
		if (op && op != sk) {
			double_unlock(sk, other);
			uep_sock_put(other);
			return -EPERM;
		}
		atomic_store(&sk->state, UEP_SS_ESTABLISHED);
	} else {
		uep_mutex_lock(&sk->lock);
	}
	struct uep_sock *old = atomic_load(&sk->peer);
	sk->peer = other; /* takes over our reference */
	if (!other)
		atomic_store(&sk->state, UEP_SS_CLOSE);
	if (other)
		double_unlock(sk, other);
	else
		uep_mutex_unlock(&sk->lock);
	if (old) {
		peer_wake_disconnect_wakeup(sk, old);
		if (other != old)
			uep_unix_dgram_disconnected(sk, old);
		uep_sock_put(old);
	}
	return 0;
}

const struct uep_proto_ops uep_unix_dgram_ops = {
        .sendmsg = dgram_sendmsg,
        .recvmsg = dgram_recvmsg,
        .poll = dgram_poll,
        .connect = dgram_connect,
};

const struct uep_proto_ops uep_unix_seqpacket_ops = {
        .sendmsg = seqpacket_sendmsg,
        .recvmsg = seqpacket_recvmsg,
        .poll = dgram_poll,
        .connect = uep_unix_stream_connect,
};
