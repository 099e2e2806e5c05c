/* Mutexes, deadlines and the waiter: see sync.h. */
#include "lib/sync.h"
#include "lib/sigsafe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
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

void uep_deadline_start(struct uep_deadline *dl)
{
	struct timespec rel = dl->abs;
	if (dl->kind != UEP_DL_IN)
		return;
	dl->kind = UEP_DL_AT;
	ts_now(&dl->abs);
	ts_add(&dl->abs, rel.tv_sec, rel.tv_nsec);
}

void uep_deadline_ms(struct uep_deadline *dl, int timeout_ms)
{
	uep_deadline_ms_lazy(dl, timeout_ms);
	uep_deadline_start(dl);
}

/*
 * Relative timeouts longer than this (2^40 s, about 35,000 years) are
 * "forever": far beyond any real wait, and small enough that now + rel
 * cannot overflow a 64-bit time_t.
 */
#define DEADLINE_FOREVER_SEC ((time_t)1 << 40)

void uep_deadline_ts_lazy(struct uep_deadline *dl, const struct timespec *rel)
{
	if (!rel) {
		dl->kind = UEP_DL_FOREVER;
		return;
	}
	if (rel->tv_sec == 0 && rel->tv_nsec == 0) {
		dl->kind = UEP_DL_NOWAIT;
		return;
	}
	/* Saturate: a timeout of centuries is "forever" for every purpose. */
	if (rel->tv_sec > DEADLINE_FOREVER_SEC) {
		dl->kind = UEP_DL_FOREVER;
		return;
	}
	dl->kind = UEP_DL_IN;
	dl->abs = *rel;
}

void uep_deadline_ts(struct uep_deadline *dl, const struct timespec *rel)
{
	uep_deadline_ts_lazy(dl, rel);
	uep_deadline_start(dl);
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
	if (dl->kind == UEP_DL_IN) { /* not started: all of it is left */
		*rel = dl->abs;
		return rel;
	}
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

/* ---- kernel fds of uepoll's own ---- */

/* Numbers from here up are left to uepoll: 3/4 of min(RLIMIT_NOFILE, 4096). */
static int high_base(void)
{
	struct rlimit rl;
	rlim_t top = 4096;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < top)
		top = rl.rlim_cur;
	return (int)(top / 4 * 3);
}

int uep_fd_high(int fd)
{
	int base = high_base();
	if (fd < 0 || fd >= base)
		return fd;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, base);
	if (nfd < 0) {
		/* EMFILE/EINVAL: no high number; keep it, close-on-exec. */
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		return fd;
	}
	close(fd);
	return nfd;
}

/* ---- the per-thread eventfd for sleeps in ppoll ---- */
static pthread_key_t efd_key;
static pthread_once_t efd_once = PTHREAD_ONCE_INIT;
static __thread int tls_efd = -1;

static void efd_destructor(void *p)
{
	int fd = (int)(intptr_t)p - 1;
	if (fd >= 0)
		close(fd);
}

/*
 * A forked child runs on a copy of the forking thread, whose eventfd is
 * shared with the parent: the child gets its own at its next sleep.
 */
static void efd_atfork_child(void)
{
	if (tls_efd >= 0) {
		close(tls_efd);
		tls_efd = -1;
		pthread_setspecific(efd_key, NULL);
	}
}

static void efd_key_init(void)
{
	pthread_key_create(&efd_key, efd_destructor);
	pthread_atfork(NULL, NULL, efd_atfork_child);
}

static int thread_efd(void)
{
	if (tls_efd < 0) {
		pthread_once(&efd_once, efd_key_init);
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		tls_efd = uep_fd_high(fd);
		if (tls_efd >= 0)
			pthread_setspecific(efd_key,
			                    (void *)(intptr_t)(tls_efd + 1));
	}
	return tls_efd;
}

void uep_waiter_init(struct uep_waiter *w, const sigset_t *sigmask)
{
	atomic_store_explicit(&w->state, UEP_WAITER_IDLE, memory_order_relaxed);
	w->gen = atomic_load_explicit(&uep_fork_gen, memory_order_relaxed);
	/* Without an eventfd (EMFILE) the mask is set around a futex sleep. */
	w->efd = sigmask ? thread_efd() : -1;
}

