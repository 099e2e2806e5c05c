/*
 * Stress: many threads on shared uepoll instances for STRESS_SECONDS,
 * checking while it runs:
 *
 *   lost wake-up   Per group, a producer writes one of K objects watched
 *                  by instance W (ET, LT, ONESHOT), then waits until a
 *                  waiter harvested that write.  Group 0 watches
 *                  in-process eventfds, groups 1 and 2 mix them with
 *                  kernel eventfds and pipes (W's kernel half, and its
 *                  link into P's), group 3 watches only kernel fds;
 *                  every kind meets every mode.  Two waiters
 *                  sleep long (-1 or 10 s): one in W itself, one in a
 *                  parent P that watches W (nesting) and then harvests W
 *                  with timeout 0.  Only one write is outstanding per
 *                  group, so nothing else can wake a waiter: a write not
 *                  harvested within STRESS_BOUND_MS is a lost wake-up.
 *   ONESHOT        An event for a ONESHOT item that was not re-armed since
 *                  its last event (armed flag, set before the MOD).
 *   after DEL      A ctl thread adds, modifies and deletes registrations in
 *                  instance D, each with a fresh data value; when DEL (or
 *                  MOD) returns, the old value is stamped with a sequence
 *                  number.  A waiter in D that began after the stamp must
 *                  never see the old value.
 *   crash, hang    Chaos threads do random ctl/wait/read/write/dup/
 *                  dup2/close on pipes, eventfds, timerfds, kernel pipes
 *                  and eventfds, and nested instances of their own.  A
 *                  watchdog aborts with every thread's state when one
 *                  stops making progress.
 *
 * More workloads: stress_edges.c (poll vs close, signals, fork) and
 * stress_kfd.c (kernel fds: the first one arriving while threads sleep,
 * uepoll_poll over mixed sets, no kernel fd left open at the end).
 *
 * Exit status 0 and "stress: ok" when nothing was found.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"
#include "uepoll.h"

#define NGROUPS 4
#define KFDS 6 /* objects per group */
#define NCHAOS 4
#define POOL 48
#define DTARGETS 8
#define DEAD_RING (1 << 16)
#define MAX_THREADS 48

int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

/* ---- thread states, for the watchdog ---- */

static struct tstate threads[MAX_THREADS];
static int nthreads;
atomic_bool stop;
int64_t bound_ns;
static int64_t hang_ns;

void doing(struct tstate *t, const char *what, int fd)
{
	atomic_store_explicit(&t->what, what, memory_order_relaxed);
	atomic_store_explicit(&t->fd, fd, memory_order_relaxed);
	atomic_store_explicit(&t->since, now_ns(), memory_order_relaxed);
}

void done(struct tstate *t)
{
	atomic_store_explicit(&t->what, "-", memory_order_relaxed);
	atomic_fetch_add_explicit(&t->ops, 1, memory_order_relaxed);
}

static void dump_threads(void)
{
	int64_t now = now_ns();
	for (int i = 0; i < nthreads; i++) {
		struct tstate *t = &threads[i];
		fprintf(stderr,
		        "  %-12s ops %-10llu in %-28s fd %d for %lld ms\n",
		        t->name, (unsigned long long)atomic_load(&t->ops),
		        atomic_load(&t->what), atomic_load(&t->fd),
		        (long long)(now - atomic_load(&t->since)) / 1000000);
	}
}

void die(const char *fmt, ...)
{
	static atomic_flag once = ATOMIC_FLAG_INIT;
	if (atomic_flag_test_and_set(&once))
		for (;;)
			pause();
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "stress: FAILED: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nthreads:\n");
	dump_threads();
	fflush(stderr);
	abort();
}

/* ---- lost wake-up groups (with ONESHOT) ---- */

enum kind { IN_PROC, KERNEL_EFD, KERNEL_PIPE };
static const char *const kind_name[] = {"eventfd", "kernel eventfd",
                                        "kernel pipe"};

