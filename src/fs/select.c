/*
 * poll(2) and blocking I/O over uepoll files (the kernel's fs/select.c):
 * the first pass hooks one entry per wait queue each file's poll names,
 * later passes only re-poll; any wake-up whose key matches an entry's
 * events wakes the polling thread.  Cost: O(n) per pass, the contrast
 * that makes epoll worth having.
 */
#include "fs/select.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "fs/eventpoll.h"
#include "fs/fdtable.h"

#define INLINE_ENTRIES 8
#define CHUNK_ENTRIES 64

struct poll_entry {
	struct uep_wait_entry wait;
	struct uepoll_file *file; /* a reference: keeps wq alive */
	struct uepoll_wait_queue *wq;
	struct poll_wqueues *pwq;
	uint32_t key;
};

struct poll_chunk {
	struct poll_chunk *next;
	int used;
	struct poll_entry entries[CHUNK_ENTRIES];
};

struct poll_wqueues {
	struct uepoll_poll_table pt;
	struct uep_waiter waiter;
	int error;
	int inline_used;
	struct poll_chunk *chunks;
	struct poll_entry inline_entries[INLINE_ENTRIES];
};

static int pollwake(struct uep_wait_entry *wait, uint32_t key)
{
	struct poll_entry *e = uep_container_of(wait, struct poll_entry, wait);
	if (key && !(key & e->key))
		return 0;
	return uep_waiter_wake(&e->pwq->waiter);
}

static struct poll_entry *entry_alloc(struct poll_wqueues *pwq)
{
	if (pwq->inline_used < INLINE_ENTRIES)
		return &pwq->inline_entries[pwq->inline_used++];
	struct poll_chunk *c = pwq->chunks;
	if (!c || c->used == CHUNK_ENTRIES) {
		c = malloc(sizeof(*c));
		if (!c)
			return NULL;
		c->used = 0;
		c->next = pwq->chunks;
		pwq->chunks = c;
	}
	return &c->entries[c->used++];
}

static void pollwait(struct uepoll_file *file, struct uepoll_wait_queue *wq,
                     struct uepoll_poll_table *pt)
{
	struct poll_wqueues *pwq =
	        uep_container_of(pt, struct poll_wqueues, pt);
	struct poll_entry *e = entry_alloc(pwq);
	if (!e) {
		pwq->error = -ENOMEM;
		return;
	}
	/*
	 * The queue belongs to the file, and poll_one() drops its lookup's
	 * reference at once: without one of our own, a close by another
	 * thread would free the queue we sleep on (the kernel's __pollwait
	 * takes one too, dropped in free_poll_entry).
	 */
	uep_file_get(file);
	e->file = file;
	e->wq = wq;
	e->pwq = pwq;
	e->key = pt->key;
	e->wait.func = pollwake;
	e->wait.flags = 0;
	e->wait.owner_bits = 0;
	uep_list_init(&e->wait.link);
	uep_wq_add(wq, &e->wait);
}

/* kernel: the sleep will also watch kernel fds (uep_waiter_sleep_fds). */
static void poll_init(struct poll_wqueues *pwq, const sigset_t *sigmask,
                      bool kernel)
{
	pwq->pt.qproc = pollwait;
	pwq->pt.key = 0;
	pwq->error = 0;
	pwq->inline_used = 0;
	pwq->chunks = NULL;
	if (kernel)
		uep_waiter_init_fds(&pwq->waiter, sigmask);
	else
		uep_waiter_init(&pwq->waiter, sigmask);
}

/* Unhook, then drop the file (its last put may free the queue). */
static void entry_free(struct poll_entry *e)
{
	uep_wq_del(e->wq, &e->wait);
	uep_file_put(e->file);
}

/* Unhook every entry; after this no wake-up can touch pwq. */
static void poll_free(struct poll_wqueues *pwq)
{
	for (int i = 0; i < pwq->inline_used; i++)
		entry_free(&pwq->inline_entries[i]);
	struct poll_chunk *c = pwq->chunks, *next;
	for (; c; c = next) {
		next = c->next;
		for (int i = 0; i < c->used; i++)
			entry_free(&c->entries[i]);
		free(c);
	}
}

/*
 * The kernel fds of a poll set: slot 0 is the thread's eventfd (for
 * uep_waiter_sleep_fds), then the caller's kernel fds (at[i] = their index
 * in the caller's array) and the kernel halves of polled instances (at[i]
 * = -1: they only wake the sleep).
 */
struct kset {
	struct pollfd *p;
	nfds_t *at;
	nfds_t n;
	struct pollfd small_p[9];
	nfds_t small_at[9];
};

static int kset_init(struct kset *k, nfds_t nfds)
{
	k->n = 1;
	if (nfds + 1 <= 9) {
		k->p = k->small_p;
		k->at = k->small_at;
		return 0;
	}
	k->p = malloc((nfds + 1) * sizeof(*k->p));
	k->at = malloc((nfds + 1) * sizeof(*k->at));
	if (!k->p || !k->at)
		return -ENOMEM;
	return 0;
}

static void kset_free(struct kset *k)
{
	if (k->p != k->small_p) {
		free(k->p);
		free(k->at);
	}
}

