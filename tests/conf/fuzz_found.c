/*
 * Divergences from the kernel found by the differential fuzzer
 * (tests/fuzz/), each reduced to a minimal test.  They pass on the kernel.
 *
 * A divergence that the engine does not fix yet is marked OPEN(...): on
 * the uepoll target it skips with the reason, unless FUZZ_FOUND_STRICT is
 * set in the environment (then it runs, and fails).  Fixing one means
 * deleting its OPEN line.
 */
#include "sys.h"

#include <stdlib.h>

#define OPEN(why)                                                              \
	do {                                                                   \
		if (SYS_IS_UEPOLL && !getenv("FUZZ_FOUND_STRICT"))             \
			SKIP("open divergence: %s", why);                      \
	} while (0)

#define PAGE 4096

static char buf[65536 + PAGE];

/* A non-blocking pipe filled to capacity (16 pages). */
static void ff_full_pipe(int p[2])
{
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ASSERT_EQ(sys_write(p[1], buf, 65536), 65536);
	ASSERT_ERRNO(sys_write(p[1], buf, 1), EAGAIN);
}

/*
 * Since 6.14 (pipe_read: "don't wake up the writer if the pipe is still
 * full"), a read that frees no page of a full pipe wakes no writer.  The
 * wake-up is visible through the ready-list order: the writer's item is
 * queued by the read that frees a page, after the eventfd's.
 */
TEST(fuzz_found_pipe_partial_read_of_full_pipe_wakes_no_writer)
{
	int p[2], ep = new_ep();
	ff_full_pipe(p);
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, p[1], EPOLLOUT, 1);
	ADD(ep, efd, EPOLLIN, 2);
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 0);

	ASSERT_EQ(sys_read(p[0], buf, 7), 7); /* no page freed */
	write_u64(efd, 1);
	ASSERT_EQ(sys_read(p[0], buf, PAGE - 7), PAGE - 7); /* one freed */
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 2);
	ASSERT_EQ(ev[0].data.u64, 2);
	ASSERT_EQ(ev[1].data.u64, 1);
	ASSERT_EQ_HEX(ev[1].events, EPOLLOUT);
}

/* The same wake-up seen by an edge-triggered watcher of the write end. */
TEST(fuzz_found_pipe_partial_read_of_full_pipe_no_et_event)
{
	int p[2], ep = new_ep();
	ff_full_pipe(p);
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, p[1], EPOLLOUT | EPOLLET, 1);
	ADD(ep, efd, EPOLLIN | EPOLLET, 2);
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 0);
	ASSERT_EQ(sys_read(p[0], buf, 1), 1);
	write_u64(efd, 1);
	ASSERT_EQ(sys_read(p[0], buf, PAGE - 1), PAGE - 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 2);
	ASSERT_EQ(ev[0].data.u64, 2);
	ASSERT_EQ(ev[1].data.u64, 1);
}

/*
 * The kernel's reverse_path_check: an ADD that would give a watched file
 * too many wake-up paths to instances with no parent fails with EINVAL
 * (path_limits = {1000, 500, 100, 50, 10} by depth).  Here a pipe is
 * registered 11 times (11 descriptors, one file) in E1, and E1 < E2 < E3
 * < E4 < E5 makes 11 paths of depth 4: over the limit of 10.  With 10
 * registrations the same chain is accepted.
 */
static int ff_path_chain(int nregs)
{
	int p[2], fds[12], e[6];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	for (int i = 1; i <= 5; i++)
		e[i] = new_ep();
	fds[0] = p[0];
	for (int i = 1; i < nregs; i++)
		ASSERT_GE(fds[i] = sys_dup(p[0]), 0);
	for (int i = 0; i < nregs; i++)
		ADD(e[1], fds[i], EPOLLIN, (uint64_t)i);
	for (int i = 1; i <= 3; i++)
		ADD(e[i + 1], e[i], EPOLLIN, 100 + (uint64_t)i);
	struct epoll_event ev = {.events = EPOLLIN};
	return sys_epoll_ctl(e[5], EPOLL_CTL_ADD, e[4], &ev);
}

TEST(fuzz_found_reverse_path_limit_depth4)
{
	ASSERT_ERRNO(ff_path_chain(11), EINVAL);
}

