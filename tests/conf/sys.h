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
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
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
	return test_track_fd(SYS_(epoll_create, uepoll_create)(size));
}
static inline int sys_epoll_create1(int flags)
{
	return test_track_fd(SYS_(epoll_create1, uepoll_create1)(flags));
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
	return SYS_(epoll_pwait2, uepoll_pwait2)(epfd, evs, max, timeout, mask);
}
static inline int sys_eventfd(unsigned int initval, int flags)
{
	return test_track_fd(SYS_(eventfd, uepoll_eventfd)(initval, flags));
}
static inline int sys_pipe(int fds[2])
{
	return test_track_pair(SYS_(pipe, uepoll_pipe)(fds), fds);
}
static inline int sys_pipe2(int fds[2], int flags)
{
	return test_track_pair(SYS_(pipe2, uepoll_pipe2)(fds, flags), fds);
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
	return test_track_fd(SYS_(dup, uepoll_dup)(fd));
}
static inline int sys_dup2(int fd, int newfd)
{
	return test_track_fd(SYS_(dup2, uepoll_dup2)(fd, newfd));
}
static inline int sys_dup3(int fd, int newfd, int flags)
{
	return test_track_fd(SYS_(dup3, uepoll_dup3)(fd, newfd, flags));
}
static inline int sys_fcntl(int fd, int cmd, long arg)
{
	int r = SYS_(fcntl, uepoll_fcntl)(fd, cmd, arg);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		test_track_fd(r);
	return r;
}
static inline int sys_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	return SYS_(poll, uepoll_poll)(fds, n, timeout);
}
static inline int sys_ioctl(int fd, unsigned long req, void *arg)
{
	return SYS_(ioctl, uepoll_ioctl)(fd, req, arg);
}

/* ---- the calls libc programs expect beside read and write ---- */
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/uio.h>
static inline int sys_fstat(int fd, struct stat *st)
{
	return SYS_(fstat, uepoll_fstat)(fd, st);
}
static inline int sys_ppoll(struct pollfd *fds, nfds_t n,
                            const struct timespec *tmo, const sigset_t *mask)
{
	return SYS_(ppoll, uepoll_ppoll)(fds, n, tmo, mask);
}
static inline int sys_select(int nfds, fd_set *r, fd_set *w, fd_set *e,
                             struct timeval *tv)
{
	return SYS_(select, uepoll_select)(nfds, r, w, e, tv);
}
static inline int sys_pselect(int nfds, fd_set *r, fd_set *w, fd_set *e,
                              const struct timespec *ts, const sigset_t *mask)
{
	return SYS_(pselect, uepoll_pselect)(nfds, r, w, e, ts, mask);
}
static inline ssize_t sys_readv(int fd, const struct iovec *iov, int n)
{
	return SYS_(readv, uepoll_readv)(fd, iov, n);
}
static inline ssize_t sys_writev(int fd, const struct iovec *iov, int n)
{
	return SYS_(writev, uepoll_writev)(fd, iov, n);
}
static inline int sys_eventfd_read(int fd, eventfd_t *v)
{
	return SYS_(eventfd_read, uepoll_eventfd_read)(fd, v);
}
static inline int sys_eventfd_write(int fd, eventfd_t v)
{
	return SYS_(eventfd_write, uepoll_eventfd_write)(fd, v);
}

/* ---- small helpers shared by the conformance tests ---- */

/* Register fd in epfd with events and data.u64 = data; asserts success. */
#define ADD(epfd, fd, ev, data_)                                               \
	do {                                                                   \
		struct epoll_event e_ = {.events = (ev), .data.u64 = (data_)}; \
		ASSERT_OK(sys_epoll_ctl((epfd), EPOLL_CTL_ADD, (fd), &e_));    \
	} while (0)

