/*
 * Sockets of your own (include/uepoll.h, "your own sockets"): a file whose
 * socket calls go to the owner's struct uepoll_socket_operations (the
 * kernel's proto_ops), and the family table behind uepoll_socket() (the
 * kernel's sock_register).  The operations never block; the sleeps of a
 * blocking descriptor are here, on the file's own poll, as for read and
 * write (rw.c).  socket_api.c checks and copies the arguments, then calls
 * these when the file has socket operations.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "api/api.h"
#include "api/uaccess.h"
#include "api/usock.h"
#include "fs/file.h"
#include "fs/select.h"

UEPOLL_API int uepoll_socket_create(const struct uepoll_file_operations *fops,
                                    const struct uepoll_socket_operations *sops,
                                    void *private_data, int flags)
{
	if (!fops || !sops || (flags & ~(O_NONBLOCK | O_CLOEXEC)))
		return (int)uep_ret_errno(-EINVAL);
	struct uepoll_file *f = uep_file_alloc(fops, private_data,
	                                       O_RDWR | (flags & O_NONBLOCK));
	if (!f)
		return (int)uep_ret_errno(-ENOMEM);
	f->f_sop = sops;
	return (int)uep_ret_errno(uep_file_install(f, flags));
}

/* ---- the family table ---- */

#define MAX_FAMILIES 8

/*
 * A slot is claimed by its domain (0 = free) and published by fn: the
 * release store of fn pairs with the acquire load in uep_usock_family(),
 * so a reader that sees fn also sees arg.  Registration is rare and
 * serialised by families_lock.
 */
static struct {
	_Atomic int domain;
	_Atomic(uepoll_socket_fn) fn;
	void *_Atomic arg;
} families[MAX_FAMILIES];
static struct uep_mutex families_lock = UEP_MUTEX_INITIALIZER;

UEPOLL_API int uepoll_register_family(int domain, uepoll_socket_fn fn,
                                      void *arg)
{
	if (domain <= 0 || domain >= AF_MAX || domain == AF_UNIX)
		return (int)uep_ret_errno(-EINVAL);
	int r = -ENOSPC;
	uep_mutex_lock(&families_lock);
	for (int i = 0; i < MAX_FAMILIES; i++) {
		int d = atomic_load(&families[i].domain);
		if (d == domain || (d == 0 && fn)) {
			atomic_store(&families[i].domain, domain);
			atomic_store(&families[i].arg, arg);
			atomic_store_explicit(&families[i].fn, fn,
			                      memory_order_release);
			r = 0;
			break;
		}
	}
	if (r && !fn)
		r = 0; /* nothing registered: nothing to remove */
	uep_mutex_unlock(&families_lock);
	return (int)uep_ret_errno(r);
}

bool uep_usock_family(int domain, int type, int protocol, int *ret)
{
	for (int i = 0; i < MAX_FAMILIES; i++) {
		if (atomic_load_explicit(&families[i].domain,
		                         memory_order_relaxed) != domain)
			continue;
		uepoll_socket_fn fn = atomic_load_explicit(
		        &families[i].fn, memory_order_acquire);
		if (!fn)
			return false;
		*ret = fn(domain, type, protocol,
		          atomic_load(&families[i].arg));
		return true;
	}
	return false;
}

/* ---- the calls that may sleep ---- */

static bool nonblock(struct uepoll_file *f, int flags)
{
	return uep_file_nonblock(f) || (flags & MSG_DONTWAIT);
}

/*
 * The file whose connect operation this thread's blocking connect calls
 * again after a sleep, for the length of that call (NULL otherwise).  A
 * signal handler's connect in between asks about its own file.
 */
static __thread const struct uepoll_file *connect_resumed;

UEPOLL_API int uepoll_connect_resumed(const struct uepoll_file *file)
{
	return file && connect_resumed == file;
}

/*
 * As inet_stream_connect: a blocking connect sleeps until the connection
 * is out of SYN_SENT (OUT, ERR or HUP) and asks again, and the operation
 * then answers how it ended (0 or the error), as it answers a second call
 * on a non-blocking socket, or, if the attempt was given up meanwhile,
 * with that (uepoll_connect_resumed).
 */
