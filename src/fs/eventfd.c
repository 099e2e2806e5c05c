/*
 * eventfd: a 64-bit counter (fs/eventfd.c).  IN while count > 0, OUT while
 * a write of 1 would fit (count < 0xfffffffffffffffe), ERR at the maximum.
 * Every successful write wakes the queue with EPOLLIN and every read with
 * EPOLLOUT, even when the mask did not change: edge-triggered watchers see
 * each one.  The state is guarded by the wait queue's own lock, as in the
 * kernel, so a write is one lock round trip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/file.h"
#include "fs/objects.h"

struct eventfd_ctx {
	struct uepoll_wait_queue wqh; /* its lock also guards count */
	_Atomic uint64_t count;       /* written under wqh's lock */
	bool semaphore;
};

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
	uint64_t count =
	        atomic_load_explicit(&ctx->count, memory_order_relaxed);
	if (count == 0) {
		uep_wq_unlock(&ctx->wqh);
		return -EAGAIN;
	}
	uint64_t v = ctx->semaphore ? 1 : count;
	atomic_store_explicit(&ctx->count, count - v, memory_order_release);
	uep_wake_up_locked(&ctx->wqh, EPOLLOUT, 1);
	uep_wq_unlock(&ctx->wqh);
	memcpy(buf, &v, sizeof(v));
	return sizeof(v);
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
	uep_wq_lock(&ctx->wqh);
	uint64_t count =
	        atomic_load_explicit(&ctx->count, memory_order_relaxed);
	if (UINT64_MAX - count <= v) {
		uep_wq_unlock(&ctx->wqh);
		return -EAGAIN;
	}
	atomic_store_explicit(&ctx->count, count + v, memory_order_release);
	uep_wake_up_locked(&ctx->wqh, EPOLLIN, 1);
	uep_wq_unlock(&ctx->wqh);
	return sizeof(v);
}

static void eventfd_release_ctx(struct eventfd_ctx *ctx)
{
	uep_wq_destroy(&ctx->wqh);
	free(ctx);
}

static void eventfd_release(struct uepoll_file *f)
{
	eventfd_release_ctx(f->private_data);
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
	struct eventfd_ctx *ctx = malloc(sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	uep_wq_init(&ctx->wqh);
	atomic_init(&ctx->count, initval);
	ctx->semaphore = flags & EFD_SEMAPHORE;
	struct uepoll_file *f = uep_file_alloc(&eventfd_fops, ctx,
	                                       O_RDWR | (flags & EFD_NONBLOCK));
	if (!f) {
		eventfd_release_ctx(ctx);
		return -ENOMEM;
	}
	/* On failure the put releases ctx through eventfd_release. */
	return uep_file_install(f, flags & EFD_CLOEXEC ? O_CLOEXEC : 0);
}
