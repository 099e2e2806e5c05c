/*
 * SOCK_STREAM (unix_stream_sendmsg, unix_stream_read_generic, unix_poll).
 *
 * A send is cut into buffers the way the kernel cuts it (at most
 * sndbuf / 2 - 64 bytes, and at most one page-sized head plus 32 KiB of
 * fragments each), each charged to the sender and queued on the peer, and
 * every buffer wakes the peer with IN: an edge-triggered reader sees every
 * send.  A receive copies across buffers; each buffer it empties is freed,
 * which wakes the sender with OUT when the sender is writable again.
 */
#include <errno.h>
#include <stdlib.h>

#include "net/socket.h"

#define PAGE_SIZE 4096L
#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
/* SKB_MAX_HEAD(0): a page minus the shared info. */
#define SKB_MAX_HEAD0 (PAGE_SIZE - 320)
#define UNIX_SKB_FRAGS_SZ 32768L

static ssize_t stream_sendmsg(struct uep_sock *sk, const struct msghdr *msg,
                              size_t len, int flags)
{
	bool nonblock = flags & MSG_DONTWAIT;
	size_t sent = 0;
	ssize_t err;
	struct uep_sock *other = NULL;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (msg->msg_name && msg->msg_namelen)
		return atomic_load(&sk->state) == UEP_SS_ESTABLISHED
		               ? -EISCONN
		               : -EOPNOTSUPP;
	other = uep_sock_peer_get(sk);
	if (!other)
		return -ENOTCONN;
	if (atomic_load(&sk->shutdown) & UEP_SEND_SHUTDOWN) {
		if (!(flags & MSG_NOSIGNAL))
			uep_sock_sigpipe();
		err = -EPIPE;
		goto out_err;
	}
	while (sent < len) {
		/* Keep two messages in the pipe so it schedules better. */
		long size = (long)(len - sent);
		long half = (atomic_load(&sk->sndbuf) >> 1) - 64;
		if (size > half)
			size = half;
		if (size > SKB_MAX_HEAD0 + UNIX_SKB_FRAGS_SZ)
			size = SKB_MAX_HEAD0 + UNIX_SKB_FRAGS_SZ;
		long data_len = size - SKB_MAX_HEAD0;
		if (data_len < 0)
			data_len = 0;
		data_len = PAGE_ALIGN(data_len);
		if (data_len > size)
			data_len = size;

		err = uep_sock_wait_wmem(sk, nonblock);
		if (err)
			goto out_err;
		struct uep_skb *skb = uep_skb_alloc(
		        sk, (size_t)size,
		        (uint32_t)uep_unix_truesize(SOCK_STREAM,
		                                    (size_t)(size - data_len),
		                                    (size_t)data_len));
		if (!skb) {
			err = -ENOMEM;
			goto out_err;
		}
		uep_iov_from(msg, sent, skb->data, (size_t)size);

		uep_mutex_lock(&other->lock);
		if (atomic_load(&other->dead) ||
		    (atomic_load(&other->shutdown) & UEP_RCV_SHUTDOWN)) {
			uep_mutex_unlock(&other->lock);
			uep_skb_free(skb);
			if (!sent && !(flags & MSG_NOSIGNAL))
				uep_sock_sigpipe();
			err = -EPIPE;
			goto out_err;
		}
		uep_list_add_tail(&skb->link, &other->rcvq);
		atomic_fetch_add(&other->rcvq_len, 1);
		uep_mutex_unlock(&other->lock);
		uep_wake_up(&other->wq, UEP_SOCK_DATA_READY);
		sent += (size_t)size;
	}
	uep_sock_put(other);
	return (ssize_t)sent;

out_err:
	uep_sock_put(other);
	return sent ? (ssize_t)sent : err;
}

