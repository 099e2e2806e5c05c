/*
 * The public socket calls: the API layer of socket.c (see api.c for the
 * rules).  Each validates and copies its arguments in the kernel's order,
 * looks the descriptor up (EBADF), checks that the file is one of ours
 * (ENOTSOCK: never trust a file that is not a socket), delegates, and turns
 * -errno into errno.  Descriptors below UEPOLL_FD_BASE go to the kernel's
 * own call, as do sockets of other families.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>

#include "fs/ep_diag.h"
#include "fs/fdtable.h"
#include "net/socket.h"
#include "api/uaccess.h"
#include "api/usock.h"

/*
 * The socket at fd with a file reference, or -EBADF / -ENOTSOCK.  *skp is
 * NULL for a socket of the user's own (f->f_sop, usock_api.c).
 */
static int sock_lookup(int fd, struct uepoll_file **fp, struct uep_sock **skp)
{
	struct uepoll_file *f = uep_fget(fd);
	if (!f)
		return -EBADF;
	if (f->f_sop) {
		*fp = f;
		*skp = NULL;
		return 0;
	}
	if (!uep_is_file_socket(f)) {
		uep_file_put(f);
		return -ENOTSOCK;
	}
	*fp = f;
	*skp = uep_file_sock(f);
	return 0;
}

/* move_addr_to_kernel: into a sockaddr_storage. */
static int addr_in(const struct sockaddr *a, socklen_t len,
                   struct sockaddr_storage *k)
{
	if ((int)len < 0 || len > sizeof(*k))
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	if (len == 0)
		return 0;
	if (!a)
		return -EFAULT;
	memcpy(k, a, len);
	return 0;
}

/* ---- creation ---- */

UEPOLL_API int uepoll_socket(int domain, int type, int protocol)
{
	int fd;
	if (domain != AF_UNIX) {
		if (uep_usock_family(domain, type, protocol, &fd))
			return fd;
		return socket(domain, type, protocol);
	}
	return (int)uep_ret_errno(uep_socket_create(domain, type, protocol));
}

UEPOLL_API int uepoll_socketpair(int domain, int type, int protocol, int sv[2])
{
	int fds[2];
	if (domain != AF_UNIX)
		return socketpair(domain, type, protocol, sv);
	int r = uep_socketpair_create(domain, type, protocol, fds);
	if (r < 0)
		return (int)uep_ret_errno(r);
	if (!sv) {
		uep_fd_close(fds[0]);
		uep_fd_close(fds[1]);
		return (int)uep_ret_errno(-EFAULT);
	}
	sv[0] = fds[0];
	sv[1] = fds[1];
	return 0;
}

/* ---- names and connections ---- */

UEPOLL_API int uepoll_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct uepoll_file *f;
	struct uep_sock *sk;
	struct sockaddr_storage k;
	if (!uep_is_uepoll_fd(fd))
		return bind(fd, addr, len);
	int r = sock_lookup(fd, &f, &sk);
	if (r)
		return (int)uep_ret_errno(r);
	r = addr_in(addr, len, &k);
	if (!r)
		r = sk ? uep_sock_bind(sk, (struct sockaddr *)&k, len)
		       : UEP_USOCK_CALL(f, bind, (struct sockaddr *)&k, len);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

UEPOLL_API int uepoll_listen(int fd, int backlog)
{
	struct uepoll_file *f;
	struct uep_sock *sk;
	if (!uep_is_uepoll_fd(fd))
		return listen(fd, backlog);
	int r = sock_lookup(fd, &f, &sk);
	if (r)
		return (int)uep_ret_errno(r);
	r = sk ? uep_sock_listen(sk, backlog)
	       : UEP_USOCK_CALL(f, listen, backlog);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

/* accept on a user socket: the address through a sockaddr_storage. */
static int usock_accept(struct uepoll_file *f, struct sockaddr *addr,
                        socklen_t *addrlen, int flags)
{
	struct sockaddr_storage k;
	socklen_t n = sizeof(k);
	if (addr && (int)*addrlen < 0)
		return -EINVAL;
	int fd = uep_usock_accept(f, (struct sockaddr *)&k, &n, flags);
	if (fd >= 0 && addr) {
		memcpy(addr, &k, *addrlen < n ? *addrlen : n);
		*addrlen = n;
	}
	return fd;
}

UEPOLL_API int uepoll_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen,
                              int flags)
{
	struct uepoll_file *f;
	struct uep_sock *sk;
	if (!uep_is_uepoll_fd(fd))
		return accept4(fd, addr, addrlen, flags);
	/* The flags are checked before the descriptor. */
	if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK))
		return (int)uep_ret_errno(-EINVAL);
	int r = sock_lookup(fd, &f, &sk);
	if (r)
		return (int)uep_ret_errno(r);
	if (addr && !addrlen)
		r = -EFAULT;
	else if (!sk)
		r = usock_accept(f, addr, addrlen, flags);
	else
		r = uep_sock_accept(sk, f, addr, addrlen, flags);
	if (uep_diag_on())
		uep_diag_read(f, r == 0 ? 1 : r); /* fd 0 is no EOF */
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

