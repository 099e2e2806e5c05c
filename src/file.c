/*
 * Files: allocation, reference counting, blocking I/O on top of the
 * non-blocking file operations, and the public file-operations contract.
 */
#include "file.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "eventpoll.h"
#include "fdtable.h"
#include "select.h"

struct uepoll_file *uep_file_alloc(const struct uepoll_file_operations *fops,
                                   void *private_data, int flags)
{
	struct uepoll_file *f = malloc(sizeof(*f));
	if (!f)
		return NULL;
	atomic_init(&f->f_count, 1);
	f->f_op = fops;
	f->private_data = private_data;
	atomic_init(&f->f_flags, flags & (O_ACCMODE | O_NONBLOCK));
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		f->f_mode = UEP_FMODE_READ;
		break;
	case O_WRONLY:
		f->f_mode = UEP_FMODE_WRITE;
		break;
	default:
		f->f_mode = UEP_FMODE_READ | UEP_FMODE_WRITE;
		break;
	}
	uep_mutex_init(&f->f_lock);
	f->f_ep = NULL;
	f->f_check_gen = 0;
	return f;
}

void uep_file_put(struct uepoll_file *f)
{
	if (atomic_fetch_sub_explicit(&f->f_count, 1, memory_order_acq_rel) !=
	    1)
		return;
	/* The last reference: first every epoll registration goes. */
	uep_eventpoll_release_file(f);
	bool owned = f->f_mode & UEP_FMODE_OWNED; /* release may free f */
	if (f->f_op->release)
		f->f_op->release(f);
	if (!owned)
		uep_file_free(f);
}

void uep_file_free(struct uepoll_file *f)
{
	uep_mutex_destroy(&f->f_lock);
	free(f);
}

int uep_file_install(struct uepoll_file *f, int flags)
{
	int fd = uep_fd_install(f, (flags & O_CLOEXEC) ? UEP_FD_CLOEXEC : 0, 0);
	if (fd < 0)
		uep_file_put(f);
	return fd;
}

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
	for (;;) {
		ssize_t r = f->f_op->read(f, buf, count);
		if (r != -EAGAIN || uep_file_nonblock(f))
			return r;
		int w = uep_file_wait_ready(f, EPOLLIN | EPOLLRDNORM |
		                                       EPOLLHUP | EPOLLERR);
		if (w < 0)
			return w;
	}
}

ssize_t uep_file_write(struct uepoll_file *f, const void *buf, size_t count)
{
	if (!(f->f_mode & UEP_FMODE_WRITE))
		return -EBADF;
	if (!f->f_op->write)
		return -EINVAL;
	if (count > MAX_RW_COUNT)
		count = MAX_RW_COUNT;
	if (!buf && count)
		return -EFAULT;
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
		if (r == -EAGAIN && !uep_file_nonblock(f)) {
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

/* ---- the public face of the contract ---- */

UEPOLL_API int uepoll_file_create(const struct uepoll_file_operations *fops,
                                  void *private_data, int flags)
{
	if (!fops || (flags & ~(O_NONBLOCK | O_CLOEXEC))) {
		errno = EINVAL;
		return -1;
	}
	struct uepoll_file *f = uep_file_alloc(fops, private_data,
	                                       O_RDWR | (flags & O_NONBLOCK));
	if (!f) {
		errno = ENOMEM;
		return -1;
	}
	int fd = uep_file_install(f, flags);
	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	return fd;
}

UEPOLL_API void *uepoll_file_private(const struct uepoll_file *file)
{
	return file ? file->private_data : NULL;
}

UEPOLL_API void uepoll_poll_wait(struct uepoll_file *file,
                                 struct uepoll_wait_queue *wq,
                                 struct uepoll_poll_table *pt)
{
	if (pt && pt->qproc && wq) {
		pt->qproc(file, wq, pt);
		/* Pairs with the fence in uep_wake_up(). */
		atomic_thread_fence(memory_order_seq_cst);
	}
}
