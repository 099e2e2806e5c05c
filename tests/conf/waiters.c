/*
 * Several threads waiting: on one instance each epoll_wait waits
 * exclusively, so one callback wakes one thread; a level-triggered item put
 * back after a harvest wakes the next one (the cascade), an edge-triggered
 * or ONESHOT item does not.  Across instances, EPOLLEXCLUSIVE items on one
 * file wake one instance that has a waiter per wakeup; plain items wake all.
 *
 * Every waiter thread makes exactly one wait with a long but finite timeout
 * and is released by a "quit" eventfd (level-triggered, not exclusive) before
 * the test joins it.  Counts are checked after a 300 ms settle.
 */
#include "sys.h"
#include "waiter.h"

#include <pthread.h>
#include <stdatomic.h>

#define NW 4
#define QUIT 0xdead
#define SETTLE_MS 300

static int ndone(struct waiter *w, int n)
{
	int c = 0;
	for (int i = 0; i < n; i++)
		c += atomic_load(&w[i].done);
	return c;
}

/* Wait (bounded) until at least want waiters are done; returns the count. */
static int await_done(struct waiter *w, int n, int want, int ms)
{
	int64_t end = now_ms() + ms;
	while (ndone(w, n) < want && now_ms() < end)
		sleep_ms(2);
	return ndone(w, n);
}

static void join_all(struct waiter *w, int n)
{
	for (int i = 0; i < n; i++)
		ASSERT_EQ(pthread_join(w[i].tid, NULL), 0);
}

/* ---- one instance, several threads ---- */

/* ET: one write wakes exactly one of four waiters. */
TEST(waiters_et_one_event_wakes_one)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK),
	    quit = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLET, 1);
	ADD(ep, quit, EPOLLIN, QUIT);
	struct waiter w[NW];
	for (int i = 0; i < NW; i++)
		waiter_start(&w[i], ep, 1, 5000);
	waiters_await_asleep(w, NW, 3000);
	write_u64(efd, 1);
	ASSERT_EQ(await_done(w, NW, 1, 2000), 1);
	sleep_ms(SETTLE_MS);
	ASSERT_EQ(ndone(w, NW), 1);
	write_u64(quit, 1);
	ASSERT_EQ(await_done(w, NW, NW, 3000), NW);
	join_all(w, NW);
	int woke = 0, quits = 0;
	for (int i = 0; i < NW; i++) {
		ASSERT_EQ(w[i].ret, 1);
		woke += w[i].ev[0].data.u64 == 1;
		quits += w[i].ev[0].data.u64 == QUIT;
	}
	ASSERT_EQ(woke, 1);
	ASSERT_EQ(quits, NW - 1);
	ASSERT_OK(sys_close(quit));
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* ET: each further write (the eventfd wakes on every write) wakes one more. */
TEST(waiters_et_each_write_wakes_one_more)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLET, 1);
	struct waiter w[NW];
	for (int i = 0; i < NW; i++)
		waiter_start(&w[i], ep, 1, 5000);
	waiters_await_asleep(w, NW, 3000);
	for (int k = 1; k <= NW; k++) {
		write_u64(efd, 1);
		ASSERT_EQ(await_done(w, NW, k, 2000), k);
		sleep_ms(100);
		ASSERT_EQ(ndone(w, NW), k);
	}
	join_all(w, NW);
	for (int i = 0; i < NW; i++) {
		ASSERT_EQ(w[i].ret, 1);
		ASSERT_EQ_HEX(w[i].ev[0].events, EPOLLIN);
	}
	ASSERT_EQ(read_u64(efd), NW);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* LT: the item is re-queued after each harvest, which wakes the next. */
