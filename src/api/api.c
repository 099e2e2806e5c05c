/*
 * The public API: the only layer that faces users.  Each call validates and
 * copies its arguments, looks its descriptors up (taking references),
 * delegates, drops the references, and turns the internal -errno into
 * errno and -1, here and nowhere else.  The order of the checks is the
 * kernel's (docs/LINUX.md, "Error order"); numbers below UEPOLL_FD_BASE
 * are kernel descriptors and go to the kernel where the call has a kernel
 * meaning.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs/ep_diag.h"
#include "fs/eventpoll.h"
#include "fs/fdtable.h"
#include "fs/file.h"
#include "fs/objects.h"
#include "fs/select.h"
#include "kfd/kfd.h"
#include "api/api.h"
#include "api/uaccess.h"

/* The kernel's EP_MAX_EVENTS: INT_MAX / sizeof(struct epoll_event). */
#define EP_MAX_EVENTS ((int)(INT_MAX / sizeof(struct epoll_event)))

/* ---- epoll ---- */

UEPOLL_API int uepoll_create1(int flags)
{
	if (flags & ~EPOLL_CLOEXEC)
		return (int)uep_ret_errno(-EINVAL);
	struct uepoll_file *f = uep_ep_create();
	if (!f)
		return (int)uep_ret_errno(-ENOMEM);
	return (int)uep_ret_errno(
	        uep_file_install(f, (flags & EPOLL_CLOEXEC) ? O_CLOEXEC : 0));
}

UEPOLL_API int uepoll_create(int size)
{
	if (size <= 0)
		return (int)uep_ret_errno(-EINVAL);
	return uepoll_create1(0);
}

/* A kernel epfd and a uepoll target: do_epoll_ctl's checks, in order. */
static int kernel_epfd_uepoll_fd(int epfd, int fd)
{
	if (uep_kfd_check_fd(epfd))
		return -EBADF;
	struct uepoll_file *tf = uep_fget(fd);
	if (!tf)
		return -EBADF;
	uep_file_put(tf);
	return uep_kfd_foreign_target(epfd);
}

UEP_HOT UEPOLL_API int uepoll_ctl(int epfd, int op, int fd,
                                  struct epoll_event *event)
{
	struct epoll_event ev = {0};
	long r;
	/* Every op but DEL copies the event in first: EFAULT before EBADF. */
	if (op != EPOLL_CTL_DEL) {
		if (!event || !uep_access_ok(event, sizeof(*event)))
			return (int)uep_ret_errno(-EFAULT);
		memcpy(&ev, event, sizeof(ev));
	}
	/* A kernel epoll instance is the kernel's business. */
	if (!uep_is_uepoll_fd(epfd) && epfd >= 0) {
		if (UEP_UNLIKELY(uep_is_uepoll_fd(fd)))
			return (int)uep_ret_errno(
			        kernel_epfd_uepoll_fd(epfd, fd));
		return epoll_ctl(epfd, op, fd,
		                 op != EPOLL_CTL_DEL ? &ev : NULL);
	}
	int kfd;
	struct uepoll_file *epf = uep_fget_epoll(epfd, &kfd);
	if (UEP_UNLIKELY(epf == UEP_FILE_KERNEL_EPOLL)) {
		/* So is a kernel fd of the preload's instance (see
		 * do_epoll_wait); anything else takes the full path. */
		if (!uep_is_uepoll_fd(fd) && !uep_diag_on())
			return (int)uep_ret_errno(uep_kfd_ctl(
			        kfd, op, fd, op != EPOLL_CTL_DEL ? &ev : NULL));
		epf = uep_fget(epfd);
	}
	if (!epf)
		return (int)uep_ret_errno(-EBADF);
	if (uep_diag_on())
		uep_diag_note_epfd(epf, epfd);
	/* A kernel fd: one epoll_ctl on the instance's kernel half. */
	if (!uep_is_uepoll_fd(fd)) {
		r = uep_ep_ctl_kernel(epf, op, fd,
		                      op != EPOLL_CTL_DEL ? &ev : NULL);
		if (!r && uep_diag_on())
			uep_diag_kernel_ctl(epf, op, fd, &ev);
		uep_file_put(epf);
		return (int)uep_ret_errno(r);
	}
	struct uepoll_file *tf = uep_fget(fd);
	if (!tf) {
		uep_file_put(epf);
		return (int)uep_ret_errno(-EBADF);
	}
	r = uep_ep_ctl(epf, op, tf, fd, &ev);
	uep_file_put(tf);
	uep_file_put(epf);
	return (int)uep_ret_errno(r);
}

