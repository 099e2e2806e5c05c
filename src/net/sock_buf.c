/*
 * The sockets' buffers and sleeps (see socket.h for the locking and
 * lifetime rules): the parts of the kernel's net/core/sock.c and skbuff.c
 * that af_unix relies on.
 *
 * Buffer accounting follows the kernel closely because OUT readiness depends
 * on it: every queued buffer charges its sender's wmem_alloc with the
 * kernel's truesize (slab bucket of head + shared info, plus the sk_buff,
 * plus page fragments, whole pages), a send may allocate while wmem_alloc <
 * sndbuf, and the socket is writable while (wmem_alloc + 1) * 4 <= sndbuf.
 * Freeing a buffer wakes its sender with OUT when it is writable
 * (unix_write_space): that is the sender's edge for ET.
 */
#include "net/socket.h"

#include <errno.h>
#include <stdlib.h>

/* ---- buffers ---- */

/* kmalloc's bucket for a head of n bytes (n >= 320 here). */
static long kmalloc_bucket(long n)
{
	long b = 512;
	while (b < n)
		b <<= 1;
	return b;
}

#define SKB_DATA_ALIGN(x) (((x) + 63) & ~63L)
#define SKB_SHINFO 320 /* SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) */
#define SKB_STRUCT 256 /* SKB_DATA_ALIGN(sizeof(struct sk_buff)) */

/* Fragments come in whole pages (alloc_skb_with_frags charges each). */
long uep_unix_truesize(int type, size_t head, size_t data_len)
{
	(void)type;
	long frags = ((long)data_len + 4095) & ~4095L;
	return kmalloc_bucket(SKB_DATA_ALIGN((long)head) + SKB_SHINFO) +
	       SKB_STRUCT + frags;
}

struct uep_skb *uep_skb_alloc(struct uep_sock *owner, size_t len,
                              uint32_t truesize)
{
	struct uep_skb *skb = malloc(sizeof(*skb) + len);
	if (!skb)
		return NULL;
	uep_list_init(&skb->link);
	skb->owner = owner;
	skb->newsk = NULL;
	skb->truesize = truesize;
	skb->len = len;
	skb->consumed = 0;
	if (owner) {
		uep_sock_hold(owner);
		atomic_fetch_add(&owner->wmem_alloc, (long)truesize);
	}
	return skb;
}

/* sock_wfree + unix_write_space: uncharge and wake a writable sender. */
void uep_skb_free(struct uep_skb *skb)
{
	struct uep_sock *owner = skb->owner;
	if (skb->newsk)
		uep_unix_release_sock(skb->newsk, true);
	if (owner) {
		atomic_fetch_sub(&owner->wmem_alloc, (long)skb->truesize);
		if (uep_sock_writable(owner))
			uep_wake_up(&owner->wq,
			            EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
		uep_sock_put(owner);
	}
	free(skb);
}

void uep_skb_free_list(struct uep_list *list)
{
	while (!uep_list_empty(list)) {
		struct uep_skb *skb =
		        uep_list_entry(list->next, struct uep_skb, link);
		uep_list_del_init(&skb->link);
		uep_skb_free(skb);
	}
}

/* ---- sleeping ---- */

static int sock_wake_func(struct uep_wait_entry *e, uint32_t key)
{
	struct uep_sock_waiter *sw =
	        uep_container_of(e, struct uep_sock_waiter, entry);
	if (key && !(key & sw->key))
		return 0;
	return uep_waiter_wake(&sw->w);
}

void uep_sock_wait_prepare(struct uep_sock_waiter *sw,
                           struct uepoll_wait_queue *wq, uint32_t key,
                           bool exclusive)
{
	uep_waiter_init(&sw->w, NULL);
	sw->wq = wq;
	sw->key = key;
	sw->entry.func = sock_wake_func;
	sw->entry.flags = exclusive ? UEP_WQ_EXCLUSIVE : 0;
	sw->entry.owner_bits = 0;
	uep_list_init(&sw->entry.link);
	uep_wq_add(wq, &sw->entry);
	/* Pairs with the fence in uep_wake_up(): see the entry or the state. */
	atomic_thread_fence(memory_order_seq_cst);
	sw->armed = true;
}

int uep_sock_wait_sleep(struct uep_sock_waiter *sw)
{
	static const struct uep_deadline forever = {.kind = UEP_DL_FOREVER};
	/* restart: an SA_RESTART handler resumes the sleep, as in the kernel */
	int r = uep_waiter_sleep(&sw->w, &forever, NULL, true);
	/* A full fence: the caller re-reads the socket without its lock. */
	uep_waiter_reset(&sw->w);
	return r == -EINTR ? -EINTR : 0;
}

int uep_sock_wait_step(struct uep_sock_waiter *sw, struct uepoll_wait_queue *wq,
                       uint32_t key, bool exclusive)
{
	if (!sw->armed) {
		uep_sock_wait_prepare(sw, wq, key, exclusive);
		return 0;
	}
	return uep_sock_wait_sleep(sw);
}

void uep_sock_wait_finish(struct uep_sock_waiter *sw)
{
	if (sw->armed)
		uep_wq_del(sw->wq, &sw->entry);
	sw->armed = false;
}

int uep_sock_wait_wmem(struct uep_sock *sk, bool nonblock)
{
	struct uep_sock_waiter sw = {.armed = false};
	int err;
	for (;;) {
		err = uep_sock_error(sk);
		if (err)
			break;
		err = -EPIPE;
		if (atomic_load(&sk->shutdown) & UEP_SEND_SHUTDOWN)
			break;
		err = 0;
		if (atomic_load(&sk->wmem_alloc) < atomic_load(&sk->sndbuf))
			break;
		err = -EAGAIN;
		if (nonblock)
			break;
		err = uep_sock_wait_step(&sw, &sk->wq,
		                         EPOLLOUT | EPOLLERR | EPOLLHUP, false);
		if (err)
			break;
	}
	uep_sock_wait_finish(&sw);
	return err;
}
