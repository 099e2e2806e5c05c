/*
 * The kernel half of an instance, engine side (kfd/kfd.h has the system
 * calls; docs/DESIGN.md, "Kernel fds: the kernel half", the design).
 *
 * A kernel fd given to uepoll_ctl goes into the instance's own kernel
 * epoll (ep->kfd), created by the first ADD, with the caller's events,
 * flags and data: one epoll_ctl, the kernel's errno.  uepoll keeps nothing
 * about it.  A waiter on an instance with a kernel half sleeps in one
 * ppoll on the kernel half and its thread's eventfd (ep_wait.c); the
 * harvest takes the kernel half's events with epoll_wait(timeout 0).
 *
 * Nesting: when an instance P watches an instance C that has a kernel
 * half, C's kernel half is registered in P's (EPOLLIN | EPOLLET, data =
 * a token naming C), so that kernel readiness below C reaches P's
 * sleepers and P's parents with no uepoll thread running.  The token's
 * event is not reported: it queues P's items that watch C on P's ready
 * list, and the harvest polls them as a callback's wake-up would have.
 * The link is made when P polls such an item (its insertion, a harvest,
 * a poll of P), so a C that gets its first kernel fd later is linked at
 * the next poll: C's birth wakes C's pollers (key 0), which queues P's
 * items and wakes P's waiters.
 *
 * Publication: ep->kfd goes from -1 to the fd once, under ep->mtx and
 * ep->lock, after the first kernel fd is in it, and every waiter queued
 * on ep->wq is then woken under the same lock.  A waiter reads ep->kfd
 * again under ep->lock when it queues itself: either it queued before
 * the publication (and is woken, to sleep again on the kernel half) or
 * it sees the fd.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs/eventpoll_int.h"
#include "fs/fdtable.h"
#include "kfd/kfd.h"

int uep_ep_kfd(struct uepoll_file *f)
{
	if (!uep_is_file_epoll(f))
		return -1;
	struct uep_eventpoll *ep = f->private_data;
	return atomic_load_explicit(&ep->kfd, memory_order_acquire);
}

/* Make k ep's kernel half and wake whoever must sleep on it.  mtx held. */
static void kfd_publish(struct uep_eventpoll *ep, int k)
{
	uep_mutex_lock(&ep->lock);
	ep->wfd_pid = uep_kfd_pid();
	atomic_store_explicit(&ep->kfd, k, memory_order_release);
	ep->kfd_owned = true;
	uep_mutex_unlock(&ep->lock);
	uep_ep_wake_all(ep);
}

/*
 * The wake eventfd, made by the first sleep in the kernel half (an
 * instance whose threads never sleep there needs none).  Only the
 * process that made the kernel half registers one: in a forked child the
 * wake eventfd, and the kernel half, are the parent's too, so the child
 * closes its copy (the registration then goes with the parent's), keeps
 * recognising its token, and sleeps in ppoll.  Returns the eventfd, or
 * -1 for a sleep in ppoll (also when no fd can be had).
 */
int uep_ep_kfd_wake(struct uep_eventpoll *ep)
{
	int kfd = atomic_load_explicit(&ep->kfd, memory_order_acquire);
	bool mine = ep->wfd_pid == uep_kfd_pid();
	uep_mutex_lock(&ep->mtx);
	uep_mutex_lock(&ep->lock);
	if (ep->wfd >= 0 && !mine) {
		close(ep->wfd);
		ep->wfd = WFD_FOREIGN;
	}
	int wfd = ep->wfd;
	uep_mutex_unlock(&ep->lock);
	if (wfd == -1 && mine) {
		wfd = uep_kfd_wake_create(kfd, uep_kfd_token(ep));
		if (wfd >= 0) {
			uep_mutex_lock(&ep->lock);
			ep->wfd = wfd;
			uep_mutex_unlock(&ep->lock);
		}
	}
	uep_mutex_unlock(&ep->mtx);
	return wfd >= 0 ? wfd : -1;
}

int uep_ep_ctl_kernel(struct uepoll_file *epf, int op, int fd,
                      struct epoll_event *ev)
{
	if (!uep_is_file_epoll(epf)) {
		int e = uep_kfd_probe(fd);
		return e ? e : -EINVAL;
	}
	struct uep_eventpoll *ep = epf->private_data;
	int kfd = atomic_load_explicit(&ep->kfd, memory_order_acquire);
	if (kfd >= 0)
		return uep_kfd_ctl(kfd, op, fd, ev);
	uep_mutex_lock(&ep->mtx);
	kfd = atomic_load_explicit(&ep->kfd, memory_order_relaxed);
	if (kfd >= 0) {
		uep_mutex_unlock(&ep->mtx);
		return uep_kfd_ctl(kfd, op, fd, ev);
	}
	int k = uep_kfd_create();
	int r;
	if (k < 0) {
		/*
		 * No fd for the kernel half (EMFILE, ENFILE): the kernel's
		 * EBADF for a bad fd, else ENOMEM, which epoll_ctl may give;
		 * nothing is remembered, so a later ADD tries again.
		 */
		r = uep_kfd_check_fd(fd);
		if (!r)
			r = -ENOMEM;
	} else {
		/* Published only with a kernel fd in it (see the top). */
		r = uep_kfd_ctl(k, op, fd, ev);
		if (r)
			close(k);
		else
			kfd_publish(ep, k);
	}
	uep_mutex_unlock(&ep->mtx);
	return r;
}

