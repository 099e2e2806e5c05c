/*
 * fork() in library mode (uepoll.h, "fork"): the child gets a copy of
 * every object; threads other than the forking one do not exist there.
 * Threads asleep in uepoll at the fork leave entries on the copies' wait
 * queues that must not take the child's wake-ups; armed timers keep
 * firing in the child; the child can create, use and close objects and
 * its copies, then exit 0.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../runner.h"
#include "uepoll.h"

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

struct sleeper {
	int ep, timeout, ret;
	pthread_t tid;
};

static void *sleeper_main(void *p)
{
	struct sleeper *s = p;
	struct epoll_event ev[4];
	s->ret = uepoll_wait(s->ep, ev, 4, s->timeout);
	return NULL;
}

static int child_status(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* In the child: fresh objects work, then the copies close. */
static int child_fresh_objects(void)
{
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, EFD_NONBLOCK), p[2];
	if (ep < 0 || efd < 0 || uepoll_pipe2(p, O_NONBLOCK))
		return 10;
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = 9}, out[2];
	if (uepoll_ctl(ep, EPOLL_CTL_ADD, efd, &e) ||
	    uepoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e))
		return 11;
	uint64_t one = 1;
	if (uepoll_write(efd, &one, 8) != 8 || uepoll_write(p[1], "x", 1) != 1)
		return 12;
	if (uepoll_wait(ep, out, 2, 1000) != 2)
		return 13;
	uepoll_close(p[0]);
	uepoll_close(p[1]);
	uepoll_close(efd);
	uepoll_close(ep);
	return 0;
}

/*
 * Two parent threads sleep in uepoll_wait on X at the fork.  In the child,
 * a new thread sleeps on X's copy and one write must wake it: the parent's
 * sleepers are not there to take the wake-up.
 */
TEST(fork_child_waiter_woken_despite_parent_sleepers)
{
#ifdef __SANITIZE_THREAD__
	SKIP("TSan cannot start a thread in the child of a threaded fork");
#endif
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, EFD_NONBLOCK);
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = 1};
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, efd, &e));
	struct sleeper s[2] = {{.ep = ep, .timeout = 3000},
	                       {.ep = ep, .timeout = 3000}};
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(pthread_create(&s[i].tid, NULL, sleeper_main, &s[i]),
		          0);
	sleep_ms(100); /* both asleep */
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* Events win over a timeout: only the time tells a miss. */
		struct sleeper c = {.ep = ep, .timeout = 5000};
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		pthread_create(&c.tid, NULL, sleeper_main, &c);
		sleep_ms(100);
		uint64_t one = 1;
		uepoll_write(efd, &one, 8);
		pthread_join(c.tid, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (c.ret != 1 || t1.tv_sec - t0.tv_sec >= 3)
			_exit(1);
		uepoll_close(efd);
		uepoll_close(ep);
		_exit(child_fresh_objects());
	}
	ASSERT_EQ(child_status(pid), 0);
	uint64_t one = 1; /* let the parent's sleepers go */
	ASSERT_EQ(uepoll_write(efd, &one, 8), 8);
	for (int i = 0; i < 2; i++)
		pthread_join(s[i].tid, NULL);
	uepoll_close(efd);
	uepoll_close(ep);
}

static atomic_bool busy_stop;

/* A thread busy on objects of its own (the child leaves them alone). */
static void *busy_main(void *p)
{
	(void)p;
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, EFD_NONBLOCK);
	struct epoll_event e = {.events = EPOLLIN}, out[2];
	while (!atomic_load(&busy_stop)) {
		uint64_t one = 1, v;
		uepoll_ctl(ep, EPOLL_CTL_ADD, efd, &e);
		uepoll_write(efd, &one, 8);
		uepoll_wait(ep, out, 2, 0);
		uepoll_read(efd, &v, 8);
		uepoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL);
	}
	uepoll_close(efd);
	uepoll_close(ep);
	return NULL;
}

/*
 * Forks while a periodic timer runs, one thread sleeps in uepoll_wait and
 * another is busy in uepoll: each child sees its timer copy fire, uses
 * fresh objects, closes its copies and exits 0.
 */
