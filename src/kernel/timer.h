/*
 * The timer service: the analog of the kernel's hrtimer base and its
 * interrupt.  Armed timers sit in a red-black tree ordered by deadline
 * (with the leftmost node cached, like the kernel's timerqueue); one
 * service thread sleeps until the earliest deadline and runs the expired
 * timers' functions.
 *
 * Costs: arming or cancelling is O(log n) and never allocates; an armed
 * timer that has not expired costs nothing; the service thread wakes only
 * for the earliest deadline (or when a new timer becomes the earliest).
 *
 * Deadlines are nanoseconds on CLOCK_MONOTONIC (uep_timer_now()).
 *
 * The function of a timer runs in the service thread with no lock of the
 * service held, so it may take the owner's locks and wake wait queues; it
 * must not sleep for long (every other timer waits for it).  It receives
 * the arming sequence number current when the timer was taken off the
 * tree: an owner that serialises arming and the function under one lock
 * of its own compares it with uep_timer_seq() to drop a firing that a
 * later start or cancel made stale (the hrtimer_try_to_cancel() race),
 * without ever waiting for the service.
 */
#ifndef UEP_TIMER_H
#define UEP_TIMER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/rbtree.h"

struct uep_timer;
typedef void (*uep_timer_fn)(struct uep_timer *t, uint64_t seq);

struct uep_timer {
	struct uep_rb_node node; /* in the service's tree, under its lock */
	int64_t expires;         /* CLOCK_MONOTONIC ns; under the lock */
	uint64_t order;          /* tie-break: arming order; under the lock */
	_Atomic uint64_t seq;    /* +1 on every start and cancel */
	bool queued;             /* in the tree; under the lock */
	uep_timer_fn fn;
};

#define UEP_TIME_MAX INT64_MAX

void uep_timer_init(struct uep_timer *t, uep_timer_fn fn);

/*
 * Arm t to expire at expires (re-arming if it was armed).  Returns 0, or
 * -EAGAIN when the service thread could not be started (the timer is
 * then not armed).
 */
int uep_timer_start(struct uep_timer *t, int64_t expires);

/* Disarm t.  A function already running for it is not waited for. */
void uep_timer_cancel(struct uep_timer *t);

/*
 * Disarm t and wait until no function for it is running: afterwards t may
 * be freed.  Must not be called from t's own function, nor with a lock
 * held that the function takes.
 */
void uep_timer_cancel_sync(struct uep_timer *t);

static inline uint64_t uep_timer_seq(const struct uep_timer *t)
{
	return atomic_load_explicit(&t->seq, memory_order_relaxed);
}

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t uep_timer_now(void);

/*
 * Clock changes: from the first call on, fn runs (in a thread of its own,
 * with no lock held) after every change of CLOCK_REALTIME against
 * CLOCK_MONOTONIC: clock_settime, settimeofday, a resume from suspend.
 * One kernel timerfd armed with TFD_TIMER_CANCEL_ON_SET tells of them.
 * Returns 0, or -errno when it could not be set up (fn never runs).
 */
int uep_timer_watch_clock(void (*fn)(void));

/* For tests and statistics: armed timers now, and whether the thread exists. */
long uep_timer_armed(void);

/* fork (called by fs/fork.c's handlers, inside the library's locks):
 * hold the service across it; the child gets a service of its own. */
void uep_timer_fork_prepare(void);
void uep_timer_fork_parent(void);
void uep_timer_fork_child(void);
bool uep_timer_thread_started(void);

#endif