#define MOD(epfd, fd, ev, data_)                                               \
	do {                                                                   \
		struct epoll_event e_ = {.events = (ev), .data.u64 = (data_)}; \
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

/* A new epoll instance; asserts success. */
static inline int new_ep(void)
{
	int ep = sys_epoll_create1(0);
	ASSERT_GE(ep, 0);
	return ep;
}

/* A new eventfd; asserts success. */
static inline int new_efd(unsigned int init, int flags)
{
	int fd = sys_eventfd(init, flags);
	ASSERT_GE(fd, 0);
	return fd;
}

/* A new pipe (pipe2 flags); asserts success. */
static inline void new_pipe(int p[2], int flags)
{
	p[0] = p[1] = -1;
	ASSERT_OK(sys_pipe2(p, flags));
	ASSERT_GE(p[0], 0);
	ASSERT_GE(p[1], 0);
	ASSERT_NE(p[0], p[1]);
}

/* A number that was an eventfd and is closed now (for EBADF). */
static inline int closed_fd(void)
{
	int fd = new_efd(0, 0);
	ASSERT_OK(sys_close(fd));
	return fd;
}

/* The poll() mask of fd for everything. */
static inline short poll_mask(int fd)
{
	struct pollfd p = {.fd = fd,
	                   .events = POLLIN | POLLOUT | POLLRDNORM |
	                             POLLWRNORM | POLLPRI | POLLRDHUP};
	ASSERT_GE(sys_poll(&p, 1, 0), 0);
	return p.revents;
}

/* One epoll_wait(timeout 0) on a fresh instance watching fd for ev (LT). */
static inline uint32_t epoll_mask(int fd, uint32_t ev)
{
	int ep = new_ep();
	ADD(ep, fd, ev, 1);
	struct epoll_event out[2];
	int n = sys_epoll_wait(ep, out, 2, 0);
	ASSERT_GE(n, 0);
	ASSERT_LE(n, 1);
	ASSERT_OK(sys_close(ep));
	return n ? out[0].events : 0;
}

/* epoll_wait with timeout 0; asserts it did not fail. */
static inline int wait0(int ep, struct epoll_event *out, int max)
{
	int n = sys_epoll_wait(ep, out, max, 0);
	ASSERT_GE(n, 0);
	return n;
}

/*
 * Bounds for timing asserts: a wait of N ms must take at least N -
 * SLACK_MS (clocks and timer slack round), and "returns at once" means
 * within LATE_MS (generous: the test machine is shared and loaded).
 */
#define SLACK_MS 10
#define LATE_MS 3000

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
	return test_track_fd(
	        SYS_(timerfd_create, uepoll_timerfd_create)(clockid, flags));
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

/* ---- sockets ---- */
#include <sys/socket.h>
#include <sys/un.h>
static inline int sys_socket(int domain, int type, int protocol)
{
	return test_track_fd(
	        SYS_(socket, uepoll_socket)(domain, type, protocol));
}
static inline int sys_socketpair(int domain, int type, int protocol, int sv[2])
{
	return test_track_pair(
	        SYS_(socketpair, uepoll_socketpair)(domain, type, protocol, sv),
	        sv);
}
static inline int sys_bind(int fd, const struct sockaddr *a, socklen_t len)
{
	return SYS_(bind, uepoll_bind)(fd, a, len);
}
static inline int sys_listen(int fd, int backlog)
{
	return SYS_(listen, uepoll_listen)(fd, backlog);
}
static inline int sys_accept(int fd, struct sockaddr *a, socklen_t *len)
{
	return test_track_fd(SYS_(accept, uepoll_accept)(fd, a, len));
}
static inline int sys_accept4(int fd, struct sockaddr *a, socklen_t *len,
                              int flags)
{
	return test_track_fd(SYS_(accept4, uepoll_accept4)(fd, a, len, flags));
}
static inline int sys_connect(int fd, const struct sockaddr *a, socklen_t len)
{
	return SYS_(connect, uepoll_connect)(fd, a, len);
}
static inline int sys_getsockname(int fd, struct sockaddr *a, socklen_t *len)
{
	return SYS_(getsockname, uepoll_getsockname)(fd, a, len);
}
static inline int sys_getpeername(int fd, struct sockaddr *a, socklen_t *len)
{
	return SYS_(getpeername, uepoll_getpeername)(fd, a, len);
}
static inline ssize_t sys_send(int fd, const void *b, size_t n, int flags)
{
	return SYS_(send, uepoll_send)(fd, b, n, flags);
}
static inline ssize_t sys_recv(int fd, void *b, size_t n, int flags)
{
	return SYS_(recv, uepoll_recv)(fd, b, n, flags);
}
static inline ssize_t sys_sendto(int fd, const void *b, size_t n, int flags,
                                 const struct sockaddr *a, socklen_t len)
{
	return SYS_(sendto, uepoll_sendto)(fd, b, n, flags, a, len);
}
static inline ssize_t sys_recvfrom(int fd, void *b, size_t n, int flags,
                                   struct sockaddr *a, socklen_t *len)
{
	return SYS_(recvfrom, uepoll_recvfrom)(fd, b, n, flags, a, len);
}
static inline ssize_t sys_sendmsg(int fd, const struct msghdr *m, int flags)
{
	return SYS_(sendmsg, uepoll_sendmsg)(fd, m, flags);
}
static inline ssize_t sys_recvmsg(int fd, struct msghdr *m, int flags)
{
	return SYS_(recvmsg, uepoll_recvmsg)(fd, m, flags);
}
static inline int sys_shutdown(int fd, int how)
{
	return SYS_(shutdown, uepoll_shutdown)(fd, how);
}
static inline int sys_getsockopt(int fd, int level, int name, void *v,
                                 socklen_t *len)
{
	return SYS_(getsockopt, uepoll_getsockopt)(fd, level, name, v, len);
}
static inline int sys_setsockopt(int fd, int level, int name, const void *v,
                                 socklen_t len)
{
	return SYS_(setsockopt, uepoll_setsockopt)(fd, level, name, v, len);
}

#endif
