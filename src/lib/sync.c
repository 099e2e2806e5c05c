/* Mutexes, deadlines and the waiter: see sync.h. */
#include "lib/sync.h"
#include "lib/sigsafe.h"

#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val,
                  const struct timespec *ts, uint32_t val3);

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

#ifdef UEP_MUTEX_PTHREAD
void uep_mutex_init(struct uep_mutex *m)
{
	pthread_mutex_init(&m->m, NULL);
}

void uep_mutex_destroy(struct uep_mutex *m)
{
	pthread_mutex_destroy(&m->m);
}

void uep_mutex_lock_slow(struct uep_mutex *m)
{
	pthread_mutex_lock(&m->m);
}

void uep_mutex_unlock_slow(struct uep_mutex *m)
{
	pthread_mutex_unlock(&m->m);
}
#else
void uep_mutex_init(struct uep_mutex *m)
{
	atomic_init(&m->state, 0);
}

void uep_mutex_destroy(struct uep_mutex *m)
{
	assert(atomic_load(&m->state) == 0);
	(void)m;
}

/*
 * Spins before a contended lock sleeps.  uepoll's critical sections are a
 * few hundred instructions (a ctl, a callback, a list splice), so a holder
 * on another CPU usually lets go within 100 pauses (some microseconds);
 * a futex sleep and wake costs more than that (40-50 us across the vCPUs
 * of a small VM).  Longer spins only burn the CPU a preempted holder needs.
 */
#define SPIN_TRIES 100

void uep_mutex_lock_slow(struct uep_mutex *m)
{
	/* Critical sections are short: spin a little before sleeping. */
	for (int i = 0; i < SPIN_TRIES; i++) {
		uint32_t c =
		        atomic_load_explicit(&m->state, memory_order_relaxed);
		if (c == 0 && atomic_compare_exchange_weak_explicit(
		                      &m->state, &c, 1, memory_order_acquire,
		                      memory_order_relaxed))
			return;
		cpu_relax();
	}
	/* Announce a sleeper (2); whoever unlocks then wakes one. */
	while (atomic_exchange_explicit(&m->state, 2, memory_order_acquire) !=
	       0)
		futex(&m->state, FUTEX_WAIT_PRIVATE, 2, NULL, 0);
}

