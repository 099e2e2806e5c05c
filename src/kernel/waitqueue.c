/* Wait queues: see waitqueue.h. */
#include "kernel/waitqueue.h"

#include <stdlib.h>

#include "kernel/diag.h"
#include "kernel/trace.h"
#include "uepoll.h"

void uep_wq_init(struct uepoll_wait_queue *wq)
{
	uep_mutex_init(&wq->lock);
	uep_list_init(&wq->head);
	atomic_init(&wq->nr, 0);
}

void uep_wq_destroy(struct uepoll_wait_queue *wq)
{
	assert(uep_list_empty(&wq->head));
	uep_mutex_destroy(&wq->lock);
}

void uep_wq_add_locked(struct uepoll_wait_queue *wq, struct uep_wait_entry *e)
{
	if (e->flags & UEP_WQ_EXCLUSIVE)
		uep_list_add_tail(&e->link, &wq->head);
	else
		uep_list_add(&e->link, &wq->head);
	atomic_store_explicit(
	        &wq->nr,
	        atomic_load_explicit(&wq->nr, memory_order_relaxed) + 1,
	        memory_order_release);
}

void uep_wq_del_locked(struct uepoll_wait_queue *wq, struct uep_wait_entry *e)
{
	if (!uep_list_linked(&e->link))
		return;
	uep_list_del_init(&e->link);
	atomic_store_explicit(
	        &wq->nr,
	        atomic_load_explicit(&wq->nr, memory_order_relaxed) - 1,
	        memory_order_release);
}

void uep_wake_up_locked(struct uepoll_wait_queue *wq, uint32_t key,
                        int nr_exclusive)
{
	struct uep_list *pos, *tmp;
	uep_trace(UEPOLL_TRACE_WAKE_UP, -1, key, 0);
	if (uep_diag_on())
		uep_diag_wake_gen++;
	/* A callback may unlink its own entry (never another one). */
	uep_list_for_each_safe(pos, tmp, &wq->head)
	{
		struct uep_wait_entry *e =
		        uep_list_entry(pos, struct uep_wait_entry, link);
		uint32_t flags = e->flags;
		int ret = e->func(e, key);
		if (ret && (flags & UEP_WQ_EXCLUSIVE) && !--nr_exclusive)
			break;
	}
}

void uep_wq_add(struct uepoll_wait_queue *wq, struct uep_wait_entry *e)
{
	uep_wq_lock(wq);
	uep_wq_add_locked(wq, e);
	uep_wq_unlock(wq);
}

void uep_wq_del(struct uepoll_wait_queue *wq, struct uep_wait_entry *e)
{
	uep_wq_lock(wq);
	uep_wq_del_locked(wq, e);
	uep_wq_unlock(wq);
}

/*
 * The lockless check is load-after-store (the caller's new state, then
 * wq->nr): the fence pairs with the one in uepoll_poll_wait() after the
 * hook, and in uep_sock_wait_prepare().  Either the waker sees the new
 * entry, or the poller sees the new state.
 */
static void wake_up(struct uepoll_wait_queue *wq, uint32_t key,
                    int nr_exclusive)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (!uep_wq_active(wq))
		return;
	uep_wq_lock(wq);
	uep_wake_up_locked(wq, key, nr_exclusive);
	uep_wq_unlock(wq);
}

void uep_wake_up(struct uepoll_wait_queue *wq, uint32_t key)
{
	wake_up(wq, key, 1);
}

void uep_wake_up_all(struct uepoll_wait_queue *wq, uint32_t key)
{
	wake_up(wq, key, 0);
}

/* ---- tracing ---- */

_Atomic(uepoll_trace_fn) uep_trace_fn;
void *_Atomic uep_trace_arg;

/* ---- diagnostics ---- */

_Atomic int uep_diag_flags;
UEP_TLS unsigned uep_diag_wake_gen;
