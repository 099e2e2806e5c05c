/*
 * The io_uring host backend: two multishot poll requests per kernel fd, one
 * for the input events and one for the output events (so a completion
 * tells the wake-up's side, as the epoll backend's two instances do).  A
 * multishot poll posts a completion on every wake-up of the file that
 * matches its mask: the userspace counterpart of hooking the file's wait
 * queue.  The ring's fd is readable while completions wait, so sleepers
 * ppoll on it (sync.c) and dispatch when it fires.
 *
 * One ring per process, under ring_lock (submissions and reaping); host
 * files are woken after the lock is dropped.
 */
#ifdef UEP_HAVE_LIBURING
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "kfd/host.h"

#define RING_ENTRIES 256
#define HOST_IN_EVENTS                                                         \
	(EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND | EPOLLRDHUP)
#define HOST_OUT_EVENTS (EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND)

static struct io_uring ring;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;

/* user_data: fd << 1 | side (0 = input, 1 = output); removals use ~0. */
#define UD_REMOVE (~(uint64_t)0)

static uint64_t ud_of(int fd, int side)
{
	return (uint64_t)fd << 1 | (uint64_t)side;
}

static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
	}
	return sqe;
}

/* Must be called with ring_lock held. */
static int arm(int fd, int side)
{
	struct io_uring_sqe *sqe = get_sqe();
	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_multishot(sqe, fd,
	                             side ? HOST_OUT_EVENTS : HOST_IN_EVENTS);
	io_uring_sqe_set_data64(sqe, ud_of(fd, side));
	return 0;
}

static int urb_init(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	/*
	 * Completions of a multishot poll run as task work of the thread
	 * that armed it: cooperative task running spares that thread an
	 * interrupt per completion while it runs; it runs the work when it
	 * next enters the kernel (a sleeping thread is woken for it).
	 */
	p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
	int r = io_uring_queue_init_params(RING_ENTRIES, &ring, &p);
	if (r == -EINVAL) { /* before 5.19 */
		memset(&p, 0, sizeof(p));
		r = io_uring_queue_init_params(RING_ENTRIES, &ring, &p);
	}
	if (r < 0)
		return r; /* ENOSYS, EPERM (seccomp, io_uring_disabled) */
	struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);
	bool ok = probe &&
	          io_uring_opcode_supported(probe, IORING_OP_POLL_ADD) &&
	          io_uring_opcode_supported(probe, IORING_OP_POLL_REMOVE);
	io_uring_free_probe(probe);
	/* Multishot poll came with 5.13, with IORING_FEAT_FAST_POLL's era. */
	if (!ok || !(p.features & IORING_FEAT_FAST_POLL)) {
		io_uring_queue_exit(&ring);
		return -ENOSYS;
	}
	return 0;
}

static int urb_add(int fd)
{
	pthread_mutex_lock(&ring_lock);
	int r = arm(fd, 0);
	if (!r)
		r = arm(fd, 1);
	if (!r) {
		r = io_uring_submit(&ring);
		r = r < 0 ? r : 0;
	}
	pthread_mutex_unlock(&ring_lock);
	return r;
}

static void urb_del(int fd)
{
	pthread_mutex_lock(&ring_lock);
	for (int side = 0; side < 2; side++) {
		struct io_uring_sqe *sqe = get_sqe();
		if (!sqe)
			break;
		io_uring_prep_poll_remove(sqe, ud_of(fd, side));
		io_uring_sqe_set_data64(sqe, UD_REMOVE);
	}
	io_uring_submit(&ring);
	pthread_mutex_unlock(&ring_lock);
}

static int urb_fds(int out[2])
{
	out[0] = ring.ring_fd;
	return 1;
}

struct ready {
	int fd;
	uint32_t key;
};

static void urb_dispatch(void)
{
	struct ready batch[64];
	int n;
	do {
		struct io_uring_cqe *cqe;
		n = 0;
		bool resubmit = false;
		pthread_mutex_lock(&ring_lock);
		/* Pending task work of this thread's: run it to post its CQEs.
		 */
		if (IO_URING_READ_ONCE(*ring.sq.kflags) & IORING_SQ_TASKRUN)
			io_uring_get_events(&ring);
		while (n < 64 && io_uring_peek_cqe(&ring, &cqe) == 0) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);
			int res = cqe->res;
			bool more = cqe->flags & IORING_CQE_F_MORE;
			io_uring_cqe_seen(&ring, cqe);
			if (ud == UD_REMOVE)
				continue;
			int fd = (int)(ud >> 1), side = (int)(ud & 1);
			if (res > 0)
				batch[n++] = (struct ready){
				        fd, (uint32_t)res &
				                    ((side ? HOST_OUT_EVENTS
				                           : HOST_IN_EVENTS) |
				                     EPOLLERR | EPOLLHUP)};
			/*
			 * A multishot request that ended without being removed
			 * (overflow, -ENOMEM) is armed again; one ended by a
			 * removal or a closed fd (-ECANCELED, -EBADF) is not.
			 */
			if (!more && res >= 0) {
				arm(fd, side);
				resubmit = true;
			}
		}
		if (resubmit)
			io_uring_submit(&ring);
		pthread_mutex_unlock(&ring_lock);
		for (int i = 0; i < n; i++)
			uep_host_ready(batch[i].fd, batch[i].key);
	} while (n == 64);
}

const struct uep_host_backend uep_host_uring_backend = {
        .name = "uring",
        .init = urb_init,
        .add = urb_add,
        .del = urb_del,
        .fds = urb_fds,
        .dispatch = urb_dispatch,
};
#endif
