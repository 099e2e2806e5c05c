/*
 * Files: the in-process objects behind uepoll descriptors (the kernel's
 * struct file).  A file has a reference count, file operations (the public
 * struct uepoll_file_operations), flags, and the list of epoll
 * registrations watching it, which its final release removes
 * (docs/DESIGN.md, hard part 4: an epitem holds no reference to its file).
 */
#ifndef UEP_FILE_H
#define UEP_FILE_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "uepoll.h"
#include "lib/sync.h"
#include "kernel/waitqueue.h"

struct uep_epitem;

#define UEP_FMODE_READ 0x1u
#define UEP_FMODE_WRITE 0x2u
/*
 * The memory is freed by the object, not by the last put: an epoll file
 * outlives its last reference until its instance goes (the loop and path
 * checks walk from an item to the file of its instance).
 */
#define UEP_FMODE_OWNED 0x4u
/*
 * f_op->read and f_op->write block by themselves when the file is not
 * O_NONBLOCK (sockets: their sleeps are the kernel's, with its EOF and
 * partial-write rules); the API calls them once instead of looping.
 */
#define UEP_FMODE_BLOCKS 0x8u
/*
 * f_op->write never sleeps and is async-signal-safe (eventfd): a write
 * pins the file instead of taking a reference (uep_fget_pin), so that a
 * signal handler's write never drops the last one (docs/DESIGN.md,
 * Signal handlers).
 */
#define UEP_FMODE_SIGSAFE_WRITE 0x10u

struct uepoll_file {
	_Atomic long f_count;
	/* Pinned callers (uep_fget_pin): the final release waits for them. */
	_Atomic unsigned f_pins;
	const struct uepoll_file_operations *f_op;
	/* A user socket's operations (uepoll_socket_create), or NULL. */
	const struct uepoll_socket_operations *f_sop;
	void *private_data;
	_Atomic int f_flags; /* O_ACCMODE bits, then F_SETFL's (api/io_api.c) */
	unsigned f_mode;     /* UEP_FMODE_*; fixed at creation */
	struct uep_mutex f_lock;
	struct uep_epitem *f_ep; /* watchers, under f_lock (eventpoll.c) */
	unsigned f_check_gen;    /* path-check mark, under epnested_mutex */
	/* diagnostic mode (fs/ep_diag.c): reads that returned EAGAIN or 0,
	 * first reads after a delivery, and those that gave EAGAIN */
	_Atomic uint32_t f_diag_drains, f_diag_firsts, f_diag_wasted;
};

/*
 * The poll table passed to f_op->poll: qproc hooks the caller on a wait
 * queue (epoll's ep_ptable_queue_proc, poll's pollwait).  key is the set
 * of events the caller cares about.
 */
typedef void (*uep_poll_queue_proc)(struct uepoll_file *file,
                                    struct uepoll_wait_queue *wq,
                                    struct uepoll_poll_table *pt);
struct uepoll_poll_table {
	uep_poll_queue_proc qproc;
	uint32_t key;
};

/*
 * A new file with one reference (the caller's).  flags: O_ACCMODE,
 * O_NONBLOCK, O_DIRECT.  Returns NULL when out of memory.
 */
struct uepoll_file *uep_file_alloc(const struct uepoll_file_operations *fops,
                                   void *private_data, int flags);

static inline void uep_file_get(struct uepoll_file *f)
{
	atomic_fetch_add_explicit(&f->f_count, 1, memory_order_relaxed);
}

/* A new reference unless the file is already in its final release. */
static inline bool uep_file_tryget(struct uepoll_file *f)
{
	long c = atomic_load_explicit(&f->f_count, memory_order_relaxed);
	while (c > 0 && !atomic_compare_exchange_weak_explicit(
	                        &f->f_count, &c, c + 1, memory_order_acquire,
	                        memory_order_relaxed))
		;
	return c > 0;
}

/*
 * The final release of a file whose last reference went (uep_file_put):
 * it removes the epoll registrations, waits until no caller pins the
 * file, then calls release.
 */
void uep_file_release(struct uepoll_file *f);

/* Drop a reference; the last one releases the file.  Inline: one RMW. */
static inline void uep_file_put(struct uepoll_file *f)
{
	if (UEP_UNLIKELY(atomic_fetch_sub_explicit(&f->f_count, 1,
	                                           memory_order_acq_rel) == 1))
		uep_file_release(f);
}

/*
 * The end of a pinned call (uep_fget_pin).  The release store pairs with
 * the acquire load of the final release's wait in uep_file_release(): what
 * the pinned call did to the file happens before its memory is freed.
 */
static inline void uep_file_unpin(struct uepoll_file *f)
{
	atomic_fetch_sub_explicit(&f->f_pins, 1, memory_order_release);
}

/* Free a released file's memory (the owner's job with UEP_FMODE_OWNED). */
void uep_file_free(struct uepoll_file *f);

static inline bool uep_file_nonblock(struct uepoll_file *f)
{
	return atomic_load_explicit(&f->f_flags, memory_order_relaxed) &
	       O_NONBLOCK;
}

static inline bool uep_file_can_poll(const struct uepoll_file *f)
{
	return f->f_op->poll != NULL;
}

/* f_op->poll, masked by nothing. */
static inline uint32_t uep_vfs_poll(struct uepoll_file *f,
                                    struct uepoll_poll_table *pt)
{
	return f->f_op->poll(f, pt);
}

/* Install f (taking over the caller's reference): a descriptor or -errno. */
int uep_file_install(struct uepoll_file *f, int flags);

#endif
