/*
 * The eventpoll engine: epoll instances, their registrations (epitems), the
 * ready list, and the callback that moves an item onto it when its file
 * wakes up.  The design and the vocabulary are the kernel's fs/eventpoll.c,
 * rebuilt in userspace.  The checks of nested instances are in ep_nest.c,
 * notification and observability in ep_info.c, the shared types in
 * eventpoll_int.h.
 *
 * LOCKING
 *   Four kinds of lock, always taken in this order:
 *
 *   1. epnested_mutex (global)  serialises the full checks of an ADD
 *      whose target is an epoll (loops, depth) or whose instance is itself
 *      watched (wake-up paths), and that insertion.
 *   2. ep->mtx                  serialises ctl, the harvest (ep_send_events)
 *      and polls of the instance's own file.  It is held while files'
 *      poll operations run, so those may take their own locks.  A parent's
 *      mtx is taken before a child's (harvest and poll recurse downwards;
 *      cycles are refused with ELOOP, so the order is a DAG).
 *   3. wait-queue locks         (a watched file's queues, ep->poll_wait).
 *      ep_poll_callback runs with the watched file's queue lock held, in
 *      the waker's thread (docs/DESIGN.md, hard part 2).
 *   4. ep->lock                 protects rdllist, ovflist, the waiters on
 *      ep->wq, item events and the counters.  Innermost but for f_lock:
 *      nothing that may sleep runs under it, and no other lock is taken
 *      inside it.  Wakes of nested parents (ep->poll_wait) happen after
 *      it is dropped, as the kernel's ep_poll_safewake does.
 *   f_lock (per file)           protects file->f_ep (the items watching the
 *      file).  Taken alone, or inside ep->mtx; the upward depth walk and
 *      the path check nest them child before parent.
 *
 *   Objects' own locks (pipe mutex, socket lock) are taken inside ep->mtx
 *   by their poll, and are held, or dropped, when they wake their queues
 *   (2 -> 3): never taken inside a queue lock or ep->lock.  The timer
 *   service lock is a leaf.  Every lock here is a uep_mutex
 *   (a futex lock; a pthread mutex under TSan, which checks this order;
 *   tests/tsan.supp lists the nesting-depth orders it cannot tell apart).
 *   A futex wake decided under any of them is issued when the thread drops
 *   its last one (sync.h), so wakers never hand a woken thread a held lock.
 *
 *   rbr and the item list of each instance are under ep->mtx.  The harvest
 *   polls files without ep->lock; while it runs, callbacks push items on
 *   ovflist (a LIFO through epi->next) instead of rdllist, and uep_ep_done_scan
 *   puts them back in arrival order.
 *
 * LIFETIME
 *   An epitem holds no reference to its file.  It lives in its instance's
 *   tree and in its file's f_ep list; whichever comes first removes it:
 *   EPOLL_CTL_DEL, the final release of the watched file
 *   (uep_eventpoll_release_file), or the release of the instance
 *   (ep_release).  The last two can race: the file side marks the
 *   item dying under f_lock, and the instance side then leaves it alone.
 *   Every item holds a reference on its instance (ep->refcount), so the
 *   file side can still lock ep->mtx after the instance's file is gone.
 *   The instance's file struct lives until the instance does (ep_free):
 *   the loop and path checks go from an item to the file of its instance
 *   (epi->ep->file->f_ep) while that file may be in its final release.
 *   Removal first unhooks the item from its file's wait queues under their
 *   locks: once that returns, no callback for the item runs any more, and
 *   only then is it freed (docs/DESIGN.md, hard part 3).
 */
#include "fs/eventpoll.h"
#include "fs/eventpoll_int.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs/ep_diag.h"
#include "kfd/kfd.h"
#include "lib/rbtree.h"
#include "lib/slab.h"
#include "kernel/trace.h"

/* Items come from a cache of 128-byte objects, with no malloc header. */
static struct uep_slab epi_cache = UEP_SLAB_INIT(sizeof(struct uep_epitem));

static _Atomic long nr_watches;
static _Atomic long max_watches;

static int ep_poll_callback(struct uep_epitem *epi, uint32_t key);
static uint32_t ep_eventpoll_poll(struct uepoll_file *file,
                                  struct uepoll_poll_table *pt);
static void ep_release(struct uepoll_file *file);