int uep_usock_connect(struct uepoll_file *f, const struct sockaddr *addr,
                      socklen_t len)
{
	if (!f->f_sop->connect)
		return -EOPNOTSUPP;
	for (bool slept = false;; slept = true) {
		const struct uepoll_file *outer = connect_resumed;
		connect_resumed = slept ? f : NULL;
		int r = f->f_sop->connect(f, addr, len);
		connect_resumed = outer;
		if ((r != -EINPROGRESS && r != -EALREADY) ||
		    uep_file_nonblock(f))
			return r;
		int w = uep_file_wait_ready(f, EPOLLOUT | EPOLLERR | EPOLLHUP);
		if (w < 0)
			return w;
	}
}

int uep_usock_accept(struct uepoll_file *f, struct sockaddr *addr,
                     socklen_t *len, int flags)
{
	if (!f->f_sop->accept)
		return -EOPNOTSUPP;
	for (;;) {
		int r = f->f_sop->accept(f, addr, len, flags);
		if (r != -EAGAIN || uep_file_nonblock(f))
			return r;
		int w = uep_file_wait_ready(f, EPOLLIN | EPOLLERR | EPOLLHUP);
		if (w < 0)
			return w;
	}
}

ssize_t uep_usock_recvmsg(struct uepoll_file *f, struct msghdr *msg, int flags)
{
	if (!f->f_sop->recvmsg)
		return -EOPNOTSUPP;
	for (;;) {
		ssize_t r = f->f_sop->recvmsg(f, msg, flags | MSG_DONTWAIT);
		if (r != -EAGAIN || nonblock(f, flags))
			return r;
		int w = uep_file_wait_ready(f, EPOLLIN | EPOLLRDHUP | EPOLLERR |
		                                       EPOLLHUP);
		if (w < 0)
			return w;
	}
}

/* Drop the first n bytes of msg's iovec (a partly sent stream message). */
static void iov_advance(struct msghdr *msg, size_t n)
{
	while (msg->msg_iovlen && n >= msg->msg_iov->iov_len) {
		n -= msg->msg_iov->iov_len;
		msg->msg_iov++;
		msg->msg_iovlen--;
	}
	if (msg->msg_iovlen) {
		msg->msg_iov->iov_base = (char *)msg->msg_iov->iov_base + n;
		msg->msg_iov->iov_len -= n;
	}
}

ssize_t uep_usock_sendmsg(struct uepoll_file *f, const struct msghdr *umsg,
                          int flags)
{
	if (!f->f_sop->sendmsg)
		return -EOPNOTSUPP;
	if (nonblock(f, flags))
		return f->f_sop->sendmsg(f, umsg, flags);
	/* A blocking stream send: go on until all is sent, on a copy of
	 * the iovec that shrinks as it goes. */
	size_t total = 0, done = 0;
	for (size_t i = 0; i < umsg->msg_iovlen; i++)
		total += umsg->msg_iov[i].iov_len;
	struct iovec *iov = NULL;
	struct msghdr msg = *umsg;
	if (msg.msg_iovlen) {
		iov = malloc(msg.msg_iovlen * sizeof(*iov));
		if (!iov)
			return -ENOMEM;
		for (size_t i = 0; i < msg.msg_iovlen; i++)
			iov[i] = umsg->msg_iov[i];
		msg.msg_iov = iov;
	}
	ssize_t r;
	for (;;) {
		r = f->f_sop->sendmsg(f, &msg, flags | MSG_DONTWAIT);
		if (r > 0) {
			done += (size_t)r;
			if (done >= total)
				break;
			iov_advance(&msg, (size_t)r);
			continue;
		}
		if (r != -EAGAIN)
			break;
		int w = uep_file_wait_ready(f, EPOLLOUT | EPOLLERR | EPOLLHUP);
		if (w < 0) {
			r = w;
			break;
		}
	}
	free(iov);
	/* Interrupted part-way, a send returns what it sent. */
	return done ? (ssize_t)done : r;
}
