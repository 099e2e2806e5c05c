/*
 * The proxy table.  Every epoll fd the preload hands out is a kernel
 * eventfd (the proxy): a real kernel fd that poll, select and the kernel's
 * epoll can watch.  Behind it is a uepoll instance, which writes the
 * eventfd whenever it wakes its pollers (uepoll_notify); after each wait
 * the preload clears the eventfd unless the instance is still readable
 * (proxy_sync).  So the proxy is readable when the instance has ready
 * items, and not after they are consumed.
 *
 * Each proxy number holds its own uepoll descriptor of the instance (a
 * uepoll_dup), as each kernel fd number of an epoll file is its own fd:
 * registering two dups of one epoll fd in a third gives two registrations,
 * and the instance lives until its last number is closed.  The instance
 * notifies through one of its proxy numbers; closing that number moves
 * the notification to another one first.
 *
 * LOCKING: proxy_lock protects the table and the instances' fields.  It
 * is taken before any uepoll lock (uepoll calls are made under it), and
 * uepoll never calls back into the preload.
 *
 * FORK: the child gets a copy of the instances, but the kernel objects
 * behind them (the proxy eventfds, and the host backend's epoll fds or
 * io_uring ring once kernel fds were registered) are shared with the
 * parent.  If the parent's backend had not started, the child keeps
 * uepoll: on its first epoll call each proxy number gets a fresh eventfd
 * of its own (dup3 in place), and the child's first kernel fd starts its
 * own backend (nginx's master creates an epoll, its workers fill theirs).
 * Otherwise the child cannot keep using uepoll without stealing the
 * parent's events: on its first epoll call it converts each proxy into a
 * kernel epoll holding the same registrations, in place, and from then on
 * the preload passes everything to libc.  The child never releases its
 * copies of the instances: that would remove the parent's registrations
 * from the shared backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <uepoll.h>

#include "preload.h"

struct proxy_inst {
	int refs;      /* proxy numbers that refer to the instance */
	int notify_fd; /* the one of them that uepoll writes */
	int kernel_fd; /* fork conversion: its kernel epoll, or -1 */
	bool copied;   /* fork conversion: registrations copied */
};

struct proxy_slot {
	int ufd; /* this number's uepoll descriptor; 0: not a proxy */
	struct proxy_inst *inst;
};

static pthread_mutex_t proxy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct proxy_slot *slots; /* by kernel fd, under proxy_lock */
static size_t nslots;
static atomic_int nproxies;
static _Atomic enum preload_mode mode = PRELOAD_UEPOLL;
static bool fork_backend; /* the forking parent's backend had started */

bool proxy_any(void)
{
	return atomic_load_explicit(&nproxies, memory_order_relaxed) > 0;
}

/* Must be called with proxy_lock held. */
static struct proxy_slot *slot_of(int fd)
{
	if (fd < 0 || (size_t)fd >= nslots || !slots[fd].ufd)
		return NULL;
	return &slots[fd];
}

/* Must be called with proxy_lock held. */
static int slots_grow(int fd)
{
	if ((size_t)fd < nslots)
		return 0;
	size_t n = nslots ? nslots : 1024;
	while (n <= (size_t)fd)
		n *= 2;
	struct proxy_slot *s = realloc(slots, n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + nslots, 0, (n - nslots) * sizeof(*s));
	slots = s;
	nslots = n;
	return 0;
}

int proxy_ufd(int fd)
{
	if (!proxy_any())
		return -1;
	pthread_mutex_lock(&proxy_lock);
	struct proxy_slot *s = slot_of(fd);
	int ufd = s ? s->ufd : -1;
	pthread_mutex_unlock(&proxy_lock);
	return ufd;
}

