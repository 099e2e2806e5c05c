/*
 * epoll_wait: the harvest of the ready list and the sleep of a waiter (the
 * kernel's ep_send_events and ep_poll).  Locking: the block at the top of
 * eventpoll.c.  With a kernel half (ep_kfd.c) the harvest merges both
 * halves and the sleep is one ppoll on the kernel half and the thread's
 * eventfd.
 */
#include <errno.h>
#include <poll.h>

#include "fs/ep_diag.h"
#include "fs/eventpoll_int.h"
#include "kernel/trace.h"
#include "kfd/kfd.h"

/* A thread sleeping in uepoll_wait(): an exclusive entry on ep->wq. */
struct ep_waiter {
	struct uep_wait_entry wait;
	struct uep_waiter w;
	struct uep_eventpoll *ep;
	bool in_kfd; /* sleeps in the kernel half, woken by ep->wfd */
	bool picked; /* counted in ep->kpicked; under ep->lock */
};

/*
 * The harvest of the ready list: re-poll each ready item now and report
 * what is still ready, from events[res] on; level-triggered items go back
 * on the list, ONESHOT ones are disabled.  A NULL buffer stands for a
 * faulting one: the item stays queued, and the result is EFAULT if
 * nothing was copied.  mtx held.  Always inline: the wait's hot path.
 */
static UEP_ALWAYS_INLINE int ep_scan(struct uep_eventpoll *ep,
                                     struct epoll_event *events, int maxevents,
                                     int res)
{
	struct uep_list txlist, requeue, *pos, *tmp;

	uep_list_init(&txlist);
	uep_list_init(&requeue);
	uep_ep_start_scan(ep, &txlist);
	uep_list_for_each_safe(pos, tmp, &txlist)
	{
		struct uep_epitem *epi =
		        uep_list_entry(pos, struct uep_epitem, rdllink);
		if (res >= maxevents)
			break;
		uep_list_del_init(&epi->rdllink);
		uint32_t revents = uep_ep_item_poll(epi, NULL);
		if (uep_diag_on())
			uep_diag_polled(ep, epi, revents);
		if (!revents)
			continue; /* a later callback queues it again */
		if (UEP_UNLIKELY(!events)) {
			uep_list_add(&epi->rdllink, &txlist);
			if (!res)
				res = -EFAULT;
			break;
		}
		events[res].events = revents;
		events[res].data.u64 = epi->data;
		res++;
		if (epi->events & EPOLLONESHOT) {
			uep_mutex_lock(&ep->lock);
			epi->events &= EP_PRIVATE_BITS;
			uep_mutex_unlock(&ep->lock);
		} else if (!(epi->events & EPOLLET)) {
			uep_list_add_tail(&epi->rdllink, &requeue);
		}
	}
	if (uep_diag_on())
		uep_diag_harvest_end(ep, &txlist, res, maxevents);
	uep_ep_done_scan(ep, &txlist, &requeue, res > 0 ? res : 0);
	return res;
}

/*
 * Both halves (mtx held): the kernel half's events (epoll_wait with
 * timeout 0) and the ready list, the kernel's first every other time so
 * that neither starves the other when events outnumber maxevents.  have:
 * kernel events a sleep in the kernel half put in the buffer already.
 * With nested instances linked in, the ready list's turn still starts
 * with a harvest of the kernel half (half the room, and only that one: a
 * second would report its level-triggered fds again): their tokens queue
 * the items that watch them before the scan, as the kernel's wake-up of
 * the child would have, so such an item is neither reported a wait late
 * nor, edge-triggered, twice (fuzz_found_nested_kernel_ready_*).
 */
static int ep_send_both(struct uep_eventpoll *ep, struct epoll_event *events,
                        int maxevents, int have)
{
	int res = 0, k;
	bool kfirst = have || (ep->kalt++ & 1);
	if (have) {
		res = uep_ep_kfd_filter(ep, events, have);
	} else if (kfirst) {
		res = uep_ep_kfd_harvest(ep, events, maxevents);
	} else if (ep->nknested && maxevents / 2) {
		res = uep_ep_kfd_harvest(ep, events, maxevents / 2);
		kfirst = true;
	}
	if (res < 0 || res == maxevents)
		return res;
	res = ep_scan(ep, events, maxevents, res);
	if (!kfirst && res >= 0 && res < maxevents) {
		k = uep_ep_kfd_harvest(ep, events ? events + res : NULL,
		                       maxevents - res);
		if (k > 0 || !res)
			res += k;
	}
	return res;
}

