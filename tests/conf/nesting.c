/*
 * Nesting: an epoll fd inside another epoll (or polled with poll()).
 *
 * An epoll fd is readable (EPOLLIN|EPOLLRDNORM) while an item on its ready
 * list re-polls as ready, and never writable; polling it drops queued items
 * that are no longer ready; every wakeup of a child wakes its parents with
 * key EPOLLIN.  ADD of an epoll fd fails with ELOOP when it would close a
 * cycle, or when the longest chain of instances would exceed 5 (kernel
 * 6.18: EP_MAX_NESTS = 4; a chain of 5 instances works, the 6th link gives
 * ELOOP, whether built top-down, bottom-up or by joining two chains, and
 * whether or not a file sits at the bottom).
 */
#include "sys.h"

#include <pthread.h>
#include <stdatomic.h>

#define ID(i) (1000 + (i)) /* data of the item for instance e[i] */
#define LEAF 77            /* data of the item for the file at the bottom */

static int add_errno(int ep, int fd)
{
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = 1};
	return sys_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == 0 ? 0 : errno;
}

/* epoll_wait with timeout 0; returns the count, events in ev. */
static int harvest(int ep, struct epoll_event *ev, int max)
{
	memset(ev, 0, sizeof(*ev) * (size_t)max);
	int n = sys_epoll_wait(ep, ev, max, 0);
	ASSERT_GE(n, 0);
	return n;
}

static int has(const struct epoll_event *ev, int n, uint64_t data)
{
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 == data)
			return 1;
	return 0;
}

static short poll1(int fd, short events, int timeout)
{
	struct pollfd p = {.fd = fd, .events = events};
	int n = sys_poll(&p, 1, timeout);
	ASSERT_GE(n, 0);
	ASSERT_EQ(n, p.revents ? 1 : 0);
	return p.revents;
}

/* ---- readiness of an epoll fd ---- */

TEST(nest_epfd_readable_in_rdnorm)
{
	int e1 = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(e1, efd, EPOLLIN, LEAF);
	ASSERT_EQ(poll1(e1, POLLIN | POLLRDNORM | POLLOUT, 0), 0);
	write_u64(efd, 1);
	ASSERT_EQ_HEX(poll1(e1, POLLIN, 0), POLLIN);
	ASSERT_EQ_HEX(poll1(e1, POLLRDNORM, 0), POLLRDNORM);
	ASSERT_EQ_HEX(poll1(e1, POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM, 0),
	              POLLIN | POLLRDNORM);
	/* Inside a parent registered for everything: IN|RDNORM only. */
	int e0 = new_ep();
	ADD(e0, e1,
	    EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM | EPOLLPRI |
	            EPOLLRDHUP,
	    ID(1));
	struct epoll_event ev[4];
	ASSERT_EQ(harvest(e0, ev, 4), 1);
	ASSERT_EQ_HEX(ev[0].events, EPOLLIN | EPOLLRDNORM);
	ASSERT_EQ(ev[0].data.u64, ID(1));
	ASSERT_OK(sys_close(e0));
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(e1));
}

/* Never writable: a parent watching for EPOLLOUT alone never fires. */
TEST(nest_epfd_never_writable)
{
	int e0 = new_ep(), e1 = new_ep(), efd = new_efd(0, EFD_NONBLOCK), p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ADD(e1, efd, EPOLLIN | EPOLLOUT, LEAF); /* efd is writable */
	ADD(e1, p[1], EPOLLOUT, LEAF + 1);      /* so is the pipe */
	ADD(e0, e1, EPOLLOUT | EPOLLWRNORM, ID(1));
	struct epoll_event ev[4];
	ASSERT_EQ(harvest(e0, ev, 4), 0);
	ASSERT_EQ(poll1(e1, POLLOUT | POLLWRNORM, 0), 0);
	write_u64(efd, 1);
	ASSERT_EQ(harvest(e0, ev, 4), 0);
	ASSERT_EQ(sys_epoll_wait(e0, ev, 4, 50), 0);
	ASSERT_EQ(poll1(e1, POLLOUT, 0), 0);
	ASSERT_EQ_HEX(poll1(e1, POLLIN | POLLOUT, 0), POLLIN);
	ASSERT_OK(sys_close(e0));
	ASSERT_OK(sys_close(e1));
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}

