/*
 * A timerfd whose deadline passed while the timer service was busy (it
 * runs one function at a time, and here another timer's function holds
 * it): where the kernel's timer would have fired at the deadline, read and
 * gettime find it fired, settime's old value names the next period, and
 * the service's own firing, when it comes, counts nothing twice.
 */
#include "../runner.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/timerfd.h>
#include <time.h>

#include "uepoll.h"
#include "kernel/timer.h"

#define MS 1000000LL

static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static bool hold_on, holding;

/* The blocker's function: keeps the service thread until let go. */
static void hold_fn(struct uep_timer *t, uint64_t seq)
{
	(void)t;
	(void)seq;
	pthread_mutex_lock(&hold_lock);
	holding = true;
	pthread_cond_broadcast(&hold_cv);
	while (hold_on)
		pthread_cond_wait(&hold_cv, &hold_lock);
	holding = false;
	pthread_mutex_unlock(&hold_lock);
}

static struct uep_timer blocker;

static void service_hold(void)
{
	hold_on = true;
	uep_timer_init(&blocker, hold_fn);
	ASSERT_EQ(uep_timer_start(&blocker, uep_timer_now()), 0);
	pthread_mutex_lock(&hold_lock);
	while (!holding)
		pthread_cond_wait(&hold_cv, &hold_lock);
	pthread_mutex_unlock(&hold_lock);
}

static void service_release(void)
{
	pthread_mutex_lock(&hold_lock);
	hold_on = false;
	pthread_cond_broadcast(&hold_cv);
	pthread_mutex_unlock(&hold_lock);
	uep_timer_cancel_sync(&blocker);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * MS};
	nanosleep(&ts, NULL);
}

static int64_t ts_ms(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / MS;
}

static int tfd(long value_ms, long interval_ms)
{
	int fd = uepoll_timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec its = {
	        {interval_ms / 1000, (interval_ms % 1000) * MS},
	        {value_ms / 1000, (value_ms % 1000) * MS}};
	if (fd < 0 || uepoll_timerfd_settime(fd, 0, &its, NULL))
		FAIL("timerfd: errno %d", errno);
	return fd;
}

static uint64_t ticks(int fd)
{
	uint64_t v = 0;
	ssize_t r = uepoll_read(fd, &v, sizeof(v));
	return r == sizeof(v) ? v : 0;
}

TEST(timerfd_late_service_read_gettime_settime_see_it_fired)
{
	service_hold();
	int per = tfd(10, 200), per2 = tfd(10, 200), once = tfd(10, 0);
	int ep = uepoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1}, out[2];
	ASSERT_EQ(uepoll_ctl(ep, EPOLL_CTL_ADD, per, &ev), 0);
	sleep_ms(60); /* past every first deadline; the service is held */

	/* gettime: fired, re-armed for the next period, IN, one tick. */
	struct itimerspec cur;
	ASSERT_EQ(uepoll_timerfd_gettime(per, &cur), 0);
	ASSERT_GT(ts_ms(&cur.it_value), 0);
	ASSERT_LE(ts_ms(&cur.it_value), 200);
	ASSERT_EQ(uepoll_wait(ep, out, 2, 0), 1);
	ASSERT_EQ(ticks(per), 1);

	/* settime's old value: the next period, not 0 (disarmed). */
	struct itimerspec off = {{0, 0}, {0, 0}}, old;
	ASSERT_EQ(uepoll_timerfd_settime(per2, 0, &off, &old), 0);
	ASSERT_GT(ts_ms(&old.it_value), 0);
	ASSERT_LE(ts_ms(&old.it_value), 200);
	ASSERT_EQ(ts_ms(&old.it_interval), 200);

	/* read of a one-shot timer: its tick. */
	ASSERT_EQ(ticks(once), 1);

	/* The service's late firings are stale: nothing counts twice. */
	service_release();
	sleep_ms(50);
	ASSERT_EQ(ticks(once), 0);
	ASSERT_EQ(ticks(per2), 0);
	ASSERT_EQ(ticks(per), 0); /* its next deadline is ~150 ms away */
	uepoll_close(ep);
	uepoll_close(per);
	uepoll_close(per2);
	uepoll_close(once);
}
