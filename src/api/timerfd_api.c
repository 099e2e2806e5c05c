/*
 * The public timerfd calls: validate and copy in Linux's order, look the
 * descriptor up, delegate to timerfd.c, and turn -errno into errno and -1
 * (api.c does the same for the other calls).  Numbers below
 * UEPOLL_FD_BASE are kernel descriptors and go to the kernel.
 *
 * Error order, as fs/timerfd.c has it:
 *   create:  EINVAL (flags, then clock), EPERM (alarm clock), EMFILE/ENOMEM
 *   settime: EFAULT (new_value), EINVAL (flags, timespecs), EBADF,
 *            EINVAL (not a timerfd), then EFAULT for old_value, after the
 *            new setting took effect.
 *   gettime: EBADF, EINVAL (not a timerfd), EFAULT (curr_value).
 */
#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>

#include "fs/fdtable.h"
#include "fs/timerfd.h"
#include "api/uaccess.h"

/* The kernel's timespec64_valid(). */
static bool ts_valid(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

UEPOLL_API int uepoll_timerfd_create(int clockid, int flags)
{
	return (int)uep_ret_errno(uep_timerfd_create(clockid, flags));
}

UEPOLL_API int uepoll_timerfd_settime(int fd, int flags,
                                      const struct itimerspec *new_value,
                                      struct itimerspec *old_value)
{
	struct itimerspec nv, ov;
	if (!uep_is_uepoll_fd(fd))
		return timerfd_settime(fd, flags, new_value, old_value);
	if (uep_copy_faults(new_value, sizeof(*new_value)))
		return (int)uep_ret_errno(-EFAULT);
	memcpy(&nv, new_value, sizeof(nv));
	if ((flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) ||
	    !ts_valid(&nv.it_value) || !ts_valid(&nv.it_interval))
		return (int)uep_ret_errno(-EINVAL);
	struct uepoll_file *f = uep_fget(fd);
	if (!f)
		return (int)uep_ret_errno(-EBADF);
	int r = uep_timerfd_settime(f, flags, &nv, old_value ? &ov : NULL);
	uep_file_put(f);
	if (r == 0 && old_value) {
		if (uep_copy_faults(old_value, sizeof(*old_value)))
			r = -EFAULT;
		else
			memcpy(old_value, &ov, sizeof(ov));
	}
	return (int)uep_ret_errno(r);
}

UEPOLL_API int uepoll_timerfd_gettime(int fd, struct itimerspec *curr_value)
{
	struct itimerspec cur;
	if (!uep_is_uepoll_fd(fd))
		return timerfd_gettime(fd, curr_value);
	struct uepoll_file *f = uep_fget(fd);
	if (!f)
		return (int)uep_ret_errno(-EBADF);
	int r = uep_timerfd_gettime(f, &cur);
	uep_file_put(f);
	if (r == 0) {
		if (uep_copy_faults(curr_value, sizeof(*curr_value)))
			r = -EFAULT;
		else
			memcpy(curr_value, &cur, sizeof(cur));
	}
	return (int)uep_ret_errno(r);
}