const struct uepoll_file_operations uep_eventpoll_fops = {
        .poll = ep_eventpoll_poll,
        .release = ep_release,
};

/* ---- watch limit ---- */

/*
 * What one registration costs the kernel (its 128-byte epitem, a 64-byte
 * hook on one wait queue, 16 bytes on the watched file): its default
 * max_user_watches is 4% of memory divided by this, and so is ours,
 * although our registrations take 128 bytes.
 */
#define EP_KERNEL_WATCH_COST 208
/*
 * When sysconf cannot tell the memory size: the default of a machine with
 * about 20 GiB (2^22 watches).  The limit only stops runaway growth, so
 * any large number would do.
 */
#define EP_WATCHES_FALLBACK (1L << 22)

long uep_ep_max_watches(void)
{
	long m = atomic_load(&max_watches);
	if (m == 0) {
		/* The kernel's default: 4% of memory at its cost per watch. */
		long pages = sysconf(_SC_PHYS_PAGES),
		     psz = sysconf(_SC_PAGESIZE);
		m = pages > 0 && psz > 0
		            ? pages / 25 * psz / EP_KERNEL_WATCH_COST
		            : EP_WATCHES_FALLBACK;
		long zero = 0;
		if (!atomic_compare_exchange_strong(&max_watches, &zero, m))
			m = zero;
	}
	return m;
}

int uep_ep_set_max_watches(long n)
{
	if (n < 1)
		return -EINVAL;
	atomic_store(&max_watches, n);
	return 0;
}

/* ---- small helpers ---- */

/* The loop of ep_wake_one_locked (eventpoll_int.h).  ep->lock held. */
void uep_ep_wake_waiter_locked(struct uep_eventpoll *ep)
{
	/* Each call unhooks its entry; one left by a fork's parent says 0. */
	while (!uep_list_empty(&ep->wq)) {
		struct uep_wait_entry *e = uep_list_entry(
		        ep->wq.next, struct uep_wait_entry, link);
		uep_ep_busy_waking(ep);
		if (e->func(e, 0)) {
			ep->wakeups++;
			uep_trace(UEPOLL_TRACE_WAKE_WAITER, -1, 0, 0);
			return;
		}
	}
}

/*
 * Wake every waiter and poller: when the instance gets its kernel half,
 * threads that fell asleep on a futex must sleep again on it, and
 * parents must link it into theirs (ep_kfd.c).
 */
void uep_ep_wake_all(struct uep_eventpoll *ep)
{
	uep_mutex_lock(&ep->lock);
	while (!uep_list_empty(&ep->wq))
		ep_wake_one_locked(ep);
	bool pwake = uep_wq_active(&ep->poll_wait);
	uep_mutex_unlock(&ep->lock);
	if (pwake)
		uep_wake_up(&ep->poll_wait, 0);
}

static void ep_get(struct uep_eventpoll *ep)
{
	atomic_fetch_add_explicit(&ep->refcount, 1, memory_order_relaxed);
}

/* Returns true when the caller dropped the last reference. */
static bool ep_put_test(struct uep_eventpoll *ep)
{
	return atomic_fetch_sub_explicit(&ep->refcount, 1,
	                                 memory_order_acq_rel) == 1;
}

/* The last reference to the instance: its file's memory goes too. */
static void ep_free(struct uep_eventpoll *ep)
{
	uep_diag_free(ep);
	uep_file_free(ep->file);
	uep_wq_destroy(&ep->poll_wait);
	uep_mutex_destroy(&ep->mtx);
	uep_mutex_destroy(&ep->lock);
	free(ep);
}

/* ---- the interest set ---- */

static int ep_cmp(const struct uepoll_file *f1, int fd1,
                  const struct uepoll_file *f2, int fd2)
{
	if (f1 != f2)
		return (uintptr_t)f1 < (uintptr_t)f2 ? -1 : 1;
	return fd1 < fd2 ? -1 : fd1 > fd2;
}

/* Must be called with ep->mtx held. */
static UEP_ALWAYS_INLINE struct uep_epitem *
ep_find(struct uep_eventpoll *ep, struct uepoll_file *file, int fd)
{
	struct uep_rb_node *n = ep->rbr.node;
	while (n) {
		struct uep_epitem *epi =
		        uep_container_of(n, struct uep_epitem, rbn);
		int c = ep_cmp(file, fd, epi->file, epi->fd);
		if (c == 0)
			return epi;
		n = c < 0 ? n->left : n->right;
	}
	return NULL;
}

