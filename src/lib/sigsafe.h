/*
 * What a signal handler may use while its thread is inside a uepoll
 * critical section (uep_in_engine(), sync.h): lock-free deferred work, and
 * a mutex that knows its owner, so that a handler can tell "the code I
 * interrupted holds this lock" from "another thread holds it".
 *
 * Deferred work: uep_defer() pushes an item on a process-wide lock-free
 * stack and marks the calling thread; when that thread drops its last
 * uepoll lock (uep_wake_flush), it runs every queued item, with no lock
 * held by the code the handler interrupted.  An item is queued at most
 * once at a time; whoever queues it keeps what it needs alive until its
 * function ran.
 */
#ifndef UEP_SIGSAFE_H
#define UEP_SIGSAFE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/sync.h"

struct uep_deferred {
	struct uep_deferred *next; /* on the stack, owned by the stack */
	_Atomic bool queued;
	void (*fn)(struct uep_deferred *d); /* runs with no lock held */
};

/* Queue d (async-signal-safe).  False if it was queued already. */
bool uep_defer(struct uep_deferred *d);
/* Run every queued item (uep_wake_flush calls it). */
void uep_defer_run(void);

/*
 * A futex mutex whose word holds the owner's per-thread id (plus a
 * waiters bit), set by the same instruction that takes it: a handler can
 * ask whether its own thread holds it.  For short sections taken alone
 * (the descriptor table's stripes).
 */
struct uep_owned_mutex {
	_Atomic uint32_t word;
};
#define UEP_OWNED_WAITERS 0x80000000u
extern UEP_TLS uint32_t uep_owner_id; /* 0 until the thread's first lock */
void uep_owned_lock_slow(struct uep_owned_mutex *m);
void uep_owned_unlock_slow(struct uep_owned_mutex *m);

/* Like uep_mutex_lock/unlock, and the depth counts it the same way. */
static inline void uep_owned_lock(struct uep_owned_mutex *m)
{
	uint32_t c = 0, id = uep_owner_id;
	uep_lock_depth++;
	atomic_signal_fence(memory_order_seq_cst);
	if (UEP_UNLIKELY(!id || !atomic_compare_exchange_strong_explicit(
	                                &m->word, &c, id, memory_order_acquire,
	                                memory_order_relaxed)))
		uep_owned_lock_slow(m);
}

/*
 * Take m if it is free at once: the fast path of uep_owned_lock.  False
 * leaves m alone and the depth as it was (flushing as an unlock would),
 * for the caller to tell "mine" (uep_owned_by_me) from "another's".
 */
static inline bool uep_owned_trylock(struct uep_owned_mutex *m)
{
	uint32_t c = 0, id = uep_owner_id;
	uep_lock_depth++;
	atomic_signal_fence(memory_order_seq_cst);
	if (UEP_LIKELY(id && atomic_compare_exchange_strong_explicit(
	                             &m->word, &c, id, memory_order_acquire,
	                             memory_order_relaxed)))
		return true;
	atomic_signal_fence(memory_order_seq_cst);
	if (--uep_lock_depth == 0 &&
	    UEP_UNLIKELY(uep_wakes_pending | uep_defer_pending))
		uep_wake_flush();
	return false;
}

static inline void uep_owned_unlock(struct uep_owned_mutex *m)
{
	if (UEP_UNLIKELY(atomic_exchange_explicit(&m->word, 0,
	                                          memory_order_release) &
	                 UEP_OWNED_WAITERS))
		uep_owned_unlock_slow(m);
	atomic_signal_fence(memory_order_seq_cst);
	if (--uep_lock_depth == 0 &&
	    UEP_UNLIKELY(uep_wakes_pending | uep_defer_pending))
		uep_wake_flush();
}

/* Does the calling thread hold m?  Exact, even in a signal handler. */
static inline bool uep_owned_by_me(struct uep_owned_mutex *m)
{
	uint32_t w = atomic_load_explicit(&m->word, memory_order_relaxed);
	return uep_owner_id && (w & ~UEP_OWNED_WAITERS) == uep_owner_id;
}

#endif
