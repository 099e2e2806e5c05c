/*
 * The diagnostic mode: detectors of the classic epoll mistakes, per-item
 * counters, and the reports (include/uepoll.h, uepoll_set_diag).
 *
 * Records.  An item's counters live in its instance's table (struct
 * uep_ep_diag, made at the first hook that needs it), keyed by the item's
 * address: the 128-byte epitem has no room, and the mode must cost nothing
 * when off.  The table's lock is a leaf, taken inside ep->lock (callbacks)
 * or ep->mtx (harvests); records go with their item (uep_diag_forget,
 * under ep->lock) and with the instance.
 *
 * The detectors, and what each one sees:
 *   et-unread     a harvest delivers EPOLLIN for an EPOLLET item to a
 *                 thread; when that thread next calls uepoll_wait on the
 *                 instance, the item is not queued again, its file still
 *                 reports EPOLLIN, and no read, recv or accept of the file
 *                 returned EAGAIN (or 0) since: a suspect.  It is reported
 *                 when that wait returns and no callback queued the item
 *                 meanwhile (a concurrent writer that made the file
 *                 readable again wakes it within that wait).  A wait that
 *                 never returns is not diagnosed.  (A kernel fd's reads go
 *                 to the kernel unseen: there the file's state decides.)
 *   eagain-storm  per file: the first read of a thread after a harvest
 *                 delivered EPOLLIN for it to that thread returned EAGAIN,
 *                 at least 16 times and in at least half of the cases.
 *   herd          one wake-up of a file woke waiters of two or more
 *                 instances (each wakes at most one waiter of its own).
 *   closed-watched  uepoll_close(fd) while fd is registered somewhere
 *                 under that number and another descriptor (a dup) keeps
 *                 its file open: the registration survives the close.
 *   starved       an item stayed on the ready list, unexamined, through 4
 *                 consecutive harvests that each filled maxevents.
 * Each is reported once per (instance, fd, kind) unless UEPOLL_DIAG_REPEAT.
 */
#include "fs/ep_diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/eventpoll_int.h"
#include "fs/fdtable.h"

#define DIAG_BUCKETS 256
#define STORM_MIN 16
#define STARVE_HARVESTS 4
#define RING 16

struct uep_epi_diag {
	struct uep_epi_diag *next; /* hash chain */
	const struct uep_epitem *epi;
	uint64_t wakeups, harvests, delivered, last_ready_ns;
	uint32_t drains_at; /* the file's f_diag_drains at the ET delivery */
	uint32_t starved;   /* consecutive full harvests that left it queued */
	bool et_armed;      /* EPOLLIN delivered edge-triggered: check it */
	bool suspect;       /* ...and found unread at the owner's next wait */
	const void *owner;  /* the thread it was delivered to */
	uint64_t suspect_wakeups; /* wakeups when it became a suspect */
};

struct uep_ep_diag {
	struct uep_mutex lock; /* a leaf: everything below */
	struct uep_epi_diag *b[DIAG_BUCKETS];
	struct uep_epitem **et; /* items to check at the next wait */
	size_t n_et, cap_et;
};

static uepoll_diag_fn _Atomic diag_fn;
static void *_Atomic diag_arg;

/* ---- reports, once per (instance, fd, kind) ---- */

struct seen {
	struct seen *next;
	uint32_t id;
	int fd, kind;
};
static struct uep_mutex seen_lock = UEP_MUTEX_INITIALIZER;
static struct seen *seen_tab[DIAG_BUCKETS];

/* True the first time (id, fd, kind) is reported. */
static bool first_time(uint32_t id, int fd, int kind)
{
	size_t h =
	        (id * 31u + (unsigned)fd * 7u + (unsigned)kind) % DIAG_BUCKETS;
	bool first = true;
	uep_mutex_lock(&seen_lock);
	for (struct seen *s = seen_tab[h]; s; s = s->next)
		if (s->id == id && s->fd == fd && s->kind == kind)
			first = false;
	if (first) {
		struct seen *s = malloc(sizeof(*s));
		if (s) {
			*s = (struct seen){seen_tab[h], id, fd, kind};
			seen_tab[h] = s;
		}
	}
	uep_mutex_unlock(&seen_lock);
	return first;
}

