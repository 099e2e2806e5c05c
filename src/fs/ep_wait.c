/*
 * epoll_wait: the harvest of the ready list and the sleep of a waiter (the
 * kernel's ep_send_events and ep_poll).  Locking: the block at the top of
 * eventpoll.c.
 */
#include <errno.h>

#include "fs/eventpoll_int.h"
#include "kernel/trace.h"
#include "kfd/host.h"

/* A thread sleeping in uepoll_wait(): an exclusive entry on ep->wq. */
struct ep_waiter {
	struct uep_wait_entry wait;
	struct uep_waiter w;
};

/*
 * The harvest: re-poll each ready item now and report what is still
 * ready; level-triggered items go back on the list, ONESHOT ones are
 * disabled.  A NULL buffer stands for a faulting one: the item stays
 * queued, and the result is EFAULT if nothing was copied.
 */
static int ep_send_events(struct uep_eventpoll *ep, struct epoll_event *events,
                          int maxevents)
{
	struct uep_list txlist, requeue, *pos, *tmp;
	int res = 0;

	uep_list_init(&txlist);
	uep_list_init(&requeue);
	uep_mutex_lock(&ep->mtx);
	uep_ep_start_scan(ep, &txlist);
	uep_list_for_each_safe(pos, tmp, &txlist)
	{
		struct uep_epitem *epi =
		        uep_list_entry(pos, struct uep_epitem, rdllink);
		if (res >= maxevents)
			break;
		uep_list_del_init(&epi->rdllink);
		uint32_t revents = uep_ep_item_poll(epi, NULL);
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
	uep_ep_done_scan(ep, &txlist, &requeue, res > 0 ? res : 0);
	uep_trace(UEPOLL_TRACE_HARVEST, -1, 0, res);
	uep_mutex_unlock(&ep->mtx);
	return res;
}

static int ep_autoremove_wake(struct uep_wait_entry *wait, uint32_t key)
{
	struct ep_waiter *w = uep_container_of(wait, struct ep_waiter, wait);
	(void)key;
	uep_list_del_init(&wait->link);
	return uep_waiter_wake(&w->w); /* 0: a thread the fork left behind */
}

/*
 * The kernel's ep_poll: harvest if anything is queued; else sleep as an
 * exclusive waiter until a callback, the deadline or a signal.  Events
 * win over a signal, and a timeout returns 0.
 */
int uep_ep_wait(struct uepoll_file *epf, struct epoll_event *events,
                int maxevents, const struct uep_deadline *dl,
                const sigset_t *sigmask)
{
	if (!uep_is_file_epoll(epf))
		return -EINVAL;
	struct uep_eventpoll *ep = epf->private_data;
	struct ep_waiter w;
	bool timed_out = dl->kind == UEP_DL_NOWAIT, interrupted = false;
	bool eavail;

	/* Kernel fds' readiness reaches their host files' queues now. */
	uep_sleep_source_poll();

	uep_mutex_lock(&ep->lock);
	eavail = ep_events_available(ep);
	uep_mutex_unlock(&ep->lock);
	for (;;) {
		if (eavail) {
			int res = ep_send_events(ep, events, maxevents);
			if (res)
				return res;
		}
		if (timed_out)
			return 0;
		if (interrupted)
			return -EINTR;

		uep_waiter_init(&w.w, sigmask);
		w.wait.func = ep_autoremove_wake;
		w.wait.flags = UEP_WQ_EXCLUSIVE;
		uep_mutex_lock(&ep->lock);
		eavail = ep_events_available(ep);
		if (!eavail)
			uep_list_add_tail(&w.wait.link, &ep->wq);
		uep_mutex_unlock(&ep->lock);
		if (eavail)
			continue;

		int r = 0;
		if (!uep_ep_busy_wait(ep, &w.w, dl)) {
			uep_trace(UEPOLL_TRACE_SLEEP, -1, 0, 0);
			r = uep_waiter_sleep(&w.w, dl, sigmask, false);
			uep_trace(UEPOLL_TRACE_WAKE, -1, 0, 0);
		}
		if (r == -ETIMEDOUT)
			timed_out = true;
		else if (r == -EINTR)
			interrupted = true;
		/*
		 * Off the queue, if no callback took us off.  Whether woken or
		 * not, look at the list again: a waker picked us to harvest.
		 */
		uep_mutex_lock(&ep->lock);
		if (uep_list_linked(&w.wait.link))
			uep_list_del_init(&w.wait.link);
		eavail = ep_events_available(ep);
		uep_mutex_unlock(&ep->lock);
		/* ppoll may leave a stale count; a fresh waiter each round. */
	}
}