/*
 * A wait's timeout as the caller gave it: milliseconds (epoll_wait,
 * epoll_pwait) or a timespec (epoll_pwait2, already checked).  A wait that
 * goes to the kernel passes it on unchanged; one that uepoll runs turns
 * it into a deadline.
 */
struct wait_timeout {
	bool is_ts;
	int ms;
	const struct timespec *ts;
};

/* The kernel's wait on kernel epoll kfd, with the caller's own timeout. */
UEP_HOT static int kernel_wait(int kfd, struct epoll_event *events,
                               int maxevents, const struct wait_timeout *to,
                               const sigset_t *sigmask)
{
	int r = to->is_ts
	                ? epoll_pwait2(kfd, events, maxevents, to->ts, sigmask)
	        : sigmask ? epoll_pwait(kfd, events, maxevents, to->ms, sigmask)
	                  : epoll_wait(kfd, events, maxevents, to->ms);
	return r < 0 ? -errno : r;
}

/*
 * pwait's mask covers the whole call, as the kernel's set_user_sigmask at
 * entry and restore at exit do: a signal it blocks cannot run its handler
 * during the harvest (with ep->mtx held), and an unreadable mask fails
 * with EFAULT before anything else.  Entry only adds the mask's signals to
 * the blocked set (SIG_BLOCK): a signal the mask unblocks is let through
 * by the sleep alone (ppoll installs the exact mask), where the kernel
 * would deliver it too.  Raw system calls: the kernel reads the mask and
 * says EFAULT (glibc's wrapper would read it first and crash).
 */
static int sigmask_enter(const sigset_t *mask, sigset_t *old)
{
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, mask, old, _NSIG / 8))
		return -errno;
	return 0;
}

static void sigmask_exit(const sigset_t *old)
{
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, _NSIG / 8);
}

/*
 * Since 6.15: EBADF, then maxevents, then EFAULT, then not-an-epoll.  An
 * instance that only holds kernel fds (the preload's) waits in its kernel
 * half with the caller's arguments, so the checks, their order, the mask
 * and the timeout are the kernel's own, and uepoll adds no system call,
 * no clock read, no lock and no reference: the descriptor's slot names
 * the kernel half (uep_fget_epoll).  The diagnostic mode, when on, takes
 * the full path.
 */
