/*
 * Timer service tests: 100,000 armed timers fire in deadline order and
 * never early; cancel and re-arm; cancel_sync waits for a running
 * function; the thread starts lazily and sleeps without waking while no
 * timer is armed; fork.
 */
#include "../runner.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/list.h"
#include "kernel/timer.h"

#define MS 1000000LL

struct rec {
	struct uep_timer t;
	int64_t fired_at;
	int fired;
};

static struct rec **order_log;
static _Atomic long nfired;
static _Atomic int bad_seq;

static void rec_fn(struct uep_timer *t, uint64_t seq)
{
	struct rec *r = uep_container_of(t, struct rec, t);
	if (seq != uep_timer_seq(t))
		atomic_store(&bad_seq, 1);
	r->fired_at = uep_timer_now();
	r->fired++;
	long i = atomic_load_explicit(&nfired, memory_order_relaxed);
	if (order_log)
		order_log[i] = r;
	atomic_store_explicit(&nfired, i + 1, memory_order_release);
}

static void wait_fired(long n, int timeout_ms)
{
	int64_t end = uep_timer_now() + timeout_ms * MS;
	while (atomic_load_explicit(&nfired, memory_order_acquire) < n) {
		if (uep_timer_now() > end)
			FAIL("only %ld of %ld timers fired",
			     atomic_load(&nfired), n);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

TEST_T(timer_100k_fire_in_order, 60)
{
	enum { N = 100000 };
	struct rec *recs = calloc(N, sizeof(*recs));
	order_log = calloc(N, sizeof(*order_log));
	ASSERT_TRUE(recs && order_log);
	/* Far enough that all are armed before the first one fires. */
	int64_t base = uep_timer_now() + 2000 * MS;
	unsigned seed = 12345;
	for (int i = 0; i < N; i++) {
		uep_timer_init(&recs[i].t, rec_fn);
		seed = seed * 1103515245u + 12345u;
		/* Spread over 500 ms, many sharing a deadline. */
		int64_t e = base + (int64_t)((seed >> 8) % 500000) * 1000;
		ASSERT_EQ(uep_timer_start(&recs[i].t, e), 0);
	}
	ASSERT_LT(uep_timer_now(), base);
	ASSERT_EQ(uep_timer_armed(), N);
	wait_fired(N, 30000);
	ASSERT_EQ(uep_timer_armed(), 0);
	ASSERT_EQ(atomic_load(&bad_seq), 0);
	for (long i = 0; i < N; i++) {
		struct rec *r = order_log[i];
		ASSERT_EQ(r->fired, 1);
		/* Never early. */
		ASSERT_GE(r->fired_at, r->t.expires);
		/* In deadline order; equal deadlines in arming order. */
		if (i > 0) {
			struct rec *p = order_log[i - 1];
			ASSERT_TRUE(p->t.expires < r->t.expires ||
			            (p->t.expires == r->t.expires && p < r));
		}
	}
	free(order_log);
	order_log = NULL;
	free(recs);
}

TEST(timer_cancel_and_rearm)
{
	enum { N = 1000 };
	static struct rec recs[N];
	int64_t now = uep_timer_now();
	for (int i = 0; i < N; i++) {
		uep_timer_init(&recs[i].t, rec_fn);
		/* Far enough for a slow (TSan) run to finish arming. */
		ASSERT_EQ(
		        uep_timer_start(&recs[i].t, now + (500 + i % 10) * MS),
		        0);
	}
	/* Cancel the odd ones; move every tenth even one far away then
	 * back close. */
	for (int i = 1; i < N; i += 2)
		uep_timer_cancel(&recs[i].t);
	for (int i = 0; i < N; i += 20) {
		ASSERT_EQ(uep_timer_start(&recs[i].t, now + 3600000 * MS), 0);
		ASSERT_EQ(uep_timer_start(&recs[i].t, now + 400 * MS), 0);
	}
	ASSERT_EQ(uep_timer_armed(), N / 2);
	wait_fired(N / 2, 5000);
	struct timespec ts = {0, 50 * MS};
	nanosleep(&ts, NULL);
	ASSERT_EQ(atomic_load(&nfired), N / 2);
	for (int i = 0; i < N; i++)
		ASSERT_EQ(recs[i].fired, i % 2 ? 0 : 1);
	ASSERT_EQ(uep_timer_armed(), 0);
}

TEST(timer_earlier_arm_kicks_sleeping_thread)
{
	static struct rec far, near;
	uep_timer_init(&far.t, rec_fn);
	uep_timer_init(&near.t, rec_fn);
	int64_t t0 = uep_timer_now();
	ASSERT_EQ(uep_timer_start(&far.t, t0 + 10000 * MS), 0);
	struct timespec ts = {0, 20 * MS};
	nanosleep(&ts, NULL); /* the thread now sleeps for 10 s */
	ASSERT_EQ(uep_timer_start(&near.t, uep_timer_now() + 10 * MS), 0);
	wait_fired(1, 2000);
	ASSERT_EQ(near.fired, 1);
	ASSERT_EQ(far.fired, 0);
	ASSERT_LT(near.fired_at - t0, 1000 * MS);
	uep_timer_cancel_sync(&far.t);
	ASSERT_EQ(uep_timer_armed(), 0);
}

static _Atomic int slow_state;

static void slow_fn(struct uep_timer *t, uint64_t seq)
{
	(void)t;
	(void)seq;
	atomic_store(&slow_state, 1);
	struct timespec ts = {0, 100 * MS};
	nanosleep(&ts, NULL);
	atomic_store(&slow_state, 2);
}

TEST(timer_cancel_sync_waits_for_running_function)
{
	static struct uep_timer t;
	uep_timer_init(&t, slow_fn);
	ASSERT_EQ(uep_timer_start(&t, uep_timer_now()), 0);
	while (atomic_load(&slow_state) == 0) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	uep_timer_cancel_sync(&t);
	ASSERT_EQ(atomic_load(&slow_state), 2);
}

/* Voluntary context switches of the service thread (-1: no such thread). */
static long service_switches(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long sw = -1;
	while (d && (e = readdir(d))) {
		char path[300], line[128];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
		         e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		bool ours = fgets(line, sizeof(line), f) &&
		            !strcmp(line, "uepoll-timer\n");
		fclose(f);
		if (!ours)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status",
		         e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "voluntary_ctxt_switches:", 24))
				sw = atol(line + 24);
		fclose(f);
	}
	if (d)
		closedir(d);
	return sw;
}

