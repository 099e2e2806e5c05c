/*
 * timerfd: errors, masks, expiration counts, intervals, gettime and old
 * values, and what epoll reports for it.  The wake-up rule under test: the
 * timer wakes its queue (key EPOLLIN) when it expires, and a periodic
 * timer is re-armed only by read (or gettime), so one never read wakes
 * once.  Timing bounds are loose: this runs on a noisy 2-core VM.
 */
#include "sys.h"

#include <limits.h>
#include <pthread.h>
#include <sys/wait.h>

#define MS 1000000L

static int new_tfd(int clock, int flags)
{
	int fd = sys_timerfd_create(clock, flags);
	ASSERT_GE(fd, 0);
	return fd;
}

static struct itimerspec its(long value_ms, long interval_ms)
{
	struct itimerspec t = {
	        .it_value = {value_ms / 1000, (value_ms % 1000) * MS},
	        .it_interval = {interval_ms / 1000, (interval_ms % 1000) * MS}};
	return t;
}

static void arm(int fd, long value_ms, long interval_ms)
{
	struct itimerspec t = its(value_ms, interval_ms);
	ASSERT_OK(sys_timerfd_settime(fd, 0, &t, NULL));
}

static int64_t ts_ms(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / MS;
}

/* Wait up to 2 s for fd to become readable (poll). */
static void wait_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ASSERT_EQ(sys_poll(&p, 1, 2000), 1);
	ASSERT_EQ_HEX(p.revents, POLLIN);
}

/* ---- create ---- */

TEST(tfd_create_bad_flags)
{
	ASSERT_ERRNO(sys_timerfd_create(CLOCK_MONOTONIC, TFD_TIMER_ABSTIME),
	             EINVAL);
	ASSERT_ERRNO(sys_timerfd_create(CLOCK_MONOTONIC, O_RDWR), EINVAL);
	ASSERT_ERRNO(sys_timerfd_create(CLOCK_MONOTONIC, 0x40000000), EINVAL);
	/* Bad flags and a bad clock: still EINVAL. */
	ASSERT_ERRNO(sys_timerfd_create(-1, 1), EINVAL);
}

TEST(tfd_create_bad_clock)
{
	ASSERT_ERRNO(sys_timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), EINVAL);
	ASSERT_ERRNO(sys_timerfd_create(CLOCK_THREAD_CPUTIME_ID, 0), EINVAL);
	ASSERT_ERRNO(sys_timerfd_create(CLOCK_MONOTONIC_RAW, 0), EINVAL);
	ASSERT_ERRNO(sys_timerfd_create(CLOCK_MONOTONIC_COARSE, 0), EINVAL);
	ASSERT_ERRNO(sys_timerfd_create(CLOCK_TAI, 0), EINVAL);
	ASSERT_ERRNO(sys_timerfd_create(-1, 0), EINVAL);
	ASSERT_ERRNO(sys_timerfd_create(100, 0), EINVAL);
}

TEST(tfd_create_clocks_ok)
{
	int c[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int fd = new_tfd(c[i], 0);
		struct itimerspec cur;
		ASSERT_OK(sys_timerfd_gettime(fd, &cur));
		ASSERT_EQ(cur.it_value.tv_sec + cur.it_value.tv_nsec, 0);
		ASSERT_OK(sys_close(fd));
	}
}

TEST(tfd_create_alarm_clock_as_kernel)
{
	/* EPERM without CAP_WAKE_ALARM, success with it: same as the kernel. */
	int k = timerfd_create(CLOCK_BOOTTIME_ALARM, 0);
	int ke = errno;
	errno = 0;
	int u = sys_timerfd_create(CLOCK_BOOTTIME_ALARM, 0);
	if (k < 0) {
		ASSERT_EQ(ke, EPERM);
		ASSERT_ERRNO(u, EPERM);
	} else {
		ASSERT_GE(u, 0);
		close(k);
	}
}

