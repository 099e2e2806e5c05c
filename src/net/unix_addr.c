/*
 * The in-process AF_UNIX namespace: bound names, path-like and abstract,
 * autobind, and the lookup of a peer by name (net/unix's bind and
 * unix_find_other).  A path name lives as long as its socket: there is no
 * filesystem entry to unlink.  ns_lock is a leaf lock.
 */
#include "net/socket.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- the namespace: bound names, path-like and abstract ---- */
static pthread_mutex_t ns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct uep_list ns_list = UEP_LIST_INIT(ns_list);
static unsigned ns_autobind; /* under ns_lock */

int uep_unix_validate_addr(const struct sockaddr_un *a, socklen_t len)
{
	if (!a || len <= offsetof(struct sockaddr_un, sun_path) ||
	    len > sizeof(*a))
		return -EINVAL;
	if (a->sun_family != AF_UNIX)
		return -EINVAL;
	return 0;
}

/* unix_mkname_bsd: a path's length counts up to its NUL, plus one. */
static socklen_t mkname(struct sockaddr_un *dst, const struct sockaddr_un *a,
                        socklen_t len)
{
	memset(dst, 0, sizeof(*dst));
	memcpy(dst, a, len);
	if (!a->sun_path[0]) /* abstract: every byte counts */
		return len;
	size_t max = len - offsetof(struct sockaddr_un, sun_path);
	return (socklen_t)(strnlen(dst->sun_path, max) +
	                   offsetof(struct sockaddr_un, sun_path) + 1);
}

/*
 * Must be called with ns_lock held.  Abstract names are per socket type
 * (the kernel hashes the type in); a path is one file whatever the type.
 */
static struct uep_sock *ns_find(const struct sockaddr_un *name, socklen_t len,
                                int type)
{
	struct uep_list *pos;
	uep_list_for_each(pos, &ns_list)
	{
		struct uep_sock *s =
		        uep_list_entry(pos, struct uep_sock, ns_link);
		if (s->addr_len == len && !memcmp(&s->addr, name, len) &&
		    (name->sun_path[0] || s->type == type))
			return s;
	}
	return NULL;
}

struct uep_sock *uep_unix_find_other(const struct sockaddr_un *a, socklen_t len,
                                     int type, int *err)
{
	struct sockaddr_un name;
	len = mkname(&name, a, len);
	pthread_mutex_lock(&ns_lock);
	struct uep_sock *s = ns_find(&name, len, type);
	if (s)
		uep_sock_hold(s);
	pthread_mutex_unlock(&ns_lock);
	if (!s) {
		/* A path that names nothing does not exist: ENOENT. */
		*err = name.sun_path[0] ? -ENOENT : -ECONNREFUSED;
		return NULL;
	}
	if (s->type != type) {
		uep_sock_put(s);
		*err = -EPROTOTYPE;
		return NULL;
	}
	return s;
}

void uep_unix_copy_addr(struct msghdr *msg, struct uep_sock *from)
{
	if (!msg->msg_name)
		return;
	socklen_t n = 0;
	struct sockaddr_un a;
	if (from) {
		uep_mutex_lock(&from->lock);
		n = from->addr_len;
		a = from->addr;
		uep_mutex_unlock(&from->lock);
	}
	if (n > msg->msg_namelen)
		memcpy(msg->msg_name, &a, msg->msg_namelen);
	else if (n)
		memcpy(msg->msg_name, &a, n);
	msg->msg_namelen = n;
}

static int unix_autobind(struct uep_sock *sk)
{
	struct sockaddr_un name = {.sun_family = AF_UNIX};
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + 6;
	int err = 0;
	pthread_mutex_lock(&ns_lock);
	uep_mutex_lock(&sk->lock);
	if (sk->addr_len)
		goto out;
	for (unsigned tries = 0; tries < 0x100000; tries++) {
		snprintf(name.sun_path + 1, sizeof(name.sun_path) - 1, "%05x",
		         ns_autobind++ & 0xfffff);
		if (!ns_find(&name, len, sk->type))
			break;
	}
	sk->addr = name;
	sk->addr_len = len;
	sk->hashed = true;
	uep_list_add_tail(&sk->ns_link, &ns_list);
out:
	uep_mutex_unlock(&sk->lock);
	pthread_mutex_unlock(&ns_lock);
	return err;
}

int uep_sock_bind(struct uep_sock *sk, const struct sockaddr *a, socklen_t len)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)a;
	if (a && len == offsetof(struct sockaddr_un, sun_path) &&
	    sun->sun_family == AF_UNIX)
		return unix_autobind(sk);
	int err = uep_unix_validate_addr(sun, len);
	if (err)
		return err;
	struct sockaddr_un name;
	len = mkname(&name, sun, len);
	bool path = name.sun_path[0] != 0;
	pthread_mutex_lock(&ns_lock);
	uep_mutex_lock(&sk->lock);
	/* A path is created first (EADDRINUSE), an abstract name after. */
	if (path && ns_find(&name, len, sk->type))
		err = -EADDRINUSE;
	else if (sk->addr_len)
		err = -EINVAL;
	else if (ns_find(&name, len, sk->type))
		err = -EADDRINUSE;
	if (!err) {
		sk->addr = name;
		sk->addr_len = len;
		sk->hashed = true;
		uep_list_add_tail(&sk->ns_link, &ns_list);
	}
	uep_mutex_unlock(&sk->lock);
	pthread_mutex_unlock(&ns_lock);
	return err;
}

void uep_unix_ns_remove(struct uep_sock *sk)
{
	pthread_mutex_lock(&ns_lock);
	if (sk->hashed) {
		uep_list_del_init(&sk->ns_link);
		sk->hashed = false;
	}
	pthread_mutex_unlock(&ns_lock);
}
