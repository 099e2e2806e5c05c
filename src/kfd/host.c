/*
 * The host bridge: kernel fds as uepoll files (see host.h), and the epoll
 * fallback backend.
 *
 * Host files are keyed by fd number in a table that holds one reference
 * each; uepoll_close() of the number (or a new file found at the number,
 * detected by device and inode) forgets the old one, and its registrations
 * go with it.  The table lock is taken alone, or inside ep->mtx (a harvest
 * never takes it; ctl does through uep_host_fget), never under ep->lock or
 * a queue lock: backends call uep_host_ready() from dispatch, which runs
 * with no uepoll lock held.
 */
#include "kfd/host.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fdtable.h"
#include "lib/sync.h"
#include "kernel/waitqueue.h"

/* Events that input-side and output-side wake-ups carry in the kernel. */
#define HOST_IN_EVENTS                                                         \
	(EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND | EPOLLRDHUP)
#define HOST_OUT_EVENTS (EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND)
#define HOST_ALL_EVENTS (HOST_IN_EVENTS | HOST_OUT_EVENTS | EPOLLERR | EPOLLHUP)

struct host_file {
	struct uepoll_wait_queue wq;
	int fd;
	dev_t dev;
	ino_t ino;
	struct uepoll_file *file;
};

static pthread_mutex_t host_lock = PTHREAD_MUTEX_INITIALIZER;
static struct host_file **table; /* by fd, under host_lock */
static size_t table_len;
static const struct uep_host_backend *backend; /* set once, under lock */
static int backend_error;

/* ---- the host file ---- */

static uint32_t host_poll(struct uepoll_file *f, struct uepoll_poll_table *pt)
{
	struct host_file *h = f->private_data;
	uepoll_poll_wait(f, &h->wq, pt);
	struct pollfd p = {.fd = h->fd, .events = HOST_ALL_EVENTS};
	if (poll(&p, 1, 0) <= 0 || (p.revents & POLLNVAL))
		return 0;
	return (uint16_t)p.revents;
}

static void host_release(struct uepoll_file *f)
{
	struct host_file *h = f->private_data;
	backend->del(h->fd);
	uep_wq_destroy(&h->wq);
	free(h);
}

static const struct uepoll_file_operations host_fops = {
        .poll = host_poll,
        .release = host_release,
};

/* ---- backend selection ---- */

static void sleep_dispatch(void)
{
	backend->dispatch();
}

static int sleep_fds(int out[2])
{
	return backend->fds(out);
}

static const struct uep_sleep_source host_source = {
        .fds = sleep_fds,
        .dispatch = sleep_dispatch,
};

/* Must be called with host_lock held. */
static int backend_start(void)
{
	if (backend)
		return 0;
	if (backend_error)
		return backend_error;
	const char *want = getenv("UEPOLL_BACKEND");
	const struct uep_host_backend *cands[2];
	int n = 0;
#ifdef UEP_HAVE_LIBURING
	if (!want || strcmp(want, "uring") == 0)
		cands[n++] = &uep_host_uring_backend;
#endif
	if (!want || strcmp(want, "epoll") == 0)
		cands[n++] = &uep_host_epoll_backend;
	int err = -ENOSYS;
	for (int i = 0; i < n; i++) {
		err = cands[i]->init();
		if (err == 0) {
			backend = cands[i];
			uep_sleep_source_set(&host_source);
			return 0;
		}
	}
	backend_error = err;
	return err;
}

const char *uep_host_backend_name(void)
{
	pthread_mutex_lock(&host_lock);
	const char *name = backend ? backend->name : "none";
	pthread_mutex_unlock(&host_lock);
	return name;
}

/* ---- the table ---- */

static int table_grow(size_t fd)
{
	if (fd < table_len)
		return 0;
	size_t len = table_len ? table_len : 1024;
	while (len <= fd)
		len *= 2;
	struct host_file **t = realloc(table, len * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t + table_len, 0, (len - table_len) * sizeof(*t));
	table = t;
	table_len = len;
	return 0;
}

/* Take h out of the table; the caller puts its reference. */
static struct uepoll_file *table_take(int fd)
{
	struct host_file *h = (size_t)fd < table_len ? table[fd] : NULL;
	if (!h)
		return NULL;
	table[fd] = NULL;
	return h->file;
}