static const char *const kind_names[] = {
        [UEPOLL_DIAG_ET_UNREAD] = "et-unread",
        [UEPOLL_DIAG_EAGAIN_STORM] = "eagain-storm",
        [UEPOLL_DIAG_HERD] = "herd",
        [UEPOLL_DIAG_CLOSED_WATCHED] = "closed-watched",
        [UEPOLL_DIAG_STARVED] = "starved",
};

static void report(enum uepoll_diag_kind kind, uint32_t id, int epfd, int fd,
                   uint64_t count, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));

static void report(enum uepoll_diag_kind kind, uint32_t id, int epfd, int fd,
                   uint64_t count, const char *fmt, ...)
{
	int flags = atomic_load_explicit(&uep_diag_flags, memory_order_relaxed);
	if (!(flags & UEPOLL_DIAG_REPEAT) && !first_time(id, fd, (int)kind))
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct uepoll_diag_report r = {kind, kind_names[kind], epfd, fd, count,
	                               msg};
	uepoll_diag_fn fn = atomic_load(&diag_fn);
	if (fn)
		fn(&r, atomic_load(&diag_arg));
	else
		fprintf(stderr, "uepoll diag: %s: instance %d, fd %d: %s\n",
		        r.name, epfd, fd, msg);
}

/* ---- control ---- */

void uep_diag_set(int flags, uepoll_diag_fn fn, void *arg)
{
	atomic_store(&diag_arg, arg);
	atomic_store(&diag_fn, fn);
	atomic_store(&uep_diag_flags, flags);
	if (flags & UEPOLL_DIAG_ON)
		uep_diag_summary_arm();
}

bool uep_diag_has_callback(void)
{
	return atomic_load(&diag_fn) != NULL;
}

/* UEPOLL_DIAG=1 (or all: every occurrence), read once when loaded. */
__attribute__((constructor)) static void diag_from_env(void)
{
	const char *e = getenv("UEPOLL_DIAG");
	if (!e || !*e || !strcmp(e, "0"))
		return;
	uep_diag_set(UEPOLL_DIAG_ON |
	                     (strcmp(e, "all") ? 0 : UEPOLL_DIAG_REPEAT),
	             NULL, NULL);
}

/* ---- records ---- */

static struct uep_ep_diag *table(struct uep_eventpoll *ep)
{
	struct uep_ep_diag *d =
	        atomic_load_explicit(&ep->diag, memory_order_acquire);
	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	uep_mutex_init(&d->lock);
	struct uep_ep_diag *none = NULL;
	if (!atomic_compare_exchange_strong_explicit(&ep->diag, &none, d,
	                                             memory_order_acq_rel,
	                                             memory_order_acquire)) {
		uep_mutex_destroy(&d->lock);
		free(d);
		return none;
	}
	return d;
}

static size_t bucket(const struct uep_epitem *epi)
{
	return ((uintptr_t)epi >> 7) % DIAG_BUCKETS;
}

/* d->lock held. */
static struct uep_epi_diag *rec(struct uep_ep_diag *d,
                                const struct uep_epitem *epi, bool create)
{
	struct uep_epi_diag **pp = &d->b[bucket(epi)];
	for (struct uep_epi_diag *r = *pp; r; r = r->next)
		if (r->epi == epi)
			return r;
	if (!create)
		return NULL;
	struct uep_epi_diag *r = calloc(1, sizeof(*r));
	if (r) {
		r->epi = epi;
		r->next = *pp;
		*pp = r;
	}
	return r;
}

static void et_push(struct uep_ep_diag *d, struct uep_epitem *epi)
{
	if (d->n_et == d->cap_et) {
		size_t cap = d->cap_et ? d->cap_et * 2 : 16;
		struct uep_epitem **n = realloc(d->et, cap * sizeof(*n));
		if (!n)
			return;
		d->et = n;
		d->cap_et = cap;
	}
	d->et[d->n_et++] = epi;
}

void uep_diag_forget(struct uep_eventpoll *ep, struct uep_epitem *epi)
{
	struct uep_ep_diag *d = atomic_load(&ep->diag);
	uep_mutex_lock(&d->lock);
	for (struct uep_epi_diag **pp = &d->b[bucket(epi)]; *pp;
	     pp = &(*pp)->next) {
		if ((*pp)->epi == epi) {
			struct uep_epi_diag *r = *pp;
			*pp = r->next;
			free(r);
			break;
		}
	}
	for (size_t i = 0; i < d->n_et; i++)
		if (d->et[i] == epi)
			d->et[i--] = d->et[--d->n_et];
	uep_mutex_unlock(&d->lock);
}