int proxy_create(int flags)
{
	int ufd = uepoll_create1(0);
	if (ufd < 0)
		return -1;
	int efd = eventfd(
	        0, EFD_NONBLOCK | ((flags & EPOLL_CLOEXEC) ? EFD_CLOEXEC : 0));
	struct proxy_inst *inst = malloc(sizeof(*inst));
	int err = efd < 0 ? errno : inst ? 0 : ENOMEM;
	pthread_mutex_lock(&proxy_lock);
	if (!err)
		err = -slots_grow(efd);
	if (!err && uepoll_notify(ufd, efd) < 0)
		err = errno;
	if (!err) {
		*inst = (struct proxy_inst){
		        .refs = 1, .notify_fd = efd, .kernel_fd = -1};
		slots[efd] = (struct proxy_slot){.ufd = ufd, .inst = inst};
		atomic_fetch_add(&nproxies, 1);
	}
	pthread_mutex_unlock(&proxy_lock);
	if (err) {
		free(inst);
		uepoll_close(ufd);
		if (efd >= 0)
			real.close(efd);
		errno = err;
		return -1;
	}
	return efd;
}

bool proxy_release(int fd)
{
	if (!proxy_any())
		return false;
	pthread_mutex_lock(&proxy_lock);
	struct proxy_slot *s = slot_of(fd);
	if (!s) {
		pthread_mutex_unlock(&proxy_lock);
		return false;
	}
	struct proxy_inst *inst = s->inst;
	int ufd = s->ufd;
	*s = (struct proxy_slot){0};
	atomic_fetch_sub(&nproxies, 1);
	if (--inst->refs == 0) {
		/* Before the eventfd goes: no write after this returns. */
		uepoll_notify(ufd, -1);
	} else if (inst->notify_fd == fd) {
		for (size_t i = 0; i < nslots; i++) {
			if (slots[i].ufd && slots[i].inst == inst) {
				uepoll_notify(slots[i].ufd, (int)i);
				inst->notify_fd = (int)i;
				break;
			}
		}
	}
	uepoll_close(ufd);
	pthread_mutex_unlock(&proxy_lock);
	if (!inst->refs)
		free(inst);
	return true;
}

void proxy_dup_done(int oldfd, int newfd)
{
	if (!proxy_any() || newfd < 0)
		return;
	pthread_mutex_lock(&proxy_lock);
	struct proxy_slot *s = slot_of(oldfd);
	if (s && !slot_of(newfd) && slots_grow(newfd) == 0) {
		int ufd = uepoll_dup(s->ufd);
		/* Re-read: slots_grow may have moved the table. */
		s = &slots[oldfd];
		if (ufd >= 0) {
			s->inst->refs++;
			slots[newfd] = (struct proxy_slot){.ufd = ufd,
			                                   .inst = s->inst};
			atomic_fetch_add(&nproxies, 1);
		}
	}
	pthread_mutex_unlock(&proxy_lock);
}

/*
 * Clear first, then look: a wake-up that lands between the two has
 * written the eventfd after our read, or made the instance readable
 * before our look; either way the proxy ends up readable.
 */
void proxy_sync(int fd, int ufd)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return; /* closed under us: nothing to keep in step */
	struct pollfd p = {.fd = ufd, .events = POLLIN};
	if (uepoll_poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
		v = 1;
		ssize_t r = write(fd, &v, sizeof(v));
		(void)r; /* EAGAIN: saturated, still readable */
	}
}

/* ---- fork ---- */

void proxy_atfork_prepare(void)
{
	bool b = preload_backend_running();
	pthread_mutex_lock(&proxy_lock);
	fork_backend = b;
}

void proxy_atfork_parent(void)
{
	pthread_mutex_unlock(&proxy_lock);
}

void proxy_atfork_child(void)
{
	if (atomic_load(&mode) == PRELOAD_UEPOLL)
		atomic_store(&mode, fork_backend ? PRELOAD_CHILD_PENDING
		                                 : PRELOAD_CHILD_FRESH);
	pthread_mutex_unlock(&proxy_lock);
}

/* The proxy number whose uepoll descriptor is ufd; -1 if none. */
static int proxy_of_ufd(int ufd)
{
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].ufd == ufd)
			return (int)i;
	return -1;
}