struct uepoll_file *uep_host_fget(int fd, int *err)
{
	struct stat st;
	struct uepoll_file *stale = NULL, *f = NULL;
	if (fd < 0 || fstat(fd, &st) < 0) {
		*err = -EBADF;
		return NULL;
	}
	/* epoll refuses files whose poll is the default one. */
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		*err = -EPERM;
		return NULL;
	}
	pthread_mutex_lock(&host_lock);
	struct host_file *h = (size_t)fd < table_len ? table[fd] : NULL;
	if (h && (h->dev != st.st_dev || h->ino != st.st_ino)) {
		/* The number was closed behind our back and reused. */
		stale = table_take(fd);
		h = NULL;
	}
	if (h) {
		uep_file_get(h->file);
		f = h->file;
		goto out;
	}
	*err = backend_start();
	if (*err)
		goto out;
	*err = table_grow((size_t)fd);
	if (*err)
		goto out;
	h = calloc(1, sizeof(*h));
	f = h ? uep_file_alloc(&host_fops, h, O_RDWR) : NULL;
	if (!f) {
		free(h);
		*err = -ENOMEM;
		goto out;
	}
	uep_wq_init(&h->wq);
	h->fd = fd;
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	h->file = f;
	*err = backend->add(fd);
	if (*err) {
		uep_wq_destroy(&h->wq);
		uep_mutex_destroy(&f->f_lock);
		free(f);
		free(h);
		f = NULL;
		goto out;
	}
	table[fd] = h;
	uep_file_get(f); /* the table's reference */
out:
	pthread_mutex_unlock(&host_lock);
	if (stale)
		uep_file_put(stale);
	return f;
}

bool uep_is_host_file(const struct uepoll_file *f)
{
	return f->f_op == &host_fops;
}

void uep_host_forget(int fd)
{
	if (fd < 0)
		return;
	pthread_mutex_lock(&host_lock);
	struct uepoll_file *f = table_take(fd);
	pthread_mutex_unlock(&host_lock);
	if (f)
		uep_file_put(f);
}

void uep_host_ready(int fd, uint32_t key)
{
	struct uepoll_file *f = NULL;
	pthread_mutex_lock(&host_lock);
	if (fd >= 0 && (size_t)fd < table_len && table[fd]) {
		f = table[fd]->file;
		uep_file_get(f);
	}
	pthread_mutex_unlock(&host_lock);
	if (!f)
		return;
	struct host_file *h = f->private_data;
	uep_wake_up(&h->wq, key);
	uep_file_put(f);
}

/* ---- the epoll fallback backend ---- */

static int ep_in = -1, ep_out = -1;

static int epb_init(void)
{
	ep_in = epoll_create1(EPOLL_CLOEXEC);
	ep_out = epoll_create1(EPOLL_CLOEXEC);
	if (ep_in < 0 || ep_out < 0) {
		int e = -errno;
		if (ep_in >= 0)
			close(ep_in);
		if (ep_out >= 0)
			close(ep_out);
		ep_in = ep_out = -1;
		return e;
	}
	return 0;
}

static int epb_add(int fd)
{
	struct epoll_event in = {.events = HOST_IN_EVENTS | EPOLLET,
	                         .data.fd = fd};
	struct epoll_event out = {.events = HOST_OUT_EVENTS | EPOLLET,
	                          .data.fd = fd};
	if (epoll_ctl(ep_in, EPOLL_CTL_ADD, fd, &in) < 0)
		return -errno;
	if (epoll_ctl(ep_out, EPOLL_CTL_ADD, fd, &out) < 0) {
		int e = -errno;
		epoll_ctl(ep_in, EPOLL_CTL_DEL, fd, NULL);
		return e;
	}
	return 0;
}

static void epb_del(int fd)
{
	/* EBADF/ENOENT: closed already, and the kernel dropped it. */
	epoll_ctl(ep_in, EPOLL_CTL_DEL, fd, NULL);
	epoll_ctl(ep_out, EPOLL_CTL_DEL, fd, NULL);
}

static int epb_fds(int out[2])
{
	out[0] = ep_in;
	out[1] = ep_out;
	return 2;
}

static void epb_drain(int epfd, uint32_t side)
{
	struct epoll_event evs[64];
	int n;
	do {
		n = epoll_wait(epfd, evs, 64, 0);
		for (int i = 0; i < n; i++)
			uep_host_ready(evs[i].data.fd,
			               (evs[i].events & side) |
			                       (evs[i].events &
			                        (EPOLLERR | EPOLLHUP)));
	} while (n == 64);
}

static void epb_dispatch(void)
{
	epb_drain(ep_in, HOST_IN_EVENTS);
	epb_drain(ep_out, HOST_OUT_EVENTS);
}

const struct uep_host_backend uep_host_epoll_backend = {
        .name = "epoll",
        .init = epb_init,
        .add = epb_add,
        .del = epb_del,
        .fds = epb_fds,
        .dispatch = epb_dispatch,
};

/* fork (fs/fork.c): hold the host table's lock across it. */
void uep_host_fork_lock(bool lock)
{
	if (lock)
		pthread_mutex_lock(&host_lock);
	else
		pthread_mutex_unlock(&host_lock);
}
