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

/*
 * The kernel half's registrations, as the kernel shows them, without
 * uepoll's own (its wake eventfd, nested instances).  ep->mtx held.
 */
static void kernel_half_fdinfo(struct uep_eventpoll *ep, struct outbuf *o)
{
	int kfd = atomic_load_explicit(&ep->kfd, memory_order_relaxed);
	char path[64], line[256];
	if (kfd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", kfd);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		int tfd;
		unsigned events;
		unsigned long long data;
		if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events,
		           &data) != 3)
			continue;
		if (!uep_ep_kfd_own(ep, data))
			out(o, "%s", line);
	}
	fclose(f);
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
		out(&o,
		    "tfd: %8d events: %8x data: %16llx  pos:0 ino:0 sdev:0\n",
		    epi->fd, epi->events, (unsigned long long)epi->data);
	}
	kernel_half_fdinfo(ep, &o);
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
	uep_mutex_unlock(&ep->lock);
	uep_mutex_unlock(&ep->mtx);
	return o.need > (size_t)INT32_MAX ? INT32_MAX : (int)o.need;
}
