/*
 * The engine's private types, shared by eventpoll.c (the core), ep_nest.c
 * (the checks of nested instances) and ep_info.c (notification and
 * observability).  Locking and lifetime: the block at the top of
 * eventpoll.c.
 */
#ifndef UEP_EVENTPOLL_INT_H
#define UEP_EVENTPOLL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/eventpoll.h"
#include "lib/rbtree.h"
#include "kernel/waitqueue.h"

#define EP_PRIVATE_BITS (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)
#define EPOLLINOUT_BITS (EPOLLIN | EPOLLOUT)
#define EPOLLEXCLUSIVE_OK_BITS                                                 \
	(EPOLLINOUT_BITS | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET |       \
	 EPOLLEXCLUSIVE)
/* Instances allowed above one another beyond the first (the kernel's 4). */
#define EP_MAX_NESTS 4
/* epi->next when the item is not on ovflist; ep->ovflist when no harvest. */
#define EP_UNACTIVE_PTR ((struct uep_epitem *)-1L)

struct uep_eventpoll;

/* One registration: 128 bytes, like the kernel's epitem slab object. */
struct uep_epitem {
	struct uep_rb_node rbn;   /* in ep->rbr, under ep->mtx */
	struct uep_list rdllink;  /* on rdllist or a txlist, ep->lock */
	struct uep_epitem *next;  /* ovflist chain, under ep->lock */
	struct uepoll_file *file; /* the key: (file, fd) */
	int fd;
	uint32_t events; /* written under mtx AND lock */
	uint64_t data;   /* under ep->mtx */
	struct uep_eventpoll *ep;
	struct uep_epitem *fnext;   /* in file->f_ep, under file->f_lock */
	struct uep_wait_entry wait; /* hook on the first queue poll named */
	struct uepoll_wait_queue *whead; /* that queue; NULL: none */
};
_Static_assert(sizeof(struct uep_epitem) <= 128, "epitem grew past 128 bytes");

/* A hook on any further wait queue (rare: most files name one). */
struct uep_eppoll_entry {
	struct uep_wait_entry wait;
	struct uepoll_wait_queue *whead;
	struct uep_epitem *epi;
	struct uep_list link; /* in ep->extra_hooks, under ep->mtx */
};

struct uep_eventpoll {
	struct uep_mutex mtx;
	struct uep_mutex lock;
	struct uep_list rdllist;    /* under lock */
	struct uep_epitem *ovflist; /* under lock */
	struct uep_list wq;         /* sleeping uepoll_wait()ers, under lock */
	struct uepoll_wait_queue poll_wait; /* parents and pollers */
	struct uep_rb_root rbr;             /* under mtx */
	struct uep_list extra_hooks;        /* under mtx */
	struct uepoll_file *file;
	_Atomic long refcount; /* 1 for the file + 1 per item */
	int notify_fd; /* uepoll_notify()'s own dup, under lock, or -1 */
	bool notified; /* notify_fd written, list not yet empty */
	unsigned gen;  /* loop check marks, epnested_mutex */
	int loop_check_depth;
	/* The kernel half (ep_kfd.c): its kernel epoll or -1; set once, under
	 * mtx and lock, after the first kernel fd is in it. */
	_Atomic int kfd;
	bool kfd_owned; /* closed with the instance (the preload's is not) */
	int wfd; /* the wake eventfd in kfd, -1 none, WFD_FOREIGN: a parent's */
	int wfd_pid; /* the process that made kfd (a forked child: ppoll) */
	unsigned kpicked; /* sleepers in kfd a waker picked, not back yet:
	                     under lock (ep_wait.c, ep_kfd_filter) */
	/* The preload's: kernel fds only, sleeps in kfd; cleared (under
	 * mtx) by its first in-process item, with the fast path of fast_fd,
	 * its descriptor (ep_kfd.c). */
	_Atomic bool kernel_only;
	int fast_fd;   /* under mtx */
	unsigned kalt; /* which half a harvest takes first, under mtx */
	/* Items whose (nested) instance's kernel half is in ours, under mtx. */
	struct uep_epitem **knested;
	unsigned nknested, capknested;
	/* counters: under lock, but nwatches under mtx */
	uint64_t nwatches, callbacks, wakeups, harvests, delivered;
	/* EPIOCSPARAMS (ep_busy.c); read without a lock */
	_Atomic uint32_t busy_poll_usecs;
	_Atomic uint16_t busy_poll_budget;
	_Atomic uint8_t prefer_busy_poll;
	_Atomic int spinning;  /* waiters spinning now (at most one) */
	_Atomic int waker_cpu; /* CPU of the last wake of a waiter, or -1 */
	/* uepoll_stats' wait counters, under lock */
	uint64_t waits, sleeps, spin_wakes, spurious, empty_harvests, herd_max;
	/* the diagnostic mode (ep_diag.c) */
	uint32_t id;                      /* for reports: never reused */
	_Atomic int diag_epfd;            /* the descriptor last used, or -1 */
	struct uep_ep_diag *_Atomic diag; /* item records, made on demand */
};