TEST(waiters_lt_cascade_wakes_all)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 2);
	struct waiter w[NW];
	for (int i = 0; i < NW; i++)
		waiter_start(&w[i], ep, 1, 5000);
	waiters_await_asleep(w, NW, 3000);
	int64_t t0 = now_ms();
	write_u64(efd, 1);
	ASSERT_EQ(await_done(w, NW, NW, 3000), NW);
	ASSERT_LT(now_ms() - t0, SETTLE_MS * 5);
	join_all(w, NW);
	for (int i = 0; i < NW; i++) {
		ASSERT_EQ(w[i].ret, 1);
		ASSERT_EQ(w[i].ev[0].data.u64, 2);
		ASSERT_EQ_HEX(w[i].ev[0].events, EPOLLIN);
	}
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* LT with two items and maxevents 1: every waiter still gets an event. */
TEST(waiters_lt_cascade_two_items_maxevents_one)
{
	int ep = new_ep(), p[2], q[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ASSERT_OK(sys_pipe2(q, O_NONBLOCK));
	ADD(ep, p[0], EPOLLIN, 10);
	ADD(ep, q[0], EPOLLIN, 20);
	struct waiter w[NW];
	for (int i = 0; i < NW; i++)
		waiter_start(&w[i], ep, 1, 5000);
	waiters_await_asleep(w, NW, 3000);
	write_byte(p[1]);
	write_byte(q[1]);
	ASSERT_EQ(await_done(w, NW, NW, 3000), NW);
	join_all(w, NW);
	int a = 0, b = 0;
	for (int i = 0; i < NW; i++) {
		ASSERT_EQ(w[i].ret, 1);
		a += w[i].ev[0].data.u64 == 10;
		b += w[i].ev[0].data.u64 == 20;
	}
	/* Which item each got depends on timing; all four got one. */
	ASSERT_EQ(a + b, NW);
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 2);
	for (int i = 0; i < 2; i++) {
		ASSERT_OK(sys_close(p[i]));
		ASSERT_OK(sys_close(q[i]));
	}
	ASSERT_OK(sys_close(ep));
}

/* ONESHOT: one waiter gets it; each MOD re-arm wakes exactly one more. */
TEST(waiters_oneshot_wakes_one_and_mod_rearm_next)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLONESHOT, 3);
	struct waiter w[NW];
	for (int i = 0; i < NW; i++)
		waiter_start(&w[i], ep, 1, 5000);
	waiters_await_asleep(w, NW, 3000);
	write_u64(efd, 1); /* stays readable: never read */
	ASSERT_EQ(await_done(w, NW, 1, 2000), 1);
	sleep_ms(SETTLE_MS);
	ASSERT_EQ(ndone(w, NW), 1);
	for (int k = 2; k <= NW; k++) {
		MOD(ep, efd, EPOLLIN | EPOLLONESHOT, 3);
		ASSERT_EQ(await_done(w, NW, k, 2000), k);
		sleep_ms(100);
		ASSERT_EQ(ndone(w, NW), k);
	}
	join_all(w, NW);
	for (int i = 0; i < NW; i++) {
		ASSERT_EQ(w[i].ret, 1);
		ASSERT_EQ(w[i].ev[0].data.u64, 3);
	}
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/*
 * A wakeup that finds nothing (write 0 to an eventfd runs the callback but
 * leaves it unreadable): the woken waiter goes back to sleep, nobody returns
 * 0 early; a real write then releases all (LT cascade).
 */
TEST(waiters_empty_wakeup_keeps_everyone_waiting)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 4);
	struct waiter w[2];
	for (int i = 0; i < 2; i++)
		waiter_start(&w[i], ep, 1, 5000);
	waiters_await_asleep(w, 2, 3000);
	for (int k = 0; k < 5; k++)
		write_u64(efd, 0);
	sleep_ms(SETTLE_MS);
	ASSERT_EQ(ndone(w, 2), 0);
	write_u64(efd, 1);
	ASSERT_EQ(await_done(w, 2, 2, 3000), 2);
	join_all(w, 2);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(w[i].ret, 1);
		ASSERT_EQ(w[i].ev[0].data.u64, 4);
	}
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/*
 * The event is consumed before the woken waiter gets to it: the eventfd is
 * read back to 0 by another thread right after the write.  Whatever the
 * interleaving, the waiter either reports the event or times out at its
 * deadline, never returns 0 early.
 */
TEST(waiters_consumed_event_no_early_zero)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 5);
	for (int round = 0; round < 5; round++) {
		struct waiter w;
		waiter_start(&w, ep, 1, 300);
		sleep_ms(50);
		write_u64(efd, 1);
		uint64_t v;
		(void)sys_read(efd, &v, sizeof(v));
		ASSERT_EQ(pthread_join(w.tid, NULL), 0);
		if (w.ret == 0)
			ASSERT_GE(w.elapsed, 300 - SLACK_MS);
		else
			ASSERT_EQ(w.ret, 1);
		(void)sys_read(efd, &v, sizeof(v));
	}
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* Each waiter has its own deadline. */
TEST(waiters_independent_timeouts)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct waiter w[2];
	waiter_start(&w[0], ep, 1, 100);
	waiter_start(&w[1], ep, 1, 400);
	join_all(w, 2);
	ASSERT_EQ(w[0].ret, 0);
	ASSERT_EQ(w[1].ret, 0);
	ASSERT_GE(w[0].elapsed, 100 - SLACK_MS);
	ASSERT_GE(w[1].elapsed, 400 - SLACK_MS);
	ASSERT_LT(w[0].elapsed, w[1].elapsed);
	ASSERT_LT(w[1].elapsed, 3000);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* ---- several instances on one file: EPOLLEXCLUSIVE ---- */