struct group {
	int w, p;      /* instance W, its parent P */
	int efd[KFDS]; /* watched by W (a pipe's read end) */
	int wfd[KFDS]; /* written by the producer */
	enum kind kind[KFDS];
	uint32_t mode[KFDS]; /* EPOLLET / EPOLLONESHOT / 0 */
	_Atomic uint64_t written, harvested;
	_Atomic int armed[KFDS];     /* ONESHOT: may fire */
	_Atomic uint32_t gen[KFDS];  /* ONESHOT: data of the arming */
	pthread_mutex_t rearm[KFDS]; /* one re-arm at a time per item */
	int stopfd;                  /* written at the end: LT, wakes all */
};

static struct group groups[NGROUPS];

static uint64_t gdata(int g, int i, uint32_t gen)
{
	return (uint64_t)g << 48 | (uint64_t)i << 32 | gen;
}

/* Handle events of W: drain, count, check and re-arm ONESHOT items. */
static void harvest(struct tstate *t, struct group *gr, int g,
                    struct epoll_event *ev, int n)
{
	for (int k = 0; k < n; k++) {
		uint64_t d = ev[k].data.u64;
		if (d == UINT64_MAX)
			continue; /* the stop eventfd */
		int i = (int)(d >> 32 & 0xffff);
		if ((int)(d >> 48) != g || i >= KFDS)
			die("group %d: event with foreign data %#llx", g,
			    (unsigned long long)d);
		if (gr->mode[i] & EPOLLONESHOT) {
			if ((uint32_t)d != atomic_load(&gr->gen[i]))
				die("group %d fd %d: ONESHOT event with stale "
				    "data %#llx (armed gen %u)",
				    g, i, (unsigned long long)d,
				    atomic_load(&gr->gen[i]));
			if (!atomic_exchange(&gr->armed[i], 0))
				die("group %d fd %d: ONESHOT delivered twice "
				    "without re-arm (data %#llx)",
				    g, i, (unsigned long long)d);
		}
		uint64_t v;
		char bytes[16];
		bool pipe = gr->kind[i] == KERNEL_PIPE;
		doing(t, "read(item)", gr->efd[i]);
		ssize_t r = pipe ? uepoll_read(gr->efd[i], bytes, sizeof(bytes))
		                 : uepoll_read(gr->efd[i], &v, sizeof(v));
		done(t);
		if (r > 0)
			atomic_fetch_add(&gr->harvested,
			                 pipe ? (uint64_t)r : v);
		else if (r != -1 || errno != EAGAIN)
			die("read(%s): %zd errno %d", kind_name[gr->kind[i]], r,
			    errno);
		if (gr->mode[i] & EPOLLONESHOT) {
			/* Armed before the MOD: its event may come at once. */
			pthread_mutex_lock(&gr->rearm[i]);
			uint32_t gen = atomic_fetch_add(&gr->gen[i], 1) + 1;
			atomic_store(&gr->armed[i], 1);
			struct epoll_event e = {EPOLLIN | EPOLLONESHOT,
			                        {.u64 = gdata(g, i, gen)}};
			doing(t, "epoll_ctl(W, MOD)", gr->w);
			if (uepoll_ctl(gr->w, EPOLL_CTL_MOD, gr->efd[i], &e))
				die("re-arm MOD: errno %d", errno);
			done(t);
			pthread_mutex_unlock(&gr->rearm[i]);
		}
	}
}

static long long_timeout(uint64_t *rs)
{
	return rnd(rs) % 2 ? -1 : 10000;
}

static void *waiter_direct(void *arg)
{
	struct tstate *t = arg;
	int g = t->name[1] - '0';
	struct group *gr = &groups[g];
	uint64_t rs = 0x9e3779b97f4a7c15ull + (uint64_t)g;
	struct epoll_event ev[8];
	while (!atomic_load(&stop)) {
		int max = (int)(rnd(&rs) % 8) + 1;
		doing(t, "epoll_wait(W, long)", gr->w);
		int n = uepoll_wait(gr->w, ev, max, (int)long_timeout(&rs));
		done(t);
		if (n < 0)
			die("epoll_wait(W): errno %d", errno);
		harvest(t, gr, g, ev, n);
	}
	return NULL;
}