struct uepoll_file *uep_ep_create_on(int kfd)
{
	struct uepoll_file *f = uep_ep_create();
	if (!f)
		return NULL;
	struct uep_eventpoll *ep = f->private_data;
	atomic_store(&ep->kfd, kfd);
	atomic_store(&ep->kernel_only, true);
	ep->fast_fd = -1;
	return f;
}

void uep_ep_set_fast_fd(struct uepoll_file *f, int fd)
{
	struct uep_eventpoll *ep = f->private_data;
	uep_mutex_lock(&ep->mtx);
	if (atomic_load_explicit(&ep->kernel_only, memory_order_relaxed)) {
		ep->fast_fd = fd;
		uep_fd_set_kernel_epoll(fd, atomic_load(&ep->kfd));
	}
	uep_mutex_unlock(&ep->mtx);
}

/*
 * The first in-process item of a kernel-only instance: from now on its
 * waits harvest both halves (ep_wait.c), so the descriptor's fast path
 * to the kernel half goes first.  A wait already asleep in the kernel
 * half by the fast path is not woken by the item (the preload, whose
 * program holds no uepoll number, never gets here).  Relaxed: waits
 * re-read it with no ordering to keep; the fast path is cleared under
 * the slot's lock.
 */
void uep_ep_kfd_mixed(struct uep_eventpoll *ep)
{
	atomic_store_explicit(&ep->kernel_only, false, memory_order_relaxed);
	if (ep->fast_fd >= 0)
		uep_fd_clear_kernel_epoll(ep->fast_fd, ep->file);
	ep->fast_fd = -1;
}

void uep_ep_kfd_release(struct uep_eventpoll *ep)
{
	int kfd = atomic_load_explicit(&ep->kfd, memory_order_relaxed);
	if (kfd >= 0 && ep->kfd_owned)
		close(kfd);
	/* Wakers write it under ep->lock (ep_wake_one_locked). */
	uep_mutex_lock(&ep->lock);
	if (ep->wfd >= 0)
		close(ep->wfd);
	ep->wfd = -1;
	uep_mutex_unlock(&ep->lock);
	free(ep->knested);
	ep->knested = NULL;
	ep->nknested = ep->capknested = 0;
}

/* ---- nested instances ---- */

static struct uep_eventpoll *child_of(struct uep_epitem *epi)
{
	return epi->file->private_data;
}

/* Is epi linked, and is child linked through any item?  mtx held. */
static bool knested_has(struct uep_eventpoll *ep, struct uep_epitem *epi,
                        struct uep_eventpoll *child, bool *child_linked)
{
	*child_linked = false;
	for (unsigned i = 0; i < ep->nknested; i++) {
		if (ep->knested[i] == epi)
			return true;
		if (child_of(ep->knested[i]) == child)
			*child_linked = true;
	}
	return false;
}

void uep_ep_kfd_nested_poll(struct uep_eventpoll *ep, struct uep_epitem *epi)
{
	struct uep_eventpoll *child = child_of(epi);
	int ckfd = atomic_load_explicit(&child->kfd, memory_order_acquire);
	bool linked;
	if (ckfd < 0 || knested_has(ep, epi, child, &linked))
		return;
	if (ep->nknested == ep->capknested) {
		unsigned cap = ep->capknested ? 2 * ep->capknested : 4;
		struct uep_epitem **v = realloc(ep->knested, cap * sizeof(*v));
		if (!v)
			return; /* tried again at the next poll */
		ep->knested = v;
		ep->capknested = cap;
	}
	if (!linked) {
		int kfd = atomic_load_explicit(&ep->kfd, memory_order_relaxed);
		bool born = kfd < 0;
		if (born && (kfd = uep_kfd_create()) < 0)
			return;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLET,
		                         .data.u64 = uep_kfd_token(child)};
		int r = uep_kfd_ctl(kfd, EPOLL_CTL_ADD, ckfd, &ev);
		if (r && r != -EEXIST) {
			/* ELOOP, EINVAL (depth), ENOMEM: no kernel link. */
			if (born)
				close(kfd);
			return;
		}
		if (born)
			kfd_publish(ep, kfd);
	}
	ep->knested[ep->nknested++] = epi;
}