/* Where ep_find_link found that a new item goes: its parent and link. */
struct ep_link {
	struct uep_rb_node *parent, **link;
};

/*
 * ep_find for an ADD: when there is no such item, *at is where it goes, so
 * that the insertion does not walk the tree again.  *at stays valid while
 * ep->mtx is held and nothing else is inserted or removed.
 */
static struct uep_epitem *ep_find_link(struct uep_eventpoll *ep,
                                       struct uepoll_file *file, int fd,
                                       struct ep_link *at)
{
	struct uep_rb_node **p = &ep->rbr.node, *parent = NULL;
	while (*p) {
		parent = *p;
		struct uep_epitem *epi =
		        uep_container_of(parent, struct uep_epitem, rbn);
		int c = ep_cmp(file, fd, epi->file, epi->fd);
		if (c == 0)
			return epi;
		p = c < 0 ? &parent->left : &parent->right;
	}
	at->parent = parent;
	at->link = p;
	return NULL;
}

static void ep_rbtree_insert(struct uep_eventpoll *ep, struct uep_epitem *epi,
                             const struct ep_link *at)
{
	uep_rb_link_node(&epi->rbn, at->parent, at->link);
	uep_rb_insert_color(&epi->rbn, &ep->rbr);
}

/* ---- hooking on the watched file's wait queues ---- */

static int ep_wait_cb_embedded(struct uep_wait_entry *wait, uint32_t key)
{
	return ep_poll_callback(uep_container_of(wait, struct uep_epitem, wait),
	                        key);
}

static int ep_wait_cb_extra(struct uep_wait_entry *wait, uint32_t key)
{
	return ep_poll_callback(
	        uep_container_of(wait, struct uep_eppoll_entry, wait)->epi,
	        key);
}

struct ep_pqueue {
	struct uepoll_poll_table pt;
	struct uep_epitem *epi;
	int error;
};

/* The poll-table callback of ep_insert (the kernel's ep_ptable_queue_proc). */
static void ep_ptable_queue_proc(struct uepoll_file *file,
                                 struct uepoll_wait_queue *whead,
                                 struct uepoll_poll_table *pt)
{
	struct ep_pqueue *epq = uep_container_of(pt, struct ep_pqueue, pt);
	struct uep_epitem *epi = epq->epi;
	struct uep_wait_entry *wait;
	(void)file;
	if (epq->error)
		return;
	if (!epi->whead) {
		wait = &epi->wait;
		wait->func = ep_wait_cb_embedded;
		epi->whead = whead;
	} else {
		struct uep_eppoll_entry *pwq = malloc(sizeof(*pwq));
		if (!pwq) {
			epq->error = -ENOMEM;
			return;
		}
		pwq->whead = whead;
		pwq->epi = epi;
		uep_list_add_tail(&pwq->link, &epi->ep->extra_hooks);
		wait = &pwq->wait;
		wait->func = ep_wait_cb_extra;
		wait->owner_bits = 0;
	}
	wait->flags = (epi->events & EPOLLEXCLUSIVE) ? UEP_WQ_EXCLUSIVE : 0;
	uep_wq_add(whead, wait);
}

/* Unhook epi from the queues beyond its first.  ep->mtx held. */
static void ep_unregister_extra(struct uep_eventpoll *ep,
                                struct uep_epitem *epi)
{
	struct uep_list *pos, *tmp;
	uep_list_for_each_safe(pos, tmp, &ep->extra_hooks)
	{
		struct uep_eppoll_entry *pwq =
		        uep_list_entry(pos, struct uep_eppoll_entry, link);
		if (pwq->epi != epi)
			continue;
		uep_wq_del(pwq->whead, &pwq->wait);
		uep_list_del_init(&pwq->link);
		free(pwq);
	}
}

/*
 * Unhook epi from every queue.  Must be called with ep->mtx held.  Inline:
 * most items have one hook, and most instances no extra ones.
 */