void uep_diag_free(struct uep_eventpoll *ep)
{
	struct uep_ep_diag *d = atomic_load(&ep->diag);
	if (!d)
		return;
	for (size_t i = 0; i < DIAG_BUCKETS; i++) {
		for (struct uep_epi_diag *r = d->b[i], *n; r; r = n) {
			n = r->next;
			free(r);
		}
	}
	free(d->et);
	uep_mutex_destroy(&d->lock);
	free(d);
}

void uep_diag_item_counters(struct uep_eventpoll *ep, struct uep_epitem *epi,
                            struct uepoll_item_info *info)
{
	struct uep_ep_diag *d = atomic_load(&ep->diag);
	if (!d)
		return;
	uep_mutex_lock(&d->lock);
	struct uep_epi_diag *r = rec(d, epi, false);
	if (r) {
		info->counted = 1;
		info->wakeups = r->wakeups;
		info->harvests = r->harvests;
		info->delivered = r->delivered;
		info->last_ready_ns = r->last_ready_ns;
	}
	uep_mutex_unlock(&d->lock);
}

/* ---- the per-thread memory of the last deliveries (eagain-storm) ---- */

struct delivery {
	const struct uepoll_file *file; /* compared, never dereferenced */
	uint32_t id;
	int epfd, fd;
};
static UEP_TLS struct delivery ring[RING];
static UEP_TLS unsigned ring_at;
#define ME ((const void *)&ring_at) /* this thread, as a token */

/* The herd: this thread's current wake-up and the waiters it woke. */
static UEP_TLS struct {
	unsigned gen;
	const struct uepoll_file *file;
	unsigned woken;
	int first_epfd;
} herd;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- hooks in the engine ---- */

void uep_diag_callback(struct uep_eventpoll *ep, struct uep_epitem *epi,
                       bool waiters)
{
	struct uep_ep_diag *d = table(ep);
	if (d) {
		uep_mutex_lock(&d->lock);
		struct uep_epi_diag *r = rec(d, epi, true);
		if (r) {
			r->wakeups++;
			r->last_ready_ns = now_ns();
		}
		uep_mutex_unlock(&d->lock);
	}
	if (!waiters)
		return;
	int epfd = atomic_load(&ep->diag_epfd);
	if (herd.gen != uep_diag_wake_gen || herd.file != epi->file) {
		herd.gen = uep_diag_wake_gen;
		herd.file = epi->file;
		herd.woken = 0;
		herd.first_epfd = epfd;
	}
	herd.woken++;
	if (herd.woken > ep->herd_max)
		ep->herd_max = herd.woken;
	if (herd.woken >= 2)
		report(UEPOLL_DIAG_HERD, ep->id, epfd, epi->fd, herd.woken,
		       "one wake-up of this file woke waiters of %u instances "
		       "(the first is %d), and only one of them can take an "
		       "accept or a read: register with EPOLLEXCLUSIVE, or "
		       "let the threads share one instance",
		       herd.woken, herd.first_epfd);
}

void uep_diag_polled(struct uep_eventpoll *ep, struct uep_epitem *epi,
                     uint32_t revents)
{
	struct uep_ep_diag *d = table(ep);
	if (!d)
		return;
	uep_mutex_lock(&d->lock);
	struct uep_epi_diag *r = rec(d, epi, true);
	if (r) {
		r->harvests++;
		if (revents) {
			r->delivered++;
			r->starved = 0;
		}
		if ((revents & EPOLLIN) && (epi->events & EPOLLET) &&
		    !(epi->events & EPOLLONESHOT)) {
			if (!r->et_armed && !r->suspect)
				et_push(d, epi);
			r->et_armed = true;
			r->suspect = false;
			r->owner = ME;
			r->drains_at = atomic_load(&epi->file->f_diag_drains);
		}
	}
	uep_mutex_unlock(&d->lock);
	if (revents & EPOLLIN)
		ring[ring_at++ % RING] =
		        (struct delivery){epi->file, ep->id,
		                          atomic_load(&ep->diag_epfd), epi->fd};
}

