/* Helpers shared by the socket conformance tests (socket_*.c). */
#ifndef CONF_SOCKET_UTIL_H
#define CONF_SOCKET_UTIL_H

#include "sys.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

#define SK_ALL                                                                 \
	(POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM | POLLPRI | POLLRDHUP)

static inline void sk_pair(int type, int sv[2])
{
	sv[0] = sv[1] = -1;
	ASSERT_OK(sys_socketpair(AF_UNIX, type, 0, sv));
}

/*
 * An iovec length past SSIZE_MAX is EINVAL, found while the iovec is
 * read, before any buffer is looked at (a NULL one too) and before the
 * socket's state matters.
 */
static inline void sk_iov_len_past_ssize_max_is_einval(int fd)
{
	char c = 'x';
	struct iovec iov[2] = {{&c, 1}, {NULL, (size_t)SSIZE_MAX + 1}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	ASSERT_ERRNO(sys_sendmsg(fd, &msg, MSG_DONTWAIT), EINVAL);
	ASSERT_ERRNO(sys_recvmsg(fd, &msg, MSG_DONTWAIT), EINVAL);
	ASSERT_ERRNO(sys_writev(fd, iov, 2), EINVAL);
	ASSERT_ERRNO(sys_readv(fd, iov, 2), EINVAL);
	/* Every length is checked before the first buffer. */
	struct iovec late[2] = {{NULL, 1}, {&c, (size_t)SSIZE_MAX + 1}};
	msg.msg_iov = late;
	ASSERT_ERRNO(sys_sendmsg(fd, &msg, MSG_DONTWAIT), EINVAL);
	ASSERT_ERRNO(sys_writev(fd, late, 2), EINVAL);
}

static inline int sk_ep(void)
{
	int ep = sys_epoll_create1(0);
	ASSERT_GE(ep, 0);
	return ep;
}

/* poll() mask of fd for everything (as the kernel reports it). */
static inline int sk_mask(int fd)
{
	struct pollfd p = {.fd = fd, .events = SK_ALL};
	ASSERT_GE(sys_poll(&p, 1, 0), 0);
	return p.revents;
}

/* Events ready now on ep (timeout 0); the first one's mask in *ev. */
static inline int sk_wait0(int ep, uint32_t *ev)
{
	struct epoll_event e[8];
	int n = sys_epoll_wait(ep, e, 8, 0);
	ASSERT_GE(n, 0);
	if (ev)
		*ev = n ? e[0].events : 0;
	return n;
}

/* A unique abstract name: "\0uepoll-<pid>-<tag>". */
static inline socklen_t sk_abstract(struct sockaddr_un *a, const char *tag)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1,
	                 "uepoll-%d-%s", (int)getpid(), tag);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

/* A unique path under /tmp (unlinked first; unlink after use). */
static inline socklen_t sk_path(struct sockaddr_un *a, const char *tag)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "/tmp/uepoll-%d-%s",
	         (int)getpid(), tag);
	unlink(a->sun_path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	                   strlen(a->sun_path) + 1);
}

/* A listening socket of type bound to an abstract tag. */
static inline int sk_listener(int type, const char *tag, int backlog,
                              struct sockaddr_un *a, socklen_t *len)
{
	int fd = sys_socket(AF_UNIX, type, 0);
	ASSERT_GE(fd, 0);
	*len = sk_abstract(a, tag);
	ASSERT_OK(sys_bind(fd, (struct sockaddr *)a, *len));
	ASSERT_OK(sys_listen(fd, backlog));
	return fd;
}

static inline int sk_connect(int type, const struct sockaddr_un *a,
                             socklen_t len, int flags)
{
	int fd = sys_socket(AF_UNIX, type | flags, 0);
	ASSERT_GE(fd, 0);
	ASSERT_OK(sys_connect(fd, (const struct sockaddr *)a, len));
	return fd;
}

/* Fill fd with nonblocking sends of n bytes until EAGAIN; total sent. */
static inline long sk_fill(int fd, size_t n)
{
	static char buf[120000];
	long total = 0;
	for (;;) {
		ssize_t r = sys_send(fd, buf, n, MSG_DONTWAIT);
		if (r < 0) {
			ASSERT_EQ(errno, EAGAIN);
			return total;
		}
		total += r;
	}
}

static inline int sk_getint(int fd, int opt)
{
	int v = -1;
	socklen_t l = sizeof(v);
	ASSERT_OK(sys_getsockopt(fd, SOL_SOCKET, opt, &v, &l));
	ASSERT_EQ(l, sizeof(int));
	return v;
}

#endif