/* Polling an epoll fd re-polls its queued items and drops the stale ones. */
TEST(nest_poll_drops_items_no_longer_ready)
{
	int e1 = new_ep(), efd = new_efd(0, EFD_NONBLOCK), p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ADD(e1, efd, EPOLLIN, LEAF);
	ADD(e1, p[0], EPOLLIN | EPOLLET, LEAF + 1);
	write_u64(efd, 1);
	write_byte(p[1]);
	ASSERT_EQ_HEX(poll1(e1, POLLIN, 0), POLLIN);
	/* Consume both behind the instance's back: both items stay queued. */
	ASSERT_EQ(read_u64(efd), 1);
	char c;
	ASSERT_EQ(sys_read(p[0], &c, 1), 1);
	ASSERT_EQ(poll1(e1, POLLIN, 0), 0);
	ASSERT_EQ(poll1(e1, POLLIN, 50), 0);
	struct epoll_event ev[4];
	ASSERT_EQ(harvest(e1, ev, 4), 0);
	/* A new wakeup queues them again. */
	write_byte(p[1]);
	ASSERT_EQ_HEX(poll1(e1, POLLIN, 0), POLLIN);
	ASSERT_EQ(harvest(e1, ev, 4), 1);
	ASSERT_EQ(ev[0].data.u64, LEAF + 1);
	ASSERT_OK(sys_close(e1));
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}

/*
 * Every child wakeup wakes the parent, even when the child's item is already
 * queued: an ET parent reports each one.  A wakeup that changes nothing
 * (write 0 to an eventfd) still reaches an ET parent when the child stays
 * ready, and reports nothing when the child is not ready.
 */
TEST(nest_et_parent_sees_every_child_wakeup)
{
	int e0 = new_ep(), e1 = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(e1, efd, EPOLLIN, LEAF);
	ADD(e0, e1, EPOLLIN | EPOLLET, ID(1));
	struct epoll_event ev[4];
	ASSERT_EQ(harvest(e0, ev, 4), 0);
	write_u64(efd, 0);
	ASSERT_EQ(harvest(e0, ev, 4), 0);
	for (int i = 0; i < 3; i++) {
		write_u64(efd, 1);
		ASSERT_EQ(harvest(e0, ev, 4), 1);
		ASSERT_EQ(ev[0].data.u64, ID(1));
		ASSERT_EQ(harvest(e0, ev, 4), 0);
	}
	write_u64(efd, 0);
	ASSERT_EQ(harvest(e0, ev, 4), 1);
	ASSERT_EQ(harvest(e0, ev, 4), 0);
	ASSERT_EQ(read_u64(efd), 3);
	write_u64(efd, 0);
	ASSERT_EQ(harvest(e0, ev, 4), 0);
	ASSERT_OK(sys_close(e0));
	ASSERT_OK(sys_close(e1));
	ASSERT_OK(sys_close(efd));
}

/* ---- chains with every combination of LT and ET ---- */

/*
 * levels instances e[0] (top) .. e[levels-1]; e[i] holds e[i+1] with data
 * ID(i+1); the bottom one holds a pipe read end or an eventfd (data LEAF).
 * Bit i of et makes e[i]'s item edge-triggered.
 */
