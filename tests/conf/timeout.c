/*
 * Timeouts of epoll_wait, epoll_pwait, epoll_pwait2 and poll: 0 never blocks,
 * a positive timeout waits about that long and returns 0 with nothing
 * written, a negative one (or a NULL timespec) waits until an event, an event
 * arriving mid-wait ends the wait early, and a wakeup that finds nothing
 * ready goes back to sleep until the original deadline (never for a fresh
 * full timeout).  Only loose bounds: the VM is noisy.
 */
#include "sys.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

/* A thread that sleeps, then writes an eventfd (val) or a pipe (one byte). */
struct delayed_write {
	pthread_t tid;
	int fd, ms, is_pipe;
	uint64_t val;
};

static void *delayed_write_main(void *arg)
{
	struct delayed_write *d = arg;
	sleep_ms(d->ms);
	if (d->is_pipe)
		write_byte(d->fd);
	else
		write_u64(d->fd, d->val);
	return NULL;
}

static void delayed_write(struct delayed_write *d, int fd, int ms, int is_pipe,
                          uint64_t val)
{
	d->fd = fd;
	d->ms = ms;
	d->is_pipe = is_pipe;
	d->val = val;
	ASSERT_EQ(pthread_create(&d->tid, NULL, delayed_write_main, d), 0);
}

static void delayed_join(struct delayed_write *d)
{
	ASSERT_EQ(pthread_join(d->tid, NULL), 0);
}

TEST(timeout_zero_empty_returns_at_once)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct epoll_event ev[2];
	int64_t t0 = now_ms();
	for (int i = 0; i < 100; i++)
		ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 0);
	ASSERT_LT(now_ms() - t0, 1000);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(timeout_zero_ready_returns_event)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 7);
	write_u64(efd, 1);
	struct epoll_event ev[2];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 1);
	ASSERT_EQ_HEX(ev[0].events, EPOLLIN);
	ASSERT_EQ(ev[0].data.u64, 7);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* A timeout returns 0 and leaves the caller's buffer untouched. */
TEST(timeout_100ms_waits_and_returns_zero)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct epoll_event ev[2];
	memset(ev, 0xa5, sizeof(ev));
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 100), 0);
	int64_t dt = now_ms() - t0;
	ASSERT_GE(dt, 100 - SLACK_MS);
	ASSERT_LT(dt, LATE_MS);
	ASSERT_EQ_HEX(ev[0].events, 0xa5a5a5a5);
	ASSERT_EQ_HEX(ev[1].data.u64, 0xa5a5a5a5a5a5a5a5ULL);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* An empty instance (no registration at all) also sleeps the full time. */
TEST(timeout_empty_instance_waits)
{
	int ep = new_ep();
	struct epoll_event ev[1];
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_epoll_wait(ep, ev, 1, 60), 0);
	int64_t dt = now_ms() - t0;
	ASSERT_GE(dt, 60 - SLACK_MS);
	ASSERT_LT(dt, LATE_MS);
	ASSERT_OK(sys_close(ep));
}

TEST(timeout_1ms_returns_zero)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct epoll_event ev[1];
	for (int i = 0; i < 5; i++) {
		int64_t t0 = now_ms();
		ASSERT_EQ(sys_epoll_wait(ep, ev, 1, 1), 0);
		ASSERT_LT(now_ms() - t0, LATE_MS);
	}
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* -1, any other negative value and INT_MAX all wait until the event. */
static void wait_until_event(int timeout)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 5);
	struct delayed_write d;
	int64_t t0 = now_ms();
	delayed_write(&d, efd, 100, 0, 1);
	struct epoll_event ev[2];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, timeout), 1);
	int64_t dt = now_ms() - t0;
	delayed_join(&d);
	ASSERT_EQ(ev[0].data.u64, 5);
	ASSERT_GE(dt, 100 - SLACK_MS);
	ASSERT_LT(dt, LATE_MS);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(timeout_minus_one_waits_for_event)
{
	wait_until_event(-1);
}

TEST(timeout_any_negative_waits_for_event)
{
	wait_until_event(-1000);
	wait_until_event(INT_MIN);
}

TEST(timeout_int_max_waits_for_event)
{
	wait_until_event(INT_MAX);
}

TEST(timeout_event_mid_wait_returns_early)
{
	wait_until_event(5000);
}

/* An item already ready: a long timeout does not sleep at all. */
TEST(timeout_ready_before_wait_does_not_sleep)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 3);
	write_u64(efd, 1);
	struct epoll_event ev[1];
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_epoll_wait(ep, ev, 1, 5000), 1);
	ASSERT_LT(now_ms() - t0, 1000);
	ASSERT_EQ(ev[0].data.u64, 3);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/*
 * A wakeup that finds nothing ready: writing 0 to an eventfd runs its wake
 * up (and so the epoll callback) without making it readable.  The harvest
 * re-polls, finds nothing, and the waiter sleeps on until the deadline.
 */