static UEP_ALWAYS_INLINE void ep_unregister_pollwait(struct uep_eventpoll *ep,
                                                     struct uep_epitem *epi)
{
	if (epi->whead) {
		uep_wq_del(epi->whead, &epi->wait);
		epi->whead = NULL;
	}
	if (UEP_UNLIKELY(!uep_list_empty(&ep->extra_hooks)))
		ep_unregister_extra(ep, epi);
}

/*
 * Wake the instance's own pollers (parents, poll()ers) with key EPOLLIN.
 * Called with the watched file's queue lock held and ep->lock dropped, so
 * a chain of nested instances takes queue locks child before parent; at
 * most EP_MAX_NESTS deep, since loops are refused.
 */
static void ep_poll_safewake(struct uep_eventpoll *ep)
{
	uep_wake_up(&ep->poll_wait, EPOLLIN);
}

/*
 * uepoll_notify: write the instance's kernel eventfd when it gets a ready
 * item while not signalled (a scan that empties the ready list resets
 * that).  Under ep->lock, so the eventfd cannot be swapped meanwhile.
 */
static void ep_notify_locked(struct uep_eventpoll *ep)
{
	if (UEP_LIKELY(ep->notify_fd < 0) || ep->notified)
		return;
	ep->notified = true;
	uint64_t one = 1;
	ssize_t r = write(ep->notify_fd, &one, sizeof(one));
	(void)r; /* EAGAIN: saturated, readable all the same */
}

/* ---- the callback ---- */

/*
 * Runs in the waker's thread with the watched file's queue lock held.
 * Queues the item (on ovflist while a harvest runs), wakes one waiter, and
 * wakes whoever polls this instance.  The return value tells an exclusive
 * wake-up whether this entry used it up.
 */
static int ep_poll_callback(struct uep_epitem *epi, uint32_t key)
{
	struct uep_eventpoll *ep = epi->ep;
	int ewake = 0;
	bool pwake = false;

	uep_mutex_lock(&ep->lock);
	uint32_t events = epi->events;
	/* Disabled (a fired ONESHOT): nothing but private bits left. */
	if (!(events & ~EP_PRIVATE_BITS))
		goto out_unlock;
	/* Key 0 means "anything may have changed". */
	if (key && !(key & events))
		goto out_unlock;
	if (ep->ovflist != EP_UNACTIVE_PTR) {
		if (epi->next == EP_UNACTIVE_PTR) {
			epi->next = ep->ovflist;
			ep->ovflist = epi;
		}
	} else if (!ep_is_linked(epi)) {
		uep_list_add_tail(&epi->rdllink, &ep->rdllist);
	}
	ep->callbacks++;
	uep_trace(UEPOLL_TRACE_CALLBACK, epi->fd, key, 0);
	if (uep_diag_on())
		uep_diag_callback(ep, epi, !uep_list_empty(&ep->wq));
	if (!uep_list_empty(&ep->wq)) {
		/*
		 * An exclusive item uses up the file's one exclusive wake-up
		 * only if a thread waits here and the wake-up is about what
		 * the item watches.
		 */
		if (events & EPOLLEXCLUSIVE) {
			switch (key & EPOLLINOUT_BITS) {
			case EPOLLIN:
				ewake = !!(events & EPOLLIN);
				break;
			case EPOLLOUT:
				ewake = !!(events & EPOLLOUT);
				break;
			case 0:
				ewake = 1;
				break;
			}
		}
		ep_wake_one_locked(ep);
	}
	ep_notify_locked(ep);
	pwake = uep_wq_active(&ep->poll_wait);
out_unlock:
	uep_mutex_unlock(&ep->lock);
	/* Parents hear EPOLLIN, whatever woke the child. */
	if (pwake)
		ep_poll_safewake(ep);
	if (!(events & EPOLLEXCLUSIVE))
		ewake = 1;
	return ewake;
}

/* ---- polling items, and the instance's own poll ---- */

/* Readable when an item on the ready list really is ready. */
static uint32_t ep_eventpoll_poll(struct uepoll_file *file,
                                  struct uepoll_poll_table *pt)
{
	struct uep_eventpoll *ep = file->private_data;
	struct uep_list txlist, none, *pos, *tmp;
	uint32_t res = 0;