void uep_diag_harvest_end(struct uep_eventpoll *ep, struct uep_list *left,
                          int delivered, int maxevents)
{
	if (delivered < maxevents || uep_list_empty(left))
		return;
	struct uep_ep_diag *d = table(ep);
	if (!d)
		return;
	struct uep_list *pos;
	uep_list_for_each(pos, left)
	{
		struct uep_epitem *epi =
		        uep_list_entry(pos, struct uep_epitem, rdllink);
		uep_mutex_lock(&d->lock);
		struct uep_epi_diag *r = rec(d, epi, true);
		uint32_t n = r ? ++r->starved : 0;
		uep_mutex_unlock(&d->lock);
		if (n >= STARVE_HARVESTS)
			report(UEPOLL_DIAG_STARVED, ep->id,
			       atomic_load(&ep->diag_epfd), epi->fd, n,
			       "ready, but left on the ready list through %u "
			       "harvests in a row that each filled "
			       "maxevents=%d: the ready items outnumber "
			       "maxevents; pass a larger maxevents",
			       n, maxevents);
	}
}

/* Queued again (a new edge is on its way to the caller)?  mtx held. */
static bool item_queued(struct uep_eventpoll *ep, struct uep_epitem *epi)
{
	uep_mutex_lock(&ep->lock);
	bool q = ep_is_linked(epi) || epi->next != EP_UNACTIVE_PTR;
	uep_mutex_unlock(&ep->lock);
	return q;
}

static void et_report(struct uep_eventpoll *ep, struct uep_epitem *epi)
{
	report(UEPOLL_DIAG_ET_UNREAD, ep->id, atomic_load(&ep->diag_epfd),
	       epi->fd, 1,
	       "EPOLLIN was delivered edge-triggered, the file is still "
	       "readable, and no read returned EAGAIN since: no new edge will "
	       "come for the data left; read (or accept) until EAGAIN, or drop "
	       "EPOLLET");
}

/*
 * One of this thread's items at the start (end = false) or the end of its
 * wait; d->lock held on entry and exit, dropped around the poll.  Returns
 * whether the item stays on the list to check.
 */
static bool et_check(struct uep_eventpoll *ep, struct uep_ep_diag *d,
                     struct uep_epitem *epi, bool end)
{
	struct uep_epi_diag *r = rec(d, epi, false);
	if (!r || (!r->et_armed && !r->suspect))
		return false;
	if (r->owner != ME)
		return true; /* another thread's: its own wait checks it */
	if (end) {
		bool confirm = r->suspect && r->wakeups == r->suspect_wakeups;
		r->suspect = false;
		if (!confirm)
			return r->et_armed;
		uep_mutex_unlock(&d->lock);
		bool still = !item_queued(ep, epi);
		if (still)
			et_report(ep, epi);
		uep_mutex_lock(&d->lock);
		return false;
	}
	if (!r->et_armed)
		return true;
	r->et_armed = false;
	uint32_t drains_at = r->drains_at;
	uint64_t wakeups = r->wakeups;
	uep_mutex_unlock(&d->lock);
	bool bad = atomic_load(&epi->file->f_diag_drains) == drains_at &&
	           (uep_ep_item_poll(epi, NULL) & EPOLLIN) &&
	           !item_queued(ep, epi);
	uep_mutex_lock(&d->lock);
	r = rec(d, epi, false); /* still there: removal needs mtx */
	if (bad && !r->et_armed) {
		r->suspect = true;
		r->suspect_wakeups = wakeups;
	}
	return r->et_armed || r->suspect;
}

/* Run et_check on each of the instance's items to check.  No lock held. */
static void et_scan(struct uep_eventpoll *ep, bool end)
{
	struct uep_ep_diag *d = atomic_load(&ep->diag);
	if (!d)
		return;
	uep_mutex_lock(&ep->mtx);
	/* Items leave only under mtx: those on the list are alive. */
	uep_mutex_lock(&d->lock);
	struct uep_epitem **items = d->et;
	size_t n = d->n_et;
	d->et = NULL;
	d->n_et = d->cap_et = 0;
	for (size_t i = 0; i < n; i++)
		if (et_check(ep, d, items[i], end))
			et_push(d, items[i]);
	uep_mutex_unlock(&d->lock);
	uep_mutex_unlock(&ep->mtx);
	free(items);
}

/*
 * Kernel fds live in the instance's kernel half, which keeps nothing in
 * uepoll; in diagnostic mode their registrations are remembered here (by
 * instance and data, with the file's device and inode), so that the
 * edge-triggered check covers them too.  Their reads go to the kernel
 * unseen, so a suspect (still readable at the owner's next wait) is
 * reported only when that wait times out with nothing delivered: a new
 * edge would have ended it.  A global table under one leaf lock.
 */