UEPOLL_API int uepoll_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	if (!uep_is_uepoll_fd(fd))
		return accept(fd, addr, addrlen);
	return uepoll_accept4(fd, addr, addrlen, 0);
}

UEPOLL_API int uepoll_connect(int fd, const struct sockaddr *addr,
                              socklen_t len)
{
	struct uepoll_file *f;
	struct sockaddr_storage k;
	if (!uep_is_uepoll_fd(fd))
		return connect(fd, addr, len);
	/* connect looks up the file, copies the address, then ENOTSOCK. */
	f = uep_fget(fd);
	if (!f)
		return (int)uep_ret_errno(-EBADF);
	int r = addr_in(addr, len, &k);
	if (!r && f->f_sop)
		r = uep_usock_connect(f, (struct sockaddr *)&k, len);
	else if (!r && !uep_is_file_socket(f))
		r = -ENOTSOCK;
	else if (!r)
		r = uep_sock_connect(uep_file_sock(f), f, (struct sockaddr *)&k,
		                     len);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

static int do_getname(int fd, struct sockaddr *addr, socklen_t *len, bool peer)
{
	struct uepoll_file *f;
	struct uep_sock *sk;
	struct sockaddr_storage k;
	int r = sock_lookup(fd, &f, &sk);
	if (r)
		return r;
	if (!len || !addr) {
		uep_file_put(f);
		return -EFAULT;
	}
	socklen_t room = *len, n = sizeof(k);
	r = sk ? uep_sock_getname(sk, (struct sockaddr *)&k, &n, peer)
	       : UEP_USOCK_CALL(f, getname, (struct sockaddr *)&k, &n, peer);
	uep_file_put(f);
	if (r)
		return r;
	if ((int)room < 0)
		return -EINVAL;
	memcpy(addr, &k, room < n ? room : n);
	*len = n;
	return 0;
}

UEPOLL_API int uepoll_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	if (!uep_is_uepoll_fd(fd))
		return getsockname(fd, addr, len);
	return (int)uep_ret_errno(do_getname(fd, addr, len, false));
}

UEPOLL_API int uepoll_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	if (!uep_is_uepoll_fd(fd))
		return getpeername(fd, addr, len);
	return (int)uep_ret_errno(do_getname(fd, addr, len, true));
}