static UEP_ALWAYS_INLINE int do_epoll_wait(int epfd, struct epoll_event *events,
                                           int maxevents,
                                           const struct wait_timeout *to,
                                           const sigset_t *sigmask)
{
	if (!uep_is_uepoll_fd(epfd) && epfd >= 0)
		return kernel_wait(epfd, events, maxevents, to, sigmask);
	int kfd;
	struct uepoll_file *f = uep_fget_epoll(epfd, &kfd);
	if (UEP_UNLIKELY(f == UEP_FILE_KERNEL_EPOLL)) {
		if (!uep_diag_on())
			return kernel_wait(kfd, events, maxevents, to, sigmask);
		f = uep_fget(epfd);
	}
	long r;
	sigset_t old;
	if (sigmask) {
		int err = sigmask_enter(sigmask, &old);
		if (err) {
			if (f)
				uep_file_put(f);
			return err;
		}
	}
	/* Lazy: the clock is read only if the wait is about to sleep. */
	struct uep_deadline dl;
	if (to->is_ts)
		uep_deadline_ts_lazy(&dl, to->ts);
	else
		uep_deadline_ms_lazy(&dl, to->ms);
	if (!f)
		r = -EBADF;
	else if (maxevents <= 0 || maxevents > EP_MAX_EVENTS)
		r = -EINVAL;
	else if (!uep_access_ok(events,
	                        (size_t)maxevents * sizeof(struct epoll_event)))
		r = -EFAULT;
	else if (uep_diag_on()) {
		uep_diag_wait(f, epfd, NULL, -1);
		r = uep_ep_wait(f, events, maxevents, &dl, sigmask);
		uep_diag_wait(f, epfd, events, (int)r);
	} else {
		r = uep_ep_wait(f, events, maxevents, &dl, sigmask);
	}
	if (f)
		uep_file_put(f);
	/* Last, after every lock: a pending signal may run its handler now. */
	if (sigmask)
		sigmask_exit(&old);
	return (int)r;
}

UEP_HOT UEPOLL_API int uepoll_wait(int epfd, struct epoll_event *events,
                                   int maxevents, int timeout)
{
	struct wait_timeout to = {.ms = timeout};
	return (int)uep_ret_errno(
	        do_epoll_wait(epfd, events, maxevents, &to, NULL));
}

UEP_HOT UEPOLL_API int uepoll_pwait(int epfd, struct epoll_event *events,
                                    int maxevents, int timeout,
                                    const sigset_t *sigmask)
{
	struct wait_timeout to = {.ms = timeout};
	return (int)uep_ret_errno(
	        do_epoll_wait(epfd, events, maxevents, &to, sigmask));
}

static int timespec_check(const struct timespec *ts)
{
	if (!uep_access_ok(ts, sizeof(*ts)))
		return -EFAULT;
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)
		return -EINVAL;
	return 0;
}

UEP_HOT UEPOLL_API int uepoll_pwait2(int epfd, struct epoll_event *events,
                                     int maxevents,
                                     const struct timespec *timeout,
                                     const sigset_t *sigmask)
{
	/* The timespec is read before the descriptor is looked up. */
	if (timeout) {
		int r = timespec_check(timeout);
		if (r)
			return (int)uep_ret_errno(r);
	}
	struct wait_timeout to = {.is_ts = true, .ts = timeout};
	return (int)uep_ret_errno(
	        do_epoll_wait(epfd, events, maxevents, &to, sigmask));
}

/* ---- objects ---- */

UEPOLL_API int uepoll_eventfd(unsigned int initval, int flags)
{
	return (int)uep_ret_errno(uep_eventfd_create(initval, flags));
}

UEPOLL_API int uepoll_pipe2(int pipefd[2], int flags)
{
	int fds[2];
	if (!pipefd)
		return (int)uep_ret_errno(-EFAULT);
	int r = uep_pipe_create(fds, flags);
	if (r < 0)
		return (int)uep_ret_errno(r);
	pipefd[0] = fds[0];
	pipefd[1] = fds[1];
	return 0;
}

UEPOLL_API int uepoll_pipe(int pipefd[2])
{
	return uepoll_pipe2(pipefd, 0);
}

/* ---- descriptors ---- */

UEPOLL_API ssize_t uepoll_read(int fd, void *buf, size_t count)
{
	if (!uep_is_uepoll_fd(fd))
		return read(fd, buf, count);
	struct uepoll_file *f = uep_fget(fd);
	if (!f)
		return uep_ret_errno(-EBADF);
	ssize_t r = uep_file_read(f, buf, count);
	uep_file_put(f);
	return uep_ret_errno(r);
}

UEPOLL_API ssize_t uepoll_write(int fd, const void *buf, size_t count)
{
	if (!uep_is_uepoll_fd(fd))
		return write(fd, buf, count);
	return uep_ret_errno(uep_fd_write(fd, buf, count));
}

