/*
 * The timer service: see timer.h.
 *
 * LOCKING
 *   svc.lock guards the tree, the cached leftmost node, every timer's
 *   expires/order/queued, and the service thread's state.  It is the
 *   innermost lock of the library for the owners of timers: they call
 *   uep_timer_start()/uep_timer_cancel() with their own lock held (a
 *   timerfd's wait-queue lock), so the service never runs a timer's
 *   function, or takes any other lock, while holding svc.lock.
 *
 * THE SERVICE THREAD
 *   Started lazily by the first uep_timer_start().  While no timer is armed
 *   it sleeps in pthread_cond_wait() with no timeout: a futex wait in the
 *   kernel, no wake-ups, no CPU, nothing running.  It does not exit (so a
 *   program that arms one short timer after another does not pay a thread
 *   creation each time).  While timers are armed it sleeps until the
 *   earliest deadline with pthread_cond_timedwait() on CLOCK_MONOTONIC, and
 *   arming a timer earlier than that deadline kicks it.  Its timer slack is
 *   1 ns (prctl) and it blocks every signal, so it never runs the
 *   program's handlers nor steals a signal meant for another thread.
 *
 * CLOCK CHANGES
 *   Deadlines are monotonic; owners whose timers follow the wall clock
 *   (timerfd's absolute CLOCK_REALTIME timers, TFD_TIMER_CANCEL_ON_SET)
 *   learn of clock changes through uep_timer_watch_clock().  The first
 *   call creates one kernel timerfd (CLOCK_REALTIME, close-on-exec, moved
 *   to a high descriptor number), armed at a far absolute time with
 *   TFD_TIMER_CANCEL_ON_SET, and a watcher thread blocked in read() on it
 *   (every signal blocked).  A change of the clock fails that read with
 *   ECANCELED: the watcher re-arms the timerfd first (a change after that
 *   cancels it again, none is lost), then calls the owner's function,
 *   which recomputes its deadlines and re-arms them here.
 *
 * FORK
 *   The child has no service thread.  The prepare handler takes svc.lock
 *   once no timer function is running (so the thread holds no lock of an
 *   object the child might need); the child handler re-initialises the
 *   service and, if timers are armed (the child's copies of the parent's
 *   armed timerfds), starts a new thread.  Arming in the child works like
 *   anywhere else.
 */
#include "kernel/timer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/list.h"

#define NSEC_PER_SEC 1000000000LL

static struct {
	pthread_mutex_t lock;
	pthread_cond_t kick; /* the thread sleeps on it */
	pthread_cond_t done; /* cancel_sync and fork wait on it */
	struct uep_rb_root root;
	struct uep_rb_node *leftmost;
	long armed;
	uint64_t next_order;
	bool started;        /* the thread exists */
	bool sleeping;       /* ... and waits on kick */
	int64_t sleep_until; /* ... until then (UEP_TIME_MAX: no timeout) */
	bool forking;        /* fork in progress: run no function */
	struct uep_timer *running; /* whose function runs now */
	int done_waiters;
} svc = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t svc_once = PTHREAD_ONCE_INIT;

static void svc_init_conds(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&svc.kick, &a);
	pthread_condattr_destroy(&a);
	pthread_cond_init(&svc.done, NULL);
}

static void svc_init(void)
{
	svc_init_conds();
}

int64_t uep_timer_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

void uep_timer_init(struct uep_timer *t, uep_timer_fn fn)
{
	t->expires = 0;
	t->order = 0;
	atomic_init(&t->seq, 0);
	t->queued = false;
	t->fn = fn;
}

#define TIMER(n) uep_container_of(n, struct uep_timer, node)

static bool timer_before(const struct uep_timer *a, const struct uep_timer *b)
{
	return a->expires < b->expires ||
	       (a->expires == b->expires && a->order < b->order);
}