static void chain_check(int levels, unsigned et, int use_pipe)
{
	int e[4], p[2];
	for (int i = 0; i < levels; i++)
		e[i] = new_ep();
	if (use_pipe) {
		ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	} else {
		p[0] = p[1] = new_efd(0, EFD_NONBLOCK);
	}
	for (int i = 0; i < levels; i++) {
		uint32_t mode = (et >> i) & 1 ? EPOLLET : 0;
		if (i + 1 < levels)
			ADD(e[i], e[i + 1], EPOLLIN | mode, ID(i + 1));
		else
			ADD(e[i], p[0], EPOLLIN | mode, LEAF);
	}
	int top_lt = !(et & 1), second_lt = !(et & 2);
	struct epoll_event ev[4];
	char buf[16];
	/* (a) nothing yet */
	ASSERT_EQ(harvest(e[0], ev, 4), 0);
	/* (b) a write reaches the top */
	if (use_pipe)
		write_byte(p[1]);
	else
		write_u64(p[1], 1);
	ASSERT_EQ(harvest(e[0], ev, 4), 1);
	ASSERT_EQ(ev[0].data.u64, ID(1));
	ASSERT_EQ_HEX(ev[0].events, EPOLLIN);
	/* (c) again: LT top reports while the chain is ready, ET does not */
	ASSERT_EQ(harvest(e[0], ev, 4), top_lt);
	ASSERT_EQ(harvest(e[0], ev, 4), top_lt);
	/* (d) consumed at the bottom: nothing, whatever the modes */
	ASSERT_EQ(sys_read(p[0], buf, 8), use_pipe ? 1 : 8);
	ASSERT_EQ(harvest(e[0], ev, 4), 0);
	ASSERT_EQ_HEX(poll1(e[0], POLLIN, 0), 0);
	/* (e) a new write reaches the top again */
	if (use_pipe)
		write_byte(p[1]);
	else
		write_u64(p[1], 1);
	ASSERT_EQ_HEX(poll1(e[0], POLLIN, 0), POLLIN);
	ASSERT_EQ(harvest(e[0], ev, 4), 1);
	ASSERT_EQ(ev[0].data.u64, ID(1));
	/* (f) harvest the level below the top directly */
	ASSERT_EQ(harvest(e[1], ev, 4), 1);
	ASSERT_EQ(ev[0].data.u64, levels > 2 ? ID(2) : LEAF);
	ASSERT_EQ(harvest(e[0], ev, 4), top_lt && second_lt);
	for (int i = 0; i < levels; i++)
		ASSERT_OK(sys_close(e[i]));
	ASSERT_OK(sys_close(p[0]));
	if (use_pipe)
		ASSERT_OK(sys_close(p[1]));
}

TEST(nest_chain2_pipe_lt_et_combinations)
{
	for (unsigned et = 0; et < 4; et++)
		chain_check(2, et, 1);
}

TEST(nest_chain3_eventfd_lt_et_combinations)
{
	for (unsigned et = 0; et < 8; et++)
		chain_check(3, et, 0);
}

TEST(nest_chain3_pipe_lt_et_combinations)
{
	for (unsigned et = 0; et < 8; et++)
		chain_check(3, et, 1);
}

/* ---- fan-out, fan-in, diamond ---- */

TEST(nest_fanout_reports_only_ready_children)
{
	int e0 = new_ep(), e1 = new_ep(), e2 = new_ep();
	int a = new_efd(0, EFD_NONBLOCK), b = new_efd(0, EFD_NONBLOCK);
	ADD(e1, a, EPOLLIN, LEAF);
	ADD(e2, b, EPOLLIN, LEAF + 1);
	ADD(e0, e1, EPOLLIN, ID(1));
	ADD(e0, e2, EPOLLIN, ID(2));
	struct epoll_event ev[4];
	ASSERT_EQ(harvest(e0, ev, 4), 0);
	write_u64(a, 1);
	ASSERT_EQ(harvest(e0, ev, 4), 1);
	ASSERT_EQ(ev[0].data.u64, ID(1));
	write_u64(b, 1);
	ASSERT_EQ(harvest(e0, ev, 4), 2);
	ASSERT_TRUE(has(ev, 2, ID(1)));
	ASSERT_TRUE(has(ev, 2, ID(2)));
	read_u64(a);
	ASSERT_EQ(harvest(e0, ev, 4), 1);
	ASSERT_EQ(ev[0].data.u64, ID(2));
	ASSERT_OK(sys_close(e0));
	ASSERT_OK(sys_close(e1));
	ASSERT_OK(sys_close(e2));
	ASSERT_OK(sys_close(a));
	ASSERT_OK(sys_close(b));
}

/* One pipe in e1 and e2, both in e0: one write, two events at the top. */
TEST(nest_fanin_one_pipe_two_paths)
{
	int e0 = new_ep(), e1 = new_ep(), e2 = new_ep(), p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ADD(e1, p[0], EPOLLIN | EPOLLET, LEAF);
	ADD(e2, p[0], EPOLLIN, LEAF);
	ADD(e0, e1, EPOLLIN | EPOLLET, ID(1));
	ADD(e0, e2, EPOLLIN | EPOLLET, ID(2));
	struct epoll_event ev[4];
	ASSERT_EQ(harvest(e0, ev, 4), 0);
	write_byte(p[1]);
	ASSERT_EQ(harvest(e0, ev, 4), 2);
	ASSERT_TRUE(has(ev, 2, ID(1)));
	ASSERT_TRUE(has(ev, 2, ID(2)));
	ASSERT_EQ(harvest(e0, ev, 4), 0);
	/* Each child reports the pipe itself. */
	ASSERT_EQ(harvest(e1, ev, 4), 1);
	ASSERT_EQ(harvest(e2, ev, 4), 1);
	ASSERT_EQ(ev[0].data.u64, LEAF);
	/* e1's ET item is spent; e2's LT one keeps e2 ready. */
	write_byte(p[1]);
	ASSERT_EQ(harvest(e0, ev, 4), 2);
	ASSERT_EQ(harvest(e1, ev, 4), 1);
	ASSERT_EQ(harvest(e1, ev, 4), 0);
	ASSERT_EQ_HEX(poll1(e1, POLLIN, 0), 0);
	ASSERT_EQ_HEX(poll1(e2, POLLIN, 0), POLLIN);
	ASSERT_OK(sys_close(e0));
	ASSERT_OK(sys_close(e1));
	ASSERT_OK(sys_close(e2));
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}

