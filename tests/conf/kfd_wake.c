/*
 * The wake-ups of a thread asleep on an instance that holds kernel fds
 * (on uepoll: asleep in the instance's kernel half, woken for in-process
 * events through its wake eventfd, docs/DESIGN.md), against other
 * threads' harvests of the same instance.
 */
#include <sys/wait.h>

#include "waiter.h"

/*
 * A thread sleeps on ep (a pipe in it, never written, and an eventfd);
 * the eventfd is written, which picks that thread, and at once another
 * thread harvests ep with timeout 0 and leaves the eventfd unread.  It is
 * level-triggered, so still ready: the sleeper must return it, whoever
 * took the wake-up meant for it.  Rounds, as the harvest must come before
 * the sleeper runs.
 */
TEST(kfd_sleeper_returns_lt_event_another_thread_harvested)
{
	for (int round = 0; round < 20; round++) {
		int ep = sys_epoll_create1(0);
		int efd = sys_eventfd(0, EFD_NONBLOCK), p[2];
		ASSERT_OK(pipe2(p, O_NONBLOCK));
		ADD(ep, p[0], EPOLLIN, 1);
		ADD(ep, efd, EPOLLIN, 2);
		struct waiter w;
		waiter_start(&w, ep, 1, 1500);
		waiters_await_asleep(&w, 1, 2000);
		uint64_t one = 1;
		struct epoll_event ev[1];
		ASSERT_EQ(sys_write(efd, &one, 8), 8);
		int n = sys_epoll_wait(ep, ev, 1, 0);
		ASSERT_GE(n, 0);
		waiter_join(&w);
		ASSERT_EQ(w.ret, 1);
		ASSERT_EQ(w.ev[0].data.u64, 2);
		ASSERT_LT(w.elapsed, 1000);
		sys_close(efd);
		sys_close(ep);
		close(p[0]);
		close(p[1]);
	}
}

/*
 * A thread of the parent sleeps on ep (a pipe, an eventfd) when the
 * process forks; the child harvests ep with timeout 0 over and over while
 * the parent writes the eventfd: the parent's thread must still return it
 * at once (the instance is shared, as on Linux, and the event is LT and
 * left unread).  On uepoll the child must not drain the wake eventfd the
 * parent's waker wrote for that thread.  Rounds, as the child's harvest
 * must come before the parent's thread runs.
 */
TEST(kfd_forked_child_harvest_leaves_parent_sleeper_its_wakeup)
{
	for (int round = 0; round < 20; round++) {
		int ep = sys_epoll_create1(0);
		int efd = sys_eventfd(0, EFD_NONBLOCK), p[2], go[2];
		ASSERT_OK(pipe2(p, O_NONBLOCK));
		ASSERT_OK(pipe(go));
		ADD(ep, p[0], EPOLLIN, 1);
		ADD(ep, efd, EPOLLIN, 2);
		struct waiter w;
		waiter_start(&w, ep, 1, 1500);
		waiters_await_asleep(&w, 1, 2000);
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			char c;
			struct epoll_event ev[4];
			if (read(go[0], &c, 1) != 1)
				_exit(1);
			int64_t end = now_ms() + 50;
			while (now_ms() < end)
				if (sys_epoll_wait(ep, ev, 4, 0) < 0)
					_exit(2);
			_exit(0);
		}
		ASSERT_EQ(write(go[1], "g", 1), 1);
		uint64_t one = 1;
		ASSERT_EQ(sys_write(efd, &one, 8), 8);
		waiter_join(&w);
		int st;
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
		ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		ASSERT_EQ(w.ret, 1);
		ASSERT_EQ(w.ev[0].data.u64, 2);
		ASSERT_LT(w.elapsed, 1000);
		sys_close(efd);
		sys_close(ep);
		close(p[0]);
		close(p[1]);
		close(go[0]);
		close(go[1]);
	}
}