	uepoll_poll_wait(file, &ep->poll_wait, pt);
	uep_list_init(&txlist);
	uep_list_init(&none);
	uep_mutex_lock(&ep->mtx);
	uep_ep_start_scan(ep, &txlist);
	uep_list_for_each_safe(pos, tmp, &txlist)
	{
		struct uep_epitem *epi =
		        uep_list_entry(pos, struct uep_epitem, rdllink);
		if (uep_ep_item_poll(epi, NULL)) {
			res = EPOLLIN | EPOLLRDNORM;
			break;
		}
		/* Queued by a callback but not ready after all: drop it. */
		uep_list_del_init(&epi->rdllink);
	}
	uep_ep_done_scan(ep, &txlist, &none, -1);
	/* The kernel half: readable when a kernel fd (or a child) is ready. */
	int kfd = atomic_load_explicit(&ep->kfd, memory_order_acquire);
	if (!res && kfd >= 0 && uep_kfd_readable(kfd))
		res = EPOLLIN | EPOLLRDNORM;
	uep_mutex_unlock(&ep->mtx);
	return res;
}

/* ---- insert, modify, remove ---- */

static void ep_attach_file(struct uep_epitem *epi)
{
	struct uepoll_file *f = epi->file;
	uep_mutex_lock(&f->f_lock);
	epi->fnext = f->f_ep;
	f->f_ep = epi;
	uep_mutex_unlock(&f->f_lock);
}

/*
 * Unlink epi everywhere and free it.  Must be called with ep->mtx held.
 * Returns false (and does nothing more than unhooking) when the file's
 * release owns the item and force is not set; otherwise returns whether
 * the instance lost its last reference.
 */
static bool ep_remove(struct uep_eventpoll *ep, struct uep_epitem *epi,
                      bool force, bool *disposed)
{
	struct uepoll_file *file = epi->file;
	*disposed = false;
	ep_unregister_pollwait(ep, epi);
	if (UEP_UNLIKELY(ep->nknested))
		uep_ep_kfd_unlink(ep, epi);

	uep_mutex_lock(&file->f_lock);
	if (ep_item_dying(epi) && !force) {
		uep_mutex_unlock(&file->f_lock);
		return false;
	}
	struct uep_epitem **pp = &file->f_ep;
	while (*pp != epi)
		pp = &(*pp)->fnext;
	*pp = epi->fnext;
	uep_mutex_unlock(&file->f_lock);

	uep_rb_erase(&epi->rbn, &ep->rbr);
	uep_mutex_lock(&ep->lock);
	if (ep_is_linked(epi))
		uep_list_del_init(&epi->rdllink);
	if (UEP_UNLIKELY(atomic_load_explicit(&ep->diag, memory_order_relaxed)))
		uep_diag_forget(ep, epi);
	uep_mutex_unlock(&ep->lock);
	ep->nwatches--;
	uep_slab_free(&epi_cache, epi);
	atomic_fetch_sub_explicit(&nr_watches, 1, memory_order_relaxed);
	*disposed = ep_put_test(ep);
	return true;
}

/* Queue epi if ready now, and wake as a callback would.  mtx held. */
static void ep_queue_if_ready(struct uep_eventpoll *ep, struct uep_epitem *epi,
                              uint32_t revents)
{
	bool pwake = false;
	if (!revents)
		return;
	uep_mutex_lock(&ep->lock);
	if (!ep_is_linked(epi)) {
		uep_list_add_tail(&epi->rdllink, &ep->rdllist);
		ep_wake_one_locked(ep);
		ep_notify_locked(ep);
		pwake = uep_wq_active(&ep->poll_wait);
	}
	uep_mutex_unlock(&ep->lock);
	if (pwake)
		ep_poll_safewake(ep);
}