struct kreg {
	struct kreg *next;
	uint32_t id;
	int fd;
	uint32_t events;
	uint64_t data;
	dev_t dev;
	ino_t ino;
	bool armed, suspect;
	const void *owner;
};
static struct uep_mutex kreg_lock = UEP_MUTEX_INITIALIZER;
static struct kreg *kreg_tab[DIAG_BUCKETS];
static _Atomic int kreg_armed; /* armed or suspect entries, a hint */

static struct kreg **kreg_slot(uint32_t id, uint64_t data)
{
	return &kreg_tab[(id * 2654435761u ^ (uint32_t)data ^
	                  (uint32_t)(data >> 32)) %
	                 DIAG_BUCKETS];
}

/* The entry of (id, fd) anywhere, with the link to it.  kreg_lock held. */
static struct kreg **kreg_find_fd(uint32_t id, int fd)
{
	for (size_t i = 0; i < DIAG_BUCKETS; i++)
		for (struct kreg **pp = &kreg_tab[i]; *pp; pp = &(*pp)->next)
			if ((*pp)->id == id && (*pp)->fd == fd)
				return pp;
	return NULL;
}

void uep_diag_kernel_ctl(struct uepoll_file *epf, int op, int fd,
                         const struct epoll_event *ev)
{
	if (!uep_is_file_epoll(epf))
		return;
	uint32_t id = ((struct uep_eventpoll *)epf->private_data)->id;
	struct stat st;
	uep_mutex_lock(&kreg_lock);
	struct kreg **pp = kreg_find_fd(id, fd), *k = pp ? *pp : NULL;
	if (k) {
		*pp = k->next;
		if (op == EPOLL_CTL_DEL) {
			free(k);
			k = NULL;
		}
	} else if (op == EPOLL_CTL_ADD && fstat(fd, &st) == 0) {
		k = calloc(1, sizeof(*k));
		if (k) {
			k->id = id;
			k->fd = fd;
			k->dev = st.st_dev;
			k->ino = st.st_ino;
		}
	}
	if (k) {
		k->events = ev->events;
		k->data = ev->data.u64;
		k->armed = k->suspect = false;
		pp = kreg_slot(id, k->data);
		k->next = *pp;
		*pp = k;
	}
	uep_mutex_unlock(&kreg_lock);
}

unsigned long uep_diag_kernel_count(uint32_t id)
{
	unsigned long n = 0;
	uep_mutex_lock(&kreg_lock);
	for (size_t i = 0; i < DIAG_BUCKETS; i++)
		for (struct kreg *k = kreg_tab[i]; k; k = k->next)
			n += k->id == id;
	uep_mutex_unlock(&kreg_lock);
	return n;
}

/* Still the registered file, and readable?  (A closed number reused by
 * another file is not.) */
static bool kreg_readable(const struct kreg *k)
{
	struct stat st;
	struct pollfd p = {.fd = k->fd, .events = POLLIN};
	return fstat(k->fd, &st) == 0 && st.st_dev == k->dev &&
	       st.st_ino == k->ino && poll(&p, 1, 0) == 1 &&
	       (p.revents & POLLIN);
}

static void kreg_scan(struct uep_eventpoll *ep,
                      const struct epoll_event *events, int n)
{
	if (n < 0 && !atomic_load(&kreg_armed))
		return;
	int epfd = atomic_load(&ep->diag_epfd); /* uep_diag_note_epfd's */
	uep_mutex_lock(&kreg_lock);
	for (size_t i = 0; i < DIAG_BUCKETS; i++) {
		for (struct kreg *k = kreg_tab[i]; k; k = k->next) {
			if (k->id != ep->id || k->owner != ME)
				continue;
			if (n < 0 && k->armed) {
				k->armed = false;
				k->suspect = kreg_readable(k);
				atomic_fetch_add(&kreg_armed, k->suspect - 1);
			} else if (n >= 0 && k->suspect) {
				k->suspect = false;
				atomic_fetch_sub(&kreg_armed, 1);
				if (n == 0 && kreg_readable(k))
					report(UEPOLL_DIAG_ET_UNREAD, ep->id,
					       epfd, k->fd, 1,
					       "EPOLLIN was delivered "
					       "edge-triggered and the file is "
					       "still readable, but this wait "
					       "timed out: no new edge comes "
					       "for "
					       "the data left; read until "
					       "EAGAIN, or drop EPOLLET");
			}
		}
	}
	/* Arm the edge-triggered ones this wait delivered EPOLLIN for. */
	for (int j = 0; j < n; j++) {
		if (!(events[j].events & EPOLLIN))
			continue;
		struct kreg *hit = NULL;
		int hits = 0;
		for (struct kreg *k = *kreg_slot(ep->id, events[j].data.u64); k;
		     k = k->next)
			if (k->id == ep->id && k->data == events[j].data.u64) {
				hit = k;
				hits++;
			}
		/* Two registrations with one data: which fired is unknown. */
		if (hits != 1 || !(hit->events & EPOLLET) ||
		    (hit->events & EPOLLONESHOT))
			continue;
		if (!hit->armed && !hit->suspect)
			atomic_fetch_add(&kreg_armed, 1);
		if (hit->suspect)
			hit->suspect = false;
		hit->armed = true;
		hit->owner = ME;
	}
	uep_mutex_unlock(&kreg_lock);
}