static void *waiter_nested(void *arg)
{
	struct tstate *t = arg;
	int g = t->name[1] - '0';
	struct group *gr = &groups[g];
	uint64_t rs = 0x1234567ull + (uint64_t)g;
	struct epoll_event ev[8];
	while (!atomic_load(&stop)) {
		doing(t, "epoll_wait(P, long)", gr->p);
		int n = uepoll_wait(gr->p, ev, 2, (int)long_timeout(&rs));
		done(t);
		if (n < 0)
			die("epoll_wait(P): errno %d", errno);
		if (n == 0)
			continue;
		int max = (int)(rnd(&rs) % 8) + 1;
		doing(t, "epoll_wait(W, 0)", gr->w);
		n = uepoll_wait(gr->w, ev, max, 0);
		done(t);
		if (n < 0)
			die("epoll_wait(W, 0): errno %d", errno);
		harvest(t, gr, g, ev, n);
	}
	return NULL;
}

static void *producer(void *arg)
{
	struct tstate *t = arg;
	int g = t->name[1] - '0';
	struct group *gr = &groups[g];
	uint64_t rs = 0xabcdefull + (uint64_t)g;
	while (!atomic_load(&stop)) {
		int i = (int)(rnd(&rs) % KFDS);
		uint64_t one = 1;
		bool pipe = gr->kind[i] == KERNEL_PIPE;
		atomic_fetch_add(&gr->written, 1);
		doing(t, "write(item)", gr->wfd[i]);
		if (uepoll_write(gr->wfd[i], &one, pipe ? 1 : 8) !=
		    (pipe ? 1 : 8))
			die("write(%s): errno %d", kind_name[gr->kind[i]],
			    errno);
		done(t);
		/* Exactly one write outstanding: it must be harvested. */
		int64_t t0 = now_ns();
		doing(t, "awaiting harvest", gr->efd[i]);
		while (atomic_load(&gr->harvested) !=
		       atomic_load(&gr->written)) {
			/*
			 * At the end the waiters leave: a write made just
			 * before the stop may never be harvested, and that
			 * is the harness stopping, not a lost wake-up.
			 */
			if (atomic_load(&stop))
				break;
			if (now_ns() - t0 > bound_ns)
				die("LOST WAKE-UP: group %d item %d (%s, %s%s) "
				    "written, not harvested after %lld ms",
				    g, i, kind_name[gr->kind[i]],
				    gr->mode[i] & EPOLLET ? "ET" : "LT",
				    gr->mode[i] & EPOLLONESHOT ? " ONESHOT"
				                               : "",
				    (long long)bound_ns / 1000000);
			sleep_us(rnd(&rs) % 4 ? 20 : 0);
		}
		done(t);
	}
	return NULL;
}

/* ---- registrations after DEL/MOD ---- */

static int dep;               /* instance D */
static int dfd[DTARGETS];     /* eventfds, kept readable */
static _Atomic uint64_t dseq; /* stamps */
static struct {
	_Atomic uint64_t data, seq;
} dead[DEAD_RING];

static void mark_dead(uint64_t data)
{
	uint64_t s = atomic_fetch_add(&dseq, 1) + 1;
	unsigned k = (unsigned)(data % DEAD_RING);
	atomic_store(&dead[k].seq, 0);
	atomic_store(&dead[k].data, data);
	atomic_store(&dead[k].seq, s);
}

static void *del_ctl(void *arg)
{
	struct tstate *t = arg;
	uint64_t rs = 0x5555aaaaull, next = 1;
	uint64_t cur[DTARGETS] = {0}; /* live data, 0: not registered */
	while (!atomic_load(&stop)) {
		int i = (int)(rnd(&rs) % DTARGETS);
		struct epoll_event e = {EPOLLIN, {.u64 = 0}};
		if (rnd(&rs) % 8 == 0)
			e.events |= EPOLLET;
		if (!cur[i]) {
			e.data.u64 = (uint64_t)i << 40 | next++;
			doing(t, "epoll_ctl(D, ADD)", dfd[i]);
			if (uepoll_ctl(dep, EPOLL_CTL_ADD, dfd[i], &e))
				die("D ADD: errno %d", errno);
			cur[i] = e.data.u64;
		} else if (rnd(&rs) % 2) {
			e.data.u64 = (uint64_t)i << 40 | next++;
			doing(t, "epoll_ctl(D, MOD)", dfd[i]);
			if (uepoll_ctl(dep, EPOLL_CTL_MOD, dfd[i], &e))
				die("D MOD: errno %d", errno);
			mark_dead(cur[i]);
			cur[i] = e.data.u64;
		} else {
			doing(t, "epoll_ctl(D, DEL)", dfd[i]);
			if (uepoll_ctl(dep, EPOLL_CTL_DEL, dfd[i], NULL))
				die("D DEL: errno %d", errno);
			mark_dead(cur[i]);
			cur[i] = 0;
		}
		done(t);
		if (rnd(&rs) % 4 == 0) {
			uint64_t one = 1;
			doing(t, "write(D target)", dfd[i]);
			uepoll_write(dfd[i], &one, sizeof(one));
			done(t);
		}
	}
	return NULL;
}

