/*
 * Blocking read and write on top of the non-blocking file operations: try
 * the operation, and when it would block on a blocking file, sleep in
 * uep_file_wait_ready() (fs/select.c) until the file's poll says it can go
 * on.  This is the API layer's, above both the files and the sleep.
 */
#include <errno.h>
#include <limits.h>

#include "api/api.h"
#include "fs/ep_diag.h"
#include "fs/fdtable.h"
#include "fs/select.h"

/* The kernel caps one read or write at INT_MAX rounded down to a page. */
#define MAX_RW_COUNT ((size_t)INT_MAX & ~(size_t)4095)

ssize_t uep_file_read(struct uepoll_file *f, void *buf, size_t count)
{
	if (!(f->f_mode & UEP_FMODE_READ))
		return -EBADF;
	if (!f->f_op->read)
		return -EINVAL;
	if (count > MAX_RW_COUNT)
		count = MAX_RW_COUNT;
	if (!buf && count)
		return -EFAULT;
	if (f->f_mode & UEP_FMODE_BLOCKS)
		return f->f_op->read(f, buf, count);
	for (;;) {
		ssize_t r = f->f_op->read(f, buf, count);
		if (uep_diag_on())
			uep_diag_read(f, r);
		/* A handler inside a uepoll section must not sleep here. */
		if (r != -EAGAIN || uep_file_nonblock(f) || uep_in_engine())
			return r;
		int w = uep_file_wait_ready(f, EPOLLIN | EPOLLRDNORM |
		                                       EPOLLHUP | EPOLLERR);
		if (w < 0)
			return w;
	}
}

/* write(2)'s checks before the file's operation: 0 or -errno. */
static ssize_t write_check(struct uepoll_file *f, const void *buf,
                           size_t *count)
{
	if (!(f->f_mode & UEP_FMODE_WRITE))
		return -EBADF;
	if (!f->f_op->write)
		return -EINVAL;
	if (*count > MAX_RW_COUNT)
		*count = MAX_RW_COUNT;
	if (!buf && *count)
		return -EFAULT;
	return 0;
}

ssize_t uep_file_write(struct uepoll_file *f, const void *buf, size_t count)
{
	ssize_t c = write_check(f, buf, &count);
	if (c)
		return c;
	if (f->f_mode & UEP_FMODE_BLOCKS)
		return f->f_op->write(f, buf, count);
	size_t done = 0;
	for (;;) {
		ssize_t r = f->f_op->write(f, (const char *)buf + done,
		                           count - done);
		if (r > 0) {
			done += (size_t)r;
			if (done == count || uep_file_nonblock(f))
				return (ssize_t)done;
			continue;
		}
		if (r == -EAGAIN && !uep_file_nonblock(f) && !uep_in_engine()) {
			int w = uep_file_wait_ready(f, EPOLLOUT | EPOLLWRNORM |
			                                       EPOLLERR);
			if (w >= 0)
				continue;
			r = w;
		}
		/* A blocking write interrupted part-way returns what it wrote.
		 */
		return done ? (ssize_t)done : r;
	}
}

/*
 * write(2) on a uepoll descriptor.  A file whose write is async-signal-
 * safe (eventfd) is pinned, not referenced, for the attempt: a close by
 * another thread meanwhile then leaves the final release to the closer
 * (it waits for the pin), never to this call, which may be a signal
 * handler's (docs/DESIGN.md, Signal handlers).  Only a write that must
 * sleep trades its pin for a reference first.
 */
ssize_t uep_fd_write(int fd, const void *buf, size_t count)
{
	bool pinned;
	struct uepoll_file *f = uep_fget_pin(fd, &pinned);
	if (!f)
		return -EBADF;
	ssize_t r;
	if (!pinned)
		goto referenced;
	r = write_check(f, buf, &count);
	if (!r)
		r = f->f_op->write(f, buf, count);
	if (r == -EAGAIN && !uep_file_nonblock(f) && !uep_in_engine()) {
		/* It must sleep: a reference, unless a close won the race. */
		bool ref = uep_file_tryget(f);
		uep_file_unpin(f);
		if (!ref)
			return -EBADF;
		goto referenced;
	}
	uep_file_unpin(f);
	return r;
referenced:
	r = uep_file_write(f, buf, count);
	uep_file_put(f);
	return r;
}
