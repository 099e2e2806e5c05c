/*
 * pipe: 16 slots of one 4096-byte page each (fs/pipe.c), so that the masks
 * follow the kernel's: the write end is OUT while a slot is free (not while
 * a byte is free), the read end IN while any slot holds data.  A write
 * first tops up the last slot when its remainder fits there, then takes
 * whole slots; a write of at most PIPE_BUF bytes is therefore all or
 * nothing.  Every write wakes the readers' queue (epoll relies on it: a
 * second write without a read is a new edge), a read that frees a slot of
 * a full pipe wakes the writers' queue, and the last reader or writer leaving
 * wakes both with key 0.  A writer with O_DIRECT writes packets (a slot is
 * never topped up, and a read takes at most one packet, dropping its rest).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fdtable.h"
#include "fs/file.h"
#include "fs/objects.h"

#define PIPE_SLOTS 16
#define PIPE_PAGE 4096

struct pipe_slot {
	char *page;
	uint32_t offset, len;
	bool packet; /* written in packet mode (O_DIRECT): never merged */
};

struct pipe_inode {
	struct uep_mutex mutex; /* everything below but the queues */
	struct uepoll_wait_queue rd_wait, wr_wait;
	unsigned head, tail; /* free-running slot counters */
	int readers, writers;
	char *spare; /* one cached page */
	struct pipe_slot slots[PIPE_SLOTS];
};

static const struct uepoll_file_operations pipe_fops;

static bool pipe_empty(const struct pipe_inode *p)
{
	return p->head == p->tail;
}

static bool pipe_full(const struct pipe_inode *p)
{
	return p->head - p->tail >= PIPE_SLOTS;
}

static uint32_t pipe_poll(struct uepoll_file *f, struct uepoll_poll_table *pt)
{
	struct pipe_inode *p = f->private_data;
	uint32_t mask = 0;
	if (f->f_mode & UEP_FMODE_READ)
		uepoll_poll_wait(f, &p->rd_wait, pt);
	if (f->f_mode & UEP_FMODE_WRITE)
		uepoll_poll_wait(f, &p->wr_wait, pt);
	uep_mutex_lock(&p->mutex);
	if (f->f_mode & UEP_FMODE_READ) {
		if (!pipe_empty(p))
			mask |= EPOLLIN | EPOLLRDNORM;
		if (!p->writers)
			mask |= EPOLLHUP;
	}
	if (f->f_mode & UEP_FMODE_WRITE) {
		if (!pipe_full(p))
			mask |= EPOLLOUT | EPOLLWRNORM;
		if (!p->readers)
			mask |= EPOLLERR;
	}
	uep_mutex_unlock(&p->mutex);
	return mask;
}

static ssize_t pipe_read(struct uepoll_file *f, void *buf, size_t n)
{
	struct pipe_inode *p = f->private_data;
	size_t ret = 0;
	if (n == 0)
		return 0;
	uep_mutex_lock(&p->mutex);
	bool was_full = pipe_full(p);
	while (!pipe_empty(p) && ret < n) {
		struct pipe_slot *s = &p->slots[p->tail % PIPE_SLOTS];
		size_t chunk = n - ret < s->len ? n - ret : s->len;
		memcpy((char *)buf + ret, s->page + s->offset, chunk);
		s->offset += (uint32_t)chunk;
		s->len -= (uint32_t)chunk;
		ret += chunk;
		/* A packet is read at most once: its rest is dropped. */
		bool packet = s->packet;
		if (packet)
			s->len = 0;
		if (s->len == 0) {
			if (!p->spare)
				p->spare = s->page;
			else
				free(s->page);
			s->page = NULL;
			p->tail++;
		}
		if (packet)
			break;
	}
	bool eof = ret == 0 && !p->writers;
	/* Writers hear of it only if this read made the full pipe writable. */
	bool wake_writer = was_full && !pipe_full(p);
	uep_mutex_unlock(&p->mutex);
	if (ret == 0)
		return eof ? 0 : -EAGAIN;
	if (wake_writer)
		uep_wake_up(&p->wr_wait, EPOLLOUT | EPOLLWRNORM);
	return (ssize_t)ret;
}