/* e0 -> {e1, e2} -> e3 -> eventfd: both paths report. */
TEST(nest_diamond_both_paths_report)
{
	int e0 = new_ep(), e1 = new_ep(), e2 = new_ep(), e3 = new_ep(),
	    efd = new_efd(0, EFD_NONBLOCK);
	ADD(e3, efd, EPOLLIN, LEAF);
	ADD(e1, e3, EPOLLIN, ID(3));
	ADD(e2, e3, EPOLLIN, ID(3));
	ADD(e0, e1, EPOLLIN, ID(1));
	ADD(e0, e2, EPOLLIN, ID(2));
	struct epoll_event ev[4];
	ASSERT_EQ(harvest(e0, ev, 4), 0);
	write_u64(efd, 1);
	ASSERT_EQ(harvest(e0, ev, 4), 2);
	ASSERT_TRUE(has(ev, 2, ID(1)));
	ASSERT_TRUE(has(ev, 2, ID(2)));
	read_u64(efd);
	ASSERT_EQ(harvest(e0, ev, 4), 0);
	/* e0 -> e1 -> e3 plus e0 -> e2 -> e3: the cycle check still sees e0. */
	ASSERT_EQ(add_errno(e3, e0), ELOOP);
	ASSERT_OK(sys_close(e0));
	ASSERT_OK(sys_close(e1));
	ASSERT_OK(sys_close(e2));
	ASSERT_OK(sys_close(e3));
	ASSERT_OK(sys_close(efd));
}

/* ---- threads sleeping on nested instances ---- */

struct sleeper {
	pthread_t tid;
	int fd, use_poll, timeout;
	int ret;
	short revents;
	int64_t t0, elapsed; /* from sleeper_start, which the test's sleep
	                        follows */
	struct epoll_event ev[4];
	atomic_int done;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	if (s->use_poll) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		s->ret = sys_poll(&p, 1, s->timeout);
		s->revents = p.revents;
	} else {
		s->ret = sys_epoll_wait(s->fd, s->ev, 4, s->timeout);
	}
	s->elapsed = now_ms() - s->t0;
	atomic_store(&s->done, 1);
	return NULL;
}

static void sleeper_start(struct sleeper *s, int fd, int use_poll)
{
	s->fd = fd;
	s->use_poll = use_poll;
	s->timeout = 5000;
	atomic_store(&s->done, 0);
	s->t0 = now_ms(); /* not in the thread: it may start late on a busy
	                     machine */
	ASSERT_EQ(pthread_create(&s->tid, NULL, sleeper_main, s), 0);
}

static void sleeper_join(struct sleeper *s)
{
	ASSERT_EQ(pthread_join(s->tid, NULL), 0);
	ASSERT_GE(s->elapsed, 100 - SLACK_MS);
	ASSERT_LT(s->elapsed, LATE_MS);
}

/* e0 -> e1 -> e2 -> eventfd; the waiter sleeps on e0 (wait or poll). */
static void wake_through_chain(int use_poll, unsigned et)
{
	int e[3], efd = new_efd(0, EFD_NONBLOCK);
	for (int i = 0; i < 3; i++)
		e[i] = new_ep();
	ADD(e[2], efd, EPOLLIN | ((et & 4) ? EPOLLET : 0), LEAF);
	ADD(e[1], e[2], EPOLLIN | ((et & 2) ? EPOLLET : 0), ID(2));
	ADD(e[0], e[1], EPOLLIN | ((et & 1) ? EPOLLET : 0), ID(1));
	struct sleeper s;
	sleeper_start(&s, e[0], use_poll);
	sleep_ms(100);
	ASSERT_FALSE(atomic_load(&s.done));
	write_u64(efd, 1);
	sleeper_join(&s);
	ASSERT_EQ(s.ret, 1);
	if (use_poll)
		ASSERT_EQ_HEX(s.revents, POLLIN);
	else
		ASSERT_EQ(s.ev[0].data.u64, ID(1));
	for (int i = 0; i < 3; i++)
		ASSERT_OK(sys_close(e[i]));
	ASSERT_OK(sys_close(efd));
}

