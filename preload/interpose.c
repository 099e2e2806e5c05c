/*
 * The libc symbols libuepoll-preload.so exports (and nothing else: see
 * exports.map).  epoll calls on a proxy go to its uepoll instance; the
 * descriptor calls keep the proxy table right; everything else goes to
 * libc.  Numbers >= UEPOLL_FD_BASE are never valid here: a program only
 * holds kernel fds, so uepoll's own numbers must not leak through.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <uepoll.h>

#include "preload.h"

#define EXPORT __attribute__((visibility("default")))

static enum preload_mode enter(void)
{
	preload_real_init();
	return proxy_mode();
}

/* A target descriptor as uepoll must see it. */
static int target_fd(int fd)
{
	if (fd >= UEPOLL_FD_BASE)
		return -1; /* not a kernel fd the program can hold: EBADF */
	int ufd = proxy_ufd(fd);
	return ufd >= 0 ? ufd : fd;
}

/* ---- epoll ---- */

EXPORT int epoll_create1(int flags)
{
	if (enter() != PRELOAD_UEPOLL)
		return real.epoll_create1(flags);
	if (flags & ~EPOLL_CLOEXEC) {
		errno = EINVAL;
		return -1;
	}
	return proxy_create(flags);
}

EXPORT int epoll_create(int size)
{
	if (size <= 0) {
		errno = EINVAL;
		return -1;
	}
	return epoll_create1(0);
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	if (enter() != PRELOAD_UEPOLL)
		return real.epoll_ctl(epfd, op, fd, event);
	int ep = proxy_ufd(epfd);
	/* Not ours: the kernel gives EBADF, EINVAL (not an epoll), ... */
	if (ep < 0)
		return real.epoll_ctl(epfd, op, fd, event);
	bool env = preload_backend_env();
	int r = uepoll_ctl(ep, op, target_fd(fd), event);
	if (env) {
		int e = errno;
		unsetenv("UEPOLL_BACKEND");
		errno = e;
	}
	return r;
}

/* A wait on a proxy is over: bring the proxy in step, keep errno. */
static int wait_done(int epfd, int ep, int r)
{
	int e = errno;
	proxy_sync(epfd, ep);
	errno = e;
	return r;
}

EXPORT int epoll_wait(int epfd, struct epoll_event *events, int maxevents,
                      int timeout)
{
	int ep = enter() == PRELOAD_UEPOLL ? proxy_ufd(epfd) : -1;
	if (ep < 0)
		return real.epoll_wait(epfd, events, maxevents, timeout);
	return wait_done(epfd, ep, uepoll_wait(ep, events, maxevents, timeout));
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int maxevents,
                       int timeout, const sigset_t *sigmask)
{
	int ep = enter() == PRELOAD_UEPOLL ? proxy_ufd(epfd) : -1;
	if (ep < 0)
		return real.epoll_pwait(epfd, events, maxevents, timeout,
		                        sigmask);
	return wait_done(epfd, ep,
	                 uepoll_pwait(ep, events, maxevents, timeout, sigmask));
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
                        const struct timespec *timeout, const sigset_t *sigmask)
{
	int ep = enter() == PRELOAD_UEPOLL ? proxy_ufd(epfd) : -1;
	if (ep < 0)
		return real.epoll_pwait2(epfd, events, maxevents, timeout,
		                         sigmask);
	return wait_done(
	        epfd, ep,
	        uepoll_pwait2(ep, events, maxevents, timeout, sigmask));
}

/* ---- descriptors ---- */

EXPORT int close(int fd)
{
	if (enter() != PRELOAD_UEPOLL || fd >= UEPOLL_FD_BASE)
		return real.close(fd);
	if (proxy_release(fd))
		return real.close(fd);
	/* Any other kernel fd: its host file (and registrations) go too. */
	return uepoll_close(fd);
}

EXPORT int dup(int oldfd)
{
	int fd = real.dup(oldfd);
	if (fd >= 0 && enter() == PRELOAD_UEPOLL)
		proxy_dup_done(oldfd, fd);
	return fd;
}

/* dup2/dup3: a proxy at newfd is replaced, so it is released first. */
static int dup_onto(int oldfd, int newfd, int flags, bool three)
{
	if (enter() == PRELOAD_UEPOLL && oldfd != newfd &&
	    real.fcntl(oldfd, F_GETFD) >= 0 &&
	    (!three || (flags & ~O_CLOEXEC) == 0))
		proxy_release(newfd);
	int fd = three ? real.dup3(oldfd, newfd, flags)
	               : real.dup2(oldfd, newfd);
	if (fd >= 0 && oldfd != newfd && proxy_mode() == PRELOAD_UEPOLL)
		proxy_dup_done(oldfd, fd);
	return fd;
}

