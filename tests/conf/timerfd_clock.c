/*
 * timerfd and the wall clock (issue 11, item 8): absolute CLOCK_REALTIME
 * timers follow a step of the clock, relative ones do not, and
 * TFD_TIMER_CANCEL_ON_SET cancels (ECANCELED, readable, a blocked read
 * wakes).  Needs root: each test steps CLOCK_REALTIME forward by an hour
 * and back right away.  Between the two steps nothing asserts (an assert
 * ends the process), so the clock is put back even when a check fails;
 * and a guardian process puts it back if the test's process dies between
 * them anyway (a timeout, a sanitizer's report, a kill).
 */
#include "sys.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define STEP_S 3600

/*
 * One step at a time, machine-wide: every worktree's make test runs these
 * tests, and two read-modify-write steps that interleave would leave the
 * clock off.  The clock is put back to an absolute time: where it was
 * plus the monotonic time that passed.
 */
struct clock_step {
	struct timespec real, mono; /* before the step */
	_Atomic int owed;           /* stepped, not yet put back */
};
static struct clock_step *step;
static int step_lock = -1;
static pid_t guardian = -1;

static void clock_put_back(void)
{
	struct timespec m, t = step->real;
	clock_gettime(CLOCK_MONOTONIC, &m);
	long long ns = (long long)(m.tv_sec - step->mono.tv_sec) * 1000000000 +
	               (m.tv_nsec - step->mono.tv_nsec) + t.tv_nsec;
	t.tv_sec += (time_t)(ns / 1000000000);
	t.tv_nsec = (long)(ns % 1000000000);
	clock_settime(CLOCK_REALTIME, &t);
}

/*
 * Fork a process that shares the lock (flock belongs to the open file,
 * which the child shares) and waits for this one's death: it reads a pipe
 * whose writing end only this process holds, and gets EOF when this
 * process closes it (clock_step_end) or dies.  Then it puts the clock back
 * if that is still owed, and exits, which releases its hold on the lock.
 * No signal is involved (TSan defers handlers), and only async-signal-safe
 * calls run in the child: the test may have threads.
 */
static int guardian_pipe = -1;

static void guardian_start(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		SKIP("pipe for the clock's guardian: %s", strerror(errno));
	guardian = fork();
	if (guardian < 0)
		SKIP("fork for the clock's guardian: %s", strerror(errno));
	if (guardian == 0) {
		char c;
		close(p[1]);
		while (read(p[0], &c, 1) != 0 && errno == EINTR)
			;
		if (atomic_exchange(&step->owed, 0))
			clock_put_back();
		_exit(0);
	}
	close(p[0]);
	guardian_pipe = p[1];
}