TEST(nest_thread_wait_on_top_woken_through_chain)
{
	wake_through_chain(0, 0);
	wake_through_chain(0, 7);
	wake_through_chain(0, 5);
}

TEST(nest_thread_poll_on_top_woken_through_chain)
{
	wake_through_chain(1, 0);
	wake_through_chain(1, 7);
	wake_through_chain(1, 2);
}

/* One thread polls an epoll fd, another waits in it: one write wakes both. */
TEST(nest_poll_and_wait_on_same_epfd_both_woken)
{
	int e1 = new_ep(), p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ADD(e1, p[0], EPOLLIN, LEAF);
	struct sleeper a, b;
	sleeper_start(&a, e1, 1);
	sleeper_start(&b, e1, 0);
	sleep_ms(100);
	write_byte(p[1]);
	sleeper_join(&a);
	sleeper_join(&b);
	ASSERT_EQ(a.ret, 1);
	ASSERT_EQ_HEX(a.revents, POLLIN);
	ASSERT_EQ(b.ret, 1);
	ASSERT_EQ(b.ev[0].data.u64, LEAF);
	ASSERT_OK(sys_close(e1));
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}

/* Two threads in epoll_wait on the top of e0 -> e1 -> pipe, LT: both wake. */
TEST(nest_two_waiters_on_top_lt_both_woken)
{
	int e0 = new_ep(), e1 = new_ep(), p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ADD(e1, p[0], EPOLLIN, LEAF);
	ADD(e0, e1, EPOLLIN, ID(1));
	struct sleeper a, b;
	sleeper_start(&a, e0, 0);
	sleeper_start(&b, e0, 0);
	sleep_ms(100);
	write_byte(p[1]);
	sleeper_join(&a);
	sleeper_join(&b);
	ASSERT_EQ(a.ret, 1);
	ASSERT_EQ(b.ret, 1);
	ASSERT_EQ(a.ev[0].data.u64, ID(1));
	ASSERT_EQ(b.ev[0].data.u64, ID(1));
	ASSERT_OK(sys_close(e0));
	ASSERT_OK(sys_close(e1));
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}

/* ---- ELOOP: cycles and depth ---- */

TEST(nest_eloop_two_cycle)
{
	int e1 = new_ep(), e2 = new_ep();
	ADD(e2, e1, EPOLLIN, ID(1));
	ASSERT_EQ(add_errno(e1, e2), ELOOP);
	/* Nothing was added: DEL finds no such item. */
	ASSERT_ERRNO(sys_epoll_ctl(e1, EPOLL_CTL_DEL, e2, NULL), ENOENT);
	/* Once the first link is gone the reverse link is fine. */
	ASSERT_OK(sys_epoll_ctl(e2, EPOLL_CTL_DEL, e1, NULL));
	ASSERT_EQ(add_errno(e1, e2), 0);
	ASSERT_EQ(add_errno(e2, e1), ELOOP);
	ASSERT_OK(sys_close(e1));
	ASSERT_OK(sys_close(e2));
}

TEST(nest_eloop_three_cycle)
{
	int e1 = new_ep(), e2 = new_ep(), e3 = new_ep(),
	    efd = new_efd(0, EFD_NONBLOCK);
	ADD(e3, efd, EPOLLIN, LEAF);
	ADD(e1, e2, EPOLLIN, ID(2)); /* e1 -> e2 -> e3 */
	ADD(e2, e3, EPOLLIN, ID(3));
	ASSERT_EQ(add_errno(e3, e1), ELOOP);
	ASSERT_EQ(add_errno(e3, e2), ELOOP);
	ASSERT_EQ(add_errno(e2, e1), ELOOP);
	/* The instances still work. */
	write_u64(efd, 1);
	struct epoll_event ev[2];
	ASSERT_EQ(harvest(e1, ev, 2), 1);
	ASSERT_EQ(ev[0].data.u64, ID(2));
	/* Adding the top into itself is EINVAL, not ELOOP. */
	ASSERT_EQ(add_errno(e1, e1), EINVAL);
	ASSERT_OK(sys_close(e1));
	ASSERT_OK(sys_close(e2));
	ASSERT_OK(sys_close(e3));
	ASSERT_OK(sys_close(efd));
}