TEST(tfd_create_flags)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ASSERT_EQ(sys_fcntl(fd, F_GETFL, 0), O_RDWR | O_NONBLOCK);
	ASSERT_EQ(sys_fcntl(fd, F_GETFD, 0), FD_CLOEXEC);
	int fd2 = new_tfd(CLOCK_MONOTONIC, 0);
	ASSERT_EQ(sys_fcntl(fd2, F_GETFL, 0), O_RDWR);
	ASSERT_EQ(sys_fcntl(fd2, F_GETFD, 0), 0);
}

/* ---- settime / gettime errors ---- */

TEST(tfd_settime_null_new_efault_first)
{
	int fd = new_tfd(CLOCK_MONOTONIC, 0);
	ASSERT_ERRNO(sys_timerfd_settime(fd, 0, NULL, NULL), EFAULT);
	/* The value is copied in before anything else is checked. */
	ASSERT_ERRNO(sys_timerfd_settime(-1, 0, NULL, NULL), EFAULT);
	ASSERT_ERRNO(sys_timerfd_settime(fd, 0xff, NULL, NULL), EFAULT);
}

TEST(tfd_settime_bad_timespec_einval)
{
	int fd = new_tfd(CLOCK_MONOTONIC, 0);
	struct itimerspec t = its(10, 0);
	t.it_value.tv_nsec = 1000000000L;
	ASSERT_ERRNO(sys_timerfd_settime(fd, 0, &t, NULL), EINVAL);
	t.it_value.tv_nsec = -1;
	ASSERT_ERRNO(sys_timerfd_settime(fd, 0, &t, NULL), EINVAL);
	t = its(10, 0);
	t.it_value.tv_sec = -1;
	ASSERT_ERRNO(sys_timerfd_settime(fd, 0, &t, NULL), EINVAL);
	t = its(10, 10);
	t.it_interval.tv_nsec = 1000000000L;
	ASSERT_ERRNO(sys_timerfd_settime(fd, 0, &t, NULL), EINVAL);
	t = its(10, 10);
	t.it_interval.tv_sec = -5;
	ASSERT_ERRNO(sys_timerfd_settime(fd, 0, &t, NULL), EINVAL);
	/* Invalid values are checked before the descriptor. */
	t.it_interval.tv_sec = -5;
	ASSERT_ERRNO(sys_timerfd_settime(-1, 0, &t, NULL), EINVAL);
	/* Nothing was armed. */
	struct itimerspec cur;
	ASSERT_OK(sys_timerfd_gettime(fd, &cur));
	ASSERT_EQ(ts_ms(&cur.it_value), 0);
	ASSERT_EQ(ts_ms(&cur.it_interval), 0);
}

TEST(tfd_settime_bad_flags_einval)
{
	int fd = new_tfd(CLOCK_MONOTONIC, 0);
	struct itimerspec t = its(10, 0);
	ASSERT_ERRNO(sys_timerfd_settime(fd, 4, &t, NULL), EINVAL);
	ASSERT_ERRNO(sys_timerfd_settime(fd, TFD_NONBLOCK, &t, NULL), EINVAL);
	ASSERT_ERRNO(sys_timerfd_settime(-1, 4, &t, NULL), EINVAL);
	/* CANCEL_ON_SET is a valid flag (with any clock). */
	ASSERT_OK(sys_timerfd_settime(fd, TFD_TIMER_CANCEL_ON_SET, &t, NULL));
}

TEST(tfd_settime_gettime_ebadf)
{
	struct itimerspec t = its(10, 0), cur;
	ASSERT_ERRNO(sys_timerfd_settime(-1, 0, &t, NULL), EBADF);
	ASSERT_ERRNO(sys_timerfd_settime(SYS_FD_HIGH, 0, &t, NULL), EBADF);
	ASSERT_ERRNO(sys_timerfd_gettime(-1, &cur), EBADF);
	ASSERT_ERRNO(sys_timerfd_gettime(SYS_FD_HIGH, &cur), EBADF);
	int fd = new_tfd(CLOCK_MONOTONIC, 0);
	ASSERT_OK(sys_close(fd));
	ASSERT_ERRNO(sys_timerfd_settime(fd, 0, &t, NULL), EBADF);
	ASSERT_ERRNO(sys_timerfd_gettime(fd, &cur), EBADF);
}

