/*
 * eventfd: a 64-bit counter (fs/eventfd.c).  IN while count > 0, OUT while
 * a write of 1 would fit (count < 0xfffffffffffffffe), ERR at the maximum.
 * Every successful write wakes the queue with EPOLLIN and every read with
 * EPOLLOUT, even when the mask did not change: edge-triggered watchers see
 * each one.  The state is guarded by the wait queue's own lock, as in the
 * kernel, so a write is one lock round trip.
 *
 * A write is async-signal-safe (write(2) on an eventfd is): when it runs
 * in a handler that interrupted a uepoll critical section of its thread
 * (uep_in_engine), it takes no lock.  It adds to the count with a compare-
 * and-swap (every change of the count is one, so a locked read cannot
 * lose it) and defers the wake-up (lib/sigsafe.h) to the moment the
 * interrupted thread drops its last lock.  The kernel does the same with
 * an irq-safe spinlock, which userspace does not have.
 *
 * Lifetime.  A write pins the file rather than referencing it (api/rw.c,
 * UEP_FMODE_SIGSAFE_WRITE), and the deferred wake-up holds no reference
 * either, so neither a handler nor the flush that runs the wake-up ever
 * runs the final release (it takes ep->mtx and frees memory: the flush
 * runs inside whatever uepoll call, under whatever locks of the program,
 * and a handler may have interrupted anything).  The final release waits
 * for pins (fs/file.c) but not for a queued wake-up, which may wait for
 * the end of another thread's section: the context outlives the file
 * instead.  ctx->life counts the queued wake-ups, plus EFD_DEAD once the
 * file is released; whichever of the two finishes last frees the context,
 * the wake-up by leaving it on a list that the next create or release
 * frees (a wake-up may run in a handler: it must not call free).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/file.h"
#include "fs/objects.h"
#include "lib/sigsafe.h"

#define EFD_DEAD 0x80000000u

struct eventfd_ctx {
	struct uepoll_wait_queue wqh; /* its lock also guards count */
	_Atomic uint64_t count;       /* CAS only (see above) */
	bool semaphore;
	struct uep_deferred wake; /* a handler's write, woken later */
	_Atomic bool wake_needed; /* ... which succeeded */
	_Atomic unsigned life;    /* queued wake-ups, | EFD_DEAD (see above) */
	struct eventfd_ctx *next_dead; /* on dead_ctxs */
};

/* Contexts released while a wake-up was queued, which ran since. */
static struct eventfd_ctx *_Atomic dead_ctxs;

static void eventfd_release_ctx(struct eventfd_ctx *ctx)
{
	uep_wq_destroy(&ctx->wqh);
	free(ctx);
}

/* Free the dead contexts (never from a wake-up: not signal-safe). */
static void efd_reap(void)
{
	if (!atomic_load_explicit(&dead_ctxs, memory_order_relaxed))
		return;
	/* Acquire: pairs with the release in efd_deferred_wake's push. */
	struct eventfd_ctx *c = atomic_exchange_explicit(&dead_ctxs, NULL,
	                                                 memory_order_acquire);
	while (c) {
		struct eventfd_ctx *next = c->next_dead;
		eventfd_release_ctx(c);
		c = next;
	}
}

static uint32_t efd_poll(struct uepoll_file *f, struct uepoll_poll_table *pt)
{
	struct eventfd_ctx *ctx = f->private_data;
	uint32_t events = 0;
	uepoll_poll_wait(f, &ctx->wqh, pt);
	/*
	 * Read without the lock.  On the first pass the hook took the queue
	 * lock that writers store under, so either the writer finds our entry
	 * or we see its count.  On a re-poll after a sleep, the fence in
	 * uep_waiter_reset() pairs with the one in uep_waiter_wake()
	 * (docs/DESIGN.md, Barriers).
	 */
	uint64_t count =
	        atomic_load_explicit(&ctx->count, memory_order_acquire);
	if (count > 0)
		events |= EPOLLIN;
	if (count == UINT64_MAX)
		events |= EPOLLERR;
	if (UINT64_MAX - 1 > count)
		events |= EPOLLOUT;
	return events;
}

static ssize_t efd_read(struct uepoll_file *f, void *buf, size_t n)
{
	struct eventfd_ctx *ctx = f->private_data;
	if (n < sizeof(uint64_t))
		return -EINVAL;
	uep_wq_lock(&ctx->wqh);
	uint64_t count = atomic_load_explicit(&ctx->count,
	                                      memory_order_relaxed),
	         v;
	do {
		if (count == 0) {
			uep_wq_unlock(&ctx->wqh);
			return -EAGAIN;
		}
		v = ctx->semaphore ? 1 : count;
		/* A CAS: a handler's lock-free add may come in between. */
	} while (!atomic_compare_exchange_weak_explicit(
	        &ctx->count, &count, count - v, memory_order_acq_rel,
	        memory_order_relaxed));
	uep_wake_up_locked(&ctx->wqh, EPOLLOUT, 1);
	uep_wq_unlock(&ctx->wqh);
	memcpy(buf, &v, sizeof(v));
	return sizeof(v);
}

