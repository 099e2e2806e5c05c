/* Deferred work and owner-aware mutexes for signal handlers: see sigsafe.h. */
#include "lib/sigsafe.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- deferred work ---- */

static struct uep_deferred *_Atomic deferred_head;

bool uep_defer(struct uep_deferred *d)
{
	if (atomic_exchange_explicit(&d->queued, true, memory_order_acq_rel))
		return false;
	/* A Treiber push; the only pop takes the whole stack (no ABA). */
	struct uep_deferred *old =
	        atomic_load_explicit(&deferred_head, memory_order_relaxed);
	do
		d->next = old;
	while (!atomic_compare_exchange_weak_explicit(&deferred_head, &old, d,
	                                              memory_order_release,
	                                              memory_order_relaxed));
	uep_defer_pending = 1;
	return true;
}

void uep_defer_run(void)
{
	struct uep_deferred *d = atomic_exchange_explicit(&deferred_head, NULL,
	                                                  memory_order_acquire);
	while (d) {
		struct uep_deferred *next = d->next;
		/* Before fn: fn may free d, and a new uep_defer may re-queue.
		 */
		atomic_store_explicit(&d->queued, false, memory_order_release);
		d->fn(d);
		d = next;
	}
}

/* ---- the owner-aware mutex ---- */

static _Atomic uint32_t next_id = 1;
UEP_TLS uint32_t uep_owner_id; /* kept by the forking thread in a child */

static uint32_t my_id(void)
{
	while (UEP_UNLIKELY(!uep_owner_id))
		uep_owner_id =
		        atomic_fetch_add(&next_id, 1) & ~UEP_OWNED_WAITERS;
	return uep_owner_id;
}

static void futex_op(_Atomic uint32_t *w, int op, uint32_t val)
{
	syscall(SYS_futex, (uint32_t *)w, op, val, NULL, NULL, 0);
}

/* Contended (or the thread's first lock); the depth is counted already. */
void uep_owned_lock_slow(struct uep_owned_mutex *m)
{
	uint32_t id = my_id(), mine = id, c = 0;
	while (!atomic_compare_exchange_weak_explicit(&m->word, &c, mine,
	                                              memory_order_acquire,
	                                              memory_order_relaxed)) {
		if (c == 0)
			continue;
		/* Held: announce a waiter, sleep, then take it as a waiter. */
		if (!(c & UEP_OWNED_WAITERS) &&
		    !atomic_compare_exchange_weak_explicit(
		            &m->word, &c, c | UEP_OWNED_WAITERS,
		            memory_order_relaxed, memory_order_relaxed))
			continue;
		futex_op(&m->word, FUTEX_WAIT_PRIVATE, c | UEP_OWNED_WAITERS);
		mine = id | UEP_OWNED_WAITERS; /* others may still sleep */
		c = 0;
	}
}

void uep_owned_unlock_slow(struct uep_owned_mutex *m)
{
	futex_op(&m->word, FUTEX_WAKE_PRIVATE, 1);
}