#define NCHAIN 8

/*
 * Bottom-up: e[0] holds the file (if any); each step adds e[k-1] into a
 * new parent e[k].  Links 1..4 work (5 instances), link 5 gives ELOOP.
 */
static void depth_bottom_up(int with_file)
{
	int e[NCHAIN], efd = new_efd(0, EFD_NONBLOCK);
	for (int i = 0; i < NCHAIN; i++)
		e[i] = new_ep();
	if (with_file)
		ADD(e[0], efd, EPOLLIN, LEAF);
	for (int k = 1; k <= 4; k++)
		ASSERT_EQ(add_errno(e[k], e[k - 1]), 0);
	ASSERT_EQ(add_errno(e[5], e[4]), ELOOP);
	ASSERT_EQ(add_errno(e[6], e[4]), ELOOP);
	/* Another parent beside e[4]'s level is fine (depth unchanged)... */
	ASSERT_EQ(add_errno(e[6], e[3]), 0);
	/* ...but no instance may go on top of it. */
	ASSERT_EQ(add_errno(e[7], e[6]), ELOOP);
	if (with_file) {
		write_u64(efd, 1);
		ASSERT_EQ_HEX(poll1(e[4], POLLIN, 0), POLLIN);
		struct epoll_event ev[2];
		ASSERT_EQ(harvest(e[4], ev, 2), 1);
		ASSERT_EQ(ev[0].data.u64, 1);
	}
	for (int i = 0; i < NCHAIN; i++)
		ASSERT_OK(sys_close(e[i]));
	ASSERT_OK(sys_close(efd));
}

/*
 * Top-down: e[0] is the top; each step adds a new child e[k] under e[k-1].
 * Same boundary: 5 instances, the 6th gives ELOOP; the file can always go
 * into the bottom one.
 */
static void depth_top_down(int with_file)
{
	int e[NCHAIN], efd = new_efd(0, EFD_NONBLOCK);
	for (int i = 0; i < NCHAIN; i++)
		e[i] = new_ep();
	for (int k = 1; k <= 4; k++)
		ASSERT_EQ(add_errno(e[k - 1], e[k]), 0);
	ASSERT_EQ(add_errno(e[4], e[5]), ELOOP);
	/* Even an instance that holds nothing cannot go below e[4]. */
	ASSERT_EQ(add_errno(e[4], e[6]), ELOOP);
	ASSERT_EQ(add_errno(e[3], e[6]), 0);
	if (with_file) {
		ADD(e[4], efd, EPOLLIN, LEAF);
		write_u64(efd, 1);
		ASSERT_EQ_HEX(poll1(e[0], POLLIN, 0), POLLIN);
		struct epoll_event ev[2];
		ASSERT_EQ(harvest(e[0], ev, 2), 1);
	}
	for (int i = 0; i < NCHAIN; i++)
		ASSERT_OK(sys_close(e[i]));
	ASSERT_OK(sys_close(efd));
}

TEST(nest_depth_limit_bottom_up)
{
	depth_bottom_up(1);
	depth_bottom_up(0);
}

TEST(nest_depth_limit_top_down)
{
	depth_top_down(1);
	depth_top_down(0);
}

/* Joining a chain of a instances below a chain of b: fine iff a + b <= 5. */
TEST(nest_depth_limit_joining_two_chains)
{
	for (int a = 1; a <= 5; a++)
		for (int b = 1; b <= 5; b++) {
			int x[5], y[5];
			for (int i = 0; i < a; i++) {
				x[i] = new_ep(); /* x[0] top of chain x */
				if (i)
					ASSERT_EQ(add_errno(x[i - 1], x[i]), 0);
			}
			for (int i = 0; i < b; i++) {
				y[i] = new_ep();
				if (i)
					ASSERT_EQ(add_errno(y[i - 1], y[i]), 0);
			}
			int r = add_errno(y[b - 1], x[0]);
			if (r != (a + b <= 5 ? 0 : ELOOP))
				FAIL("chain of %d below chain of %d: errno %d",
				     a, b, r);
			for (int i = 0; i < a; i++)
				ASSERT_OK(sys_close(x[i]));
			for (int i = 0; i < b; i++)
				ASSERT_OK(sys_close(y[i]));
		}
}

