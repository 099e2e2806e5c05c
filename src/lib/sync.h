/*
 * Synchronisation primitives: a mutex wrapper, absolute deadlines on
 * CLOCK_MONOTONIC, and the waiter: the one place a thread sleeps.
 *
 * A waiter is a state word that a waker flips to WOKEN.  The sleeper
 * announces itself (SLEEPING) before it sleeps, so a wake that comes first
 * costs no system call and a wake that comes later is never lost: the
 * futex compares the word, and the ppoll path reads a per-thread eventfd
 * that the waker writes (docs/DESIGN.md, hard part 1).  Sleeps are
 * interruptible: a signal handler that runs makes them return -EINTR, as
 * epoll_wait does even under SA_RESTART (hard part 6).
 */
#ifndef UEP_SYNC_H
#define UEP_SYNC_H

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lib/compiler.h"

/*
 * The mutex of every uepoll structure.  In release builds a futex lock of
 * one word (0 free, 1 held, 2 held with sleepers; Drepper's "Futexes are
 * tricky", mutex 3) with a short spin: uncontended, a lock and unlock pair
 * is two atomic instructions and no call.  Under ThreadSanitizer it is a
 * pthread mutex, so that TSan checks the lock order written in eventpoll.c.
 */
#if defined(__SANITIZE_THREAD__) || defined(UEP_PTHREAD_LOCKS)
#define UEP_MUTEX_PTHREAD 1
struct uep_mutex {
	pthread_mutex_t m;
};
#define UEP_MUTEX_INITIALIZER                                                  \
	{                                                                      \
		PTHREAD_MUTEX_INITIALIZER                                      \
	}
#else
struct uep_mutex {
	_Atomic uint32_t state;
};
#define UEP_MUTEX_INITIALIZER                                                  \
	{                                                                      \
		0                                                              \
	}
#endif

/*
 * Deferred wake-ups (the kernel's wake_q): a futex wake decided under a
 * lock is issued when the thread's last uepoll lock is dropped, so the
 * woken thread does not run straight into the locks its waker still holds.
 *
 * uep_lock_depth counts the uepoll locks this thread holds or is taking:
 * it goes up before a lock is taken and down after it is released, so a
 * signal handler that finds it non-zero knows it may have interrupted a
 * lock holder, and must take no uepoll lock (lib/defer.h).
 * uep_defer_pending: such a handler queued work for the next flush.
 */
#define UEP_TLS __thread __attribute__((tls_model("initial-exec")))
extern UEP_TLS unsigned uep_lock_depth;
extern UEP_TLS unsigned uep_wakes_pending;
extern UEP_TLS unsigned uep_defer_pending;
void uep_wake_flush(void);

/* Inside a uepoll critical section of this thread (a handler's test). */
static inline bool uep_in_engine(void)
{
	return uep_lock_depth != 0;
}

void uep_mutex_init(struct uep_mutex *m);
void uep_mutex_destroy(struct uep_mutex *m);
void uep_mutex_lock_slow(struct uep_mutex *m);
void uep_mutex_unlock_slow(struct uep_mutex *m);

static inline void uep_mutex_lock(struct uep_mutex *m)
{
	uep_lock_depth++;
	/* A handler must see the depth before the lock can be held. */
	atomic_signal_fence(memory_order_seq_cst);
#ifdef UEP_MUTEX_PTHREAD
	pthread_mutex_lock(&m->m);
#else
	uint32_t c = 0;
	if (UEP_UNLIKELY(!atomic_compare_exchange_strong_explicit(
	            &m->state, &c, 1, memory_order_acquire,
	            memory_order_relaxed)))
		uep_mutex_lock_slow(m);
#endif
}

static inline void uep_mutex_unlock(struct uep_mutex *m)
{
#ifdef UEP_MUTEX_PTHREAD
	pthread_mutex_unlock(&m->m);
#else
	if (UEP_UNLIKELY(atomic_exchange_explicit(&m->state, 0,
	                                          memory_order_release) == 2))
		uep_mutex_unlock_slow(m);
#endif
	/* ... and until the lock is free again. */
	atomic_signal_fence(memory_order_seq_cst);
	if (--uep_lock_depth == 0 &&
	    UEP_UNLIKELY(uep_wakes_pending | uep_defer_pending))
		uep_wake_flush();
}

/* ---- deadlines ---- */
enum uep_deadline_kind {
	UEP_DL_NOWAIT,  /* timeout 0: never sleep */
	UEP_DL_FOREVER, /* negative timeout or NULL timespec */
	UEP_DL_AT,      /* sleep until abs (CLOCK_MONOTONIC) */
	UEP_DL_IN,      /* abs is relative, not started: uep_deadline_start */
};

struct uep_deadline {
	enum uep_deadline_kind kind;
	struct timespec abs;
};

void uep_deadline_ms(struct uep_deadline *dl, int timeout_ms);
void uep_deadline_ts(struct uep_deadline *dl, const struct timespec *rel);

/*
 * Lazy deadlines (epoll_wait's): a relative timeout stays UEP_DL_IN, with
 * no clock read, until uep_deadline_start makes it UEP_DL_AT when the
 * caller is about to sleep for the first time.  A wait that finds events
 * at once reads no clock; one that sleeps counts its timeout from that
 * first sleep, after one harvest that found nothing.  The sleeps and
 * uep_waiter_spin take started deadlines only (NOWAIT, FOREVER, AT).
 */
