/*
 * Files: allocation, reference counting and installation.  Blocking I/O
 * on top of the non-blocking file operations is the API layer's
 * (api/rw.c); the public face of the contract is api/file_api.c.
 */
#include "fs/file.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "fs/eventpoll.h"
#include "fs/fdtable.h"

struct uepoll_file *uep_file_alloc(const struct uepoll_file_operations *fops,
                                   void *private_data, int flags)
{
	struct uepoll_file *f = malloc(sizeof(*f));
	if (!f)
		return NULL;
	atomic_init(&f->f_count, 1);
	atomic_init(&f->f_pins, 0);
	f->f_op = fops;
	f->f_sop = NULL;
	f->private_data = private_data;
	atomic_init(&f->f_flags, flags & (O_ACCMODE | O_NONBLOCK | O_DIRECT));
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
	atomic_init(&f->f_diag_drains, 0);
	atomic_init(&f->f_diag_firsts, 0);
	atomic_init(&f->f_diag_wasted, 0);
	return f;
}

void uep_file_release(struct uepoll_file *f)
{
	/* The last reference: first every epoll registration goes. */
	uep_eventpoll_release_file(f);
	/*
	 * Then pinned callers finish: a pin is taken under the descriptor's
	 * stripe lock while the slot still holds its reference (fdtable.c),
	 * so none can start now, and those in flight are short and wait on
	 * nothing we hold (a pinned call never sleeps, and a final put runs
	 * with no uepoll lock held).  Acquire: pairs with uep_file_unpin().
	 */
	while (atomic_load_explicit(&f->f_pins, memory_order_acquire))
		sched_yield();
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