static ssize_t stream_recvmsg(struct uep_sock *sk, struct msghdr *msg,
                              size_t len, int flags)
{
	struct uep_sock_waiter sw = {.armed = false};
	struct uep_list freed;
	struct uep_sock *name_from = NULL;
	bool nonblock = flags & MSG_DONTWAIT;
	bool peek = flags & MSG_PEEK;
	size_t copied = 0;
	ssize_t err = 0;

	if (atomic_load(&sk->state) != UEP_SS_ESTABLISHED)
		return -EINVAL;
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	size_t target = (flags & MSG_WAITALL) ? len : (len < 1 ? len : 1);
	if (!target)
		target = 1;
	uep_list_init(&freed);

	uep_mutex_lock(&sk->lock);
	struct uep_list *pos = sk->rcvq.next;
	for (;;) {
		if (pos == &sk->rcvq) {
			if (copied >= target)
				break;
			/* POSIX 1003.1g mandates this order. */
			err = uep_sock_error(sk);
			if (err)
				break;
			if (atomic_load(&sk->shutdown) & UEP_RCV_SHUTDOWN)
				break;
			if (nonblock) {
				err = -EAGAIN;
				break;
			}
			uep_mutex_unlock(&sk->lock);
			/* Freed buffers wake their sender before we sleep. */
			uep_skb_free_list(&freed);
			err = uep_sock_wait_step(&sw, &sk->wq,
			                         EPOLLIN | EPOLLRDNORM |
			                                 EPOLLERR | EPOLLHUP |
			                                 EPOLLRDHUP,
			                         false);
			uep_mutex_lock(&sk->lock);
			if (err)
				break;
			if (!peek || copied == 0)
				pos = sk->rcvq.next;
			continue;
		}
		struct uep_skb *skb = uep_list_entry(pos, struct uep_skb, link);
		if (!name_from && msg->msg_name && skb->owner) {
			name_from = skb->owner;
			uep_sock_hold(name_from);
		}
		size_t avail = skb->len - skb->consumed;
		size_t chunk = avail < len - copied ? avail : len - copied;
		uep_iov_to(msg, copied, skb->data + skb->consumed, chunk);
		copied += chunk;
		if (!peek) {
			skb->consumed += chunk;
			if (skb->consumed < skb->len)
				break;
			uep_list_del_init(&skb->link);
			atomic_fetch_sub(&sk->rcvq_len, 1);
			uep_list_add_tail(&skb->link, &freed);
			pos = sk->rcvq.next;
		} else {
			pos = pos->next;
			if (pos == &sk->rcvq)
				break;
		}
		if (copied == len)
			break;
	}
	uep_mutex_unlock(&sk->lock);
	uep_skb_free_list(&freed);
	uep_sock_wait_finish(&sw);
	if (msg->msg_name) {
		uep_unix_copy_addr(msg, name_from);
		if (name_from)
			uep_sock_put(name_from);
	}
	return copied ? (ssize_t)copied : err;
}

static uint32_t stream_poll(struct uep_sock *sk, struct uepoll_file *f,
                            struct uepoll_poll_table *pt)
{
	uint32_t mask = 0;
	uepoll_poll_wait(f, &sk->wq, pt);
	unsigned shutdown = atomic_load(&sk->shutdown);
	int state = atomic_load(&sk->state);
	if (atomic_load(&sk->err))
		mask |= EPOLLERR;
	if (shutdown == UEP_SHUTDOWN_MASK)
		mask |= EPOLLHUP;
	if (shutdown & UEP_RCV_SHUTDOWN)
		mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM;
	if (atomic_load(&sk->rcvq_len))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (state == UEP_SS_CLOSE)
		mask |= EPOLLHUP;
	/* Writable also when the other side has shut down: no stuck sockets. */
	if (uep_sock_writable(sk))
		mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
	return mask;
}

const struct uep_proto_ops uep_unix_stream_ops = {
        .sendmsg = stream_sendmsg,
        .recvmsg = stream_recvmsg,
        .poll = stream_poll,
        .connect = uep_unix_stream_connect,
};

/*
 * FIONREAD (the kernel's unix_inq_len): the unread bytes of a stream or
 * seqpacket socket, the length of the next datagram of a dgram one.
 */
int uep_sock_inq(struct uep_sock *sk)
{
	size_t n = 0;
	if (atomic_load(&sk->state) == UEP_SS_LISTEN)
		return -EINVAL;
	uep_mutex_lock(&sk->lock);
	struct uep_list *pos;
	uep_list_for_each(pos, &sk->rcvq)
	{
		struct uep_skb *skb = uep_list_entry(pos, struct uep_skb, link);
		n += skb->len - skb->consumed;
		if (sk->type == SOCK_DGRAM)
			break;
	}
	uep_mutex_unlock(&sk->lock);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}
