/*
 * timerfd and the wall clock (issue 11, item 8): absolute CLOCK_REALTIME
 * timers follow a step of the clock, relative ones do not, and
 * TFD_TIMER_CANCEL_ON_SET cancels (ECANCELED, readable, a blocked read
 * wakes).  Needs root: each test steps CLOCK_REALTIME forward by an hour
 * and back right away.  Between the two steps nothing asserts (an assert
 * ends the process), and a guardian process puts the clock back if the
 * test's process dies between them anyway (a timeout, a sanitizer's
 * report): the machine's clock never stays stepped.
 */
#include "sys.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <stdbool.h>
#include <string.h>

#define STEP_S 3600

/* The guardian's view: seconds stepped and not yet stepped back. */
struct clock_debt {
	_Atomic long owed;
	_Atomic int ready;
};
static struct clock_debt *debt;

static bool clock_step_raw(long secs)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	return clock_settime(CLOCK_REALTIME, &ts) == 0;
}

static void guardian_restore(int sig)
{
	(void)sig;
	long owed = atomic_exchange(&debt->owed, 0);
	if (owed)
		clock_step_raw(-owed);
	_exit(0);
}

/*
 * Fork a process that waits for this one's death (PR_SET_PDEATHSIG) and
 * then steps the clock back by whatever is still owed.  It holds no
 * descriptor of ours, so the runner's fd check sees nothing of it.
 */
static void guardian_start(void)
{
	debt = mmap(NULL, sizeof(*debt), PROT_READ | PROT_WRITE,
	            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(debt != MAP_FAILED);
	pid_t parent = getpid();
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		signal(SIGUSR1, guardian_restore);
		prctl(PR_SET_PDEATHSIG, SIGUSR1);
		atomic_store(&debt->ready, 1);
		if (getppid() != parent) /* died before the prctl */
			guardian_restore(0);
		for (;;)
			pause();
	}
	while (!atomic_load(&debt->ready))
		sleep_ms(1);
}

/* Step CLOCK_REALTIME by secs; false if not allowed. */
static bool clock_step(long secs)
{
	/* Owed before the step: only a death in the instant between these
	 * two lines is not covered (it would be either way round). */
	atomic_fetch_add(&debt->owed, secs);
	if (clock_step_raw(secs))
		return true;
	atomic_fetch_sub(&debt->owed, secs);
	return false;
}

static void need_clock_step(void)
{
	if (geteuid() != 0)
		SKIP("stepping CLOCK_REALTIME needs root");
	/* A zero step: does this process have CAP_SYS_TIME? */
	if (!clock_step_raw(0))
		SKIP("clock_settime(CLOCK_REALTIME) fails: %s",
		     strerror(errno));
	guardian_start();
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
	need_clock_step();
	/* Half an hour away: the step of an hour takes it past. */
	int abs = realtime_timer(STEP_S / 2, TFD_TIMER_ABSTIME);
	int rel = realtime_timer(STEP_S / 2, 0);
	int mono = sys_timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec its = {.it_value = {STEP_S / 2, 0}};
	ASSERT_OK(sys_timerfd_settime(mono, 0, &its, NULL));
	ASSERT_FALSE(readable_within(abs, 0));

	bool stepped = clock_step(STEP_S);
	bool abs_fired = stepped && readable_within(abs, 2000);
	bool rel_fired = readable_within(rel, 50);
	bool mono_fired = readable_within(mono, 0);
	struct itimerspec left;
	int g = sys_timerfd_gettime(rel, &left);
	if (stepped)
		clock_step(-STEP_S);

	ASSERT_TRUE(stepped);
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
	need_clock_step();
	int abs = realtime_timer(1, TFD_TIMER_ABSTIME);
	bool stepped = clock_step(-STEP_S);
	bool fired = readable_within(abs, 1500);
	struct itimerspec left;
	int g = sys_timerfd_gettime(abs, &left);
	if (stepped)
		clock_step(STEP_S);
	ASSERT_TRUE(stepped);
	ASSERT_FALSE(fired);
	ASSERT_OK(g);
	ASSERT_GT(left.it_value.tv_sec, STEP_S - 60);
	ASSERT_OK(sys_close(abs));
}

TEST(timerfd_cancel_on_set_ecanceled)
{
	need_clock_step();
	int c = realtime_timer(STEP_S * 24,
	                       TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
	/* Without ABSTIME the flag has no effect. */
	int plain = realtime_timer(STEP_S * 24, TFD_TIMER_CANCEL_ON_SET);
	int ep = new_ep();
	ADD(ep, c, EPOLLIN | EPOLLET, 7);
	struct epoll_event ev[2];
	ASSERT_EQ(wait0(ep, ev, 2), 0);
	uint64_t v;

	bool stepped = clock_step(STEP_S);
	bool woke = stepped && sys_epoll_wait(ep, ev, 2, 2000) == 1;
	errno = 0;
	ssize_t r1 = sys_read(c, &v, sizeof(v));
	int e1 = errno;
	errno = 0;
	ssize_t r2 = sys_read(c, &v, sizeof(v));
	int e2 = errno;
	bool plain_readable = readable_within(plain, 0);
	bool back = stepped && clock_step(-STEP_S);
	/* Putting the clock back is a change too: cancelled again. */
	bool again = back && readable_within(c, 2000);
	errno = 0;
	ssize_t r3 = sys_read(c, &v, sizeof(v));
	int e3 = errno;

	ASSERT_TRUE(stepped);
	ASSERT_TRUE(back);
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
	volatile int done;
	ssize_t r;
	int err;
};

static void *read_blocking(void *arg)
{
	struct blocked_read *b = arg;
	uint64_t v;
	b->r = sys_read(b->fd, &v, sizeof(v));
	b->err = errno;
	b->done = 1;
	return NULL;
}

TEST(timerfd_cancel_on_set_wakes_blocked_read)
{
	need_clock_step();
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

	bool stepped = clock_step(STEP_S);
	int64_t t0 = now_ms();
	while (stepped && !b.done && now_ms() - t0 < 2000)
		sleep_ms(5);
	bool done = b.done;
	if (stepped)
		clock_step(-STEP_S);

	ASSERT_TRUE(stepped);
	ASSERT_TRUE(done);
	ASSERT_OK(pthread_join(t, NULL));
	ASSERT_EQ(b.r, -1);
	ASSERT_EQ(b.err, ECANCELED);
	ASSERT_OK(sys_close(fd));
}