/* The harvest of one wait, both halves: always inline, as ep_scan. */
static UEP_ALWAYS_INLINE int ep_send_events(struct uep_eventpoll *ep,
                                            struct epoll_event *events,
                                            int maxevents, int have)
{
	uep_mutex_lock(&ep->mtx);
	int res = UEP_LIKELY(atomic_load_explicit(&ep->kfd,
	                                          memory_order_relaxed) < 0)
	                  ? ep_scan(ep, events, maxevents, 0)
	                  : ep_send_both(ep, events, maxevents, have);
	uep_trace(UEPOLL_TRACE_HARVEST, -1, 0, res);
	uep_mutex_unlock(&ep->mtx);
	return res;
}

static int ep_autoremove_wake(struct uep_wait_entry *wait, uint32_t key)
{
	struct ep_waiter *w = uep_container_of(wait, struct ep_waiter, wait);
	(void)key;
	uep_list_del_init(&wait->link);
	bool woken = uep_waiter_wake(&w->w); /* no: the fork left it behind */
	/* Under ep->lock, as the count's drop (ep_poll_sleep). */
	if (woken && w->in_kfd && !w->picked) {
		w->picked = true;
		w->ep->kpicked++;
	}
	return woken;
}

/*
 * The sleeping half of uep_ep_wait, after a first harvest found nothing:
 * sleep as an exclusive waiter until a callback, the deadline or a signal,
 * then harvest again.  Events win over a signal, and a timeout returns 0.
 * The deadline starts here (a lazy one reads the clock only now).
 */
static __attribute__((noinline)) int
ep_poll_sleep(struct uep_eventpoll *ep, struct epoll_event *events,
              int maxevents, const struct uep_deadline *start,
              const sigset_t *sigmask)
{
	struct ep_waiter w;
	struct uep_deadline d = *start, *dl = &d;
	bool timed_out = false, interrupted = false;
	bool eavail;
	int got = 0; /* kernel events a sleep put in the buffer */

	uep_deadline_start(dl);
	for (;;) {
		int kfd = atomic_load_explicit(&ep->kfd, memory_order_acquire);
		/*
		 * With a kernel half the sleep is in it (epoll_pwait2: kernel
		 * readiness, EXCLUSIVE across processes), and an in-process
		 * waker writes the instance's wake eventfd, registered in it:
		 * w.efd.  A forked child, or an instance without one, sleeps
		 * in ppoll on the kernel half and the thread's eventfd.
		 */
		int wfd = kfd >= 0 ? uep_ep_kfd_wake(ep) : -1;
		bool in_kfd = wfd >= 0;
		if (in_kfd) {
			uep_waiter_init(&w.w, NULL);
			w.w.efd = wfd;
		} else if (kfd >= 0) {
			uep_waiter_init_fds(&w.w, sigmask);
		} else {
			uep_waiter_init(&w.w, sigmask);
		}
		w.wait.func = ep_autoremove_wake;
		w.wait.flags = UEP_WQ_EXCLUSIVE;
		w.ep = ep;
		w.in_kfd = in_kfd;
		w.picked = false;
		uep_mutex_lock(&ep->lock);
		eavail = ep_events_available(ep);
		/* Pairs with kfd_publish (ep_kfd.c): both under ep->lock. */
		bool born = atomic_load_explicit(&ep->kfd,
		                                 memory_order_relaxed) != kfd;
		if (!eavail && !born) {
			uep_list_add_tail(&w.wait.link, &ep->wq);
			ep->sleeps++;
		}
		uep_mutex_unlock(&ep->lock);

		if (!eavail && !born) {
			int r = 0;
			bool spun = false;
			/* Busy polling (ep_busy.c): the in-process half only.
			 */
			if (kfd < 0 &&
			    (spun = uep_ep_busy_wait(ep, &w.w, dl))) {
				/* woken while spinning */
			} else if (in_kfd) {
				uep_trace(UEPOLL_TRACE_SLEEP, -1, 0, 0);
				/* uep_waiter_begin pairs with uep_waiter_wake's
				 * exchange: a waker after it writes w.efd, one
				 * before it stops us. */
				if (uep_waiter_begin(&w.w)) {
					got = uep_kfd_wait(kfd, events,
					                   maxevents, dl,
					                   sigmask);
					uep_waiter_end(&w.w);
					if (got == 0)
						r = -ETIMEDOUT;
					else if (got == -EINTR)
						r = got;
					if (got == -EINTR)
						got = 0;
				}
				uep_trace(UEPOLL_TRACE_WAKE, -1, 0, 0);
			} else if (kfd >= 0) {
				struct pollfd p[2] = {
				        [1] = {.fd = kfd, .events = POLLIN}};
				uep_trace(UEPOLL_TRACE_SLEEP, -1, 0, 0);
				r = uep_waiter_sleep_fds(&w.w, dl, sigmask, p,
				                         2);
				uep_trace(UEPOLL_TRACE_WAKE, -1, 0, 0);
			} else {
				uep_trace(UEPOLL_TRACE_SLEEP, -1, 0, 0);
				r = uep_waiter_sleep(&w.w, dl, sigmask, false);
				uep_trace(UEPOLL_TRACE_WAKE, -1, 0, 0);
			}
			if (r == -ETIMEDOUT)
				timed_out = true;
			else if (r == -EINTR)
				interrupted = true;
			/*
			 * Off the queue, if no callback took us off.  Woken
			 * or not, look at the list again: a waker picked us
			 * to harvest.
			 */
			uep_mutex_lock(&ep->lock);
			if (uep_list_linked(&w.wait.link))
				uep_list_del_init(&w.wait.link);
			/* Back from the sleep the wake eventfd was written
			 * for: others may drain it now (uep_ep_kfd_filter). */
			if (w.picked)
				ep->kpicked--;
			eavail = ep_events_available(ep);
			ep->spin_wakes += spun;
			ep->spurious += !r && !eavail && !got;
			uep_mutex_unlock(&ep->lock);
			if (got < 0)
				return got; /* EFAULT */
			/* ppoll may leave a stale count: a fresh waiter
			 * each round. */
		}
		kfd = atomic_load_explicit(&ep->kfd, memory_order_acquire);
		if (eavail || kfd >= 0) {
			int res = ep_send_events(ep, events, maxevents, got);
			if (res)
				return res;
		}
		got = 0;
		if (timed_out)
			return 0;
		if (interrupted)
			return -EINTR;
	}
}