/* Must be called with ep->mtx held; at: ep_find_link's, under that hold. */
static int ep_insert(struct uep_eventpoll *ep, const struct epoll_event *event,
                     struct uepoll_file *tfile, int fd,
                     const struct ep_link *at)
{
	long n =
	        atomic_fetch_add_explicit(&nr_watches, 1, memory_order_relaxed);
	if (n >= uep_ep_max_watches()) {
		atomic_fetch_sub_explicit(&nr_watches, 1, memory_order_relaxed);
		return -ENOSPC;
	}
	struct uep_epitem *epi = uep_slab_zalloc(&epi_cache);
	if (!epi) {
		atomic_fetch_sub_explicit(&nr_watches, 1, memory_order_relaxed);
		return -ENOMEM;
	}
	uep_list_init(&epi->rdllink);
	uep_list_init(&epi->wait.link);
	epi->next = EP_UNACTIVE_PTR;
	epi->file = tfile;
	epi->fd = fd;
	epi->events = event->events;
	epi->data = event->data.u64;
	epi->ep = ep;

	ep_attach_file(epi);
	ep_rbtree_insert(ep, epi, at);
	ep_get(ep);
	ep->nwatches++;

	/* Hook on the file's queues and learn its state, in one poll. */
	struct ep_pqueue epq = {.pt = {.qproc = ep_ptable_queue_proc},
	                        .epi = epi};
	uint32_t revents = uep_ep_item_poll(epi, &epq.pt);
	if (epq.error) {
		bool disposed;
		ep_remove(ep, epi, false, &disposed);
		assert(!disposed); /* the file still holds a reference */
		return epq.error;
	}
	ep_queue_if_ready(ep, epi, revents);
	return 0;
}

/* Must be called with ep->mtx held. */
static int ep_modify(struct uep_eventpoll *ep, struct uep_epitem *epi,
                     const struct epoll_event *event)
{
	uep_mutex_lock(&ep->lock);
	epi->events = event->events;
	epi->data = event->data.u64;
	uep_mutex_unlock(&ep->lock);
	/* Re-poll at once: a re-armed ONESHOT that is ready fires now. */
	ep_queue_if_ready(ep, epi, uep_ep_item_poll(epi, NULL));
	return 0;
}

/* ---- epoll_create, epoll_ctl ---- */

struct uepoll_file *uep_ep_create(void)
{
	struct uep_eventpoll *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return NULL;
	struct uepoll_file *f = uep_file_alloc(&uep_eventpoll_fops, ep, O_RDWR);
	if (!f) {
		free(ep);
		return NULL;
	}
	f->f_mode |= UEP_FMODE_OWNED; /* freed by ep_free */
	uep_mutex_init(&ep->mtx);
	uep_mutex_init(&ep->lock);
	uep_list_init(&ep->rdllist);
	ep->ovflist = EP_UNACTIVE_PTR;
	uep_list_init(&ep->wq);
	uep_wq_init(&ep->poll_wait);
	ep->rbr.node = NULL;
	uep_list_init(&ep->extra_hooks);
	ep->file = f;
	atomic_init(&ep->refcount, 1);
	ep->notify_fd = -1;
	atomic_init(&ep->kfd, -1);
	ep->wfd = -1;
	atomic_init(&ep->waker_cpu, -1);
	static _Atomic uint32_t ids;
	ep->id = atomic_fetch_add_explicit(&ids, 1, memory_order_relaxed) + 1;
	atomic_init(&ep->diag_epfd, -1);
	return f;
}

/* A check after ep_insert failed: take the new item out again.  mtx held. */
static int ep_undo_insert_if(struct uep_eventpoll *ep, struct uepoll_file *tf,
                             int fd, int error)
{
	if (error) {
		bool disposed;
		ep_remove(ep, ep_find(ep, tf, fd), false, &disposed);
		assert(!disposed);
	}
	return error;
}

static bool ep_op_has_event(int op)
{
	return op != EPOLL_CTL_DEL;
}

/*
 * The checks after the descriptor lookups, in the kernel's order
 * (docs/LINUX.md, "epoll_ctl"): EPERM, EPOLLWAKEUP, EINVAL (not an epoll, self,
 * EXCLUSIVE rules), ELOOP, then EEXIST/ENOENT and unknown op.
 */
int uep_ep_ctl(struct uepoll_file *epf, int op, struct uepoll_file *tf, int fd,
               struct epoll_event *ev)
{
	bool nested = false;
	int error;