TEST(tfd_settime_gettime_not_timerfd)
{
	struct itimerspec t = its(10, 0), cur;
	int efd = new_efd(0, 0);
	ASSERT_ERRNO(sys_timerfd_settime(efd, 0, &t, NULL), EINVAL);
	ASSERT_ERRNO(sys_timerfd_gettime(efd, &cur), EINVAL);
	int ep = new_ep();
	ASSERT_ERRNO(sys_timerfd_settime(ep, 0, &t, NULL), EINVAL);
	ASSERT_ERRNO(sys_timerfd_gettime(ep, &cur), EINVAL);
}

TEST(tfd_gettime_null_efault)
{
	int fd = new_tfd(CLOCK_MONOTONIC, 0);
	ASSERT_ERRNO(sys_timerfd_gettime(fd, NULL), EFAULT);
	/* EBADF comes first. */
	ASSERT_ERRNO(sys_timerfd_gettime(-1, NULL), EBADF);
}

TEST(tfd_read_small_buffer_einval)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	char buf[8];
	ASSERT_ERRNO(sys_read(fd, buf, 7), EINVAL);
	ASSERT_ERRNO(sys_read(fd, buf, 0), EINVAL);
	arm(fd, 1, 0);
	wait_readable(fd);
	/* Even with expirations to read. */
	ASSERT_ERRNO(sys_read(fd, buf, 4), EINVAL);
	ASSERT_EQ(poll_mask(fd), POLLIN);
	uint64_t big[2] = {0, 0xdead};
	ASSERT_EQ(sys_read(fd, big, sizeof(big)), 8);
	ASSERT_EQ(big[0], 1);
	ASSERT_EQ_HEX(big[1], 0xdead);
}

TEST(tfd_write_einval)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	uint64_t v = 1;
	ASSERT_ERRNO(sys_write(fd, &v, 8), EINVAL);
}

TEST(tfd_nonblock_read_eagain)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	uint64_t v = 77;
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
	arm(fd, 5000, 0);
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
	ASSERT_EQ(v, 77);
}

/* ---- masks ---- */

TEST(tfd_mask_unarmed_and_armed_none)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	/* Never writable, and not readable until it expires. */
	ASSERT_EQ_HEX(poll_mask(fd), 0);
	arm(fd, 5000, 0);
	ASSERT_EQ_HEX(poll_mask(fd), 0);
}

TEST(tfd_mask_expired_in_only)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	arm(fd, 1, 0);
	wait_readable(fd);
	/* IN only: no RDNORM even when asked. */
	ASSERT_EQ_HEX(poll_mask(fd), POLLIN);
	int ep = new_ep();
	ADD(ep, fd, EPOLLIN | EPOLLRDNORM | EPOLLOUT, 1);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_EQ(read_u64(fd), 1);
	ASSERT_EQ_HEX(poll_mask(fd), 0);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

/* ---- counts, intervals ---- */

TEST(tfd_oneshot_counts_one)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	arm(fd, 10, 0);
	sleep_ms(40);
	ASSERT_EQ(read_u64(fd), 1);
	uint64_t v;
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
	sleep_ms(20);
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
	struct itimerspec cur;
	ASSERT_OK(sys_timerfd_gettime(fd, &cur));
	ASSERT_EQ(ts_ms(&cur.it_value), 0);
	ASSERT_EQ(ts_ms(&cur.it_interval), 0);
}

TEST(tfd_periodic_accumulates)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int64_t t0 = now_ms();
	arm(fd, 10, 10);
	sleep_ms(55);
	uint64_t n = read_u64(fd);
	int64_t el = now_ms() - t0;
	ASSERT_GE(n, 4);
	/* Never more than the intervals that passed. */
	ASSERT_LE(n, (uint64_t)(el / 10));
	/* Read resets; the next period brings more. */
	uint64_t v;
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
	wait_readable(fd);
	ASSERT_GE(read_u64(fd), 1);
}

TEST(tfd_periodic_total_matches_elapsed)
{
	/* Over several reads, the counts add up to the periods elapsed. */
	int fd = new_tfd(CLOCK_MONOTONIC, 0);
	int64_t t0 = now_ms();
	arm(fd, 5, 5);
	uint64_t total = 0;
	for (int i = 0; i < 6; i++) {
		sleep_ms(i * 4);
		total += read_u64(fd); /* blocking */
	}
	int64_t el = now_ms() - t0;
	ASSERT_LE(total, (uint64_t)(el / 5));
	ASSERT_GE(total, (uint64_t)(el / 5) - 2);
}