void uep_mutex_unlock_slow(struct uep_mutex *m)
{
	futex(&m->state, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
}
#endif

static void ts_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static void ts_add(struct timespec *ts, time_t sec, long nsec)
{
	ts->tv_sec += sec;
	ts->tv_nsec += nsec;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void uep_deadline_ms(struct uep_deadline *dl, int timeout_ms)
{
	if (timeout_ms == 0) {
		dl->kind = UEP_DL_NOWAIT;
		return;
	}
	if (timeout_ms < 0) {
		dl->kind = UEP_DL_FOREVER;
		return;
	}
	dl->kind = UEP_DL_AT;
	ts_now(&dl->abs);
	ts_add(&dl->abs, timeout_ms / 1000,
	       (long)(timeout_ms % 1000) * 1000000L);
}

/*
 * Relative timeouts longer than this (2^40 s, about 35,000 years) are
 * "forever": far beyond any real wait, and small enough that now + rel
 * cannot overflow a 64-bit time_t.
 */
#define DEADLINE_FOREVER_SEC ((time_t)1 << 40)

void uep_deadline_ts(struct uep_deadline *dl, const struct timespec *rel)
{
	if (!rel) {
		dl->kind = UEP_DL_FOREVER;
		return;
	}
	if (rel->tv_sec == 0 && rel->tv_nsec == 0) {
		dl->kind = UEP_DL_NOWAIT;
		return;
	}
	dl->kind = UEP_DL_AT;
	ts_now(&dl->abs);
	/* Saturate: a timeout of centuries is "forever" for every purpose. */
	if (rel->tv_sec > DEADLINE_FOREVER_SEC) {
		dl->kind = UEP_DL_FOREVER;
		return;
	}
	ts_add(&dl->abs, rel->tv_sec, rel->tv_nsec);
}

struct timespec *uep_deadline_remaining(const struct uep_deadline *dl,
                                        struct timespec *rel)
{
	struct timespec now;
	if (dl->kind == UEP_DL_FOREVER)
		return NULL;
	rel->tv_sec = rel->tv_nsec = 0;
	if (dl->kind == UEP_DL_NOWAIT)
		return rel;
	ts_now(&now);
	rel->tv_sec = dl->abs.tv_sec - now.tv_sec;
	rel->tv_nsec = dl->abs.tv_nsec - now.tv_nsec;
	if (rel->tv_nsec < 0) {
		rel->tv_sec--;
		rel->tv_nsec += 1000000000L;
	}
	if (rel->tv_sec < 0)
		rel->tv_sec = rel->tv_nsec = 0;
	return rel;
}

/* ---- the per-thread eventfd for sleeps that install a signal mask ---- */
static pthread_key_t efd_key;
static pthread_once_t efd_once = PTHREAD_ONCE_INIT;
static __thread int tls_efd = -1;

static void efd_destructor(void *p)
{
	int fd = (int)(intptr_t)p - 1;
	if (fd >= 0)
		close(fd);
}

static void efd_key_init(void)
{
	pthread_key_create(&efd_key, efd_destructor);
}

static int thread_efd(void)
{
	if (tls_efd < 0) {
		pthread_once(&efd_once, efd_key_init);
		tls_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (tls_efd >= 0)
			pthread_setspecific(efd_key,
			                    (void *)(intptr_t)(tls_efd + 1));
	}
	return tls_efd;
}

static const struct uep_sleep_source *_Atomic sleep_source;

void uep_sleep_source_set(const struct uep_sleep_source *src)
{
	atomic_store_explicit(&sleep_source, src, memory_order_release);
}

void uep_sleep_source_poll(void)
{
	const struct uep_sleep_source *src =
	        atomic_load_explicit(&sleep_source, memory_order_acquire);
	if (src)
		src->dispatch();
}

void uep_waiter_init(struct uep_waiter *w, const sigset_t *sigmask)
{
	atomic_store_explicit(&w->state, UEP_WAITER_IDLE, memory_order_relaxed);
	w->gen = atomic_load_explicit(&uep_fork_gen, memory_order_relaxed);
	/* Without an eventfd (EMFILE) the mask is set around a futex sleep. */
	bool ext = atomic_load_explicit(&sleep_source, memory_order_acquire);
	w->efd = (sigmask || ext) ? thread_efd() : -1;
}

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val,
                  const struct timespec *ts, uint32_t val3)
{
	return syscall(SYS_futex, (uint32_t *)uaddr, op, val, ts, NULL, val3);
}

/*
 * Futex wakes a thread may defer until it drops its last lock.  One
 * wake-up decides a few: one waiter per instance it reaches, and a nested
 * chain is at most 5 instances deep (EP_MAX_NESTS + 1).  A wake past the
 * 16th is issued at once, which is correct, only slower for the woken
 * thread; 16 keeps the per-thread array at 128 bytes.
 */
#define MAX_PENDING_WAKES 16

_Atomic unsigned uep_fork_gen;

/*
 * In the child the forking thread's sleep eventfd is the parent thread's
 * too (a kernel fd): the child gets its own on its next sleep; wakes it
 * had deferred were for the parent's threads.
 */
void uep_sync_fork_child(void)
{
	atomic_fetch_add(&uep_fork_gen, 1);
	if (tls_efd >= 0) {
		close(tls_efd);
		tls_efd = -1;
		pthread_setspecific(efd_key, NULL);
	}
	uep_wakes_pending = 0;
}

UEP_TLS unsigned uep_lock_depth;
UEP_TLS unsigned uep_wakes_pending;
UEP_TLS unsigned uep_defer_pending;
static UEP_TLS _Atomic uint32_t *pending_wakes[MAX_PENDING_WAKES];

/*
 * Runs at depth 1, so that a signal handler landing here defers its work
 * (sigsafe.h) instead of using these arrays under our feet, and loops
 * until a pass at depth 0 finds nothing left: work a handler queued at
 * any point is run before the thread leaves uepoll.
 */
void uep_wake_flush(void)
{
	do {
		uep_lock_depth = 1;
		atomic_signal_fence(memory_order_seq_cst);
		while (uep_wakes_pending | uep_defer_pending) {
			if (uep_defer_pending) {
				uep_defer_pending = 0;
				uep_defer_run(); /* may record more wakes */
			}
			unsigned n = uep_wakes_pending;
			uep_wakes_pending = 0;
			/*
			 * The sleeper may have left already (a timeout saw
			 * WOKEN) and its stack be in other use: a futex wake
			 * there is at worst spurious, which every futex user
			 * tolerates; no memory is touched.
			 */
			for (unsigned i = 0; i < n; i++)
				futex(pending_wakes[i], FUTEX_WAKE_PRIVATE, 1,
				      NULL, 0);
		}
		atomic_signal_fence(memory_order_seq_cst);
		uep_lock_depth = 0;
		atomic_signal_fence(memory_order_seq_cst);
	} while (uep_wakes_pending | uep_defer_pending);
}

bool uep_waiter_wake(struct uep_waiter *w)
{
	if (UEP_UNLIKELY(w->gen != atomic_load_explicit(&uep_fork_gen,
	                                                memory_order_relaxed)))
		return false;
	int efd = w->efd; /* read before the sleeper may go */
	/*
	 * The waker stored its new state (a count, a list) before calling
	 * here; the fence orders that store before the exchange below.  It
	 * pairs with the fence in uep_waiter_reset(), whose caller then
	 * re-reads that state without a lock.  (An xchg is a full barrier
	 * on x86 already; the fence makes the pairing hold in the C model.)
	 */
	atomic_thread_fence(memory_order_seq_cst);
	uint32_t old = atomic_exchange_explicit(&w->state, UEP_WAITER_WOKEN,
	                                        memory_order_acq_rel);
	if (old != UEP_WAITER_SLEEPING)
		return true; /* not asleep yet: it will see WOKEN */
	if (efd >= 0) {
		/* Now: the eventfd belongs to a thread that may exit. */
		uint64_t one = 1;
		ssize_t r = write(efd, &one, sizeof(one));
		(void)r; /* EAGAIN: the counter is already non-zero */
	} else if (uep_lock_depth > 0 &&
	           uep_wakes_pending < MAX_PENDING_WAKES) {
		pending_wakes[uep_wakes_pending++] = &w->state;
	} else {
		futex(&w->state, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
	}
	return true;
}

/* ---- busy polling ---- */

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

/* CPUs this thread may run on, asked again every 256 spins. */
static UEP_TLS int spin_cpus;
static UEP_TLS unsigned spin_count;

static bool spin_allowed(void)
{
	if ((spin_count++ & 255) == 0) {
		cpu_set_t set;
		spin_cpus = sched_getaffinity(0, sizeof(set), &set) == 0
		                    ? CPU_COUNT(&set)
		                    : 1;
	}
	return spin_cpus > 1;
}

bool uep_waiter_spin(struct uep_waiter *w, uint64_t ns,
                     const struct uep_deadline *dl)
{
	if (atomic_load_explicit(&sleep_source, memory_order_relaxed) ||
	    !spin_allowed())
		return false;
	struct timespec now;
	ts_now(&now);
	uint64_t end = ts_ns(&now) + ns;
	if (dl->kind == UEP_DL_AT && ts_ns(&dl->abs) < end)
		end = ts_ns(&dl->abs);
	for (;;) {
		/* A clock read per 32 pauses: ~1 us on x86 at most. */
		for (int i = 0; i < 32; i++) {
			if (uep_waiter_woken(w))
				return true;
			cpu_relax();
		}
		ts_now(&now);
		if (ts_ns(&now) >= end)
			return uep_waiter_woken(w);
	}
}

static int sleep_ppoll(struct uep_waiter *w, const struct uep_deadline *dl,
                       const sigset_t *sigmask)
{
	struct timespec rel, *prel = uep_deadline_remaining(dl, &rel);
	if (prel && prel->tv_sec == 0 && prel->tv_nsec == 0)
		return -ETIMEDOUT;
	struct pollfd p[3] = {{.fd = w->efd, .events = POLLIN}};
	nfds_t n = 1;
	const struct uep_sleep_source *src =
	        atomic_load_explicit(&sleep_source, memory_order_acquire);
	if (src) {
		int fds[2];
		int k = src->fds(fds);
		for (int i = 0; i < k; i++)
			p[n++] =
			        (struct pollfd){.fd = fds[i], .events = POLLIN};
	}
	int r = ppoll(p, n, prel, sigmask);
	if (r < 0)
		return errno == EINTR ? -EINTR : 0;
	if (r == 0)
		return -ETIMEDOUT;
	if (p[0].revents) {
		uint64_t v;
		ssize_t got = read(w->efd, &v, sizeof(v));
		(void)got;
	}
	for (nfds_t i = 1; i < n; i++) {
		if (p[i].revents) {
			src->dispatch();
			break;
		}
	}
	return 0;
}

static int sleep_futex(struct uep_waiter *w, const struct uep_deadline *dl,
                       bool restart)
{
	struct timespec far, *ts = NULL;
	if (dl->kind == UEP_DL_AT) {
		ts = (struct timespec *)&dl->abs;
	} else if (!restart) {
		/*
		 * A futex wait without a timeout is restarted by the kernel
		 * after an SA_RESTART handler; one with a timeout returns
		 * EINTR.  epoll_wait never restarts, so "forever" is a
		 * deadline a century away.
		 */
		ts_now(&far);
		far.tv_sec += 100L * 365 * 24 * 3600;
		ts = &far;
	}
	long r = futex(&w->state, FUTEX_WAIT_BITSET_PRIVATE,
	               UEP_WAITER_SLEEPING, ts, FUTEX_BITSET_MATCH_ANY);
	if (r == 0)
		return 0;
	if (errno == ETIMEDOUT)
		return -ETIMEDOUT;
	if (errno == EINTR)
		return -EINTR;
	return 0; /* EAGAIN: the word changed before we slept */
}

int uep_waiter_sleep(struct uep_waiter *w, const struct uep_deadline *dl,
                     const sigset_t *sigmask, bool restart)
{
	if (dl->kind == UEP_DL_NOWAIT)
		return -ETIMEDOUT;
	uint32_t expect = UEP_WAITER_IDLE;
	if (!atomic_compare_exchange_strong_explicit(
	            &w->state, &expect, UEP_WAITER_SLEEPING,
	            memory_order_acq_rel, memory_order_acquire))
		return 0; /* already woken */
	int r;
	if (w->efd >= 0) {
		r = sleep_ppoll(w, dl, sigmask);
	} else if (sigmask) {
		/* No eventfd to be had: a small window for a missed signal. */
		sigset_t old;
		pthread_sigmask(SIG_SETMASK, sigmask, &old);
		r = sleep_futex(w, dl, restart);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	} else {
		r = sleep_futex(w, dl, restart);
	}
	/* Back to IDLE unless a waker got there first (then it is WOKEN). */
	expect = UEP_WAITER_SLEEPING;
	atomic_compare_exchange_strong_explicit(
	        &w->state, &expect, UEP_WAITER_IDLE, memory_order_acq_rel,
	        memory_order_acquire);
	return r;
}