	if (!uep_file_can_poll(tf))
		return -EPERM;
	/* This kernel clears EPOLLWAKEUP (no CONFIG_PM_SLEEP / capability). */
	if (ep_op_has_event(op))
		ev->events &= ~EPOLLWAKEUP;
	if (epf == tf || !uep_is_file_epoll(epf))
		return -EINVAL;
	if (ep_op_has_event(op) && (ev->events & EPOLLEXCLUSIVE)) {
		if (op == EPOLL_CTL_MOD)
			return -EINVAL;
		if (op == EPOLL_CTL_ADD &&
		    (uep_is_file_epoll(tf) ||
		     (ev->events & ~EPOLLEXCLUSIVE_OK_BITS)))
			return -EINVAL;
	}
	struct uep_eventpoll *ep = epf->private_data;
	if (op == EPOLL_CTL_ADD) {
		error = uep_ep_full_check_begin(ep, tf, &nested);
		if (error)
			return error;
	}
	uep_mutex_lock(&ep->mtx);
	struct ep_link at;
	struct uep_epitem *epi;
	bool disposed;
	error = -EINVAL;
	switch (op) {
	case EPOLL_CTL_ADD:
		epi = ep_find_link(ep, tf, fd, &at);
		if (!epi) {
			/* The ADD path pays one load, no call. */
			if (UEP_UNLIKELY(atomic_load_explicit(
			            &ep->kernel_only, memory_order_relaxed)))
				uep_ep_kfd_mixed(ep);
			ev->events |= EPOLLERR | EPOLLHUP;
			error = ep_insert(ep, ev, tf, fd, &at);
			if (!error && nested)
				error = ep_undo_insert_if(
				        ep, tf, fd,
				        uep_ep_reverse_path_check());
		} else {
			error = -EEXIST;
		}
		break;
	case EPOLL_CTL_DEL:
		epi = ep_find(ep, tf, fd);
		if (epi) {
			/* tf is referenced, so its release cannot own epi. */
			ep_remove(ep, epi, false, &disposed);
			assert(!disposed);
			error = 0;
		} else {
			error = -ENOENT;
		}
		break;
	case EPOLL_CTL_MOD:
		epi = ep_find(ep, tf, fd);
		if (epi) {
			if (!(epi->events & EPOLLEXCLUSIVE)) {
				ev->events |= EPOLLERR | EPOLLHUP;
				error = ep_modify(ep, epi, ev);
			}
		} else {
			error = -ENOENT;
		}
		break;
	}
	uep_mutex_unlock(&ep->mtx);
	if (nested)
		uep_ep_full_check_end();
	return error;
}

/* ---- release ---- */

void uep_eventpoll_release_file(struct uepoll_file *file)
{
	for (;;) {
		uep_mutex_lock(&file->f_lock);
		struct uep_epitem *epi = file->f_ep;
		if (!epi) {
			uep_mutex_unlock(&file->f_lock);
			return;
		}
		ep_item_set_dying(epi);
		uep_mutex_unlock(&file->f_lock);
		/* Safe: epi holds a reference on its instance. */
		struct uep_eventpoll *ep = epi->ep;
		bool disposed;
		uep_mutex_lock(&ep->mtx);
		ep_remove(ep, epi, true, &disposed);
		uep_mutex_unlock(&ep->mtx);
		if (disposed)
			ep_free(ep);
	}
}

/* The instance's file is gone: remove every item, then drop its reference. */
static void ep_release(struct uepoll_file *file)
{
	struct uep_eventpoll *ep = file->private_data;
	struct uep_rb_node *n, *next;
	bool disposed;

	uep_mutex_lock(&ep->mtx);
	/* First unhook everything, so no callback runs during the frees. */
	for (n = uep_rb_first(&ep->rbr); n; n = uep_rb_next(n))
		ep_unregister_pollwait(
		        ep, uep_container_of(n, struct uep_epitem, rbn));
	for (n = uep_rb_first(&ep->rbr); n; n = next) {
		next = uep_rb_next(n);
		/* Items whose file is being released are left to that side. */
		ep_remove(ep, uep_container_of(n, struct uep_epitem, rbn),
		          false, &disposed);
		assert(!disposed);
	}
	uep_ep_kfd_release(ep);
	/* Every item is unhooked: no callback writes the eventfd any more. */
	if (ep->notify_fd >= 0)
		close(ep->notify_fd);
	ep->notify_fd = -1;
	disposed = ep_put_test(ep);
	uep_mutex_unlock(&ep->mtx);
	if (disposed)
		ep_free(ep);
}

/* fork (fs/fork.c): the nested-check lock, then the epitem cache's. */
void uep_ep_fork_lock(bool lock)
{
	if (lock) {
		uep_ep_nest_fork_lock(true);
		pthread_mutex_lock(&epi_cache.lock);
	} else {
		pthread_mutex_unlock(&epi_cache.lock);
		uep_ep_nest_fork_lock(false);
	}
}