UEPOLL_API int uepoll_close(int fd)
{
	if (!uep_is_uepoll_fd(fd))
		return close(fd);
	if (uep_diag_on())
		uep_diag_close(fd);
	return (int)uep_ret_errno(uep_fd_close(fd));
}

/*
 * F_DUPFD's lowest number >= minfd, within uepoll's numbers: a new
 * reference to f.  minfd is fcntl's unsigned int argument.
 */
static int dupfd_file(struct uepoll_file *f, unsigned minfd, unsigned fd_flags)
{
	if (minfd >= UEPOLL_FD_BASE &&
	    minfd - UEPOLL_FD_BASE >= (unsigned long)uep_fd_limit())
		return -EINVAL;
	uep_file_get(f);
	int fd = uep_fd_install(f, fd_flags, (int)minfd);
	if (fd < 0)
		uep_file_put(f);
	return fd;
}

UEPOLL_API int uepoll_dup(int oldfd)
{
	if (!uep_is_uepoll_fd(oldfd))
		return dup(oldfd);
	struct uepoll_file *f = uep_fget(oldfd);
	if (!f)
		return (int)uep_ret_errno(-EBADF);
	int r = dupfd_file(f, 0, 0);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

static int do_dup3(int oldfd, int newfd, int flags)
{
	if (!uep_is_uepoll_fd(newfd))
		return -EBADF;
	struct uepoll_file *f = uep_fget(oldfd);
	if (!f)
		return -EBADF;
	int r = uep_fd_replace(newfd, f,
	                       (flags & O_CLOEXEC) ? UEP_FD_CLOEXEC : 0);
	uep_file_put(f);
	return r;
}

UEPOLL_API int uepoll_dup3(int oldfd, int newfd, int flags)
{
	if ((flags & ~O_CLOEXEC) != 0 || oldfd == newfd)
		return (int)uep_ret_errno(-EINVAL);
	if (!uep_is_uepoll_fd(oldfd) && !uep_is_uepoll_fd(newfd))
		return dup3(oldfd, newfd, flags);
	return (int)uep_ret_errno(do_dup3(oldfd, newfd, flags));
}

UEPOLL_API int uepoll_dup2(int oldfd, int newfd)
{
	if (!uep_is_uepoll_fd(oldfd) && !uep_is_uepoll_fd(newfd))
		return dup2(oldfd, newfd);
	if (oldfd == newfd) {
		struct uepoll_file *f = uep_fget(oldfd);
		if (!f)
			return (int)uep_ret_errno(-EBADF);
		uep_file_put(f);
		return newfd;
	}
	return (int)uep_ret_errno(do_dup3(oldfd, newfd, 0));
}

/* The kernel's order: the descriptor first (EBADF), then the command. */
static int do_fcntl(int fd, int cmd, long arg)
{
	unsigned argi = (unsigned)arg; /* the kernel's (unsigned int)arg */
	struct uepoll_file *f = uep_fget(fd);
	int r;
	if (!f)
		return -EBADF;
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = dupfd_file(f, argi,
		               cmd == F_DUPFD_CLOEXEC ? UEP_FD_CLOEXEC : 0);
		break;
	case F_GETFD:
		r = uep_fd_get_flags(fd);
		if (r >= 0)
			r = (r & UEP_FD_CLOEXEC) ? FD_CLOEXEC : 0;
		break;
	case F_SETFD:
		r = uep_fd_set_flags(fd,
		                     (argi & FD_CLOEXEC) ? UEP_FD_CLOEXEC : 0);
		break;
	case F_GETFL:
		r = atomic_load(&f->f_flags);
		break;
	case F_SETFL:
		r = uep_file_setfl(f, argi);
		break;
	case F_GETPIPE_SZ:
	case F_SETPIPE_SZ:
		r = uep_file_pipe_size(f, cmd, argi);
		break;
	default:
		r = -EINVAL;
	}
	uep_file_put(f);
	return r;
}