static void *del_waiter(void *arg)
{
	struct tstate *t = arg;
	uint64_t rs = 0x777ull + (uint64_t)(uintptr_t)arg;
	struct epoll_event ev[16];
	while (!atomic_load(&stop)) {
		int max = (int)(rnd(&rs) % 16) + 1;
		int to = (int)(rnd(&rs) % 3);
		uint64_t start = atomic_load(&dseq);
		doing(t, "epoll_wait(D)", dep);
		int n = uepoll_wait(dep, ev, max, to);
		done(t);
		if (n < 0)
			die("epoll_wait(D): errno %d", errno);
		for (int k = 0; k < n; k++) {
			uint64_t d = ev[k].data.u64;
			unsigned s = (unsigned)(d % DEAD_RING);
			uint64_t seq = atomic_load(&dead[s].seq);
			if (seq && seq <= start &&
			    atomic_load(&dead[s].data) == d &&
			    atomic_load(&dead[s].seq) == seq)
				die("event for data %#llx after its DEL/MOD "
				    "returned (stamp %llu) and a later wait "
				    "began (at %llu)",
				    (unsigned long long)d,
				    (unsigned long long)seq,
				    (unsigned long long)start);
		}
	}
	return NULL;
}

/* ---- chaos ---- */

static _Atomic int pool[POOL];      /* descriptors, -1 for none */
static _Atomic uint64_t chaos_kfds; /* kernel pipes and eventfds made */

static void chaos_new(uint64_t *rs)
{
	int fds[2] = {-1, -1};
	switch (rnd(rs) % 7) {
	case 0:
	case 1:
		fds[0] = uepoll_create1(rnd(rs) % 2 ? EPOLL_CLOEXEC : 0);
		break;
	case 2:
		if (uepoll_pipe2(fds, O_NONBLOCK))
			fds[0] = fds[1] = -1;
		break;
	case 3:
		fds[0] = uepoll_eventfd(
		        (unsigned)(rnd(rs) % 3),
		        EFD_NONBLOCK | (rnd(rs) % 2 ? EFD_SEMAPHORE : 0));
		break;
	case 4: {
		fds[0] = uepoll_timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
		struct itimerspec its = {{0, (long)(rnd(rs) % 3) * 1000000},
		                         {0, (long)(rnd(rs) % 2000000) + 1}};
		if (fds[0] >= 0)
			uepoll_timerfd_settime(fds[0], 0, &its, NULL);
		break;
	}
	case 5: /* kernel fds: into the chaos instances' kernel halves */
		if (pipe2(fds, O_NONBLOCK | O_CLOEXEC))
			fds[0] = fds[1] = -1;
		break;
	case 6:
		fds[0] = eventfd((unsigned)(rnd(rs) % 2),
		                 EFD_NONBLOCK | EFD_CLOEXEC);
		break;
	}
	if (fds[0] >= 0 && fds[0] < UEPOLL_FD_BASE)
		atomic_fetch_add(&chaos_kfds, 1);
	for (int k = 0; k < 2; k++) {
		if (fds[k] < 0)
			continue;
		int slot = (int)(rnd(rs) % POOL);
		int old = atomic_exchange(&pool[slot], fds[k]);
		if (old >= 0)
			uepoll_close(old);
	}
}

/*
 * A pool entry for one operation.  A kernel fd is taken out of the pool
 * meanwhile (*taken): closing a kernel fd that another thread is passing
 * to a system call is the program's race, not the library's (TSan
 * reports it), and its number could be reused under that thread by an
 * fd another workload checks.  uepoll's own numbers stay shared: their
 * close racing their use is the library's to get right.
 */