/* Add v to the count, or -EAGAIN if it would reach the maximum. */
static int efd_add(struct eventfd_ctx *ctx, uint64_t v)
{
	uint64_t count =
	        atomic_load_explicit(&ctx->count, memory_order_relaxed);
	do {
		if (UINT64_MAX - count <= v)
			return -EAGAIN;
	} while (!atomic_compare_exchange_weak_explicit(
	        &ctx->count, &count, count + v, memory_order_acq_rel,
	        memory_order_relaxed));
	return 0;
}

/* The deferred half of a handler's write: the wake-up. */
static void efd_deferred_wake(struct uep_deferred *d)
{
	struct eventfd_ctx *ctx = uep_container_of(d, struct eventfd_ctx, wake);
	if (atomic_exchange(&ctx->wake_needed, false)) {
		uep_wq_lock(&ctx->wqh);
		uep_wake_up_locked(&ctx->wqh, EPOLLIN, 1);
		uep_wq_unlock(&ctx->wqh);
	}
	/*
	 * Drop this wake-up's count.  acq_rel: the release orders our use of
	 * ctx before the freeing in eventfd_release, the acquire sees its
	 * EFD_DEAD.  The last after the release leaves ctx to efd_reap
	 * (a Treiber push; the only pop takes the whole list, so no ABA).
	 */
	if (atomic_fetch_sub_explicit(&ctx->life, 1, memory_order_acq_rel) !=
	    (EFD_DEAD | 1))
		return;
	struct eventfd_ctx *old =
	        atomic_load_explicit(&dead_ctxs, memory_order_relaxed);
	do
		ctx->next_dead = old;
	while (!atomic_compare_exchange_weak_explicit(&dead_ctxs, &old, ctx,
	                                              memory_order_release,
	                                              memory_order_relaxed));
}

/*
 * A write from a signal handler that interrupted a critical section of
 * this thread, which may hold any uepoll lock: no lock is taken here.
 * The caller pins the file (or holds a reference), so no release can set
 * EFD_DEAD before the wake-up is counted in ctx->life.
 */
static ssize_t efd_write_interrupting(struct eventfd_ctx *ctx, uint64_t v)
{
	int r = efd_add(ctx, v);
	if (!r)
		atomic_store(&ctx->wake_needed, true);
	/*
	 * Counted before it can run (and uncount itself).  Relaxed: the
	 * stack's release push orders it for the runner, and the unpin's
	 * release for the final release.
	 */
	atomic_fetch_add_explicit(&ctx->life, 1, memory_order_relaxed);
	if (!uep_defer(&ctx->wake)) /* queued already, and counted */
		atomic_fetch_sub_explicit(&ctx->life, 1, memory_order_relaxed);
	return r ? r : (ssize_t)sizeof(v);
}

static ssize_t efd_write(struct uepoll_file *f, const void *buf, size_t n)
{
	struct eventfd_ctx *ctx = f->private_data;
	uint64_t v;
	/* Unlike read, write wants exactly 8 bytes (since write_iter). */
	if (n != sizeof(uint64_t))
		return -EINVAL;
	memcpy(&v, buf, sizeof(v));
	if (v == UINT64_MAX)
		return -EINVAL;
	if (UEP_UNLIKELY(uep_in_engine()))
		return efd_write_interrupting(ctx, v);
	uep_wq_lock(&ctx->wqh);
	int r = efd_add(ctx, v);
	if (!r)
		uep_wake_up_locked(&ctx->wqh, EPOLLIN, 1);
	uep_wq_unlock(&ctx->wqh);
	return r ? r : (ssize_t)sizeof(v);
}

static void eventfd_release(struct uepoll_file *f)
{
	struct eventfd_ctx *ctx = f->private_data;
	/* No pins are left, so no new wake-up: only queued ones free it. */
	if (atomic_fetch_or_explicit(&ctx->life, EFD_DEAD,
	                             memory_order_acq_rel) == 0)
		eventfd_release_ctx(ctx);
	efd_reap();
}

static const struct uepoll_file_operations eventfd_fops = {
        .poll = efd_poll,
        .read = efd_read,
        .write = efd_write,
        .release = eventfd_release,
};

int uep_eventfd_create(unsigned int initval, int flags)
{
	if (flags & ~(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE))
		return -EINVAL;
	efd_reap();
	struct eventfd_ctx *ctx = malloc(sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	uep_wq_init(&ctx->wqh);
	atomic_init(&ctx->count, initval);
	ctx->semaphore = flags & EFD_SEMAPHORE;
	ctx->wake = (struct uep_deferred){.fn = efd_deferred_wake};
	atomic_init(&ctx->wake_needed, false);
	atomic_init(&ctx->life, 0);
	struct uepoll_file *f = uep_file_alloc(&eventfd_fops, ctx,
	                                       O_RDWR | (flags & EFD_NONBLOCK));
	if (!f) {
		eventfd_release_ctx(ctx);
		return -ENOMEM;
	}
	f->f_mode |= UEP_FMODE_SIGSAFE_WRITE;
	/* On failure the put releases ctx through eventfd_release. */
	return uep_file_install(f, flags & EFD_CLOEXEC ? O_CLOEXEC : 0);
}