UEPOLL_API int uepoll_shutdown(int fd, int how)
{
	struct uepoll_file *f;
	struct uep_sock *sk;
	if (!uep_is_uepoll_fd(fd))
		return shutdown(fd, how);
	int r = sock_lookup(fd, &f, &sk);
	if (r)
		return (int)uep_ret_errno(r);
	r = sk ? uep_sock_shutdown(sk, how) : UEP_USOCK_CALL(f, shutdown, how);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

UEPOLL_API int uepoll_getsockopt(int fd, int level, int name, void *val,
                                 socklen_t *len)
{
	struct uepoll_file *f;
	struct uep_sock *sk;
	if (!uep_is_uepoll_fd(fd))
		return getsockopt(fd, level, name, val, len);
	int r = sock_lookup(fd, &f, &sk);
	if (r)
		return (int)uep_ret_errno(r);
	r = (!len || (!val && *len)) ? -EFAULT
	    : sk ? uep_sock_getsockopt(sk, level, name, val, len)
	         : UEP_USOCK_CALL(f, getsockopt, level, name, val, len);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

UEPOLL_API int uepoll_setsockopt(int fd, int level, int name, const void *val,
                                 socklen_t len)
{
	struct uepoll_file *f;
	struct uep_sock *sk;
	if (!uep_is_uepoll_fd(fd))
		return setsockopt(fd, level, name, val, len);
	if ((int)len < 0)
		return (int)uep_ret_errno(-EINVAL);
	int r = sock_lookup(fd, &f, &sk);
	if (r)
		return (int)uep_ret_errno(r);
	r = (!val && len >= sizeof(int)) ? -EFAULT
	    : sk ? uep_sock_setsockopt(sk, level, name, val, len)
	         : UEP_USOCK_CALL(f, setsockopt, level, name, val, len);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

/* ---- data ---- */

/*
 * import_iovec's checks, in its order: -EMSGSIZE past IOV_MAX, -EFAULT
 * for a missing iovec, -EINVAL for any length past SSIZE_MAX, then
 * (bases: a send, which reads them all first) -EFAULT for a missing
 * buffer.
 */
static int msg_iov_check(const struct msghdr *msg, bool bases)
{
	if (msg->msg_iovlen > IOV_MAX)
		return -EMSGSIZE;
	if (msg->msg_iovlen && !msg->msg_iov)
		return -EFAULT;
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		if ((ssize_t)msg->msg_iov[i].iov_len < 0)
			return -EINVAL;
	for (size_t i = 0; bases && i < msg->msg_iovlen; i++)
		if (!msg->msg_iov[i].iov_base && msg->msg_iov[i].iov_len)
			return -EFAULT;
	return 0;
}

/* sendmsg after the msghdr was copied in (the kernel's ____sys_sendmsg). */
static ssize_t do_sendmsg(int fd, const struct msghdr *umsg, int flags)
{
	struct uepoll_file *f;
	struct uep_sock *sk;
	struct sockaddr_storage k;
	struct msghdr msg = *umsg;
	ssize_t r = sock_lookup(fd, &f, &sk);
	if (r)
		return r;
	r = msg_iov_check(&msg, true);
	if (r)
		goto out;
	if (!msg.msg_name)
		msg.msg_namelen = 0;
	if ((int)msg.msg_namelen < 0) {
		r = -EINVAL;
		goto out;
	}
	if (msg.msg_namelen > sizeof(k))
		msg.msg_namelen = sizeof(k);
	if (msg.msg_namelen) {
		memcpy(&k, msg.msg_name, msg.msg_namelen);
		msg.msg_name = &k;
	}
	r = sk ? uep_sock_sendmsg(sk, f, &msg, flags)
	       : uep_usock_sendmsg(f, &msg, flags);
out:
	uep_file_put(f);
	return r;
}

static ssize_t do_recvmsg(int fd, struct msghdr *umsg, int flags)
{
	struct uepoll_file *f;
	struct uep_sock *sk;
	struct sockaddr_storage k;
	struct msghdr msg = *umsg;
	ssize_t r = sock_lookup(fd, &f, &sk);
	if (r)
		return r;
	r = msg_iov_check(&msg, false);
	if (r)
		goto out;
	socklen_t room = msg.msg_name ? msg.msg_namelen : 0;
	if ((int)room < 0) {
		r = -EINVAL;
		goto out;
	}
	msg.msg_name = umsg->msg_name ? &k : NULL;
	msg.msg_namelen = sizeof(k);
	r = sk ? uep_sock_recvmsg(sk, f, &msg, flags)
	       : uep_usock_recvmsg(f, &msg, flags);
	if (uep_diag_on())
		uep_diag_read(f, r);
	if (r < 0)
		goto out;
	if (umsg->msg_name) {
		socklen_t n = msg.msg_name ? msg.msg_namelen : 0;
		memcpy(umsg->msg_name, &k, room < n ? room : n);
		umsg->msg_namelen = n;
	}
	umsg->msg_flags = msg.msg_flags;
	umsg->msg_controllen = 0;
out:
	uep_file_put(f);
	return r;
}

UEPOLL_API ssize_t uepoll_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!uep_is_uepoll_fd(fd))
		return sendmsg(fd, msg, flags);
	if (!msg)
		return uep_ret_errno(-EFAULT);
	return uep_ret_errno(do_sendmsg(fd, msg, flags));
}

UEPOLL_API ssize_t uepoll_recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (!uep_is_uepoll_fd(fd))
		return recvmsg(fd, msg, flags);
	if (!msg)
		return uep_ret_errno(-EFAULT);
	return uep_ret_errno(do_recvmsg(fd, msg, flags));
}

UEPOLL_API ssize_t uepoll_sendto(int fd, const void *buf, size_t len, int flags,
                                 const struct sockaddr *addr, socklen_t addrlen)
{
	if (!uep_is_uepoll_fd(fd))
		return sendto(fd, buf, len, flags, addr, addrlen);
	if (len > INT_MAX)
		len = INT_MAX;
	if (!buf && len)
		return uep_ret_errno(-EFAULT);
	struct iovec iov = {(void *)buf, len};
	struct msghdr msg = {.msg_name = (void *)addr,
	                     .msg_namelen = addr ? addrlen : 0,
	                     .msg_iov = &iov,
	                     .msg_iovlen = 1};
	return uep_ret_errno(do_sendmsg(fd, &msg, flags));
}

UEPOLL_API ssize_t uepoll_send(int fd, const void *buf, size_t len, int flags)
{
	if (!uep_is_uepoll_fd(fd))
		return send(fd, buf, len, flags);
	return uepoll_sendto(fd, buf, len, flags, NULL, 0);
}

UEPOLL_API ssize_t uepoll_recvfrom(int fd, void *buf, size_t len, int flags,
                                   struct sockaddr *addr, socklen_t *addrlen)
{
	if (!uep_is_uepoll_fd(fd))
		return recvfrom(fd, buf, len, flags, addr, addrlen);
	if (len > INT_MAX)
		len = INT_MAX;
	if (!buf && len)
		return uep_ret_errno(-EFAULT);
	if (addr && !addrlen)
		return uep_ret_errno(-EFAULT);
	struct iovec iov = {buf, len};
	struct msghdr msg = {.msg_name = addr,
	                     .msg_namelen = addr ? *addrlen : 0,
	                     .msg_iov = &iov,
	                     .msg_iovlen = 1};
	ssize_t r = do_recvmsg(fd, &msg, flags);
	if (r >= 0 && addr)
		*addrlen = msg.msg_namelen;
	return uep_ret_errno(r);
}

UEPOLL_API ssize_t uepoll_recv(int fd, void *buf, size_t len, int flags)
{
	if (!uep_is_uepoll_fd(fd))
		return recv(fd, buf, len, flags);
	return uepoll_recvfrom(fd, buf, len, flags, NULL, NULL);
}
