/*
 * The indirection header: every conformance test calls these sys_* names,
 * and is built twice.  Without CONF_UEPOLL they are the kernel's calls (the
 * judge); with CONF_UEPOLL they are uepoll's.  A test must pass on the kernel
 * first: if it fails there, the test is wrong.
 */
#ifndef CONF_SYS_H
#define CONF_SYS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../runner.h"

#ifdef CONF_UEPOLL
#include "uepoll.h"
#define SYS_(k, u) u
/* A descriptor number that is free and valid as a dup2() target. */
#define SYS_FD_HIGH (UEPOLL_FD_BASE + 900)
#define SYS_IS_UEPOLL 1
#else
#define SYS_(k, u) k
#define SYS_FD_HIGH 900
#define SYS_IS_UEPOLL 0
#endif

static inline int sys_epoll_create(int size)
{
	return SYS_(epoll_create, uepoll_create)(size);
}
static inline int sys_epoll_create1(int flags)
{
	return SYS_(epoll_create1, uepoll_create1)(flags);
}
static inline int sys_epoll_ctl(int epfd, int op, int fd,
                                struct epoll_event *ev)
{
	return SYS_(epoll_ctl, uepoll_ctl)(epfd, op, fd, ev);
}
static inline int sys_epoll_wait(int epfd, struct epoll_event *evs, int max,
                                 int timeout)
{
	return SYS_(epoll_wait, uepoll_wait)(epfd, evs, max, timeout);
}
static inline int sys_epoll_pwait(int epfd, struct epoll_event *evs, int max,
                                  int timeout, const sigset_t *mask)
{
	return SYS_(epoll_pwait, uepoll_pwait)(epfd, evs, max, timeout, mask);
}
static inline int sys_epoll_pwait2(int epfd, struct epoll_event *evs, int max,
                                   const struct timespec *timeout,
                                   const sigset_t *mask)
{
	return SYS_(epoll_pwait2, uepoll_pwait2)(epfd, evs, max, timeout,
	                                         mask);
}
static inline int sys_eventfd(unsigned int initval, int flags)
{
	return SYS_(eventfd, uepoll_eventfd)(initval, flags);
}
static inline int sys_pipe(int fds[2])
{
	return SYS_(pipe, uepoll_pipe)(fds);
}
static inline int sys_pipe2(int fds[2], int flags)
{
	return SYS_(pipe2, uepoll_pipe2)(fds, flags);
}
static inline ssize_t sys_read(int fd, void *buf, size_t n)
{
	return SYS_(read, uepoll_read)(fd, buf, n);
}
static inline ssize_t sys_write(int fd, const void *buf, size_t n)
{
	return SYS_(write, uepoll_write)(fd, buf, n);
}
static inline int sys_close(int fd)
{
	return SYS_(close, uepoll_close)(fd);
}
static inline int sys_dup(int fd)
{
	return SYS_(dup, uepoll_dup)(fd);
}
static inline int sys_dup2(int fd, int newfd)
{
	return SYS_(dup2, uepoll_dup2)(fd, newfd);
}
static inline int sys_dup3(int fd, int newfd, int flags)
{
	return SYS_(dup3, uepoll_dup3)(fd, newfd, flags);
}
static inline int sys_fcntl(int fd, int cmd, long arg)
{
	return SYS_(fcntl, uepoll_fcntl)(fd, cmd, arg);
}
static inline int sys_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	return SYS_(poll, uepoll_poll)(fds, n, timeout);
}

/* ---- small helpers shared by the conformance tests ---- */

/* Register fd in epfd with events and data.u64 = data; asserts success. */
#define ADD(epfd, fd, ev, data_)                                               \
	do {                                                                   \
		struct epoll_event e_ = {.events = (ev),                       \
		                         .data.u64 = (data_)};                 \
		ASSERT_OK(sys_epoll_ctl((epfd), EPOLL_CTL_ADD, (fd), &e_));    \
	} while (0)

#define MOD(epfd, fd, ev, data_)                                               \
	do {                                                                   \
		struct epoll_event e_ = {.events = (ev),                       \
		                         .data.u64 = (data_)};                 \
		ASSERT_OK(sys_epoll_ctl((epfd), EPOLL_CTL_MOD, (fd), &e_));    \
	} while (0)

static inline void write_u64(int fd, uint64_t v)
{
	ASSERT_EQ(sys_write(fd, &v, sizeof(v)), sizeof(v));
}

static inline uint64_t read_u64(int fd)
{
	uint64_t v = 0;
	ASSERT_EQ(sys_read(fd, &v, sizeof(v)), sizeof(v));
	return v;
}

static inline void write_byte(int fd)
{
	ASSERT_EQ(sys_write(fd, "x", 1), 1);
}

/* Monotonic time in milliseconds (for loose bounds on timeouts). */
static inline int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- timerfd ---- */
#include <sys/timerfd.h>
static inline int sys_timerfd_create(int clockid, int flags)
{
	return SYS_(timerfd_create, uepoll_timerfd_create)(clockid, flags);
}
static inline int sys_timerfd_settime(int fd, int flags,
                                      const struct itimerspec *nv,
                                      struct itimerspec *ov)
{
	return SYS_(timerfd_settime, uepoll_timerfd_settime)(fd, flags, nv, ov);
}
static inline int sys_timerfd_gettime(int fd, struct itimerspec *cur)
{
	return SYS_(timerfd_gettime, uepoll_timerfd_gettime)(fd, cur);
}

#endif
