/*
 * What an instance shows of itself: uepoll_notify (a kernel eventfd written
 * when the instance gets ready items), uepoll_stats, uepoll_fdinfo.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/ep_diag.h"
#include "fs/eventpoll_int.h"

/* ---- notification of a kernel eventfd ---- */

int uep_ep_notify(struct uepoll_file *epf, int fd)
{
	if (!uep_is_file_epoll(epf))
		return -EINVAL;
	struct uep_eventpoll *ep = epf->private_data;
	uep_mutex_lock(&ep->lock);
	ep->notify_fd = fd;
	ep->notified = false;
	if (fd >= 0 && !uep_list_empty(&ep->rdllist)) {
		/* Something is queued already: signal it now. */
		uint64_t one = 1;
		ssize_t r = write(fd, &one, sizeof(one));
		(void)r;
		ep->notified = true;
	}
	uep_mutex_unlock(&ep->lock);
	return 0;
}

/* ---- observability ---- */

int uep_ep_stats(struct uepoll_file *epf, struct uepoll_stats *st)
{
	if (!uep_is_file_epoll(epf))
		return -EINVAL;
	struct uep_eventpoll *ep = epf->private_data;
	struct uep_list *pos;
	uep_mutex_lock(&ep->mtx);
	uep_mutex_lock(&ep->lock);
	memset(st, 0, sizeof(*st));
	st->watches = ep->nwatches;
	uep_list_for_each(pos, &ep->rdllist) st->ready++;
	uep_list_for_each(pos, &ep->wq) st->waiters++;
	st->callbacks = ep->callbacks;
	st->wakeups = ep->wakeups;
	st->harvests = ep->harvests;
	st->events = ep->delivered;
	st->waits = ep->waits;
	st->sleeps = ep->sleeps;
	st->spin_wakes = ep->spin_wakes;
	st->spurious = ep->spurious;
	st->empty_harvests = ep->empty_harvests;
	st->herd_max = ep->herd_max;
	uep_mutex_unlock(&ep->lock);
	uep_mutex_unlock(&ep->mtx);
	return 0;
}

struct outbuf {
	char *buf;
	size_t len, need;
};

static void out(struct outbuf *o, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void out(struct outbuf *o, const char *fmt, ...)
{
	va_list ap;
	char *at = o->need < o->len ? o->buf + o->need : NULL;
	size_t room = o->need < o->len ? o->len - o->need : 0;
	va_start(ap, fmt);
	int n = vsnprintf(at, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->need += (size_t)n;
}

int uep_ep_fdinfo(struct uepoll_file *epf, char *buf, size_t len)
{
	if (!uep_is_file_epoll(epf))
		return -EINVAL;
	struct uep_eventpoll *ep = epf->private_data;
	struct outbuf o = {buf, len, 0};
	struct uep_list *pos;
	if (buf && len)
		buf[0] = '\0';
	uep_mutex_lock(&ep->mtx);
	for (struct uep_rb_node *n = uep_rb_first(&ep->rbr); n;
	     n = uep_rb_next(n)) {
		struct uep_epitem *epi =
		        uep_container_of(n, struct uep_epitem, rbn);
		out(&o, "tfd: %8d events: %8x data: %16llx  pos:0 ino:0 sdev:0",
		    epi->fd, epi->events, (unsigned long long)epi->data);
		struct uepoll_item_info ii = {0};
		uep_diag_item_counters(ep, epi, &ii);
		if (ii.counted)
			out(&o,
			    " wakeups: %llu harvests: %llu delivered: %llu "
			    "last_ready_ns: %llu",
			    (unsigned long long)ii.wakeups,
			    (unsigned long long)ii.harvests,
			    (unsigned long long)ii.delivered,
			    (unsigned long long)ii.last_ready_ns);
		out(&o, "\n");
	}
	uep_mutex_lock(&ep->lock);
	out(&o, "ready:");
	uep_list_for_each(pos, &ep->rdllist)
	{
		out(&o, " %d",
		    uep_list_entry(pos, struct uep_epitem, rdllink)->fd);
	}
	out(&o,
	    "\nwatches: %llu callbacks: %llu wakeups: %llu harvests: %llu "
	    "events: %llu\n",
	    (unsigned long long)ep->nwatches, (unsigned long long)ep->callbacks,
	    (unsigned long long)ep->wakeups, (unsigned long long)ep->harvests,
	    (unsigned long long)ep->delivered);
	out(&o,
	    "waits: %llu sleeps: %llu spin_wakes: %llu spurious: %llu "
	    "empty_harvests: %llu herd_max: %llu\n",
	    (unsigned long long)ep->waits, (unsigned long long)ep->sleeps,
	    (unsigned long long)ep->spin_wakes,
	    (unsigned long long)ep->spurious,
	    (unsigned long long)ep->empty_harvests,
	    (unsigned long long)ep->herd_max);
	uep_mutex_unlock(&ep->lock);
	uep_mutex_unlock(&ep->mtx);
	return o.need > (size_t)INT32_MAX ? INT32_MAX : (int)o.need;
}

/* uepoll_item_info: the item registered under fd (by number, any file). */
int uep_ep_item_info(struct uepoll_file *epf, int fd,
                     struct uepoll_item_info *info)
{
	if (!uep_is_file_epoll(epf))
		return -EINVAL;
	struct uep_eventpoll *ep = epf->private_data;
	int r = -ENOENT;
	memset(info, 0, sizeof(*info));
	uep_mutex_lock(&ep->mtx);
	for (struct uep_rb_node *n = uep_rb_first(&ep->rbr); n;
	     n = uep_rb_next(n)) {
		struct uep_epitem *epi =
		        uep_container_of(n, struct uep_epitem, rbn);
		if (epi->fd != fd)
			continue;
		uep_mutex_lock(&ep->lock);
		info->events = epi->events;
		info->data = epi->data;
		info->ready = ep_is_linked(epi);
		uep_mutex_unlock(&ep->lock);
		uep_diag_item_counters(ep, epi, info);
		r = 0;
		break;
	}
	uep_mutex_unlock(&ep->mtx);
	return r;
}