struct multi {
	int ep[NW];
	int quit;
	struct waiter w[NW];
};

/* NW instances; the first nwait of them get a waiter thread. */
static void multi_setup(struct multi *m, int fd, const uint32_t *events,
                        int nwait)
{
	m->quit = new_efd(0, EFD_NONBLOCK);
	for (int i = 0; i < NW; i++) {
		m->ep[i] = new_ep();
		ADD(m->ep[i], fd, events[i], 100 + i);
		ADD(m->ep[i], m->quit, EPOLLIN, QUIT);
	}
	for (int i = 0; i < nwait; i++)
		waiter_start(&m->w[i], m->ep[i], 8, 5000);
	waiters_await_asleep(m->w, nwait, 3000);
}

static void multi_release(struct multi *m, int nwait)
{
	write_u64(m->quit, 1);
	ASSERT_EQ(await_done(m->w, nwait, nwait, 3000), nwait);
	join_all(m->w, nwait);
	for (int i = 0; i < NW; i++)
		ASSERT_OK(sys_close(m->ep[i]));
	ASSERT_OK(sys_close(m->quit));
}

static void exclusive_one_write_wakes_one(int use_pipe)
{
	int p[2] = {-1, -1};
	int fd, wfd;
	if (use_pipe) {
		ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
		fd = p[0];
		wfd = p[1];
	} else {
		fd = wfd = new_efd(0, EFD_NONBLOCK);
	}
	uint32_t evs[NW];
	for (int i = 0; i < NW; i++)
		evs[i] = EPOLLIN | EPOLLEXCLUSIVE;
	struct multi m;
	multi_setup(&m, fd, evs, NW);
	if (use_pipe)
		write_byte(wfd);
	else
		write_u64(wfd, 1);
	ASSERT_EQ(await_done(m.w, NW, 1, 2000), 1);
	sleep_ms(SETTLE_MS);
	ASSERT_EQ(ndone(m.w, NW), 1);
	for (int i = 0; i < NW; i++)
		if (atomic_load(&m.w[i].done)) {
			ASSERT_EQ(m.w[i].ret, 1);
			ASSERT_EQ(m.w[i].ev[0].data.u64, 100 + i);
		}
	multi_release(&m, NW);
	if (use_pipe) {
		ASSERT_OK(sys_close(p[0]));
		ASSERT_OK(sys_close(p[1]));
	} else {
		ASSERT_OK(sys_close(fd));
	}
}

TEST(waiters_exclusive_eventfd_one_write_wakes_one)
{
	exclusive_one_write_wakes_one(0);
}

TEST(waiters_exclusive_pipe_one_write_wakes_one)
{
	exclusive_one_write_wakes_one(1);
}

/* Without EPOLLEXCLUSIVE every instance's waiter wakes. */
TEST(waiters_nonexclusive_instances_all_wake)
{
	int efd = new_efd(0, EFD_NONBLOCK);
	uint32_t evs[NW] = {EPOLLIN, EPOLLIN, EPOLLIN | EPOLLET, EPOLLIN};
	struct multi m;
	multi_setup(&m, efd, evs, NW);
	write_u64(efd, 1);
	ASSERT_EQ(await_done(m.w, NW, NW, 3000), NW);
	for (int i = 0; i < NW; i++) {
		ASSERT_EQ(m.w[i].ret, 1);
		ASSERT_EQ(m.w[i].ev[0].data.u64, 100 + i);
	}
	multi_release(&m, 0);
	join_all(m.w, NW);
	ASSERT_OK(sys_close(efd));
}

/*
 * Each later write wakes one more exclusive instance: the ones already
 * woken have no waiter left, so their callbacks do not use up the wakeup.
 */
TEST(waiters_exclusive_each_write_wakes_next)
{
	int efd = new_efd(0, EFD_NONBLOCK);
	uint32_t evs[NW];
	for (int i = 0; i < NW; i++)
		evs[i] = EPOLLIN | EPOLLEXCLUSIVE;
	struct multi m;
	multi_setup(&m, efd, evs, NW);
	for (int k = 1; k <= NW; k++) {
		write_u64(efd, 1);
		ASSERT_EQ(await_done(m.w, NW, k, 2000), k);
		sleep_ms(100);
		ASSERT_EQ(ndone(m.w, NW), k);
	}
	for (int i = 0; i < NW; i++) {
		ASSERT_EQ(m.w[i].ret, 1);
		ASSERT_EQ(m.w[i].ev[0].data.u64, 100 + i);
	}
	multi_release(&m, 0);
	join_all(m.w, NW);
	ASSERT_OK(sys_close(efd));
}

