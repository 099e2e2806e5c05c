/*
 * The user-facing layers' helpers (the kernel's uaccess.h, in spirit):
 * turning an internal -errno into errno + -1, and telling which pointers
 * the kernel would refuse.  Used by api.c, socket_api.c and timerfd_api.c.
 */
#ifndef UEP_UACCESS_H
#define UEP_UACCESS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* x86_64's TASK_SIZE_MAX: addresses at or above it fault in the kernel. */
#define UEP_USER_ADDR_END 0x7ffffffff000ull

/* The one place where an internal -errno becomes errno and -1. */
static inline long uep_ret_errno(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/*
 * The kernel's access_ok(): a range that ends beyond user space faults.
 * NULL passes, as in the kernel; the copy itself then faults.
 */
static inline bool uep_access_ok(const void *p, size_t n)
{
	uint64_t a = (uintptr_t)p;
	return a <= UEP_USER_ADDR_END && n <= UEP_USER_ADDR_END - a;
}

/* Would copy_from_user/copy_to_user of n bytes at p fault (NULL too)? */
static inline bool uep_copy_faults(const void *p, size_t n)
{
	return !p || !uep_access_ok(p, n);
}

#endif
