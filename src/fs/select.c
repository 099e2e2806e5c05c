/*
 * poll(2) and blocking I/O over uepoll files (the kernel's fs/select.c):
 * the first pass hooks one entry per wait queue each file's poll names,
 * later passes only re-poll; any wake-up whose key matches an entry's
 * events wakes the polling thread.  Cost: O(n) per pass, the contrast
 * that makes epoll worth having.
 */
#include "fs/select.h"

#include <errno.h>
#include <stdlib.h>

#include "fs/fdtable.h"
#include "kfd/host.h"

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

static void poll_init(struct poll_wqueues *pwq, const sigset_t *sigmask)
{
	pwq->pt.qproc = pollwait;
	pwq->pt.key = 0;
	pwq->error = 0;
	pwq->inline_used = 0;
	pwq->chunks = NULL;
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

/* One pollfd: its revents, hooking pt on its queues when pt is given. */
static uint32_t poll_one(struct pollfd *p, struct uepoll_poll_table *pt)
{
	if (p->fd < 0)
		return 0;
	uint32_t want = (uint16_t)p->events | POLLERR | POLLHUP;
	uint32_t mask;
	int err;
	struct uepoll_file *f = uep_fget_any(p->fd, &err);
	if (!f) /* a regular file is always ready, as poll(2) says */
		return err == -EPERM
		               ? (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM) &
		                         want
		               : POLLNVAL;
	if (pt)
		pt->key = want;
	mask = uep_vfs_poll(f, pt) & want;
	uep_file_put(f);
	return mask;
}

int uep_do_poll(struct pollfd *fds, nfds_t nfds, const struct uep_deadline *dl,
                const sigset_t *sigmask)
{
	struct poll_wqueues pwq;
	struct uepoll_poll_table *pt = &pwq.pt;
	bool timed_out = dl->kind == UEP_DL_NOWAIT;
	bool interrupted = false;
	int count;

	poll_init(&pwq, sigmask);
	uep_sleep_source_poll();
	if (timed_out)
		pt = NULL;
	for (;;) {
		count = 0;
		for (nfds_t i = 0; i < nfds; i++) {
			uint32_t mask = poll_one(&fds[i], pt);
			fds[i].revents = (short)mask;
			if (mask) {
				count++;
				pt = NULL; /* one ready is enough: hook no more
				            */
			}
		}
		pt = NULL;
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
		int r = uep_waiter_sleep(&pwq.waiter, dl, sigmask, false);
		/* A full fence: the re-poll below reads without locks. */
		uep_waiter_reset(&pwq.waiter);
		if (r == -ETIMEDOUT)
			timed_out = true;
		else if (r == -EINTR)
			interrupted = true;
	}
	poll_free(&pwq);
	return count;
}

int uep_file_wait_ready(struct uepoll_file *f, uint32_t want)
{
	struct poll_wqueues pwq;
	struct uepoll_poll_table *pt = &pwq.pt;
	struct uep_deadline forever = {.kind = UEP_DL_FOREVER};
	int ret;

	poll_init(&pwq, NULL);
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