TEST(timer_thread_lazy_and_idle)
{
	ASSERT_FALSE(uep_timer_thread_started());
	ASSERT_EQ(service_switches(), -1);
	static struct rec r;
	uep_timer_init(&r.t, rec_fn);
	ASSERT_EQ(uep_timer_start(&r.t, uep_timer_now() + 5 * MS), 0);
	ASSERT_TRUE(uep_timer_thread_started());
	wait_fired(1, 2000);
	ASSERT_EQ(uep_timer_armed(), 0);
	/* Nothing armed: the thread sleeps with no timeout, never wakes. */
	struct timespec ts = {0, 50 * MS};
	nanosleep(&ts, NULL);
	long a = service_switches();
	ASSERT_GE(a, 1);
	ts.tv_nsec = 300 * MS;
	nanosleep(&ts, NULL);
	ASSERT_EQ(service_switches(), a);
}

TEST(timer_fork_child_has_service)
{
#ifdef __SANITIZE_THREAD__
	SKIP("TSan cannot start a thread in the child of a threaded fork");
#endif
	static struct rec a, b;
	uep_timer_init(&a.t, rec_fn);
	uep_timer_init(&b.t, rec_fn);
	ASSERT_EQ(uep_timer_start(&a.t, uep_timer_now() + 30 * MS), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* The inherited armed timer fires here, and a new one. */
		if (uep_timer_start(&b.t, uep_timer_now() + 10 * MS) != 0)
			_exit(1);
		int64_t end = uep_timer_now() + 2000 * MS;
		while (atomic_load(&nfired) < 2 && uep_timer_now() < end)
			usleep(1000);
		_exit(a.fired == 1 && b.fired == 1 ? 0 : 2);
	}
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	wait_fired(1, 2000);
	ASSERT_EQ(a.fired, 1);
	ASSERT_EQ(b.fired, 0);
}