TEST_T(fork_repeatedly_while_timers_run_and_threads_work, 60)
{
#ifdef __SANITIZE_THREAD__
	SKIP("TSan cannot start a thread in the child of a threaded fork");
#endif
	int ep = uepoll_create1(0);
	int tfd = uepoll_timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int idle = uepoll_eventfd(0, EFD_NONBLOCK);
	struct itimerspec its = {{0, 2000000}, {0, 2000000}};
	ASSERT_OK(uepoll_timerfd_settime(tfd, 0, &its, NULL));
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = 5};
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, tfd, &e));
	int sep = uepoll_create1(0);
	e.data.u64 = 6;
	ASSERT_OK(uepoll_ctl(sep, EPOLL_CTL_ADD, idle, &e));
	struct sleeper s = {.ep = sep, .timeout = -1};
	pthread_t busy;
	ASSERT_EQ(pthread_create(&s.tid, NULL, sleeper_main, &s), 0);
	ASSERT_EQ(pthread_create(&busy, NULL, busy_main, NULL), 0);
	for (int round = 0; round < 20; round++) {
		sleep_ms(5);
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			struct epoll_event out[2];
			uint64_t v;
			/* The timer copy fires here: the service restarted. */
			uepoll_read(tfd, &v, 8);
			if (uepoll_wait(ep, out, 2, 2000) != 1 ||
			    out[0].data.u64 != 5)
				_exit(2);
			int r = child_fresh_objects();
			uepoll_close(tfd);
			uepoll_close(idle);
			uepoll_close(ep);
			uepoll_close(sep);
			_exit(r);
		}
		ASSERT_EQ(child_status(pid), 0);
	}
	atomic_store(&busy_stop, true);
	pthread_join(busy, NULL);
	uint64_t one = 1;
	ASSERT_EQ(uepoll_write(idle, &one, 8), 8);
	pthread_join(s.tid, NULL);
	ASSERT_EQ(s.ret, 1);
	uepoll_close(tfd);
	uepoll_close(idle);
	uepoll_close(ep);
	uepoll_close(sep);
}

static atomic_bool nest_stop;
static int nest_c, nest_t;

/* ADD C to P: the full check of an instance's ADD polls C, so T. */
static void *nest_adder(void *arg)
{
	(void)arg;
	int p = uepoll_create1(0);
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = 1};
	while (!atomic_load(&nest_stop)) {
		uepoll_ctl(p, EPOLL_CTL_ADD, nest_c, &e);
		uepoll_ctl(p, EPOLL_CTL_DEL, nest_c, NULL);
	}
	uepoll_close(p);
	return NULL;
}

/* Re-arm T from its read and its settime: both arm under T's lock. */
static void *nest_rearmer(void *arg)
{
	(void)arg;
	struct itimerspec its = {{0, 50000}, {0, 50000}};
	while (!atomic_load(&nest_stop)) {
		uint64_t v;
		uepoll_read(nest_t, &v, 8);
		uepoll_timerfd_settime(nest_t, 0, &its, NULL);
	}
	return NULL;
}

/*
 * Forks while one thread ADDs an instance C (which watches a periodic
 * timerfd T) to another, and a second thread reads and re-arms T: the
 * fork's handlers must not wait for the ADD's lock while holding the lock
 * the re-arm needs (a deadlock: the fork never returns).
 */
TEST_T(fork_while_nested_add_polls_a_rearming_timerfd, 40)
{
#ifdef __SANITIZE_THREAD__
	SKIP("TSan cannot start a thread in the child of a threaded fork");
#endif
	nest_c = uepoll_create1(0);
	nest_t = uepoll_timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec its = {{0, 50000}, {0, 50000}};
	ASSERT_OK(uepoll_timerfd_settime(nest_t, 0, &its, NULL));
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = 2};
	ASSERT_OK(uepoll_ctl(nest_c, EPOLL_CTL_ADD, nest_t, &e));
	pthread_t adder, rearmer;
	ASSERT_EQ(pthread_create(&adder, NULL, nest_adder, NULL), 0);
	ASSERT_EQ(pthread_create(&rearmer, NULL, nest_rearmer, NULL), 0);
	for (int round = 0; round < 300; round++) {
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0)
			_exit(0);
		ASSERT_EQ(child_status(pid), 0);
	}
	atomic_store(&nest_stop, true);
	pthread_join(adder, NULL);
	pthread_join(rearmer, NULL);
	uepoll_close(nest_t);
	uepoll_close(nest_c);
}
