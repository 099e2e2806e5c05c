/*
 * The descriptor table: uepoll numbers (UEPOLL_FD_BASE + index) to files.
 *
 * Slots live in chunks of UEP_FD_CHUNK that are allocated on demand and
 * never freed, so a lookup reaches its slot without a lock.  Taking the
 * reference is what needs care (a close may drop the last one at the same
 * moment): lookups and removals of one slot serialise on one of
 * UEP_FD_STRIPES small locks, picked by the number.  The allocation bitmap
 * (lowest free number first, as POSIX wants) is under one table lock.
 */
#ifndef UEP_FDTABLE_H
#define UEP_FDTABLE_H

#include <stdbool.h>

#include "fs/file.h"

#define UEP_FD_CLOEXEC 0x1u

/*
 * Most descriptors the table can ever hold (UEPOLL_LIMIT_FILES <= this):
 * four times the million in-process objects uepoll is built for, with
 * UEPOLL_FD_BASE + 2^22 far below INT_MAX.  Its allocation bitmap is
 * 512 KiB of zero pages, touched only as numbers are used.
 */
#define UEP_FD_CAPACITY (1 << 22)

static inline bool uep_is_uepoll_fd(int fd)
{
	return fd >= UEPOLL_FD_BASE;
}

/* Install f at the lowest free number >= minfd; takes over the reference. */
int uep_fd_install(struct uepoll_file *f, unsigned fd_flags, int minfd);
/* The file at fd with a new reference, or NULL (EBADF). */
struct uepoll_file *uep_fget(int fd);
/*
 * Like uep_fget, but a file with UEP_FMODE_SIGSAFE_WRITE comes pinned
 * instead (*pinned set): the caller ends with uep_file_unpin(), never
 * sleeps in between, and so never holds the last reference (a signal
 * handler's write must not run a final release).
 */
struct uepoll_file *uep_fget_pin(int fd, bool *pinned);
int uep_fd_close(int fd);
/* dup3/dup2: put f at newfd, closing what was there.  Takes a reference. */
int uep_fd_replace(int newfd, struct uepoll_file *f, unsigned fd_flags);
/*
 * A descriptor whose every wait and ctl of a kernel fd can go straight to
 * kernel epoll kfd (the preload's instances: kernel fds only, and kfd is
 * the program's own epoll fd).  Cleared when the number is closed or
 * replaced.  uep_fget_epoll, the lookup of an epoll call's descriptor:
 * for such a number UEP_FILE_KERNEL_EPOLL and *kfd, with no lock and no
 * reference taken; for any other uep_fget's answer (*kfd untouched).
 */
int uep_fd_set_kernel_epoll(int fd, int kfd);
/* Clear fd's fast path if fd still names f. */
void uep_fd_clear_kernel_epoll(int fd, const struct uepoll_file *f);
#define UEP_FILE_KERNEL_EPOLL ((struct uepoll_file *)1)
struct uepoll_file *uep_fget_epoll(int fd, int *kfd);
int uep_fd_get_flags(int fd);
int uep_fd_set_flags(int fd, unsigned fd_flags);

long uep_fd_limit(void);
/*
 * How many numbers (from UEPOLL_FD_BASE) the table has room for now, like
 * the kernel's max_fds: no number beyond it is open (select's bound).
 */
long uep_fd_span(void);
int uep_fd_set_limit(long limit);
/* Hold (true) or release (false) the table's locks across a fork. */
void uep_fd_fork_lock(bool lock);

#endif
