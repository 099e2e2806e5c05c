/*
 * The public face of the file-operations contract (include/uepoll.h): how
 * a user's object becomes a uepoll file, names its wait queues in poll and
 * wakes them; plus the trace hook and uepoll_host_backend (kept: "epoll").
 */
#include <errno.h>
#include <stdlib.h>

#include "api/uaccess.h"
#include "fs/file.h"
#include "kernel/trace.h"
#include "kernel/waitqueue.h"

UEPOLL_API int uepoll_file_create(const struct uepoll_file_operations *fops,
                                  void *private_data, int flags)
{
	if (!fops || (flags & ~(O_NONBLOCK | O_CLOEXEC)))
		return (int)uep_ret_errno(-EINVAL);
	struct uepoll_file *f = uep_file_alloc(fops, private_data,
	                                       O_RDWR | (flags & O_NONBLOCK));
	if (!f)
		return (int)uep_ret_errno(-ENOMEM);
	return (int)uep_ret_errno(uep_file_install(f, flags));
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

/* ---- wait queues ---- */

UEPOLL_API struct uepoll_wait_queue *uepoll_wait_queue_create(void)
{
	struct uepoll_wait_queue *wq = malloc(sizeof(*wq));
	if (wq)
		uep_wq_init(wq);
	return wq;
}

UEPOLL_API void uepoll_wait_queue_destroy(struct uepoll_wait_queue *wq)
{
	if (!wq)
		return;
	uep_wq_destroy(wq);
	free(wq);
}

UEPOLL_API void uepoll_wake_up(struct uepoll_wait_queue *wq, uint32_t key)
{
	if (wq)
		uep_wake_up(wq, key);
}

/* ---- tracing ---- */

UEPOLL_API void uepoll_set_trace(uepoll_trace_fn fn, void *arg)
{
	atomic_store(&uep_trace_arg, arg);
	atomic_store(&uep_trace_fn, fn);
}

/* ---- the kernel-fd bridge ---- */

/*
 * Kept for programs that ask: kernel fds are watched by each instance's
 * kernel half, a kernel epoll, whatever the environment says.
 */
UEPOLL_API const char *uepoll_host_backend(void)
{
	return "epoll";
}