/* Must be called with svc.lock held.  Returns true if t became earliest. */
static bool enqueue(struct uep_timer *t)
{
	struct uep_rb_node **link = &svc.root.node, *parent = NULL;
	bool leftmost = true;

	t->order = svc.next_order++;
	while (*link) {
		parent = *link;
		if (timer_before(t, TIMER(parent))) {
			link = &parent->left;
		} else {
			link = &parent->right;
			leftmost = false;
		}
	}
	uep_rb_link_node(&t->node, parent, link);
	uep_rb_insert_color(&t->node, &svc.root);
	if (leftmost)
		svc.leftmost = &t->node;
	t->queued = true;
	svc.armed++;
	return leftmost;
}

/* Must be called with svc.lock held. */
static void dequeue(struct uep_timer *t)
{
	if (!t->queued)
		return;
	if (svc.leftmost == &t->node)
		svc.leftmost = uep_rb_next(&t->node);
	uep_rb_erase(&t->node, &svc.root);
	t->queued = false;
	svc.armed--;
}

static void ns_to_ts(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / NSEC_PER_SEC);
	ts->tv_nsec = (long)(ns % NSEC_PER_SEC);
}

/* Sleep on kick until deadline (UEP_TIME_MAX: no timeout); svc.lock held. */
static void svc_sleep(int64_t deadline)
{
	svc.sleeping = true;
	svc.sleep_until = deadline;
	if (deadline == UEP_TIME_MAX) {
		pthread_cond_wait(&svc.kick, &svc.lock);
	} else {
		struct timespec ts;
		ns_to_ts(deadline, &ts);
		pthread_cond_timedwait(&svc.kick, &svc.lock, &ts);
	}
	svc.sleeping = false;
}

static void *service_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "uepoll-timer");
	/* Expire on time: no 50 us of default slack on our sleeps. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	pthread_mutex_lock(&svc.lock);
	for (;;) {
		if (svc.forking || !svc.leftmost) {
			svc_sleep(UEP_TIME_MAX);
			continue;
		}
		struct uep_timer *t = TIMER(svc.leftmost);
		if (t->expires > uep_timer_now()) {
			svc_sleep(t->expires);
			continue;
		}
		dequeue(t);
		uint64_t seq = uep_timer_seq(t);
		svc.running = t;
		pthread_mutex_unlock(&svc.lock);
		t->fn(t, seq);
		pthread_mutex_lock(&svc.lock);
		svc.running = NULL;
		if (svc.done_waiters)
			pthread_cond_broadcast(&svc.done);
	}
	return NULL;
}

/* Must be called with svc.lock held. */
static int svc_start_thread(void)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	/* The thread inherits the mask: it never takes a signal. */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&th, &attr, service_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0)
		return -EAGAIN;
	svc.started = true;
	return 0;
}

int uep_timer_start(struct uep_timer *t, int64_t expires)
{
	int r = 0;

	pthread_once(&svc_once, svc_init);
	pthread_mutex_lock(&svc.lock);
	atomic_fetch_add_explicit(&t->seq, 1, memory_order_relaxed);
	dequeue(t);
	t->expires = expires;
	bool first = enqueue(t);
	if (!svc.started) {
		r = svc_start_thread();
		if (r < 0)
			dequeue(t);
	} else if (first && svc.sleeping && expires < svc.sleep_until) {
		/* A new earliest deadline: the thread re-reads the tree. */
		pthread_cond_signal(&svc.kick);
	}
	pthread_mutex_unlock(&svc.lock);
	return r;
}

/*
 * No kick: the thread may wake for a deadline that is gone, find the next
 * one (or none) and sleep again.  One wasted wake-up is cheaper than a
 * futex wake on every cancel.
 */
void uep_timer_cancel(struct uep_timer *t)
{
	pthread_once(&svc_once, svc_init);
	pthread_mutex_lock(&svc.lock);
	atomic_fetch_add_explicit(&t->seq, 1, memory_order_relaxed);
	dequeue(t);
	pthread_mutex_unlock(&svc.lock);
}

void uep_timer_cancel_sync(struct uep_timer *t)
{
	pthread_once(&svc_once, svc_init);
	pthread_mutex_lock(&svc.lock);
	atomic_fetch_add_explicit(&t->seq, 1, memory_order_relaxed);
	dequeue(t);
	while (svc.running == t) {
		svc.done_waiters++;
		pthread_cond_wait(&svc.done, &svc.lock);
		svc.done_waiters--;
	}
	pthread_mutex_unlock(&svc.lock);
}

