/*
 * The libc symbols libuepoll-preload.so exports (and nothing else: see
 * exports.map).  epoll_create1 creates a kernel epoll and a uepoll
 * instance on it; epoll_ctl and epoll_wait on such an fd go through
 * uepoll; close, close_range, closefrom, dup2 and dup3 keep the table
 * right; everything else
 * (fcntl, ioctl, poll, select, read...) is the kernel's, on a kernel
 * epoll.  Numbers >= UEPOLL_FD_BASE are never valid here: a program only
 * holds kernel fds, so uepoll's own numbers must not leak through.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <uepoll.h>

#include "api/api.h"
#include "preload.h"

#define EXPORT __attribute__((visibility("default")))

/* ---- epoll ---- */

EXPORT int epoll_create1(int flags)
{
	preload_real_init();
	/* The kernel's: its fd, its flags, its EMFILE and EINVAL. */
	int fd = real.epoll_create1(flags);
	if (fd < 0 || preload_in_vfork_child())
		return fd;
	int ufd = uep_preload_instance(fd);
	if (ufd < 0) {
		real.close(fd);
		errno = -ufd;
		return -1;
	}
	table_set(fd, ufd);
	return fd;
}

EXPORT int epoll_create(int size)
{
	if (size <= 0) {
		errno = EINVAL;
		return -1;
	}
	return epoll_create1(0);
}

UEP_HOT EXPORT int epoll_ctl(int epfd, int op, int fd,
                             struct epoll_event *event)
{
	preload_real_init();
	int ep = table_get(epfd);
	/* Not ours: the kernel gives EBADF, EINVAL (not an epoll), ... */
	if (!ep)
		return real.epoll_ctl(epfd, op, fd, event);
	/* Not a number the program can hold: EBADF, as the kernel says. */
	return uepoll_ctl(ep, op, fd >= UEPOLL_FD_BASE ? -1 : fd, event);
}

UEP_HOT EXPORT int epoll_wait(int epfd, struct epoll_event *events,
                              int maxevents, int timeout)
{
	preload_real_init();
	int ep = table_get(epfd);
	if (!ep)
		return real.epoll_wait(epfd, events, maxevents, timeout);
	return uepoll_wait(ep, events, maxevents, timeout);
}

UEP_HOT EXPORT int epoll_pwait(int epfd, struct epoll_event *events,
                               int maxevents, int timeout,
                               const sigset_t *sigmask)
{
	preload_real_init();
	int ep = table_get(epfd);
	if (!ep)
		return real.epoll_pwait(epfd, events, maxevents, timeout,
		                        sigmask);
	return uepoll_pwait(ep, events, maxevents, timeout, sigmask);
}

UEP_HOT EXPORT int epoll_pwait2(int epfd, struct epoll_event *events,
                                int maxevents, const struct timespec *timeout,
                                const sigset_t *sigmask)
{
	preload_real_init();
	int ep = table_get(epfd);
	if (!ep)
		return real.epoll_pwait2(epfd, events, maxevents, timeout,
		                         sigmask);
	return uepoll_pwait2(ep, events, maxevents, timeout, sigmask);
}

/* ---- descriptors ---- */

EXPORT int close(int fd)
{
	preload_real_init();
	if (table_get(fd) && !preload_in_vfork_child())
		table_forget(fd);
	return real.close(fd);
}

/*
 * The entries go first (as in close), once the kernel would accept the
 * call: it fails with EINVAL only for these arguments, and then closes
 * nothing.  With CLOSE_RANGE_CLOEXEC nothing is closed until exec, which
 * takes the table with it.
 */
EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	preload_real_init();
	if (first <= last &&
	    !(flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) &&
	    !(flags & CLOSE_RANGE_CLOEXEC) && !preload_in_vfork_child())
		table_forget_range(first, last);
	return real.close_range(first, last, flags);
}

EXPORT void closefrom(int lowfd)
{
	preload_real_init();
	/* glibc closes from 0 for a negative lowfd. */
	if (!preload_in_vfork_child())
		table_forget_range(lowfd < 0 ? 0 : (unsigned)lowfd, ~0U);
	real.closefrom(lowfd);
}

/* dup2/dup3 onto an epoll fd of ours replace it: its instance goes. */
static int dup_onto(int oldfd, int newfd, int flags, bool three)
{
	preload_real_init();
	int fd = three ? real.dup3(oldfd, newfd, flags)
	               : real.dup2(oldfd, newfd);
	if (fd >= 0 && oldfd != newfd && table_get(newfd) &&
	    !preload_in_vfork_child())
		table_forget(newfd);
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

/* ---- raw system calls through libc's syscall() ---- */

/*
 * Programs that call syscall(SYS_epoll_*) get the same as the libc calls.
 * System calls made without libc (inline assembly) are not seen: they
 * reach the kernel epoll directly, which is the kernel half itself.
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
	case SYS_dup2:
		return dup2((int)a[0], (int)a[1]);
	case SYS_dup3:
		return dup3((int)a[0], (int)a[1], (int)a[2]);
	case SYS_close_range:
		return close_range((unsigned)a[0], (unsigned)a[1], (int)a[2]);
	}
	if (bad_sigset) {
		errno = EINVAL;
		return -1;
	}
	return real.syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