static void clock_step_begin(long secs)
{
	if (geteuid() != 0)
		SKIP("stepping CLOCK_REALTIME needs root");
#ifdef __SANITIZE_THREAD__
	/* A TSan report ends the process at any point, and TSan kills a
	 * forked child that starts a thread (the guardian's fork handlers
	 * may): the clock could stay stepped. */
	SKIP("TSan: a report between the two steps would leave the clock "
	     "stepped");
#endif
	if (!step) {
		step = mmap(NULL, sizeof(*step), PROT_READ | PROT_WRITE,
		            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (step == MAP_FAILED)
			SKIP("mmap: %s", strerror(errno));
	}
	step_lock = open("/tmp/uepoll-clock-step.lock",
	                 O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (step_lock < 0 || flock(step_lock, LOCK_EX) != 0)
		SKIP("no lock file for stepping the clock: %s",
		     strerror(errno));
	guardian_start();
	clock_gettime(CLOCK_MONOTONIC, &step->mono);
	clock_gettime(CLOCK_REALTIME, &step->real);
	struct timespec t = step->real;
	t.tv_sec += secs;
	atomic_store(&step->owed, 1);
	if (clock_settime(CLOCK_REALTIME, &t) != 0) {
		int e = errno;
		atomic_store(&step->owed, 0);
		close(guardian_pipe);
		waitpid(guardian, NULL, 0);
		close(step_lock);
		SKIP("clock_settime(CLOCK_REALTIME) fails: %s", strerror(e));
	}
}

/* Back to where the clock would be without the step; then unlock. */
static void clock_step_end(void)
{
	clock_put_back();
	atomic_store(&step->owed, 0);
	close(guardian_pipe); /* EOF: the guardian exits */
	waitpid(guardian, NULL, 0);
	guardian = -1;
	flock(step_lock, LOCK_UN);
	close(step_lock);
	step_lock = -1;
}

static int realtime_timer(long from_now, int flags)
{
	int fd = sys_timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	ASSERT_GE(fd, 0);
	struct itimerspec its = {0};
	if (flags & TFD_TIMER_ABSTIME)
		clock_gettime(CLOCK_REALTIME, &its.it_value);
	its.it_value.tv_sec += from_now;
	ASSERT_OK(sys_timerfd_settime(fd, flags, &its, NULL));
	return fd;
}

/* Readable within ms (poll, so it also wakes on the cancel's event). */
static bool readable_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return sys_poll(&p, 1, ms) == 1;
}

TEST(timerfd_realtime_abs_follows_clock_step)
{
	/* Half an hour away: the step of an hour takes it past. */
	int abs = realtime_timer(STEP_S / 2, TFD_TIMER_ABSTIME);
	int rel = realtime_timer(STEP_S / 2, 0);
	int mono = sys_timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec its = {.it_value = {STEP_S / 2, 0}};
	ASSERT_OK(sys_timerfd_settime(mono, 0, &its, NULL));
	ASSERT_FALSE(readable_within(abs, 0));

	clock_step_begin(STEP_S);
	bool abs_fired = readable_within(abs, 2000);
	bool rel_fired = readable_within(rel, 50);
	bool mono_fired = readable_within(mono, 0);
	struct itimerspec left;
	int g = sys_timerfd_gettime(rel, &left);
	clock_step_end();

	ASSERT_TRUE(abs_fired);
	ASSERT_EQ(read_u64(abs), 1);
	/* A relative REALTIME timer runs on the monotonic clock. */
	ASSERT_FALSE(rel_fired);
	ASSERT_FALSE(mono_fired);
	ASSERT_OK(g);
	ASSERT_GT(left.it_value.tv_sec, STEP_S / 2 - 60);
	ASSERT_OK(sys_close(abs));
	ASSERT_OK(sys_close(rel));
	ASSERT_OK(sys_close(mono));
}

/* A step backwards moves an absolute deadline away. */
TEST(timerfd_realtime_abs_step_back_delays)
{
	int abs = realtime_timer(1, TFD_TIMER_ABSTIME);
	clock_step_begin(-STEP_S);
	bool fired = readable_within(abs, 1500);
	struct itimerspec left;
	int g = sys_timerfd_gettime(abs, &left);
	clock_step_end();
	ASSERT_FALSE(fired);
	ASSERT_OK(g);
	ASSERT_GT(left.it_value.tv_sec, STEP_S - 60);
	ASSERT_OK(sys_close(abs));
}

/*
 * An absolute timer that fired and was read is no longer armed: a step of
 * the clock moves nothing back into the queue, so it never fires again.
 */
TEST(timerfd_realtime_abs_fired_and_read_stays_quiet_after_step)
{
	int abs = realtime_timer(0, TFD_TIMER_ABSTIME);
	ASSERT_TRUE(readable_within(abs, 2000));
	ASSERT_EQ(read_u64(abs), 1);
	clock_step_begin(STEP_S);
	bool fired = readable_within(abs, 200);
	clock_step_end();
	bool fired_after = readable_within(abs, 200);
	ASSERT_FALSE(fired);
	ASSERT_FALSE(fired_after);
	uint64_t v;
	ASSERT_ERRNO(sys_read(abs, &v, sizeof(v)), EAGAIN);
	ASSERT_OK(sys_close(abs));
}

TEST(timerfd_cancel_on_set_ecanceled)
{
	int c = realtime_timer(STEP_S * 24,
	                       TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
	/* Without ABSTIME the flag has no effect. */
	int plain = realtime_timer(STEP_S * 24, TFD_TIMER_CANCEL_ON_SET);
	int ep = new_ep();
	ADD(ep, c, EPOLLIN | EPOLLET, 7);
	struct epoll_event ev[2];
	ASSERT_EQ(wait0(ep, ev, 2), 0);
	uint64_t v;

	clock_step_begin(STEP_S);
	bool woke = sys_epoll_wait(ep, ev, 2, 2000) == 1;
	errno = 0;
	ssize_t r1 = sys_read(c, &v, sizeof(v));
	int e1 = errno;
	errno = 0;
	ssize_t r2 = sys_read(c, &v, sizeof(v));
	int e2 = errno;
	bool plain_readable = readable_within(plain, 0);
	clock_step_end();
	/* Putting the clock back is a change too: cancelled again. */
	bool again = readable_within(c, 2000);
	errno = 0;
	ssize_t r3 = sys_read(c, &v, sizeof(v));
	int e3 = errno;

	ASSERT_TRUE(woke);
	ASSERT_EQ(ev[0].data.u64, 7);
	ASSERT_EQ(r1, -1);
	ASSERT_EQ(e1, ECANCELED);
	ASSERT_EQ(r2, -1);
	ASSERT_EQ(e2, EAGAIN);
	ASSERT_FALSE(plain_readable);
	ASSERT_TRUE(again);
	ASSERT_EQ(r3, -1);
	ASSERT_EQ(e3, ECANCELED);
	/* Re-armed by settime: not cancelled any more. */
	ASSERT_OK(sys_close(ep));
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(plain));
}

struct blocked_read {
	int fd;
	_Atomic int done; /* set last: r and err are read after it */
	ssize_t r;
	int err;
};

static void *read_blocking(void *arg)
{
	struct blocked_read *b = arg;
	uint64_t v;
	b->r = sys_read(b->fd, &v, sizeof(v));
	b->err = errno;
	atomic_store(&b->done, 1);
	return NULL;
}

TEST(timerfd_cancel_on_set_wakes_blocked_read)
{
	int fd = sys_timerfd_create(CLOCK_REALTIME, 0); /* blocking */
	ASSERT_GE(fd, 0);
	struct itimerspec its = {0};
	clock_gettime(CLOCK_REALTIME, &its.it_value);
	its.it_value.tv_sec += STEP_S * 24;
	ASSERT_OK(sys_timerfd_settime(
	        fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL));
	struct blocked_read b = {.fd = fd};
	pthread_t t;
	ASSERT_OK(pthread_create(&t, NULL, read_blocking, &b));
	sleep_ms(100); /* let it block */

	clock_step_begin(STEP_S);
	int64_t t0 = now_ms();
	while (!atomic_load(&b.done) && now_ms() - t0 < 2000)
		sleep_ms(5);
	bool done = atomic_load(&b.done);
	clock_step_end();

	ASSERT_TRUE(done);
	ASSERT_OK(pthread_join(t, NULL));
	ASSERT_EQ(b.r, -1);
	ASSERT_EQ(b.err, ECANCELED);
	ASSERT_OK(sys_close(fd));
}