long uep_timer_armed(void)
{
	pthread_mutex_lock(&svc.lock);
	long n = svc.armed;
	pthread_mutex_unlock(&svc.lock);
	return n;
}

bool uep_timer_thread_started(void)
{
	pthread_mutex_lock(&svc.lock);
	bool s = svc.started;
	pthread_mutex_unlock(&svc.lock);
	return s;
}

/* ---- clock changes ---- */

static struct {
	pthread_mutex_t lock;
	int fd; /* the kernel timerfd, or -1 */
	void (*fn)(void);
} cw = {PTHREAD_MUTEX_INITIALIZER, -1, NULL};

/* Arm fd far in the future, to be cancelled by the next clock change. */
static int cw_arm(int fd)
{
	struct itimerspec far = {.it_value = {.tv_sec = (time_t)INT32_MAX * 4}};
	return timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
	                       &far, NULL);
}

static void *cw_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	pthread_setname_np(pthread_self(), "uepoll-clock");
	for (;;) {
		uint64_t v;
		if (read(fd, &v, sizeof(v)) < 0 && errno == ECANCELED) {
			cw_arm(fd);
			cw.fn();
		}
	}
	return NULL;
}

/* Create the timerfd and the watcher; cw.lock held. */
static int cw_start(void)
{
	int fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Out of the way of the program's low numbers. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 64) {
		int hi = fcntl(fd, F_DUPFD_CLOEXEC, (int)(rl.rlim_cur / 2));
		if (hi >= 0) {
			close(fd);
			fd = hi;
		}
	}
	if (cw_arm(fd) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&th, &attr, cw_main, (void *)(intptr_t)fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		close(fd);
		return -EAGAIN;
	}
	cw.fd = fd;
	return 0;
}

int uep_timer_watch_clock(void (*fn)(void))
{
	int r = 0;
	pthread_once(&svc_once, svc_init);
	pthread_mutex_lock(&cw.lock);
	if (cw.fd < 0) {
		cw.fn = fn;
		r = cw_start();
	}
	pthread_mutex_unlock(&cw.lock);
	return r;
}

/* The child has no watcher: a new timerfd and thread of its own. */
static void cw_atfork_child(void)
{
	pthread_mutex_init(&cw.lock, NULL);
	if (cw.fd < 0)
		return;
	close(cw.fd);
	cw.fd = -1;
	cw_start();
}

/* ---- fork ---- */

/*
 * Hold svc.lock across fork() at a moment when no function runs.  The
 * wait releases the lock, so an owner that arms a timer while holding the
 * lock the running function needs can finish, and no function starts
 * while forking is set.  fs/fork.c calls these three, the prepare last
 * and the others first: svc.lock is the innermost lock, and an owner arms
 * under its own lock, which a thread holding a global lock of the
 * library may be waiting for (a nested ADD polling a timerfd).
 */
void uep_timer_fork_prepare(void)
{
	pthread_once(&svc_once, svc_init);
	pthread_mutex_lock(&svc.lock);
	svc.forking = true;
	while (svc.running) {
		svc.done_waiters++;
		pthread_cond_wait(&svc.done, &svc.lock);
		svc.done_waiters--;
	}
}

void uep_timer_fork_parent(void)
{
	svc.forking = false;
	if (svc.started)
		pthread_cond_signal(&svc.kick);
	pthread_mutex_unlock(&svc.lock);
}

void uep_timer_fork_child(void)
{
	cw_atfork_child();
	/* svc.lock is this thread's since the prepare, in the child too:
	 * released, not re-initialised (TSan then sees it held forever). */
	svc_init_conds();
	svc.forking = false;
	svc.started = false;
	svc.sleeping = false;
	svc.running = NULL;
	svc.done_waiters = 0;
	/* The child's copies of armed timers fire in the child too. */
	if (svc.armed)
		svc_start_thread();
	pthread_mutex_unlock(&svc.lock);
}