void uep_ep_kfd_unlink(struct uep_eventpoll *ep, struct uep_epitem *epi)
{
	unsigned i, n = ep->nknested;
	for (i = 0; i < n && ep->knested[i] != epi; i++)
		;
	if (i == n)
		return;
	ep->knested[i] = ep->knested[--ep->nknested];
	struct uep_eventpoll *child = child_of(epi);
	for (i = 0; i < ep->nknested; i++)
		if (child_of(ep->knested[i]) == child)
			return; /* another item still needs the link */
	int kfd = atomic_load_explicit(&ep->kfd, memory_order_relaxed);
	int ckfd = atomic_load_explicit(&child->kfd, memory_order_relaxed);
	/* The child's kernel half is open: its file is not released yet. */
	uep_kfd_ctl(kfd, EPOLL_CTL_DEL, ckfd, NULL);
}

/*
 * A token's event: queue the items watching that child, and, as a
 * callback that queues one does, wake our own pollers (parents: a
 * parent's kernel-half link may have lost its edge to the harvest that
 * took this token).  mtx held; the wake after ep->lock is dropped.
 */
static bool kfd_token(struct uep_eventpoll *ep, uint64_t data)
{
	bool found = false, pwake = false;
	for (unsigned i = 0; i < ep->nknested; i++) {
		struct uep_epitem *epi = ep->knested[i];
		if (uep_kfd_token(child_of(epi)) != data)
			continue;
		found = true;
		uep_mutex_lock(&ep->lock);
		/* Not during a scan (the harvest calls us outside one). */
		if ((epi->events & ~EP_PRIVATE_BITS) && !ep_is_linked(epi)) {
			uep_list_add_tail(&epi->rdllink, &ep->rdllist);
			pwake |= uep_wq_active(&ep->poll_wait);
		}
		uep_mutex_unlock(&ep->lock);
	}
	if (pwake)
		uep_wake_up(&ep->poll_wait, EPOLLIN);
	return found;
}

bool uep_ep_kfd_own(struct uep_eventpoll *ep, uint64_t data)
{
	if (ep->wfd != -1 && data == uep_kfd_token(ep))
		return true;
	for (unsigned i = 0; i < ep->nknested; i++)
		if (uep_kfd_token(child_of(ep->knested[i])) == data)
			return true;
	return false;
}

/*
 * The wake eventfd is one for all of ep's sleepers, and any harvest of the
 * kernel half sees it.  A sleeper a waker picked (off ep->wq, its wake-up
 * written here) that has not come back from epoll_pwait2 yet needs it
 * readable: drained now, the kernel would put that sleeper back to sleep,
 * and with ep->wq empty no later wake-up would come for what is left on
 * the ready list (kfd_sleeper_returns_lt_event_another_thread_harvested).
 * So it is drained only when no such sleeper is out (ep->kpicked), under
 * ep->lock, which the wakers hold to pick and write.  The last picked
 * sleeper back, or the next sleep, which returns at once, drains it.  A
 * forked child never drains it, not even before its first sleep closes
 * its copy: the eventfd, and the wake-ups in it, are the parent's
 * (kfd_forked_child_harvest_leaves_parent_sleeper_its_wakeup).
 */
static void kfd_wake_drain(struct uep_eventpoll *ep)
{
	uep_mutex_lock(&ep->lock);
	if (!ep->kpicked && ep->wfd_pid == uep_kfd_pid())
		uep_kfd_wake_drain(ep->wfd);
	uep_mutex_unlock(&ep->lock);
}

int uep_ep_kfd_filter(struct uep_eventpoll *ep, struct epoll_event *events,
                      int n)
{
	if (n <= 0 || (ep->wfd == -1 && !ep->nknested))
		return n;
	uint64_t self = uep_kfd_token(ep);
	int out = 0;
	for (int i = 0; i < n; i++) {
		if (ep->wfd != -1 && events[i].data.u64 == self) {
			/* A forked child leaves the parent's wake-up to it. */
			if (ep->wfd >= 0)
				kfd_wake_drain(ep);
			continue;
		}
		if (ep->nknested && kfd_token(ep, events[i].data.u64))
			continue;
		events[out++] = events[i];
	}
	return out;
}

int uep_ep_kfd_harvest(struct uep_eventpoll *ep, struct epoll_event *events,
                       int maxevents)
{
	int kfd = atomic_load_explicit(&ep->kfd, memory_order_relaxed);
	return uep_ep_kfd_filter(ep, events,
	                         uep_kfd_harvest(kfd, events, maxevents));
}