/*
 * An item is dying when its file's final release has claimed it for
 * removal (uep_eventpoll_release_file); the instance's own release then
 * leaves it alone.  The mark is a bit of the owner's word of the item's
 * first hook (epi->wait.owner_bits), since a field of its own would take
 * the item past 128 bytes.  Read and set under epi->file->f_lock.
 */
#define EPI_DYING 0x1u

static inline bool ep_item_dying(const struct uep_epitem *epi)
{
	return epi->wait.owner_bits & EPI_DYING;
}

static inline void ep_item_set_dying(struct uep_epitem *epi)
{
	epi->wait.owner_bits |= EPI_DYING;
}

static inline bool ep_is_linked(struct uep_epitem *epi)
{
	return uep_list_linked(&epi->rdllink);
}

/* Must be called with ep->lock held. */
static inline bool ep_events_available(struct uep_eventpoll *ep)
{
	return !uep_list_empty(&ep->rdllist) || ep->ovflist != EP_UNACTIVE_PTR;
}

/* The loop of ep_wake_one_locked (eventpoll.c).  ep->lock held. */
void uep_ep_wake_waiter_locked(struct uep_eventpoll *ep);

/*
 * Wake the first waiter in uepoll_wait(), if any.  ep->lock held.  Inline:
 * most callers find nobody asleep, and then the test is all it costs.
 */
static inline void ep_wake_one_locked(struct uep_eventpoll *ep)
{
	if (!uep_list_empty(&ep->wq))
		uep_ep_wake_waiter_locked(ep);
}

/* Wake every uepoll_wait()er and poller of ep (key 0).  No lock held. */
void uep_ep_wake_all(struct uep_eventpoll *ep);

/*
 * The kernel half, engine side (ep_kfd.c).  All with ep->mtx held.
 * nested_poll: epi watches an epoll; if that one has a kernel half, put
 * it in ep's (created if need be), so that kernel readiness below reaches
 * ep's sleepers.  unlink: epi goes.  harvest: the kernel half's events
 * now, with uepoll's own (nested instances' readiness) moved onto the
 * ready list; a count or -errno.
 */
void uep_ep_kfd_nested_poll(struct uep_eventpoll *ep, struct uep_epitem *epi);
void uep_ep_kfd_unlink(struct uep_eventpoll *ep, struct uep_epitem *epi);
int uep_ep_kfd_harvest(struct uep_eventpoll *ep, struct epoll_event *events,
                       int maxevents);
/* Is data the token of a registration of uepoll's own?  mtx held. */
bool uep_ep_kfd_own(struct uep_eventpoll *ep, uint64_t data);
/* Take uepoll's own events out of n kernel events; the count left. */
int uep_ep_kfd_filter(struct uep_eventpoll *ep, struct epoll_event *events,
                      int n);
/* ep->wfd of a forked child (ep_kfd.c). */
#define WFD_FOREIGN (-2)
int uep_ep_kfd_wake(struct uep_eventpoll *ep);
/* An in-process item joins kernel-only ep: no longer so.  mtx held. */
void uep_ep_kfd_mixed(struct uep_eventpoll *ep);
/* The instance is going: its kernel half too (if it owns it). */
void uep_ep_kfd_release(struct uep_eventpoll *ep);

/*
 * The scan of the ready list, used by the harvest (ep_wait.c) and the
 * instance's own poll (eventpoll.c); inline, being the hot path of every
 * wait.
 */