TEST(tfd_disarm)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	arm(fd, 20, 20);
	arm(fd, 0, 0);
	sleep_ms(50);
	uint64_t v;
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
	struct itimerspec cur;
	ASSERT_OK(sys_timerfd_gettime(fd, &cur));
	ASSERT_EQ(ts_ms(&cur.it_value), 0);
	ASSERT_EQ(ts_ms(&cur.it_interval), 0);
}

TEST(tfd_disarm_keeps_interval)
{
	/* it_value 0 disarms; the interval is still stored and reported. */
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	arm(fd, 0, 10);
	struct itimerspec cur;
	ASSERT_OK(sys_timerfd_gettime(fd, &cur));
	ASSERT_EQ(cur.it_value.tv_sec, 0);
	ASSERT_EQ(cur.it_value.tv_nsec, 0);
	ASSERT_EQ(ts_ms(&cur.it_interval), 10);
	sleep_ms(30);
	uint64_t v;
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
}

TEST(tfd_settime_clears_count)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	arm(fd, 1, 0);
	wait_readable(fd);
	arm(fd, 5000, 0);
	ASSERT_EQ_HEX(poll_mask(fd), 0);
	uint64_t v;
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
	/* Disarming clears it too. */
	arm(fd, 1, 0);
	wait_readable(fd);
	arm(fd, 0, 0);
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
}

TEST(tfd_old_value)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec t = its(1000, 2000), old;
	memset(&old, 0xff, sizeof(old));
	ASSERT_OK(sys_timerfd_settime(fd, 0, &t, &old));
	ASSERT_EQ(old.it_value.tv_sec, 0);
	ASSERT_EQ(old.it_value.tv_nsec, 0);
	ASSERT_EQ(old.it_interval.tv_sec, 0);
	ASSERT_EQ(old.it_interval.tv_nsec, 0);
	t = its(3000, 0);
	ASSERT_OK(sys_timerfd_settime(fd, 0, &t, &old));
	ASSERT_GT(ts_ms(&old.it_value), 500);
	ASSERT_LE(ts_ms(&old.it_value), 1000);
	ASSERT_EQ(old.it_interval.tv_sec, 2);
	ASSERT_EQ(old.it_interval.tv_nsec, 0);
	/* Disarm, returning the 3 s setting. */
	t = its(0, 0);
	ASSERT_OK(sys_timerfd_settime(fd, 0, &t, &old));
	ASSERT_GT(ts_ms(&old.it_value), 2500);
	ASSERT_LE(ts_ms(&old.it_value), 3000);
	ASSERT_EQ(ts_ms(&old.it_interval), 0);
}

TEST(tfd_old_value_periodic_expired_is_next_period)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int64_t t0 = now_ms();
	arm(fd, 10, 100);
	sleep_ms(30);
	struct itimerspec t = its(0, 0), old;
	ASSERT_OK(sys_timerfd_settime(fd, 0, &t, &old));
	int64_t elapsed = now_ms() - t0;
	/* Expired, not read: old_value counts down to the next period. */
	ASSERT_TRUE(old.it_value.tv_sec || old.it_value.tv_nsec);
	ASSERT_LE(ts_ms(&old.it_value), 100);
	/* Unless this thread slept past the 110 ms mark (a loaded machine),
	 * the next expiry is the one at 110 ms. */
	if (elapsed < 100)
		ASSERT_GE(ts_ms(&old.it_value), 110 - elapsed - 2);
	ASSERT_EQ(ts_ms(&old.it_interval), 100);
}

TEST(tfd_gettime_countdown)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	arm(fd, 300, 0);
	struct itimerspec a, b;
	ASSERT_OK(sys_timerfd_gettime(fd, &a));
	ASSERT_LE(ts_ms(&a.it_value), 300);
	ASSERT_GT(ts_ms(&a.it_value), 200);
	sleep_ms(60);
	ASSERT_OK(sys_timerfd_gettime(fd, &b));
	ASSERT_LE(ts_ms(&b.it_value), ts_ms(&a.it_value) - 50);
	ASSERT_GT(ts_ms(&b.it_value), 0);
	ASSERT_EQ(ts_ms(&b.it_interval), 0);
}