/* Copy inst's registrations (read from uepoll's fdinfo) to its kernel fd. */
static void copy_registrations(struct proxy_inst *inst, int ufd)
{
	size_t len = 4096;
	char *buf = NULL;
	for (;;) {
		char *b = realloc(buf, len);
		if (!b)
			goto out;
		buf = b;
		int need = uepoll_fdinfo(ufd, buf, len);
		if (need < 0)
			goto out;
		if ((size_t)need < len)
			break;
		len = (size_t)need + 1;
	}
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		int tfd;
		unsigned events;
		unsigned long long data;
		if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events,
		           &data) == 3) {
			if (tfd >= UEPOLL_FD_BASE)
				tfd = proxy_of_ufd(tfd);
			struct epoll_event ev = {.events = events,
			                         .data.u64 = data};
			if (tfd >= 0)
				real.epoll_ctl(inst->kernel_fd, EPOLL_CTL_ADD,
				               tfd, &ev);
		}
		line = nl ? nl + 1 : NULL;
	}
out:
	free(buf);
}

/* Must be called with proxy_lock held, in a forked child. */
static void convert_to_kernel(void)
{
	/* First every proxy number becomes its instance's kernel epoll... */
	for (size_t i = 0; i < nslots; i++) {
		struct proxy_inst *inst = slots[i].ufd ? slots[i].inst : NULL;
		if (!inst)
			continue;
		if (inst->kernel_fd < 0)
			inst->kernel_fd = real.epoll_create1(EPOLL_CLOEXEC);
		int fdflags = real.fcntl((int)i, F_GETFD);
		if (inst->kernel_fd >= 0)
			real.dup3(inst->kernel_fd, (int)i,
			          fdflags >= 0 && (fdflags & FD_CLOEXEC)
			                  ? O_CLOEXEC
			                  : 0);
	}
	/* ...then registrations are copied (nested ones need the former). */
	for (size_t i = 0; i < nslots; i++) {
		struct proxy_inst *inst = slots[i].ufd ? slots[i].inst : NULL;
		if (!inst || inst->copied || inst->kernel_fd < 0)
			continue;
		inst->copied = true;
		copy_registrations(inst, slots[i].ufd);
	}
	for (size_t i = 0; i < nslots; i++) {
		struct proxy_inst *inst = slots[i].ufd ? slots[i].inst : NULL;
		if (!inst)
			continue;
		if (inst->kernel_fd >= 0) {
			real.close(inst->kernel_fd);
			inst->kernel_fd = -1;
		}
		slots[i] = (struct proxy_slot){0};
		if (--inst->refs == 0)
			free(inst);
	}
	atomic_store(&nproxies, 0);
}

/* Must be called with proxy_lock held, in a forked child. */
static void fresh_proxies(void)
{
	for (size_t i = 0; i < nslots; i++) {
		if (!slots[i].ufd)
			continue;
		int fdflags = real.fcntl((int)i, F_GETFD);
		int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (efd < 0)
			continue; /* keeps the shared one: cross-talk only */
		real.dup3(efd, (int)i,
		          fdflags >= 0 && (fdflags & FD_CLOEXEC) ? O_CLOEXEC
		                                                 : 0);
		real.close(efd);
		proxy_sync((int)i, slots[i].ufd);
	}
}

enum preload_mode proxy_mode(void)
{
	enum preload_mode m = atomic_load_explicit(&mode, memory_order_relaxed);
	if (m == PRELOAD_UEPOLL || m == PRELOAD_KERNEL)
		return m;
	pthread_mutex_lock(&proxy_lock);
	m = atomic_load(&mode);
	if (m == PRELOAD_CHILD_PENDING) {
		convert_to_kernel();
		m = PRELOAD_KERNEL;
	} else if (m == PRELOAD_CHILD_FRESH) {
		fresh_proxies();
		m = PRELOAD_UEPOLL;
	}
	atomic_store(&mode, m);
	pthread_mutex_unlock(&proxy_lock);
	return m;
}