void uep_diag_wait(struct uepoll_file *epf, int epfd,
                   const struct epoll_event *events, int n)
{
	if (!uep_is_file_epoll(epf))
		return;
	uep_diag_note_epfd(epf, epfd);
	et_scan(epf->private_data, n >= 0);
	kreg_scan(epf->private_data, events, n);
}

/* ---- hooks in the API ---- */

void uep_diag_note_epfd(struct uepoll_file *epf, int epfd)
{
	if (uep_is_file_epoll(epf)) {
		struct uep_eventpoll *ep = epf->private_data;
		/* The preload's instance: the program holds its kernel half. */
		if (ep->kernel_only)
			epfd = atomic_load_explicit(&ep->kfd,
			                            memory_order_relaxed);
		atomic_store_explicit(&ep->diag_epfd, epfd,
		                      memory_order_relaxed);
	}
}

void uep_diag_read(struct uepoll_file *f, long r)
{
	if (r == -EAGAIN || r == 0)
		atomic_fetch_add(&f->f_diag_drains, 1);
	struct delivery *dv = NULL;
	for (unsigned i = 0; i < RING && !dv; i++) {
		struct delivery *c = &ring[(ring_at - 1 - i) % RING];
		if (c->file == f)
			dv = c;
	}
	if (!dv)
		return;
	dv->file = NULL; /* only the first read after a delivery counts */
	uint32_t firsts = atomic_fetch_add(&f->f_diag_firsts, 1) + 1;
	if (r != -EAGAIN)
		return;
	uint32_t wasted = atomic_fetch_add(&f->f_diag_wasted, 1) + 1;
	if (wasted >= STORM_MIN && wasted * 2 >= firsts)
		report(UEPOLL_DIAG_EAGAIN_STORM, dv->id, dv->epfd, dv->fd,
		       wasted,
		       "%u of the %u first reads after an EPOLLIN event "
		       "returned EAGAIN: several threads or instances are "
		       "woken "
		       "for the same data; use EPOLLEXCLUSIVE or "
		       "EPOLLET|EPOLLONESHOT, or one waiter per descriptor",
		       wasted, firsts);
}

void uep_diag_close(int fd)
{
	struct uepoll_file *f = uep_fget(fd);
	if (!f)
		return;
	struct {
		uint32_t id;
		int epfd;
	} w[8];
	int n = 0;
	uep_mutex_lock(&f->f_lock);
	for (struct uep_epitem *epi = f->f_ep; epi && n < 8; epi = epi->fnext)
		if (epi->fd == fd) {
			w[n].id = epi->ep->id;
			w[n++].epfd = atomic_load(&epi->ep->diag_epfd);
		}
	uep_mutex_unlock(&f->f_lock);
	/* Ours, the table's for fd, and at least one more. */
	bool stays = atomic_load(&f->f_count) > 2;
	uep_file_put(f);
	for (int i = 0; stays && i < n; i++)
		report(UEPOLL_DIAG_CLOSED_WATCHED, w[i].id, w[i].epfd, fd, 1,
		       "closed while registered, and another descriptor (a "
		       "dup) keeps its file open: the registration survives, "
		       "events keep coming for a number that is closed, and "
		       "EPOLL_CTL_DEL with it now fails (EBADF); call "
		       "EPOLL_CTL_DEL before close()");
}