/* FIONREAD: the bytes in the pipe (either end, as Linux). */
int uep_pipe_nread(struct uepoll_file *f)
{
	if (f->f_op != &pipe_fops)
		return -ENOTTY;
	struct pipe_inode *p = f->private_data;
	size_t n = 0;
	uep_mutex_lock(&p->mutex);
	for (unsigned i = p->tail; i != p->head; i++)
		n += p->slots[i % PIPE_SLOTS].len;
	uep_mutex_unlock(&p->mutex);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

static char *page_get(struct pipe_inode *p)
{
	char *page = p->spare;
	if (page) {
		p->spare = NULL;
		return page;
	}
	return malloc(PIPE_PAGE);
}

static ssize_t pipe_write(struct uepoll_file *f, const void *buf, size_t n)
{
	struct pipe_inode *p = f->private_data;
	const char *src = buf;
	ssize_t ret = 0;
	if (n == 0)
		return 0;
	uep_mutex_lock(&p->mutex);
	if (!p->readers) {
		ret = -EPIPE;
		goto out;
	}
	/*
	 * Top up the last slot with the sub-page remainder if it all fits and
	 * that slot is not a packet (as the kernel, even when this write is
	 * one); in packet mode (the writer's O_DIRECT) every new page is a
	 * packet.
	 */
	bool packet = atomic_load_explicit(&f->f_flags, memory_order_relaxed) &
	              O_DIRECT;
	size_t chars = n % PIPE_PAGE;
	if (chars && !pipe_empty(p)) {
		struct pipe_slot *s = &p->slots[(p->head - 1) % PIPE_SLOTS];
		if (!s->packet && s->offset + s->len + chars <= PIPE_PAGE) {
			memcpy(s->page + s->offset + s->len, src, chars);
			s->len += (uint32_t)chars;
			ret = (ssize_t)chars;
		}
	}
	while ((size_t)ret < n) {
		if (pipe_full(p)) {
			if (!ret)
				ret = -EAGAIN;
			break;
		}
		char *page = page_get(p);
		if (!page) {
			if (!ret)
				ret = -ENOMEM;
			break;
		}
		size_t chunk = n - (size_t)ret;
		if (chunk > PIPE_PAGE)
			chunk = PIPE_PAGE;
		memcpy(page, src + ret, chunk);
		p->slots[p->head % PIPE_SLOTS] =
		        (struct pipe_slot){page, 0, (uint32_t)chunk, packet};
		p->head++;
		ret += (ssize_t)chunk;
	}
out:
	uep_mutex_unlock(&p->mutex);
	/* Even a failed write wakes readers, as the kernel's does. */
	uep_wake_up(&p->rd_wait, EPOLLIN | EPOLLRDNORM);
	if (ret == -EPIPE)
		pthread_kill(pthread_self(), SIGPIPE);
	return ret;
}

static void pipe_free(struct pipe_inode *p)
{
	while (!pipe_empty(p))
		free(p->slots[p->tail++ % PIPE_SLOTS].page);
	free(p->spare);
	uep_wq_destroy(&p->rd_wait);
	uep_wq_destroy(&p->wr_wait);
	uep_mutex_destroy(&p->mutex);
	free(p);
}

static void pipe_release(struct uepoll_file *f)
{
	struct pipe_inode *p = f->private_data;
	uep_mutex_lock(&p->mutex);
	if (f->f_mode & UEP_FMODE_READ)
		p->readers--;
	if (f->f_mode & UEP_FMODE_WRITE)
		p->writers--;
	bool gone = !p->readers && !p->writers;
	/*
	 * The last reader or writer left: both sides' masks changed.  Wake
	 * with the mutex held (callbacks take only ep->lock), or the other
	 * end's release could free the queues under our feet.
	 */
	if (!gone) {
		uep_wake_up_all(&p->rd_wait, 0);
		uep_wake_up_all(&p->wr_wait, 0);
	}
	uep_mutex_unlock(&p->mutex);
	if (gone)
		pipe_free(p);
}

static const struct uepoll_file_operations pipe_fops = {
        .poll = pipe_poll,
        .read = pipe_read,
        .write = pipe_write,
        .release = pipe_release,
};

/*
 * F_SETPIPE_SZ: the capacity is fixed, so only a size that rounds to it
 * (round_pipe_size: a power of two of at least a page) succeeds.  A resize
 * wakes the writers even when nothing changed, as pipe_resize_ring does.
 */
int uep_pipe_set_size(struct uepoll_file *f, unsigned size)
{
	struct pipe_inode *p = f->private_data;
	if (size <= UEP_PIPE_SIZE / 2 || size > UEP_PIPE_SIZE)
		return -EINVAL;
	uep_wake_up(&p->wr_wait, 0);
	return UEP_PIPE_SIZE;
}

bool uep_is_file_pipe(const struct uepoll_file *f)
{
	return f->f_op == &pipe_fops;
}

int uep_pipe_create(int fds[2], int flags)
{
	if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
		return -EINVAL;
	struct pipe_inode *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	uep_mutex_init(&p->mutex);
	uep_wq_init(&p->rd_wait);
	uep_wq_init(&p->wr_wait);
	p->readers = p->writers = 1;
	int nb = flags & O_NONBLOCK;
	struct uepoll_file *r = uep_file_alloc(&pipe_fops, p, O_RDONLY | nb);
	/* O_DIRECT (packet mode) is the write end's only, as in the kernel. */
	struct uepoll_file *w =
	        r ? uep_file_alloc(&pipe_fops, p,
	                           O_WRONLY | nb | (flags & O_DIRECT))
	          : NULL;
	if (!w) {
		if (r) {
			uep_mutex_destroy(&r->f_lock);
			free(r);
		}
		pipe_free(p);
		return -ENOMEM;
	}
	/* From here on the files own p: puts and closes release it. */
	int rfd = uep_file_install(r, flags);
	if (rfd < 0) {
		uep_file_put(w);
		return rfd;
	}
	int wfd = uep_file_install(w, flags);
	if (wfd < 0) {
		uep_fd_close(rfd);
		return wfd;
	}
	fds[0] = rfd;
	fds[1] = wfd;
	return 0;
}