TEST(fuzz_found_reverse_path_limit_depth4_at_limit)
{
	ASSERT_OK(ff_path_chain(10));
}

/*
 * A nested instance made ready by a kernel fd is reported by the parent's
 * very next wait, whatever waits came before: on uepoll the news comes
 * up through the parent's kernel half (a token), whichever half its
 * harvest takes first.  The parent also watches a kernel fd of its own.
 */
TEST(fuzz_found_nested_kernel_ready_reported_by_next_wait)
{
	int kp[2], ks[2], c = new_ep(), p = new_ep();
	ASSERT_OK(pipe2(kp, O_NONBLOCK | O_CLOEXEC));
	ASSERT_OK(socketpair(
	        AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ks));
	ADD(c, kp[0], EPOLLIN, 1);
	ADD(p, ks[0], EPOLLOUT, 2);
	ADD(p, c, EPOLLIN, 3);
	struct epoll_event ev[4];
	for (int empty = 0; empty < 4; empty++) {
		for (int k = 0; k < empty; k++) {
			ASSERT_EQ(sys_epoll_wait(p, ev, 4, 0), 1);
			ASSERT_EQ(ev[0].data.u64, 2);
		}
		ASSERT_EQ(write(kp[1], "x", 1), 1);
		ASSERT_EQ(sys_epoll_wait(p, ev, 4, 0), 2);
		ASSERT_EQ(ev[0].data.u64 + ev[1].data.u64, 5);
		char b;
		ASSERT_EQ(read(kp[0], &b, 1), 1);
	}
	sys_close(p);
	sys_close(c);
	close(kp[0]);
	close(kp[1]);
	close(ks[0]);
	close(ks[1]);
}

/*
 * An edge-triggered parent of a nested instance made ready by a kernel
 * fd reports it once: on uepoll the news comes both from the child's
 * birth of a kernel half (its pollers are woken) and from the token in
 * the parent's kernel half, one edge for the kernel.  empty: waits on
 * the parent before (which half a harvest takes first alternates).
 */
static void ff_nested_et_once(int empty)
{
	int ks[2], c = new_ep(), p = new_ep(), q = new_ep();
	ASSERT_OK(socketpair(
	        AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ks));
	struct epoll_event ev[4];
	ADD(p, c, EPOLLIN | EPOLLET, 1);
	ADD(c, ks[1], EPOLLIN | EPOLLET, 2);
	for (int k = 0; k < empty; k++)
		ASSERT_EQ(sys_epoll_wait(p, ev, 4, 0), 0);
	MOD(c, ks[1], EPOLLIN | EPOLLOUT | EPOLLET, 3);
	ADD(q, p, EPOLLIN | EPOLLOUT | EPOLLET, 4);
	ASSERT_EQ(sys_epoll_wait(p, ev, 4, 0), 1);
	ASSERT_EQ(ev[0].data.u64, 1);
	ASSERT_EQ(sys_epoll_wait(p, ev, 4, 0), 0);
	sys_close(q);
	sys_close(p);
	sys_close(c);
	close(ks[0]);
	close(ks[1]);
}

TEST(fuzz_found_nested_kernel_ready_et_reported_once)
{
	ff_nested_et_once(0);
	ff_nested_et_once(1);
}

/*
 * An instance whose only item watches a nested instance for EPOLLOUT
 * (never given by an epoll) is not ready, even when the nested one is
 * made readable by a kernel fd.  On uepoll the instance's poll takes its
 * kernel half readable for ready, and the half is readable through the
 * link to the nested one's kernel half, which knows no mask.
 */
TEST(fuzz_found_nested_kernel_link_not_ready_for_epollout)
{
	OPEN("a kernel half readable through a nested link counts as ready");
	int c2 = new_ep(), c1 = new_ep(), p = new_ep();
	int kefd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_GE(kefd, 0);
	ADD(c2, kefd, EPOLLIN, 1);
	ADD(c1, c2, EPOLLOUT, 2);
	ADD(p, c1, EPOLLIN, 3);
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(p, ev, 4, 0), 0);
	ASSERT_EQ(poll_mask(c1), 0);
	sys_close(p);
	sys_close(c1);
	sys_close(c2);
	close(kefd);
}