static void kset_add(struct kset *k, int fd, short events, nfds_t at)
{
	k->p[k->n] = (struct pollfd){.fd = fd, .events = events};
	k->at[k->n++] = at;
}

/* One uepoll pollfd: its revents, hooking pt on its queues when given. */
static uint32_t poll_one(struct pollfd *p, struct uepoll_poll_table *pt,
                         struct kset *k)
{
	uint32_t want = (uint16_t)p->events | POLLERR | POLLHUP;
	uint32_t mask;
	struct uepoll_file *f = uep_fget(p->fd);
	if (!f)
		return POLLNVAL;
	if (pt)
		pt->key = want;
	mask = uep_vfs_poll(f, pt) & want;
	int kfd = uep_ep_kfd(f);
	if (kfd >= 0)
		kset_add(k, kfd, POLLIN, (nfds_t)-1);
	uep_file_put(f);
	return mask;
}

/* One pass over the set: the number of ready entries, or -errno. */
static int poll_pass(struct pollfd *fds, nfds_t nfds,
                     struct uepoll_poll_table **ppt, struct kset *k)
{
	int count = 0;
	k->n = 1;
	for (nfds_t i = 0; i < nfds; i++) {
		fds[i].revents = 0;
		if (fds[i].fd < 0)
			continue;
		if (!uep_is_uepoll_fd(fds[i].fd)) {
			kset_add(k, fds[i].fd, fds[i].events, i);
			continue;
		}
		uint32_t mask = poll_one(&fds[i], *ppt, k);
		fds[i].revents = (short)mask;
		if (mask) {
			count++;
			*ppt = NULL; /* one ready is enough: hook no more */
		}
	}
	*ppt = NULL;
	/* The kernel's fds, all in one poll. */
	bool any = false;
	for (nfds_t j = 1; j < k->n; j++)
		any |= k->at[j] != (nfds_t)-1;
	if (!any)
		return count;
	/* (The instances' kernel halves are polled too, and ignored.) */
	if (poll(k->p + 1, k->n - 1, 0) < 0)
		return -errno;
	for (nfds_t j = 1; j < k->n; j++) {
		if (k->at[j] == (nfds_t)-1)
			continue;
		fds[k->at[j]].revents = k->p[j].revents;
		if (k->p[j].revents)
			count++;
	}
	return count;
}

/*
 * poll over a mixed set: the uepoll entries hook on their queues; the
 * kernel fds, and the kernel halves of polled instances, are watched by
 * the sleep itself (one ppoll with the thread's eventfd), chosen at each
 * pass, so a first call is never blind to them.
 */
int uep_do_poll(struct pollfd *fds, nfds_t nfds, const struct uep_deadline *dl,
                const sigset_t *sigmask)
{
	struct poll_wqueues pwq;
	struct uepoll_poll_table *pt;
	struct kset k;
	bool timed_out = dl->kind == UEP_DL_NOWAIT;
	bool interrupted = false, kernel = false;
	int count;

	if (kset_init(&k, nfds) < 0) {
		kset_free(&k);
		return -ENOMEM;
	}
restart:
	poll_init(&pwq, sigmask, kernel);
	pt = timed_out ? NULL : &pwq.pt;
	for (;;) {
		count = poll_pass(fds, nfds, &pt, &k);
		if (count || timed_out)
			break;
		if (pwq.error) {
			count = pwq.error;
			break;
		}
		if (interrupted) {
			count = -EINTR;
			break;
		}
		if (k.n > 1 && !kernel) {
			/* Kernel fds to watch: again, with a waiter for it. */
			poll_free(&pwq);
			kernel = true;
			goto restart;
		}
		int r = k.n > 1 ? uep_waiter_sleep_fds(&pwq.waiter, dl, sigmask,
		                                       k.p, (unsigned)k.n)
		                : uep_waiter_sleep(&pwq.waiter, dl, sigmask,
		                                   false);
		/* A full fence: the re-poll below reads without locks. */
		uep_waiter_reset(&pwq.waiter);
		if (r == -ETIMEDOUT)
			timed_out = true;
		else if (r == -EINTR)
			interrupted = true;
	}
	poll_free(&pwq);
	kset_free(&k);
	return count;
}

int uep_file_wait_ready(struct uepoll_file *f, uint32_t want)
{
	struct poll_wqueues pwq;
	struct uepoll_poll_table *pt = &pwq.pt;
	struct uep_deadline forever = {.kind = UEP_DL_FOREVER};
	int ret;

	poll_init(&pwq, NULL, false);
	pwq.pt.key = want | EPOLLERR | EPOLLHUP;
	for (;;) {
		uint32_t mask = uep_vfs_poll(f, pt);
		pt = NULL;
		if (mask & want) {
			ret = (int)mask;
			break;
		}
		if (pwq.error) {
			ret = pwq.error;
			break;
		}
		/* restart=true: after an SA_RESTART handler keep sleeping. */
		int r = uep_waiter_sleep(&pwq.waiter, &forever, NULL, true);
		/* A full fence: the re-poll below reads without locks. */
		uep_waiter_reset(&pwq.waiter);
		if (r == -EINTR) {
			ret = -EINTR;
			break;
		}
	}
	poll_free(&pwq);
	return ret;
}