static int chaos_take(int slot, bool *taken)
{
	int fd = atomic_load(&pool[slot]);
	*taken = false;
	if (fd < 0 || fd >= UEPOLL_FD_BASE)
		return fd;
	if (!atomic_compare_exchange_strong(&pool[slot], &fd, -1))
		return -1;
	*taken = true;
	return fd;
}

static void chaos_give(int slot, int fd, bool taken)
{
	if (!taken)
		return;
	int old = atomic_exchange(&pool[slot], fd);
	if (old >= 0)
		uepoll_close(old);
}

static void *chaos(void *arg)
{
	struct tstate *t = arg;
	uint64_t rs = 0xdeadbeefull * (uint64_t)(t->name[1] + 1);
	static const uint32_t masks[] = {EPOLLIN,
	                                 EPOLLOUT,
	                                 EPOLLIN | EPOLLOUT,
	                                 EPOLLIN | EPOLLET,
	                                 EPOLLOUT | EPOLLET,
	                                 EPOLLIN | EPOLLONESHOT,
	                                 EPOLLIN | EPOLLEXCLUSIVE,
	                                 EPOLLIN | EPOLLOUT | EPOLLET};
	char buf[8192];
	struct epoll_event ev[16];
	memset(buf, 'x', sizeof(buf));
	while (!atomic_load(&stop)) {
		int sa = (int)(rnd(&rs) % POOL), sb = (int)(rnd(&rs) % POOL);
		bool ta, tb = false;
		int a = chaos_take(sa, &ta);
		int b = sb == sa ? a : chaos_take(sb, &tb);
		uint64_t op = rnd(&rs) % 21;
		if (a < 0 && op >= 2)
			op = 0;
		switch (op) {
		case 0:
		case 1:
			doing(t, "create", -1);
			chaos_new(&rs);
			break;
		case 2:
		case 3:
		case 4: {
			struct epoll_event e = {masks[rnd(&rs) % 8],
			                        {.u64 = rnd(&rs)}};
			static const int ops[] = {EPOLL_CTL_ADD, EPOLL_CTL_ADD,
			                          EPOLL_CTL_MOD, EPOLL_CTL_DEL};
			doing(t, "epoll_ctl", a);
			uepoll_ctl(a, ops[rnd(&rs) % 4], b, &e);
			break;
		}
		case 5:
		case 6:
		case 7:
		case 8:
			doing(t, "epoll_wait(chaos)", a);
			uepoll_wait(a, ev, (int)(rnd(&rs) % 16) + 1,
			            (int)(rnd(&rs) % 4));
			break;
		case 9:
		case 10:
		case 11:
			doing(t, "read", a);
			uepoll_read(a, buf, rnd(&rs) % 2 ? 8 : sizeof(buf));
			break;
		case 12:
		case 13:
		case 14: {
			uint64_t one = 1;
			doing(t, "write", a);
			if (rnd(&rs) % 2)
				uepoll_write(a, &one, sizeof(one));
			else
				uepoll_write(a, buf, rnd(&rs) % sizeof(buf));
			break;
		}
		case 15:
		case 16: {
			doing(t, "dup", a);
			int d = uepoll_dup(a);
			if (d >= 0) {
				int old = atomic_exchange(
				        &pool[rnd(&rs) % POOL], d);
				if (old >= 0)
					uepoll_close(old);
			}
			break;
		}
		case 17: {
			doing(t, "poll", a);
			struct pollfd pf[2] = {{a, POLLIN | POLLOUT, 0},
			                       {b, POLLIN, 0}};
			uepoll_poll(pf, b >= 0 ? 2 : 1, 0);
			break;
		}
		case 18: {
			/*
			 * Replace a pool entry's file (a kernel fd's, under
			 * its registrations): taken out of the pool, so no
			 * other thread closes it meanwhile.
			 */
			int slot = (int)(rnd(&rs) % POOL);
			int old = atomic_exchange(&pool[slot], -1);
			doing(t, "dup2", old);
			if (old >= 0)
				uepoll_dup2(a, old);
			old = atomic_exchange(&pool[slot], old);
			if (old >= 0)
				uepoll_close(old);
			break;
		}
		default: {
			int slot = (int)(rnd(&rs) % POOL);
			int old = atomic_exchange(&pool[slot], -1);
			doing(t, "close", old);
			if (old >= 0)
				uepoll_close(old);
			break;
		}
		}
		chaos_give(sa, a, ta);
		chaos_give(sb, b, tb);
		done(t);
	}
	return NULL;
}