TEST(timeout_spurious_wakeup_keeps_waiting)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct delayed_write d;
	int64_t t0 = now_ms();
	delayed_write(&d, efd, 50, 0, 0);
	struct epoll_event ev[1];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 1, 300), 0);
	int64_t dt = now_ms() - t0;
	delayed_join(&d);
	ASSERT_GE(dt, 300 - SLACK_MS);
	ASSERT_LT(dt, LATE_MS);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* Repeated spurious wakeups must not restart the timeout from scratch. */
struct poker {
	pthread_t tid;
	int efd;
	atomic_int stop;
};

static void *poker_main(void *arg)
{
	struct poker *p = arg;
	int64_t end = now_ms() + 2500;
	while (!atomic_load(&p->stop) && now_ms() < end) {
		write_u64(p->efd, 0);
		sleep_ms(10);
	}
	return NULL;
}

TEST(timeout_spurious_wakeups_do_not_extend_deadline)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLET, 1);
	struct poker p = {.efd = efd};
	ASSERT_EQ(pthread_create(&p.tid, NULL, poker_main, &p), 0);
	struct epoll_event ev[1];
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_epoll_wait(ep, ev, 1, 200), 0);
	int64_t dt = now_ms() - t0;
	atomic_store(&p.stop, 1);
	ASSERT_EQ(pthread_join(p.tid, NULL), 0);
	ASSERT_GE(dt, 200 - SLACK_MS);
	ASSERT_LT(dt, 2000);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* After a timeout, a later event is reported by the next wait. */
TEST(timeout_then_later_event_reported)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLET, 9);
	struct epoll_event ev[1];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 1, 20), 0);
	write_u64(efd, 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 1, 20), 1);
	ASSERT_EQ(ev[0].data.u64, 9);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 1, 20), 0);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(timeout_pwait_null_mask_like_wait)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct epoll_event ev[1];
	ASSERT_EQ(sys_epoll_pwait(ep, ev, 1, 0, NULL), 0);
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_epoll_pwait(ep, ev, 1, 100, NULL), 0);
	int64_t dt = now_ms() - t0;
	ASSERT_GE(dt, 100 - SLACK_MS);
	ASSERT_LT(dt, LATE_MS);
	struct delayed_write d;
	t0 = now_ms();
	delayed_write(&d, efd, 100, 0, 1);
	ASSERT_EQ(sys_epoll_pwait(ep, ev, 1, -1, NULL), 1);
	dt = now_ms() - t0;
	delayed_join(&d);
	ASSERT_GE(dt, 100 - SLACK_MS);
	ASSERT_LT(dt, LATE_MS);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(timeout_pwait2_50ms)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct epoll_event ev[1];
	memset(ev, 0x5a, sizeof(ev));
	struct timespec ts = {0, 50 * 1000 * 1000};
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_epoll_pwait2(ep, ev, 1, &ts, NULL), 0);
	int64_t dt = now_ms() - t0;
	ASSERT_GE(dt, 50 - SLACK_MS / 2);
	ASSERT_LT(dt, LATE_MS);
	ASSERT_EQ_HEX(ev[0].events, 0x5a5a5a5a);
	/* The timespec is an input only. */
	ASSERT_EQ(ts.tv_sec, 0);
	ASSERT_EQ(ts.tv_nsec, 50 * 1000 * 1000);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(timeout_pwait2_sec_and_nsec_combined)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct epoll_event ev[1];
	/* 1.0 s would be too slow; exercise tv_sec with an early event. */
	struct timespec ts = {1, 500 * 1000 * 1000};
	struct delayed_write d;
	int64_t t0 = now_ms();
	delayed_write(&d, efd, 100, 0, 1);
	ASSERT_EQ(sys_epoll_pwait2(ep, ev, 1, &ts, NULL), 1);
	int64_t dt = now_ms() - t0;
	delayed_join(&d);
	ASSERT_GE(dt, 100 - SLACK_MS);
	ASSERT_LT(dt, 1400);
	/* 999999999 ns: the largest valid tv_nsec, just under a second. */
	read_u64(efd);
	ts = (struct timespec){0, 999999999};
	delayed_write(&d, efd, 100, 0, 1);
	t0 = now_ms();
	ASSERT_EQ(sys_epoll_pwait2(ep, ev, 1, &ts, NULL), 1);
	delayed_join(&d);
	ASSERT_LT(now_ms() - t0, 900);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(timeout_pwait2_zero_and_one_ns_do_not_block)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 4);
	struct epoll_event ev[1];
	struct timespec zero = {0, 0}, one = {0, 1};
	int64_t t0 = now_ms();
	for (int i = 0; i < 50; i++) {
		ASSERT_EQ(sys_epoll_pwait2(ep, ev, 1, &zero, NULL), 0);
		ASSERT_EQ(sys_epoll_pwait2(ep, ev, 1, &one, NULL), 0);
	}
	ASSERT_LT(now_ms() - t0, 1000);
	write_u64(efd, 1);
	ASSERT_EQ(sys_epoll_pwait2(ep, ev, 1, &zero, NULL), 1);
	ASSERT_EQ(ev[0].data.u64, 4);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(timeout_pwait2_null_waits_for_event)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 6);
	struct delayed_write d;
	int64_t t0 = now_ms();
	delayed_write(&d, efd, 100, 0, 1);
	struct epoll_event ev[1];
	ASSERT_EQ(sys_epoll_pwait2(ep, ev, 1, NULL, NULL), 1);
	int64_t dt = now_ms() - t0;
	delayed_join(&d);
	ASSERT_EQ(ev[0].data.u64, 6);
	ASSERT_GE(dt, 100 - SLACK_MS);
	ASSERT_LT(dt, LATE_MS);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* A huge tv_sec saturates (waits forever) instead of overflowing. */
