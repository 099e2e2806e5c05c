/*
 * Wait queues (the kernel's wait_queue_head / wait_queue_entry): a locked
 * list of entries, each carrying a callback, an exclusive flag, and
 * receiving the wake-up's key (the events that became true; 0 = any).
 *
 * Non-exclusive entries sit at the head and are always called; exclusive
 * ones sit at the tail and a wake-up stops after nr_exclusive of them said
 * they woke somebody (callback returned non-zero).  Callbacks run with the
 * queue's lock held: they must not sleep or take a lock that is held while
 * calling into a file's poll (see the LOCKING block in eventpoll.c).
 */
#ifndef UEP_WAITQUEUE_H
#define UEP_WAITQUEUE_H

#include <stdint.h>

#include "lib/list.h"
#include "lib/sync.h"

struct uep_wait_entry;
typedef int (*uep_wait_func)(struct uep_wait_entry *entry, uint32_t key);

#define UEP_WQ_EXCLUSIVE 0x1u

struct uep_wait_entry {
	struct uep_list link; /* in the queue, under its lock */
	uep_wait_func func;
	uint32_t flags;      /* UEP_WQ_EXCLUSIVE */
	uint32_t owner_bits; /* free for the entry's owner */
};

struct uepoll_wait_queue {
	struct uep_mutex lock;
	struct uep_list head;
	_Atomic int nr; /* entries; written under lock, read without it */
};

void uep_wq_init(struct uepoll_wait_queue *wq);
void uep_wq_destroy(struct uepoll_wait_queue *wq);

static inline void uep_wq_lock(struct uepoll_wait_queue *wq)
{
	uep_mutex_lock(&wq->lock);
}

static inline void uep_wq_unlock(struct uepoll_wait_queue *wq)
{
	uep_mutex_unlock(&wq->lock);
}

/* A hint that someone is queued; exact under the lock. */
static inline bool uep_wq_active(struct uepoll_wait_queue *wq)
{
	return atomic_load_explicit(&wq->nr, memory_order_acquire) != 0;
}

/* Must be called with wq->lock held. */
void uep_wq_add_locked(struct uepoll_wait_queue *wq, struct uep_wait_entry *e);
void uep_wq_del_locked(struct uepoll_wait_queue *wq, struct uep_wait_entry *e);
/* nr_exclusive 0 wakes every exclusive entry too. */
void uep_wake_up_locked(struct uepoll_wait_queue *wq, uint32_t key,
                        int nr_exclusive);

/* Take the lock and add/remove/wake. */
void uep_wq_add(struct uepoll_wait_queue *wq, struct uep_wait_entry *e);
void uep_wq_del(struct uepoll_wait_queue *wq, struct uep_wait_entry *e);
void uep_wake_up(struct uepoll_wait_queue *wq, uint32_t key);
void uep_wake_up_all(struct uepoll_wait_queue *wq, uint32_t key);

#endif