/* Plain items are always woken; of the exclusive ones, exactly one. */
TEST(waiters_exclusive_mixed_with_plain)
{
	int efd = new_efd(0, EFD_NONBLOCK);
	uint32_t evs[NW] = {EPOLLIN | EPOLLEXCLUSIVE, EPOLLIN,
	                    EPOLLIN | EPOLLEXCLUSIVE, EPOLLIN};
	struct multi m;
	multi_setup(&m, efd, evs, NW);
	write_u64(efd, 1);
	ASSERT_EQ(await_done(m.w, NW, 3, 2000), 3);
	sleep_ms(SETTLE_MS);
	ASSERT_EQ(ndone(m.w, NW), 3);
	ASSERT_TRUE(atomic_load(&m.w[1].done));
	ASSERT_TRUE(atomic_load(&m.w[3].done));
	ASSERT_EQ(atomic_load(&m.w[0].done) + atomic_load(&m.w[2].done), 1);
	multi_release(&m, NW);
	ASSERT_OK(sys_close(efd));
}

/*
 * An exclusive instance with no thread waiting still gets the item queued,
 * without using up the one wakeup: one of the instances with a waiter wakes.
 */
TEST(waiters_exclusive_idle_instance_queued_not_counted)
{
	int efd = new_efd(0, EFD_NONBLOCK);
	uint32_t evs[NW];
	for (int i = 0; i < NW; i++)
		evs[i] = EPOLLIN | EPOLLEXCLUSIVE;
	struct multi m;
	/* ep[0] is added first and has no waiter; ep[1..3] have one each. */
	m.quit = new_efd(0, EFD_NONBLOCK);
	for (int i = 0; i < NW; i++) {
		m.ep[i] = new_ep();
		ADD(m.ep[i], efd, evs[i], 100 + i);
		ADD(m.ep[i], m.quit, EPOLLIN, QUIT);
	}
	for (int i = 1; i < NW; i++)
		waiter_start(&m.w[i], m.ep[i], 8, 5000);
	waiters_await_asleep(m.w + 1, NW - 1, 3000);
	write_u64(efd, 1);
	ASSERT_EQ(await_done(m.w + 1, NW - 1, 1, 2000), 1);
	sleep_ms(SETTLE_MS);
	ASSERT_EQ(ndone(m.w + 1, NW - 1), 1);
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(m.ep[0], ev, 4, 0), 1);
	ASSERT_EQ(ev[0].data.u64, 100);
	write_u64(m.quit, 1);
	ASSERT_EQ(await_done(m.w + 1, NW - 1, NW - 1, 3000), NW - 1);
	join_all(m.w + 1, NW - 1);
	for (int i = 0; i < NW; i++)
		ASSERT_OK(sys_close(m.ep[i]));
	ASSERT_OK(sys_close(m.quit));
	ASSERT_OK(sys_close(efd));
}

/*
 * EPOLLOUT exclusive items: reading a full eventfd makes it writable and
 * wakes its queue with key EPOLLOUT, which wakes one instance, not both.
 */
TEST(waiters_exclusive_out_wakeup_wakes_one)
{
	int efd = new_efd(0, EFD_NONBLOCK);
	/* The counter at its maximum: IN true, OUT false. */
	write_u64(efd, 0xfffffffffffffffeULL);
	uint32_t evs[NW];
	for (int i = 0; i < NW; i++)
		evs[i] = EPOLLOUT | EPOLLEXCLUSIVE;
	struct multi m;
	multi_setup(&m, efd, evs, 2);
	ASSERT_EQ(ndone(m.w, 2), 0);
	ASSERT_EQ(read_u64(efd), 0xfffffffffffffffeULL);
	ASSERT_EQ(await_done(m.w, 2, 1, 2000), 1);
	sleep_ms(SETTLE_MS);
	ASSERT_EQ(ndone(m.w, 2), 1);
	for (int i = 0; i < 2; i++)
		if (atomic_load(&m.w[i].done)) {
			ASSERT_EQ(m.w[i].ret, 1);
			ASSERT_EQ_HEX(m.w[i].ev[0].events, EPOLLOUT);
		}
	multi_release(&m, 2);
	ASSERT_OK(sys_close(efd));
}