/* After an ELOOP, removing a link makes room. */
TEST(nest_depth_del_makes_room)
{
	int e[6];
	for (int i = 0; i < 6; i++)
		e[i] = new_ep();
	for (int k = 1; k <= 4; k++)
		ASSERT_EQ(add_errno(e[k], e[k - 1]), 0);
	ASSERT_EQ(add_errno(e[5], e[4]), ELOOP);
	ASSERT_OK(sys_epoll_ctl(e[1], EPOLL_CTL_DEL, e[0], NULL));
	ASSERT_EQ(add_errno(e[5], e[4]), 0);
	ASSERT_EQ(add_errno(e[1], e[0]), ELOOP);
	/* Closing an instance in the middle also shortens the chain. */
	ASSERT_OK(sys_close(e[3]));
	ASSERT_EQ(add_errno(e[1], e[0]), 0);
	for (int i = 0; i < 6; i++)
		if (i != 3)
			ASSERT_OK(sys_close(e[i]));
}

/* ---- breaking the chain ---- */

TEST(nest_del_child_breaks_chain)
{
	int e0 = new_ep(), e1 = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(e1, efd, EPOLLIN, LEAF);
	ADD(e0, e1, EPOLLIN, ID(1));
	write_u64(efd, 1);
	struct epoll_event ev[2];
	ASSERT_EQ(harvest(e0, ev, 2), 1);
	/* DEL of the child from the parent: the parent sees nothing. */
	ASSERT_OK(sys_epoll_ctl(e0, EPOLL_CTL_DEL, e1, NULL));
	ASSERT_EQ(harvest(e0, ev, 2), 0);
	write_u64(efd, 1);
	ASSERT_EQ(harvest(e0, ev, 2), 0);
	ASSERT_EQ(harvest(e1, ev, 2), 1);
	/* Re-add; then DEL the file from the child: the chain is dead. */
	ADD(e0, e1, EPOLLIN, ID(1));
	ASSERT_EQ(harvest(e0, ev, 2), 1);
	ASSERT_OK(sys_epoll_ctl(e1, EPOLL_CTL_DEL, efd, NULL));
	ASSERT_EQ(harvest(e0, ev, 2), 0);
	write_u64(efd, 1);
	ASSERT_EQ(harvest(e0, ev, 2), 0);
	ASSERT_EQ_HEX(poll1(e1, POLLIN, 0), 0);
	ASSERT_OK(sys_close(e0));
	ASSERT_OK(sys_close(e1));
	ASSERT_OK(sys_close(efd));
}

/* Closing the child instance (its last reference) removes it from e0. */
TEST(nest_close_child_removes_it_from_parent)
{
	int e0 = new_ep(), e1 = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(e1, efd, EPOLLIN, LEAF);
	ADD(e0, e1, EPOLLIN, ID(1));
	write_u64(efd, 1);
	ASSERT_OK(sys_close(e1));
	struct epoll_event ev[2];
	ASSERT_EQ(harvest(e0, ev, 2), 0);
	write_u64(efd, 1);
	ASSERT_EQ(harvest(e0, ev, 2), 0);
	ASSERT_EQ_HEX(poll1(e0, POLLIN, 0), 0);
	ASSERT_OK(sys_close(e0));
	ASSERT_OK(sys_close(efd));
}

/* A dup of the child keeps it alive: the chain keeps working. */
TEST(nest_close_child_with_dup_keeps_chain)
{
	int e0 = new_ep(), e1 = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(e1, efd, EPOLLIN, LEAF);
	ADD(e0, e1, EPOLLIN | EPOLLET, ID(1));
	int d = sys_dup(e1);
	ASSERT_GE(d, 0);
	ASSERT_OK(sys_close(e1));
	write_u64(efd, 1);
	struct epoll_event ev[2];
	ASSERT_EQ(harvest(e0, ev, 2), 1);
	ASSERT_EQ(ev[0].data.u64, ID(1));
	ASSERT_OK(sys_close(d));
	write_u64(efd, 1);
	ASSERT_EQ(harvest(e0, ev, 2), 0);
	ASSERT_OK(sys_close(e0));
	ASSERT_OK(sys_close(efd));
}
