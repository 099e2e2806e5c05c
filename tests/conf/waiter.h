/*
 * One epoll_wait in a thread of its own, timed: the waiter shared by the
 * tests of several threads at once (races.c, waiters.c).
 */
#ifndef CONF_WAITER_H
#define CONF_WAITER_H

#include "sys.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

struct waiter {
	pthread_t tid;
	int ep, max, timeout;
	int ret, err;
	int64_t elapsed;
	struct epoll_event ev[8];
	atomic_int started, done; /* set by the thread */
};

static inline void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	int64_t t0 = now_ms(); /* before `started`, which tests may wait for */
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

static inline void waiter_join(struct waiter *w)
{
	ASSERT_EQ(pthread_join(w->tid, NULL), 0);
}

#endif