TEST(tfd_huge_value)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec t = {.it_value = {LONG_MAX, 999999999},
	                       .it_interval = {LONG_MAX, 0}};
	ASSERT_OK(sys_timerfd_settime(fd, 0, &t, NULL));
	struct itimerspec cur;
	ASSERT_OK(sys_timerfd_gettime(fd, &cur));
	/* Saturated somewhere near 292 years; never fires. */
	ASSERT_GT(cur.it_value.tv_sec, 9000000000LL);
	ASSERT_EQ_HEX(poll_mask(fd), 0);
}

TEST(tfd_abstime_past_fires_immediately)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int ep = new_ep();
	ADD(ep, fd, EPOLLIN, 3);
	struct itimerspec t = its(1000, 0); /* 1 s after boot: long past */
	int64_t t0 = now_ms();
	ASSERT_OK(sys_timerfd_settime(fd, TFD_TIMER_ABSTIME, &t, NULL));
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 2000), 1);
	ASSERT_LT(now_ms() - t0, 100);
	ASSERT_EQ(read_u64(fd), 1);
	struct itimerspec cur;
	ASSERT_OK(sys_timerfd_gettime(fd, &cur));
	ASSERT_EQ(ts_ms(&cur.it_value), 0);
}

TEST(tfd_abstime_past_periodic_counts_overruns)
{
	/* Started 100 ms in the past with a 10 ms period: about 11 ticks. */
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct itimerspec t = {.it_value = now, .it_interval = {0, 10 * MS}};
	t.it_value.tv_sec -= 1; /* 1 s ago */
	ASSERT_OK(sys_timerfd_settime(fd, TFD_TIMER_ABSTIME, &t, NULL));
	wait_readable(fd);
	uint64_t n = read_u64(fd);
	ASSERT_GE(n, 100);
	ASSERT_LE(n, 130);
}

TEST(tfd_abstime_future_monotonic_and_realtime)
{
	int c[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int fd = new_tfd(c[i], TFD_NONBLOCK);
		struct timespec now;
		int64_t t0 = now_ms(); /* before the deadline's base */
		clock_gettime(c[i], &now);
		struct itimerspec t = {.it_value = now};
		t.it_value.tv_nsec += 40 * MS;
		if (t.it_value.tv_nsec >= 1000000000L) {
			t.it_value.tv_sec++;
			t.it_value.tv_nsec -= 1000000000L;
		}
		ASSERT_OK(sys_timerfd_settime(fd, TFD_TIMER_ABSTIME, &t, NULL));
		struct itimerspec cur;
		ASSERT_OK(sys_timerfd_gettime(fd, &cur));
		ASSERT_LE(ts_ms(&cur.it_value), 40);
		ASSERT_GT(ts_ms(&cur.it_value), 10);
		ASSERT_EQ_HEX(poll_mask(fd), 0);
		wait_readable(fd);
		ASSERT_GE(now_ms() - t0, 30);
		ASSERT_EQ(read_u64(fd), 1);
		ASSERT_OK(sys_close(fd));
	}
}

TEST(tfd_relative_realtime_boottime)
{
	int c[] = {CLOCK_REALTIME, CLOCK_BOOTTIME};
	for (unsigned i = 0; i < 2; i++) {
		int fd = new_tfd(c[i], TFD_NONBLOCK);
		int64_t t0 = now_ms();
		arm(fd, 20, 0);
		wait_readable(fd);
		ASSERT_GE(now_ms() - t0, 15);
		ASSERT_EQ(read_u64(fd), 1);
	}
}

/* ---- blocking ---- */

TEST(tfd_blocking_read_waits_for_expiry)
{
	int fd = new_tfd(CLOCK_MONOTONIC, 0);
	int64_t t0 = now_ms();
	arm(fd, 50, 0);
	ASSERT_EQ(read_u64(fd), 1);
	ASSERT_GE(now_ms() - t0, 40);
}

