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

/*
 * The end of user space, the kernel's TASK_SIZE_MAX: a range reaching past
 * it gives EFAULT without being touched.  Per architecture, for the usual
 * configuration:
 *  - x86_64 with 4-level page tables: 2^47 minus a guard page.  (With
 *    5-level paging a process may map above it by asking mmap for such an
 *    address; uepoll would refuse those pointers.)
 *  - aarch64 with 48-bit virtual addresses: 2^48.  (A 52-bit kernel lets
 *    mmap go above it on request, with the same caveat.)
 *  - elsewhere, conservatively, all but the top page: only ranges that
 *    reach into it are refused (no mapping can start there: mmap's return
 *    values in it read as error codes), so no valid pointer is turned away,
 *    and the kernel's EFAULT for other kernel addresses is not reproduced.
 */
#if defined(__x86_64__)
#define UEP_USER_ADDR_END 0x7ffffffff000ull
#elif defined(__aarch64__)
#define UEP_USER_ADDR_END (1ull << 48)
#else
#define UEP_USER_ADDR_END ((uint64_t)UINTPTR_MAX - 4095)
#endif

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