EXPORT int dup2(int oldfd, int newfd)
{
	return dup_onto(oldfd, newfd, 0, false);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return dup_onto(oldfd, newfd, flags, true);
}

static int do_fcntl(int fd, int cmd, void *arg)
{
	if (enter() != PRELOAD_UEPOLL)
		return real.fcntl(fd, cmd, arg);
	/* The proxy stays non-blocking: proxy_sync's read must not block. */
	if (cmd == F_SETFL && proxy_ufd(fd) >= 0)
		arg = (void *)((intptr_t)arg | O_NONBLOCK);
	int r = real.fcntl(fd, cmd, arg);
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		proxy_dup_done(fd, r);
	return r;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(fd, cmd, arg);
}

/* What fcntl() calls when built with _FILE_OFFSET_BITS=64 (nginx). */
EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(fd, cmd, arg);
}

/* ---- poll ---- */

/*
 * A poll set holding a proxy is polled by uepoll, with the proxy replaced
 * by its instance: the sleeping thread then also dispatches the kernel
 * fds' readiness, so a nested instance over sockets or pipes becomes
 * readable even when no thread is in epoll_wait.
 */
EXPORT int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	if (enter() != PRELOAD_UEPOLL || !proxy_any() || !fds)
		return real.poll(fds, nfds, timeout);
	nfds_t i;
	for (i = 0; i < nfds; i++)
		if (proxy_ufd(fds[i].fd) >= 0)
			break;
	if (i == nfds)
		return real.poll(fds, nfds, timeout);
	struct pollfd small[16];
	struct pollfd *p = nfds <= 16 ? small : malloc(nfds * sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < nfds; i++) {
		p[i] = fds[i];
		/* A negative fd is ignored by poll; keep it negative. */
		if (fds[i].fd >= 0)
			p[i].fd = target_fd(fds[i].fd);
	}
	int r = uepoll_poll(p, nfds, timeout);
	if (r >= 0)
		for (i = 0; i < nfds; i++)
			fds[i].revents = p[i].revents;
	if (p != small) {
		int e = errno;
		free(p);
		errno = e;
	}
	return r;
}

/* ---- raw system calls through libc's syscall() ---- */

/*
 * Programs that call syscall(SYS_epoll_*) get the same proxies as the
 * libc calls.  io_uring_setup is refused (ENOSYS, as when io_uring is
 * disabled) unless UEPOLL_PRELOAD_IO_URING=1: io_uring's
 * IORING_OP_EPOLL_CTL cannot reach uepoll, and programs that batch
 * epoll_ctl through io_uring (libuv) fall back to epoll_ctl without it.
 * System calls made without libc (inline assembly) are not seen.
 */
EXPORT long syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	preload_real_init();
	/* The kernel's sigset_t is 8 bytes, checked before the fd. */
	bool bad_sigset = (nr == SYS_epoll_pwait || nr == SYS_epoll_pwait2) &&
	                  a[4] && a[5] != 8;
	switch (nr) {
	case SYS_epoll_create:
		return epoll_create((int)a[0]);
	case SYS_epoll_create1:
		return epoll_create1((int)a[0]);
	case SYS_epoll_ctl:
		return epoll_ctl((int)a[0], (int)a[1], (int)a[2],
		                 (struct epoll_event *)a[3]);
	case SYS_epoll_wait:
		return epoll_wait((int)a[0], (struct epoll_event *)a[1],
		                  (int)a[2], (int)a[3]);
	case SYS_epoll_pwait:
		if (bad_sigset)
			break;
		return epoll_pwait((int)a[0], (struct epoll_event *)a[1],
		                   (int)a[2], (int)a[3],
		                   (const sigset_t *)a[4]);
	case SYS_epoll_pwait2:
		if (bad_sigset)
			break;
		return epoll_pwait2((int)a[0], (struct epoll_event *)a[1],
		                    (int)a[2], (const struct timespec *)a[3],
		                    (const sigset_t *)a[4]);
	case SYS_close:
		return close((int)a[0]);
	case SYS_dup:
		return dup((int)a[0]);
	case SYS_dup2:
		return dup2((int)a[0], (int)a[1]);
	case SYS_dup3:
		return dup3((int)a[0], (int)a[1], (int)a[2]);
	case SYS_io_uring_setup: {
		const char *allow = getenv("UEPOLL_PRELOAD_IO_URING");
		if (proxy_mode() == PRELOAD_UEPOLL &&
		    !(allow && allow[0] == '1')) {
			errno = ENOSYS;
			return -1;
		}
		break;
	}
	}
	if (bad_sigset) {
		errno = EINVAL;
		return -1;
	}
	return real.syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
