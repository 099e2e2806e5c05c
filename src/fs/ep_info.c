/*
 * What an instance shows of itself: uepoll_notify (a kernel eventfd written
 * when the instance gets ready items), uepoll_stats, uepoll_fdinfo.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "fs/ep_diag.h"
#include "fs/eventpoll_int.h"

/* ---- notification of a kernel eventfd ---- */

/*
 * Is fd a kernel eventfd?  /proc says so by name; without /proc, an
 * anonymous inode (no file type bits) is the best we can tell.
 */
static int notify_check(int fd)
{
	struct stat st;
	char path[40], link[32];
	if (fstat(fd, &st))
		return -errno;
	if (st.st_mode & S_IFMT)
		return -EINVAL; /* a regular file, pipe, socket, device */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = '\0';
	return strcmp(link, "anon_inode:[eventfd]") ? -EINVAL : 0;
}

/*
 * The instance's own duplicate of the caller's eventfd, close-on-exec, at a
 * high number (out of the way of programs that count on low ones, and of
 * select's FD_SETSIZE), made non-blocking: a write under ep->lock must
 * never sleep.  O_NONBLOCK belongs to the open file, so the caller's
 * descriptor becomes non-blocking too (documented in uepoll.h).
 */
static int notify_dup(int fd)
{
	int err = notify_check(fd);
	if (err)
		return err;
	struct rlimit rl;
	int min = 0;
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		min = rl.rlim_cur > 2048 ? 1024 : (int)rl.rlim_cur / 2;
	int d = fcntl(fd, F_DUPFD_CLOEXEC, min);
	if (d < 0 && min)
		d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0)
		return -errno;
	int fl = fcntl(d, F_GETFL);
	if (fl < 0 ||
	    (!(fl & O_NONBLOCK) && fcntl(d, F_SETFL, fl | O_NONBLOCK))) {
		err = -errno;
		close(d);
		return err;
	}
	return d;
}

int uep_ep_notify(struct uepoll_file *epf, int fd)
{
	if (!uep_is_file_epoll(epf))
		return -EINVAL;
	struct uep_eventpoll *ep = epf->private_data;
	int own = -1;
	if (fd >= 0) {
		own = notify_dup(fd);
		if (own < 0)
			return own;
	}
	uep_mutex_lock(&ep->lock);
	int old = ep->notify_fd;
	ep->notify_fd = own;
	ep->notified = false;
	if (own >= 0 && !uep_list_empty(&ep->rdllist)) {
		/* Something is queued already: signal it now. */
		uint64_t one = 1;
		ssize_t r = write(own, &one, sizeof(one));
		(void)r;
		ep->notified = true;
	}
	uep_mutex_unlock(&ep->lock);
	/* No write can use it any more: every write is under ep->lock. */
	if (old >= 0)
		close(old);
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