TEST(timeout_pwait2_huge_tv_sec_waits_for_event)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 8);
	struct timespec ts = {LONG_MAX, 999999999};
	struct delayed_write d;
	int64_t t0 = now_ms();
	delayed_write(&d, efd, 100, 0, 1);
	struct epoll_event ev[1];
	ASSERT_EQ(sys_epoll_pwait2(ep, ev, 1, &ts, NULL), 1);
	int64_t dt = now_ms() - t0;
	delayed_join(&d);
	ASSERT_EQ(ev[0].data.u64, 8);
	ASSERT_GE(dt, 100 - SLACK_MS);
	ASSERT_LT(dt, LATE_MS);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* ---- poll ---- */

TEST(timeout_poll_zero_returns_at_once)
{
	int efd = new_efd(0, EFD_NONBLOCK), p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	struct pollfd pfd[2] = {{.fd = efd, .events = POLLIN},
	                        {.fd = p[0], .events = POLLIN}};
	int64_t t0 = now_ms();
	for (int i = 0; i < 100; i++)
		ASSERT_EQ(sys_poll(pfd, 2, 0), 0);
	ASSERT_LT(now_ms() - t0, 1000);
	ASSERT_EQ(pfd[0].revents, 0);
	ASSERT_EQ(pfd[1].revents, 0);
	write_byte(p[1]);
	ASSERT_EQ(sys_poll(pfd, 2, 0), 1);
	ASSERT_EQ(pfd[0].revents, 0);
	ASSERT_EQ(pfd[1].revents, POLLIN);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
	ASSERT_OK(sys_close(efd));
}

TEST(timeout_poll_100ms_waits)
{
	int efd = new_efd(0, EFD_NONBLOCK), p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	struct pollfd pfd[2] = {{.fd = efd, .events = POLLIN},
	                        {.fd = p[0], .events = POLLIN}};
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_poll(pfd, 2, 100), 0);
	int64_t dt = now_ms() - t0;
	ASSERT_GE(dt, 100 - SLACK_MS);
	ASSERT_LT(dt, LATE_MS);
	ASSERT_EQ(pfd[0].revents, 0);
	ASSERT_EQ(pfd[1].revents, 0);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
	ASSERT_OK(sys_close(efd));
}

TEST(timeout_poll_no_fds_sleeps)
{
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_poll(NULL, 0, 60), 0);
	int64_t dt = now_ms() - t0;
	ASSERT_GE(dt, 60 - SLACK_MS);
	ASSERT_LT(dt, LATE_MS);
}

static void poll_until_write(int timeout, int use_pipe)
{
	int efd = new_efd(0, EFD_NONBLOCK), p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	struct pollfd pfd[2] = {{.fd = efd, .events = POLLIN},
	                        {.fd = p[0], .events = POLLIN}};
	struct delayed_write d;
	int64_t t0 = now_ms();
	delayed_write(&d, use_pipe ? p[1] : efd, 100, use_pipe, 1);
	ASSERT_EQ(sys_poll(pfd, 2, timeout), 1);
	int64_t dt = now_ms() - t0;
	delayed_join(&d);
	ASSERT_GE(dt, 100 - SLACK_MS);
	ASSERT_LT(dt, LATE_MS);
	ASSERT_EQ(pfd[0].revents, use_pipe ? 0 : POLLIN);
	ASSERT_EQ(pfd[1].revents, use_pipe ? POLLIN : 0);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
	ASSERT_OK(sys_close(efd));
}

TEST(timeout_poll_infinite_waits_for_event)
{
	poll_until_write(-1, 0);
	poll_until_write(-1, 1);
}

TEST(timeout_poll_event_mid_wait_returns_early)
{
	poll_until_write(5000, 0);
	poll_until_write(5000, 1);
}

TEST(timeout_poll_spurious_wakeup_keeps_waiting)
{
	int efd = new_efd(0, EFD_NONBLOCK);
	struct pollfd pfd = {.fd = efd, .events = POLLIN};
	struct delayed_write d;
	int64_t t0 = now_ms();
	delayed_write(&d, efd, 50, 0, 0);
	ASSERT_EQ(sys_poll(&pfd, 1, 300), 0);
	int64_t dt = now_ms() - t0;
	delayed_join(&d);
	ASSERT_GE(dt, 300 - SLACK_MS);
	ASSERT_LT(dt, LATE_MS);
	ASSERT_EQ(pfd.revents, 0);
	ASSERT_OK(sys_close(efd));
}