/* ---- setup, watchdog, report ---- */

struct tstate *spawn(void *(*fn)(void *), const char *name)
{
	struct tstate *t = &threads[nthreads++];
	snprintf(t->name, sizeof(t->name), "%s", name);
	atomic_store(&t->what, "start");
	atomic_store(&t->since, now_ns());
	if (pthread_create(&t->tid, NULL, fn, t))
		die("pthread_create");
	return t;
}

static void setup_group(int g)
{
	struct group *gr = &groups[g];
	gr->w = uepoll_create1(0);
	gr->p = uepoll_create1(0);
	if (gr->w < 0 || gr->p < 0)
		die("create");
	struct epoll_event e = {EPOLLIN, {.u64 = 0}};
	if (uepoll_ctl(gr->p, EPOLL_CTL_ADD, gr->w, &e))
		die("nest W in P: errno %d", errno);
	for (int i = 0; i < KFDS; i++) {
		/* Groups 1 and 2 together, and 3 alone, give every kind
		 * every mode (i % 3). */
		gr->kind[i] = g == 0             ? IN_PROC
		              : g == NGROUPS - 1 ? KERNEL_EFD + i % 2
		                                 : (i + g * (i / 3)) % 3;
		int fds[2];
		if (gr->kind[i] == IN_PROC)
			fds[0] = fds[1] = uepoll_eventfd(0, EFD_NONBLOCK);
		else if (gr->kind[i] == KERNEL_EFD)
			fds[0] = fds[1] = eventfd(0, EFD_NONBLOCK);
		else if (pipe2(fds, O_NONBLOCK))
			fds[0] = fds[1] = -1;
		if (fds[0] < 0)
			die("group %d item %d: errno %d", g, i, errno);
		gr->efd[i] = fds[0];
		gr->wfd[i] = fds[1];
		gr->mode[i] = i % 3 == 0   ? EPOLLET
		              : i % 3 == 1 ? 0
		                           : EPOLLONESHOT;
		pthread_mutex_init(&gr->rearm[i], NULL);
		atomic_store(&gr->armed[i], 1);
		e.events = EPOLLIN | gr->mode[i];
		e.data.u64 = gdata(g, i, 0);
		if (uepoll_ctl(gr->w, EPOLL_CTL_ADD, gr->efd[i], &e))
			die("ADD efd: errno %d", errno);
	}
	gr->stopfd = uepoll_eventfd(0, EFD_NONBLOCK);
	e.events = EPOLLIN;
	e.data.u64 = UINT64_MAX;
	if (uepoll_ctl(gr->w, EPOLL_CTL_ADD, gr->stopfd, &e))
		die("ADD stopfd: errno %d", errno);
}

static long env_long(const char *name, long def)
{
	const char *s = getenv(name);
	return s && *s ? atol(s) : def;
}