UEPOLL_API int uepoll_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	if (!uep_is_uepoll_fd(fd))
		return fcntl(fd, cmd, arg);
	return (int)uep_ret_errno(do_fcntl(fd, cmd, arg));
}

/*
 * poll(2) gives EINVAL for more entries than the process may have
 * descriptors.  Ours are uepoll's limit plus the kernel's, for which
 * 65536 stands: a common hard RLIMIT_NOFILE, which is cheaper than asking
 * getrlimit on every call and only bounds how much memory a call may
 * walk.
 */
#define POLL_MAX_KERNEL_FDS 65536

UEPOLL_API int uepoll_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct uep_deadline dl;
	bool any = false;
	if (nfds > (nfds_t)uep_fd_limit() + POLL_MAX_KERNEL_FDS)
		return (int)uep_ret_errno(-EINVAL);
	if (nfds && (!fds || !uep_access_ok(fds, nfds * sizeof(*fds))))
		return (int)uep_ret_errno(-EFAULT);
	for (nfds_t i = 0; i < nfds; i++)
		if (uep_is_uepoll_fd(fds[i].fd))
			any = true;
	/* Only kernel descriptors: the kernel's poll does it all. */
	if (!any && nfds)
		return poll(fds, nfds, timeout);
	uep_deadline_ms(&dl, timeout);
	return (int)uep_ret_errno(uep_do_poll(fds, nfds, &dl, NULL));
}

/* ---- observability and limits ---- */

UEPOLL_API int uepoll_stats(int epfd, struct uepoll_stats *stats)
{
	if (!stats)
		return (int)uep_ret_errno(-EFAULT);
	struct uepoll_file *f = uep_fget(epfd);
	if (!f)
		return (int)uep_ret_errno(-EBADF);
	int r = uep_ep_stats(f, stats);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

UEPOLL_API int uepoll_notify(int epfd, int kernel_eventfd)
{
	if (kernel_eventfd < -1 || uep_is_uepoll_fd(kernel_eventfd))
		return (int)uep_ret_errno(-EINVAL);
	struct uepoll_file *f = uep_fget(epfd);
	if (!f)
		return (int)uep_ret_errno(-EBADF);
	int r = uep_ep_notify(f, kernel_eventfd);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

UEPOLL_API int uepoll_fdinfo(int epfd, char *buf, size_t len)
{
	struct uepoll_file *f = uep_fget(epfd);
	if (!f)
		return (int)uep_ret_errno(-EBADF);
	int r = uep_ep_fdinfo(f, buf, len);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

UEPOLL_API long uepoll_getlimit(int which)
{
	switch (which) {
	case UEPOLL_LIMIT_WATCHES:
		return uep_ep_max_watches();
	case UEPOLL_LIMIT_FILES:
		return uep_fd_limit();
	}
	return uep_ret_errno(-EINVAL);
}

UEPOLL_API int uepoll_setlimit(int which, long value)
{
	switch (which) {
	case UEPOLL_LIMIT_WATCHES:
		return (int)uep_ret_errno(uep_ep_set_max_watches(value));
	case UEPOLL_LIMIT_FILES:
		return (int)uep_ret_errno(uep_fd_set_limit(value));
	}
	return (int)uep_ret_errno(-EINVAL);
}

/* The preload's epoll fd as an instance (api.h). */
int uep_preload_instance(int kfd)
{
	struct uepoll_file *f = uep_ep_create_on(kfd);
	if (!f)
		return -ENOMEM;
	uep_file_get(f); /* for uep_ep_set_fast_fd, once the number is out */
	int ufd = uep_file_install(f, O_CLOEXEC);
	if (ufd >= 0)
		uep_ep_set_fast_fd(f, ufd);
	uep_file_put(f);
	return ufd;
}