struct arm_later {
	int fd;
	int delay_ms;
};

static void *arm_later_fn(void *arg)
{
	struct arm_later *a = arg;
	sleep_ms(a->delay_ms);
	struct itimerspec t = its(10, 0);
	if (sys_timerfd_settime(a->fd, 0, &t, NULL) != 0)
		abort();
	return NULL;
}

TEST(tfd_blocking_read_unarmed_then_armed_by_thread)
{
	int fd = new_tfd(CLOCK_MONOTONIC, 0);
	struct arm_later a = {.fd = fd, .delay_ms = 50};
	pthread_t th;
	int64_t t0 = now_ms();
	ASSERT_EQ(pthread_create(&th, NULL, arm_later_fn, &a), 0);
	ASSERT_EQ(read_u64(fd), 1);
	ASSERT_GE(now_ms() - t0, 50);
	ASSERT_EQ(pthread_join(th, NULL), 0);
}

TEST(tfd_epoll_wait_woken_by_expiry)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int ep = new_ep();
	ADD(ep, fd, EPOLLIN, 42);
	int64_t t0 = now_ms();
	arm(fd, 40, 0);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 5000), 1);
	ASSERT_GE(now_ms() - t0, 30);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_EQ(out[0].data.u64, 42);
}

TEST(tfd_poll_woken_by_expiry)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int64_t t0 = now_ms();
	arm(fd, 30, 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ASSERT_EQ(sys_poll(&p, 1, 5000), 1);
	ASSERT_GE(now_ms() - t0, 20);
	ASSERT_EQ_HEX(p.revents, POLLIN);
}

/* ---- epoll: trigger modes ---- */

TEST(tfd_et_periodic_never_read_one_event)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int ep = new_ep();
	ADD(ep, fd, EPOLLIN | EPOLLET, 1);
	arm(fd, 5, 5);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 2000), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	/* Many periods pass, but the timer is re-armed only by a read. */
	sleep_ms(60);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 30), 0);
	ASSERT_GE(read_u64(fd), 10);
}

TEST(tfd_et_after_read_new_event)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int ep = new_ep();
	ADD(ep, fd, EPOLLIN | EPOLLET, 1);
	arm(fd, 5, 5);
	struct epoll_event out[2];
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(sys_epoll_wait(ep, out, 2, 2000), 1);
		ASSERT_EQ(wait0(ep, out, 2), 0);
		ASSERT_GE(read_u64(fd), 1);
	}
}

TEST(tfd_et_gettime_rearms)
{
	/* gettime re-arms an expired periodic timer as read does, without
	 * clearing the count: the next period wakes again. */
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int ep = new_ep();
	ADD(ep, fd, EPOLLIN | EPOLLET, 1);
	arm(fd, 10, 10);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 2000), 1);
	sleep_ms(35);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	struct itimerspec cur;
	ASSERT_OK(sys_timerfd_gettime(fd, &cur));
	ASSERT_GT(cur.it_value.tv_nsec, 0);
	ASSERT_LE(ts_ms(&cur.it_value), 10);
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 2000), 1);
	ASSERT_GE(read_u64(fd), 4);
}

TEST(tfd_et_settime_does_not_wake)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int ep = new_ep();
	ADD(ep, fd, EPOLLIN | EPOLLET, 1);
	arm(fd, 1, 0);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 2000), 1);
	arm(fd, 5000, 0);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	arm(fd, 0, 0);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(tfd_lt_reports_until_read)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int ep = new_ep();
	ADD(ep, fd, EPOLLIN, 8);
	arm(fd, 1, 0);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 2000), 1);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(wait0(ep, out, 2), 1);
		ASSERT_EQ(out[0].data.u64, 8);
	}
	ASSERT_EQ(read_u64(fd), 1);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(tfd_oneshot_item_with_periodic_timer)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int ep = new_ep();
	ADD(ep, fd, EPOLLIN | EPOLLONESHOT, 1);
	arm(fd, 5, 5);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 2000), 1);
	ASSERT_GE(read_u64(fd), 1);
	/* Re-armed by the read and firing, but the item is disabled. */
	sleep_ms(30);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	/* MOD re-polls: ready at once. */
	MOD(ep, fd, EPOLLIN | EPOLLONESHOT, 2);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ(out[0].data.u64, 2);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(tfd_multiple_in_one_epoll_in_order)
{
	int ep = new_ep();
	int fds[3];
	for (int i = 0; i < 3; i++) {
		fds[i] = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
		ADD(ep, fds[i], EPOLLIN, (uint64_t)i);
	}
	/* Armed in reverse; expire 40 ms apart. */
	for (int i = 2; i >= 0; i--)
		arm(fds[i], 20 + 40 * i, 0);
	for (int i = 0; i < 3; i++) {
		struct epoll_event out[4];
		ASSERT_EQ(sys_epoll_wait(ep, out, 4, 2000), 1);
		ASSERT_EQ(out[0].data.u64, (uint64_t)i);
		ASSERT_EQ(read_u64(fds[i]), 1);
	}
}