int main(void)
{
	long seconds = env_long("STRESS_SECONDS", 30);
	bound_ns = env_long("STRESS_BOUND_MS", 2000) * 1000000;
	hang_ns = env_long("STRESS_HANG_MS", 15000) * 1000000;
	kfd_fds_snapshot();
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (int g = 0; g < NGROUPS; g++)
		setup_group(g);
	dep = uepoll_create1(0);
	for (int i = 0; i < DTARGETS; i++) {
		dfd[i] = uepoll_eventfd(1, EFD_NONBLOCK);
		if (dfd[i] < 0)
			die("eventfd");
	}
	for (int i = 0; i < POOL; i++)
		atomic_store(&pool[i], -1);

	char name[32];
	for (int g = 0; g < NGROUPS; g++) {
		snprintf(name, sizeof(name), "g%d-waitW", g);
		spawn(waiter_direct, name);
		snprintf(name, sizeof(name), "g%d-waitP", g);
		spawn(waiter_nested, name);
		snprintf(name, sizeof(name), "g%d-produce", g);
		spawn(producer, name);
	}
	spawn(del_ctl, "d-ctl");
	spawn(del_waiter, "d-wait0");
	spawn(del_waiter, "d-wait1");
	for (int c = 0; c < NCHAOS; c++) {
		snprintf(name, sizeof(name), "c%d-chaos", c);
		spawn(chaos, name);
	}
	edges_start();
	kfd_start();

	int64_t t0 = now_ns(), end = t0 + (int64_t)seconds * 1000000000;
	bool stopping = false;
	int64_t stop_at = 0;
	printf("stress: %d threads for %ld s (lost wake-up bound %lld ms)\n",
	       nthreads, seconds, (long long)bound_ns / 1000000);
	for (;;) {
		sleep_us(100000);
		int64_t now = now_ns();
		edges_tick(now);
		kfd_tick(now);
		/* The watchdog: a call that does not come back is a hang. */
		for (int i = 0; i < nthreads; i++) {
			struct tstate *t = &threads[i];
			const char *w = atomic_load(&t->what);
			int64_t since = atomic_load(&t->since);
			bool sleeper = strstr(w, "long") != NULL;
			if (strcmp(w, "-") && strcmp(w, "exited") &&
			    now - since > hang_ns + (sleeper ? 10000000000 : 0))
				die("HANG: %s stuck in %s for %lld ms", t->name,
				    w, (long long)(now - since) / 1000000);
		}
		if (!stopping && now >= end) {
			stopping = true;
			stop_at = now;
			atomic_store(&stop, true);
			uint64_t one = 1;
			for (int g = 0; g < NGROUPS; g++)
				uepoll_write(groups[g].stopfd, &one, 8);
		}
		if (stopping) {
			bool all = true;
			for (int i = 0; i < nthreads; i++)
				if (strcmp(atomic_load(&threads[i].what),
				           "exited"))
					all = false;
			if (all)
				break;
			if (now - stop_at > hang_ns)
				die("HANG: threads did not stop");
		}
		/* Mark exited threads (a joined thread cannot hang). */
		for (int i = 0; i < nthreads; i++) {
			struct tstate *t = &threads[i];
			if (stopping &&
			    strcmp(atomic_load(&t->what), "exited") &&
			    pthread_tryjoin_np(t->tid, NULL) == 0)
				atomic_store(&t->what, "exited");
		}
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	uint64_t total = 0, writes = 0, kwrites = 0;
	for (int i = 0; i < nthreads; i++)
		total += atomic_load(&threads[i].ops);
	for (int g = 0; g < NGROUPS; g++)
		writes += atomic_load(&groups[g].written);
	for (int g = 1; g < NGROUPS; g++)
		kwrites += atomic_load(&groups[g].written);

	edges_finish();
	kfd_finish();
	/* Tear down: everything closes cleanly (leaks show under ASan). */
	for (int i = 0; i < POOL; i++)
		if (atomic_load(&pool[i]) >= 0)
			uepoll_close(atomic_load(&pool[i]));
	for (int g = 0; g < NGROUPS; g++) {
		for (int i = 0; i < KFDS; i++) {
			uepoll_close(groups[g].efd[i]);
			if (groups[g].wfd[i] != groups[g].efd[i])
				uepoll_close(groups[g].wfd[i]);
			pthread_mutex_destroy(&groups[g].rearm[i]);
		}
		uepoll_close(groups[g].stopfd);
		uepoll_close(groups[g].w);
		uepoll_close(groups[g].p);
	}
	for (int i = 0; i < DTARGETS; i++)
		uepoll_close(dfd[i]);
	uepoll_close(dep);
	kfd_fds_check();
	printf("stress: ok: %.1f s, %d threads, %llu ops (%.0f ops/s), "
	       "%llu checked wake-ups (%.0f/s; %llu in groups with kernel "
	       "fds), %llu DEL/MOD stamps, %llu kernel pipes and eventfds "
	       "in the chaos pool, 0 failures\n",
	       secs, nthreads, (unsigned long long)total, (double)total / secs,
	       (unsigned long long)writes, (double)writes / secs,
	       (unsigned long long)kwrites,
	       (unsigned long long)atomic_load(&dseq),
	       (unsigned long long)atomic_load(&chaos_kfds));
	return 0;
}