void uep_waiter_init_fds(struct uep_waiter *w, const sigset_t *sigmask)
{
	(void)sigmask;
	atomic_store_explicit(&w->state, UEP_WAITER_IDLE, memory_order_relaxed);
	w->efd = thread_efd();
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

bool uep_waiter_spin(struct uep_waiter *w, uint64_t ns,
                     const struct uep_deadline *dl)
{
	struct timespec now;
	assert(dl->kind != UEP_DL_IN);
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

/* The cap of a sleep that no eventfd can end (the process is out of fds). */
#define BLIND_SLICE_NS (10 * 1000 * 1000L)

/* fds[0] is the thread's eventfd (or unused when w->efd < 0). */
static int sleep_ppoll(struct uep_waiter *w, const struct uep_deadline *dl,
                       const sigset_t *sigmask, struct pollfd *fds, unsigned n)
{
	struct timespec rel, *prel = uep_deadline_remaining(dl, &rel);
	if (prel && prel->tv_sec == 0 && prel->tv_nsec == 0)
		return -ETIMEDOUT;
	bool blind = w->efd < 0, capped = false;
	fds[0] = (struct pollfd){.fd = w->efd, .events = POLLIN};
	if (blind &&
	    (!prel || prel->tv_sec > 0 || prel->tv_nsec > BLIND_SLICE_NS)) {
		rel.tv_sec = 0;
		rel.tv_nsec = BLIND_SLICE_NS;
		prel = &rel;
		capped = true;
	}
	int r = ppoll(fds, n, prel, sigmask);
	if (r < 0)
		return errno == EINTR ? -EINTR : 0;
	if (r == 0)
		return capped ? 0 : -ETIMEDOUT;
	if (fds[0].revents) {
		uint64_t v;
		ssize_t got = read(w->efd, &v, sizeof(v));
		(void)got;
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

/* IDLE -> SLEEPING; false when a waker got there first (WOKEN). */
bool uep_waiter_begin(struct uep_waiter *w)
{
	/*
	 * Pairs with the exchange in uep_waiter_wake: a waker that comes
	 * after this sees SLEEPING and writes the eventfd or wakes the futex;
	 * one that came before left WOKEN, and this fails.
	 */
	uint32_t expect = UEP_WAITER_IDLE;
	return atomic_compare_exchange_strong_explicit(
	        &w->state, &expect, UEP_WAITER_SLEEPING, memory_order_acq_rel,
	        memory_order_acquire);
}

void uep_waiter_end(struct uep_waiter *w)
{
	/* Back to IDLE unless a waker got there first (then it is WOKEN). */
	uint32_t expect = UEP_WAITER_SLEEPING;
	atomic_compare_exchange_strong_explicit(
	        &w->state, &expect, UEP_WAITER_IDLE, memory_order_acq_rel,
	        memory_order_acquire);
}

int uep_waiter_sleep_fds(struct uep_waiter *w, const struct uep_deadline *dl,
                         const sigset_t *sigmask, struct pollfd *fds,
                         unsigned n)
{
	assert(dl->kind != UEP_DL_IN); /* started (uep_deadline_start) */
	if (dl->kind == UEP_DL_NOWAIT)
		return -ETIMEDOUT;
	if (!uep_waiter_begin(w))
		return 0;
	int r = sleep_ppoll(w, dl, sigmask, fds, n);
	uep_waiter_end(w);
	return r;
}

int uep_waiter_sleep(struct uep_waiter *w, const struct uep_deadline *dl,
                     const sigset_t *sigmask, bool restart)
{
	assert(dl->kind != UEP_DL_IN); /* started (uep_deadline_start) */
	if (dl->kind == UEP_DL_NOWAIT)
		return -ETIMEDOUT;
	uint32_t expect = UEP_WAITER_IDLE;
	if (!atomic_compare_exchange_strong_explicit(
	            &w->state, &expect, UEP_WAITER_SLEEPING,
	            memory_order_acq_rel, memory_order_acquire))
		return 0; /* already woken */
	int r;
	if (w->efd >= 0) {
		struct pollfd p[1];
		r = sleep_ppoll(w, dl, sigmask, p, 1);
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