/*
 * An edge-triggered item on an instance that gets its first kernel fd
 * (ready at once) is reported once.  On uepoll the parent's poll of the
 * item links the child's kernel half into its own, and the link's first
 * event, an edge the harvest already reported, queues the item again.
 */
TEST(fuzz_found_nested_kernel_link_first_event_not_an_edge)
{
	OPEN("the link of a nested kernel half reports its first edge twice");
	int kp[2], c = new_ep(), p = new_ep();
	ASSERT_OK(pipe2(kp, O_NONBLOCK | O_CLOEXEC));
	ADD(p, c, EPOLLIN | EPOLLET, 1);
	ADD(c, kp[1], EPOLLOUT | EPOLLET, 2);
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(p, ev, 4, 0), 1);
	ASSERT_EQ(sys_epoll_wait(p, ev, 4, 0), 0);
	sys_close(p);
	sys_close(c);
	close(kp[0]);
	close(kp[1]);
}

/*
 * Two levels over a kernel fd: once the middle instance's wait has
 * reported the bottom one, the top one still finds the middle one ready
 * (its item stays ready, level-triggered).  On uepoll the middle one's
 * harvest takes the news from its kernel half, and the item it queues
 * must wake the middle one's parents, as a callback's queueing does.
 */
TEST(fuzz_found_nested_kernel_ready_wakes_grandparent)
{
	int x = new_ep(), mid = new_ep(), top = new_ep();
	int kefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_GE(kefd, 0);
	ADD(x, kefd, EPOLLIN, 1);
	ADD(mid, x, EPOLLIN, 2);
	ADD(top, mid, EPOLLIN, 3);
	uint64_t one = 1;
	ASSERT_EQ(write(kefd, &one, 8), 8);
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(mid, ev, 4, 0), 1);
	ASSERT_EQ(ev[0].data.u64, 2);
	ASSERT_EQ(sys_epoll_wait(top, ev, 4, 0), 1);
	ASSERT_EQ(ev[0].data.u64, 3);
	sys_close(top);
	sys_close(mid);
	sys_close(x);
	close(kefd);
}

/*
 * Kernel epolls count in the nesting depth: a kernel epoll (holding a
 * pipe) under four instances is one level too many, as it is under four
 * kernel epolls.  On uepoll the depth check counts instances only, and
 * the kernel's own check of the kernel halves' chain fails silently, at
 * the link.
 */
TEST(fuzz_found_nested_kernel_epoll_counts_in_depth)
{
	OPEN("a kernel epoll in a kernel half does not count in the depth");
	int kp[2], e[5];
	ASSERT_OK(pipe2(kp, O_NONBLOCK | O_CLOEXEC));
	int kep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(kep, 0);
	struct epoll_event ev = {.events = EPOLLIN};
	ASSERT_OK(epoll_ctl(kep, EPOLL_CTL_ADD, kp[0], &ev));
	for (int i = 0; i < 5; i++)
		e[i] = new_ep();
	ADD(e[0], kep, EPOLLIN, 0);
	ADD(e[1], e[0], EPOLLIN, 1);
	ADD(e[2], e[1], EPOLLIN, 2);
	ADD(e[3], e[2], EPOLLIN, 3);
	ASSERT_ERRNO(sys_epoll_ctl(e[4], EPOLL_CTL_ADD, e[3], &ev), ELOOP);
	for (int i = 0; i < 5; i++)
		sys_close(e[i]);
	close(kep);
	close(kp[0]);
	close(kp[1]);
}

/*
 * A kernel fd that is no epoll, as the epfd, with a valid target: EINVAL,
 * an in-process target too (it went to the kernel, which cannot name it:
 * EBADF).
 */
TEST(fuzz_found_kernel_non_epoll_epfd_einval)
{
	int kp[2], efd = new_efd(0, EFD_NONBLOCK);
	ASSERT_OK(pipe2(kp, O_NONBLOCK | O_CLOEXEC));
	struct epoll_event ev = {.events = EPOLLIN};
	ASSERT_ERRNO(sys_epoll_ctl(kp[0], EPOLL_CTL_ADD, efd, &ev), EINVAL);
	sys_close(efd);
	close(kp[0]);
	close(kp[1]);
}