TEST(tfd_many_timers_one_epoll)
{
	enum { N = 200 };
	int ep = new_ep();
	int fds[N];
	for (int i = 0; i < N; i++) {
		fds[i] = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
		ADD(ep, fds[i], EPOLLIN | EPOLLET, (uint64_t)i);
		arm(fds[i], 1 + (i * 7919) % 30, 0);
	}
	static int seen[N];
	int got = 0;
	int64_t t0 = now_ms();
	while (got < N && now_ms() - t0 < 5000) {
		struct epoll_event out[64];
		int n = sys_epoll_wait(ep, out, 64, 1000);
		ASSERT_GE(n, 0);
		for (int j = 0; j < n; j++) {
			ASSERT_EQ(seen[out[j].data.u64], 0);
			seen[out[j].data.u64] = 1;
			ASSERT_EQ(read_u64(fds[out[j].data.u64]), 1);
			got++;
		}
	}
	ASSERT_EQ(got, N);
}

TEST(tfd_nested_epoll_sees_expiry)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int child = new_ep(), parent = new_ep();
	ADD(child, fd, EPOLLIN, 1);
	ADD(parent, child, EPOLLIN, 2);
	arm(fd, 20, 0);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(parent, out, 2, 2000), 1);
	ASSERT_EQ(out[0].data.u64, 2);
	ASSERT_EQ(wait0(child, out, 2), 1);
	ASSERT_EQ(out[0].data.u64, 1);
}

/* ---- descriptors ---- */

TEST(tfd_dup_shares_timer)
{
	int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int fd2 = sys_dup(fd);
	ASSERT_GE(fd2, 0);
	arm(fd2, 1, 0);
	wait_readable(fd);
	ASSERT_EQ(read_u64(fd), 1);
	uint64_t v;
	ASSERT_ERRNO(sys_read(fd2, &v, 8), EAGAIN);
}

TEST(tfd_close_armed_timers)
{
	/* Closing armed and firing timers must be safe at any moment. */
	for (int i = 0; i < 50; i++) {
		int fd = new_tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
		arm(fd, i % 3, 1);
		if (i % 2)
			sleep_ms(1);
		ASSERT_OK(sys_close(fd));
	}
}

TEST(tfd_fork_child_inherits_and_arms)
{
#ifdef __SANITIZE_THREAD__
	/* uepoll starts its timer thread in the child. */
	if (SYS_IS_UEPOLL)
		SKIP("TSan cannot start a thread in the child of a threaded "
		     "fork");
#endif
	int fd = new_tfd(CLOCK_MONOTONIC, 0);
	arm(fd, 50, 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		uint64_t v = 0;
		/* The armed timer fires in the child too. */
		if (sys_read(fd, &v, 8) != 8 || v != 1)
			_exit(1);
		/* And a new timer can be armed there. */
		int fd2 = sys_timerfd_create(CLOCK_MONOTONIC, 0);
		struct itimerspec t = its(10, 0);
		if (fd2 < 0 || sys_timerfd_settime(fd2, 0, &t, NULL) != 0)
			_exit(2);
		if (sys_read(fd2, &v, 8) != 8 || v != 1)
			_exit(3);
		_exit(0);
	}
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
}