/*
 * The kernel's ep_poll: harvest if anything is queued; else sleep
 * (ep_poll_sleep).  With a kernel half the harvest always runs (the
 * kernel half may hold events) and the sleep is one ppoll on it and the
 * thread's eventfd: in-process wake-ups write the eventfd
 * (uep_waiter_wake), kernel readiness wakes the poll, and the signal mask
 * is installed by the kernel.  The path of a wait that finds events is
 * this function alone: no waiter, no deadline, no clock read.
 */
int uep_ep_wait(struct uepoll_file *epf, struct epoll_event *events,
                int maxevents, const struct uep_deadline *dl,
                const sigset_t *sigmask)
{
	if (!uep_is_file_epoll(epf))
		return -EINVAL;
	struct uep_eventpoll *ep = epf->private_data;
	bool eavail;

	/* The preload's instance: only kernel fds, so the kernel sleeps. */
	if (atomic_load_explicit(&ep->kernel_only, memory_order_relaxed)) {
		/* Reached only off the API's fast path (diagnostic mode). */
		int n = uep_kfd_wait(atomic_load(&ep->kfd), events, maxevents,
		                     dl, sigmask);
		if (n >= 0) {
			uep_mutex_lock(&ep->lock);
			ep->waits++;
			ep->harvests++;
			ep->delivered += (uint64_t)n;
			ep->empty_harvests += n == 0;
			uep_mutex_unlock(&ep->lock);
		}
		return n;
	}
	uep_mutex_lock(&ep->lock);
	ep->waits++;
	eavail = ep_events_available(ep);
	uep_mutex_unlock(&ep->lock);
	int kfd = atomic_load_explicit(&ep->kfd, memory_order_acquire);
	if (eavail || kfd >= 0) {
		int res = ep_send_events(ep, events, maxevents, 0);
		if (res)
			return res;
	}
	if (dl->kind == UEP_DL_NOWAIT)
		return 0;
	return ep_poll_sleep(ep, events, maxevents, dl, sigmask);
}