/* Current events of epi's file, masked by what epi watches.  mtx held. */
static inline uint32_t uep_ep_item_poll(struct uep_epitem *epi,
                                        struct uepoll_poll_table *pt)
{
	/* A file in its final release is skipped (the kernel's epi_fget). */
	if (atomic_load_explicit(&epi->file->f_count, memory_order_acquire) ==
	    0)
		return 0;
	if (pt)
		pt->key = epi->events;
	if (UEP_UNLIKELY(uep_is_file_epoll(epi->file)))
		uep_ep_kfd_nested_poll(epi->ep, epi);
	return uep_vfs_poll(epi->file, pt) & epi->events;
}

/* Move the ready list aside and start diverting callbacks.  mtx held. */
static inline void uep_ep_start_scan(struct uep_eventpoll *ep,
                                     struct uep_list *txlist)
{
	uep_mutex_lock(&ep->lock);
	uep_list_splice_init(&ep->rdllist, txlist);
	ep->ovflist = NULL;
	uep_mutex_unlock(&ep->lock);
}

/*
 * End a scan: the ready list becomes [unconsumed txlist] [arrived during
 * the scan, in order] [level-triggered re-queued] = round robin.  mtx held.
 * delivered >= 0 counts a harvest that delivered that many events.
 */
static UEP_ALWAYS_INLINE void uep_ep_done_scan(struct uep_eventpoll *ep,
                                               struct uep_list *txlist,
                                               struct uep_list *requeue,
                                               int delivered)
{
	struct uep_epitem *epi, *nepi;
	uep_mutex_lock(&ep->lock);
	if (delivered >= 0) {
		ep->harvests++;
		ep->delivered += (uint64_t)delivered;
		ep->empty_harvests += delivered == 0;
	}
	/* ovflist is LIFO: adding each at the head restores arrival order. */
	for (nepi = ep->ovflist; (epi = nepi) != NULL;
	     nepi = epi->next, epi->next = EP_UNACTIVE_PTR) {
		if (!ep_is_linked(epi))
			uep_list_add(&epi->rdllink, &ep->rdllist);
	}
	ep->ovflist = EP_UNACTIVE_PTR;
	uep_list_splice_tail_init(requeue, &ep->rdllist);
	uep_list_splice_init(txlist, &ep->rdllist);
	/* Someone else may take what is left (the level-triggered cascade). */
	if (!uep_list_empty(&ep->rdllist))
		ep_wake_one_locked(ep);
	else
		ep->notified = false; /* uepoll_notify: signal the next one */
	uep_mutex_unlock(&ep->lock);
}

/*
 * Busy polling (ep_busy.c): spin on w before sleeping if the instance asks
 * for it and nobody else spins here.  True when woken while spinning.
 */
bool uep_ep_busy_wait(struct uep_eventpoll *ep, struct uep_waiter *w,
                      const struct uep_deadline *dl);
/* A waiter is being woken: with busy polling on, note the waker's CPU. */
void uep_ep_busy_note_waker(struct uep_eventpoll *ep);
static inline void uep_ep_busy_waking(struct uep_eventpoll *ep)
{
	if (UEP_UNLIKELY(atomic_load_explicit(&ep->busy_poll_usecs,
	                                      memory_order_relaxed)))
		uep_ep_busy_note_waker(ep);
}

/*
 * The full checks of an ADD (ep_nest.c), the kernel's ep_loop_check and
 * reverse_path_check.  begin: when tf is an epoll (loops, depth) or ep is
 * itself watched (wake-up paths), takes epnested_mutex, sets *nested, and
 * runs the loop check (-ELOOP, lock dropped again).  After the insertion,
 * with ep->mtx held, the path check may refuse it (-EINVAL); end drops
 * the lock.  begin is inline, its nested half (the lock and the loop
 * check) in ep_nest.c.
 */
int uep_ep_full_check_nested(struct uep_eventpoll *ep, struct uepoll_file *tf,
                             bool *nested);
static inline int uep_ep_full_check_begin(struct uep_eventpoll *ep,
                                          struct uepoll_file *tf, bool *nested)
{
	struct uepoll_file *epf = ep->file;
	uep_mutex_lock(&epf->f_lock);
	*nested = epf->f_ep != NULL || uep_is_file_epoll(tf);
	uep_mutex_unlock(&epf->f_lock);
	/* The common case, inline: neither side an epoll in the chain. */
	return *nested ? uep_ep_full_check_nested(ep, tf, nested) : 0;
}
int uep_ep_reverse_path_check(void);
void uep_ep_full_check_end(void);
/* Hold (true) or release (false) epnested_mutex across a fork. */
void uep_ep_nest_fork_lock(bool lock);

#endif