static inline void uep_deadline_ms_lazy(struct uep_deadline *dl, int timeout_ms)
{
	if (timeout_ms <= 0) {
		dl->kind = timeout_ms ? UEP_DL_FOREVER : UEP_DL_NOWAIT;
		return;
	}
	dl->kind = UEP_DL_IN;
	dl->abs.tv_sec = timeout_ms / 1000;
	dl->abs.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
}
void uep_deadline_ts_lazy(struct uep_deadline *dl, const struct timespec *rel);
void uep_deadline_start(struct uep_deadline *dl);
/*
 * The time left as a relative timespec in *rel (zero once passed, and for
 * NOWAIT), or NULL for FOREVER: what ppoll and epoll_pwait2 take.
 */
struct timespec *uep_deadline_remaining(const struct uep_deadline *dl,
                                        struct timespec *rel);

/* ---- the waiter ---- */
enum { UEP_WAITER_IDLE = 0, UEP_WAITER_SLEEPING = 1, UEP_WAITER_WOKEN = 2 };

struct uep_waiter {
	_Atomic uint32_t state;
	int efd; /* the sleeper's eventfd when it sleeps in ppoll, else -1 */
	unsigned gen; /* uep_fork_gen when it began waiting */
};

/*
 * Bumped in a fork's child: a waiter from before is a thread that does
 * not exist in the child, left on a queue of an object's copy.
 */
extern _Atomic unsigned uep_fork_gen;
/* The child's side of fork for this layer (fs/fork.c calls it). */
void uep_sync_fork_child(void);

/*
 * Prepare w for a sleep.  With a signal mask the sleep happens in ppoll()
 * on the calling thread's eventfd, which installs the mask atomically with
 * the sleep; without one it happens on a futex.
 */
void uep_waiter_init(struct uep_waiter *w, const sigset_t *sigmask);

/*
 * Wake w; called with the lock held that guards the structure holding w.
 * False for a waiter of a thread the fork left behind (nothing is done):
 * an exclusive wake-up must then go on to the next waiter.
 */
bool uep_waiter_wake(struct uep_waiter *w);

/* Has w been woken (a busy-polling waiter's check, no lock held)? */
static inline bool uep_waiter_woken(struct uep_waiter *w)
{
	return atomic_load_explicit(&w->state, memory_order_acquire) ==
	       UEP_WAITER_WOKEN;
}

/*
 * Forget a wake-up before checking the condition again (the kernel's
 * smp_store_mb in poll_schedule_timeout).  The condition is then read
 * without the lock the waker holds (eventfd's count, a socket's wmem), so
 * this is store-then-load against the waker's store-then-exchange: the
 * full fence here pairs with the one in uep_waiter_wake().  Either the
 * re-check sees the waker's new state, or the waker's exchange sees IDLE
 * and our next sleep finds WOKEN.  Without it the IDLE store could wait
 * in the store buffer, the re-check read the old state, and the late IDLE
 * overwrite the waker's WOKEN: a sleep with the event posted.
 */
static inline void uep_waiter_reset(struct uep_waiter *w)
{
	atomic_store_explicit(&w->state, UEP_WAITER_IDLE, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
}

/*
 * Sleep until woken, the deadline passes or a signal handler runs.
 * restart: let the kernel restart the sleep after an SA_RESTART handler
 * (blocking read/write semantics) instead of returning -EINTR.
 * Returns 0 (woken, or spuriously: re-check), -ETIMEDOUT or -EINTR.
 */
int uep_waiter_sleep(struct uep_waiter *w, const struct uep_deadline *dl,
                     const sigset_t *sigmask, bool restart);

/*
 * Busy polling: spin up to ns nanoseconds (and not past dl) for a wake-up,
 * with a pause instruction per look, leaving w IDLE so that a waker makes
 * no system call (see fs/ep_busy.c for the pairing, and for when a waiter
 * may spin at all).  True when woken.
 */
bool uep_waiter_spin(struct uep_waiter *w, uint64_t ns,
                     const struct uep_deadline *dl);

/*
 * Prepare w for a sleep in uep_waiter_sleep_fds: the thread's eventfd is
 * taken now (before w is visible to wakers, who read w->efd), whether or
 * not there is a signal mask.
 */
void uep_waiter_init_fds(struct uep_waiter *w, const sigset_t *sigmask);

/*
 * Sleep like uep_waiter_sleep, and also until one of the kernel fds in
 * fds[1..n-1] is ready (their revents are filled in); fds[0] is uepoll's,
 * for the thread's eventfd.  w was prepared by uep_waiter_init_fds.
 * One ppoll: in-process wake-ups write the eventfd (uep_waiter_wake),
 * kernel readiness wakes the poll, and the kernel installs the signal mask
 * atomically with the sleep.  Returns 0 (woken or ready: re-check),
 * -ETIMEDOUT or -EINTR.
 */
int uep_waiter_sleep_fds(struct uep_waiter *w, const struct uep_deadline *dl,
                         const sigset_t *sigmask, struct pollfd *fds,
                         unsigned n);

/*
 * A sleep the caller makes itself (epoll_pwait2 on an instance's kernel
 * half, where w->efd, the instance's wake eventfd, is registered): begin
 * announces it (false: already woken, do not sleep), end closes it.  A
 * waker that finds the waiter announced writes w->efd.
 */
bool uep_waiter_begin(struct uep_waiter *w);
void uep_waiter_end(struct uep_waiter *w);

/*
 * Move a kernel fd uepoll owns out of the program's way: a close-on-exec
 * duplicate at a high number (F_DUPFD_CLOEXEC from a base below
 * RLIMIT_NOFILE), the original closed.  When no high number is free the
 * fd stays where it is, close-on-exec.  Returns the fd to use.
 */
int uep_fd_high(int fd);

#endif
