/*
 * One epoll_wait in a thread of its own, timed: the waiter shared by the
 * tests of several threads at once (races.c, waiters.c).
 */
#ifndef CONF_WAITER_H
#define CONF_WAITER_H

#include "sys.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

struct waiter {
	pthread_t tid;
	int ep, max, timeout;
	int ret, err;
	int64_t elapsed;
	struct epoll_event ev[8];
	atomic_int ktid;          /* its kernel thread id, set before started */
	atomic_int started, done; /* set by the thread */
};

static inline void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	int64_t t0 = now_ms(); /* before `started`, which tests may wait for */
	atomic_store(&w->ktid, (int)syscall(SYS_gettid));
	atomic_store(&w->started, 1);
	w->ret = sys_epoll_wait(w->ep, w->ev, w->max, w->timeout);
	w->err = errno;
	w->elapsed = now_ms() - t0;
	atomic_store(&w->done, 1);
	return NULL;
}

/* Start a thread that waits on ep for at most max events (max <= 8). */
static inline void waiter_start(struct waiter *w, int ep, int max, int timeout)
{
	memset(w, 0, sizeof(*w));
	w->ep = ep;
	w->max = max;
	w->timeout = timeout;
	ASSERT_EQ(pthread_create(&w->tid, NULL, waiter_main, w), 0);
}

/*
 * Is the thread of w asleep: started, and in state S in
 * /proc/self/task/TID/stat?  After `started` it makes no call but the
 * wait, and nothing else holds the locks it takes, so a sleep is the
 * wait's (queued on the instance, as the kernel queues the task before
 * it schedules away).  A fixed sleep instead fails under load.
 */
static inline bool waiter_asleep(struct waiter *w)
{
	char path[64], buf[256];
	if (!atomic_load(&w->started) || atomic_load(&w->done))
		return false;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat",
	         atomic_load(&w->ktid));
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "tid (comm) S ...": the state follows the last ')'. */
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/*
 * Wait (bounded by ms) until the n waiters at w are asleep in their wait:
 * all seen asleep twice, 5 ms apart (a thread that blocks for a moment on
 * its way in, in malloc say, is seldom asleep at both looks).
 */
static inline void waiters_await_asleep(struct waiter *w, int n, int ms)
{
	int64_t end = now_ms() + ms;
	for (int seen = 0; seen < 2;) {
		int all = 1;
		for (int i = 0; i < n && all; i++)
			all = waiter_asleep(&w[i]);
		seen = all ? seen + 1 : 0;
		if (now_ms() > end)
			FAIL("%d waiters not asleep after %d ms", n, ms);
		sleep_ms(all ? 5 : 1);
	}
}

static inline void waiter_join(struct waiter *w)
{
	ASSERT_EQ(pthread_join(w->tid, NULL), 0);
}

#endif
