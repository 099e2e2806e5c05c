/*
 * In-process sockets with AF_UNIX semantics (the kernel's net/unix/af_unix.c
 * and the parts of net/core/sock.c it relies on), split in five:
 *   socket.c       the socket object: lifetime, names, listen/connect/accept,
 *                  shutdown, options;
 *   sock_buf.c     buffers and their accounting, the sleeps of blocking calls;
 *   unix_stream.c  SOCK_STREAM send/recv/poll;
 *   unix_dgram.c   SOCK_DGRAM and SOCK_SEQPACKET send/recv/poll, dgram connect;
 *   unix_addr.c    the namespace of bound names: bind, autobind, lookup.
 *
 * LOCKING
 *   sk->lock        the socket's state, peer pointer and receive queue (the
 *                   kernel's unix_state_lock plus the queue lock).  Two socket
 *                   locks nest only listener -> connecting socket (connect),
 *                   or by address for the dgram double lock.
 *   sk->wq.lock     the socket's wait queue (pollers, epitems, sleepers).
 *   sk->peer_wait   senders sleeping for room in this socket's queue or
 *                   backlog; a dgram client's relay entry (peer_wake) sits
 *                   here.  Its relay callback takes the client's wq lock.
 *   Order: sk->lock -> other->peer_wait.lock -> wq locks -> engine locks.
 *   No wake-up is issued while a socket lock is held (the wait queue
 *   callbacks run epoll's callback, and f_op->poll takes sk->lock).
 *
 * LIFETIME
 *   sk->refcnt counts the file (if any), the peer pointer of the other end,
 *   every queued buffer charged to sk (skb->owner), a listener's queued
 *   connection request (skb->newsk), and temporary holds.  The file's
 *   release is the kernel's unix_release_sock: the socket is marked dead,
 *   its name removed, its peer told, its queue flushed; the memory goes
 *   with the last reference.
 */
#ifndef UEP_SOCKET_H
#define UEP_SOCKET_H

#include <sys/socket.h>
#include <string.h>
#include <sys/un.h>

#include "fs/file.h"
#include "lib/list.h"

#define UEP_RCV_SHUTDOWN 1u
#define UEP_SEND_SHUTDOWN 2u
#define UEP_SHUTDOWN_MASK 3u

enum uep_sock_state {
	UEP_SS_CLOSE,       /* fresh, or disconnected */
	UEP_SS_LISTEN,      /* listen() done */
	UEP_SS_ESTABLISHED, /* has a peer (or had one: peer closed) */
};

/* A queued buffer (the kernel's sk_buff, cut to what accounting needs). */
struct uep_skb {
	struct uep_list link;   /* in the receiver's rcvq, under its lock */
	struct uep_sock *owner; /* charged with truesize; holds a reference */
	struct uep_sock *newsk; /* connection request: the embryo (a ref) */
	uint32_t truesize;
	size_t len, consumed;
	char data[];
};

struct uep_sock;

/* Per-type operations; each returns a count or -errno. */
struct uep_proto_ops {
	ssize_t (*sendmsg)(struct uep_sock *sk, const struct msghdr *msg,
	                   size_t len, int flags);
	ssize_t (*recvmsg)(struct uep_sock *sk, struct msghdr *msg, size_t len,
	                   int flags);
	uint32_t (*poll)(struct uep_sock *sk, struct uepoll_file *f,
	                 struct uepoll_poll_table *pt);
	int (*connect)(struct uep_sock *sk, const struct sockaddr_un *addr,
	               socklen_t len, bool nonblock);
};

struct uep_sock {
	_Atomic long refcnt;
	int type; /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	const struct uep_proto_ops *ops;
	struct uep_mutex lock;
	struct uepoll_wait_queue wq;
	struct uepoll_wait_queue peer_wait;

	/* written under lock; the atomics are read without it (poll) */
	_Atomic int state;             /* enum uep_sock_state */
	_Atomic unsigned shutdown;     /* UEP_*_SHUTDOWN */
	_Atomic int err;               /* pending error (SO_ERROR), positive */
	_Atomic bool dead;             /* released: the file is gone */
	struct uep_sock *_Atomic peer; /* holds a reference */
	struct uep_list rcvq;
	_Atomic long rcvq_len;       /* buffers in rcvq */
	_Atomic int max_ack_backlog; /* listen backlog; max dgram queue */
	struct sockaddr_un addr;     /* the name, valid when addr_len > 0 */
	socklen_t addr_len;
	bool hashed; /* addr is in the namespace */

	/* accounting: bytes charged for this socket's buffers in flight */
	_Atomic long wmem_alloc;
	_Atomic int sndbuf, rcvbuf;

	/* the dgram relay (see unix_dgram.c), under other->peer_wait.lock */
	struct uep_wait_entry peer_wake;
	struct uep_sock *peer_wake_other;

	struct uep_list ns_link; /* in the namespace, under its lock */
};

/* Copy between a flat buffer and a message's iovec at byte offset off. */
static inline void uep_iov_from(const struct msghdr *msg, size_t off, void *dst,
                                size_t n)
{
	char *d = dst;
	for (size_t i = 0; i < msg->msg_iovlen && n; i++) {
		size_t l = msg->msg_iov[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		size_t c = l - off < n ? l - off : n;
		memcpy(d, (char *)msg->msg_iov[i].iov_base + off, c);
		d += c;
		n -= c;
		off = 0;
	}
}

static inline void uep_iov_to(struct msghdr *msg, size_t off, const void *src,
                              size_t n)
{
	const char *s = src;
	for (size_t i = 0; i < msg->msg_iovlen && n; i++) {
		size_t l = msg->msg_iov[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		size_t c = l - off < n ? l - off : n;
		memcpy((char *)msg->msg_iov[i].iov_base + off, s, c);
		s += c;
		n -= c;
		off = 0;
	}
}

/*
 * The key of a data-ready wake-up (sock_def_readable): EPOLLPRI is in it,
 * so an item watching PRI and OUT is queued by it and reports OUT.
 */
#define UEP_SOCK_DATA_READY (EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND)

static inline bool uep_sock_rcvq_full(struct uep_sock *sk)
{
	return atomic_load(&sk->rcvq_len) > atomic_load(&sk->max_ack_backlog);
}

/* ---- socket.c ---- */
extern const struct uepoll_file_operations uep_socket_fops;

static inline bool uep_is_file_socket(const struct uepoll_file *f)
{
	return f->f_op == &uep_socket_fops;
}

static inline struct uep_sock *uep_file_sock(struct uepoll_file *f)
{
	return f->private_data;
}

void uep_sock_hold(struct uep_sock *sk);
void uep_sock_put(struct uep_sock *sk);
struct uep_sock *uep_sock_alloc(int type);
/* The peer with a reference, or NULL. */
struct uep_sock *uep_sock_peer_get(struct uep_sock *sk);

/* Take and clear the pending error (sock_error): -errno or 0. */
int uep_sock_error(struct uep_sock *sk);
/* The kernel's unix_release_sock (embrion: a connection never accepted);
 * drops the caller's reference. */
void uep_unix_release_sock(struct uep_sock *sk, bool embrion);

/* ---- sock_buf.c ---- */

/* Buffers: allocation charged to owner, and their release. */
long uep_unix_truesize(int type, size_t head, size_t data_len);
struct uep_skb *uep_skb_alloc(struct uep_sock *owner, size_t len,
                              uint32_t truesize);
/* Free buffers unlinked from a queue; call with no socket lock held. */
void uep_skb_free(struct uep_skb *skb);
void uep_skb_free_list(struct uep_list *list);

static inline bool uep_sock_writable(struct uep_sock *sk)
{
	return sk->state != UEP_SS_LISTEN &&
	       (atomic_load(&sk->wmem_alloc) + 1) * 4 <=
	               atomic_load(&sk->sndbuf);
}

/*
 * Wait for room in the send buffer (sock_alloc_send_pskb's loop): 0 when a
 * buffer may be allocated, else -errno (pending error, EPIPE after
 * SEND_SHUTDOWN, EAGAIN when nonblock, EINTR).
 */
int uep_sock_wait_wmem(struct uep_sock *sk, bool nonblock);

/* A thread sleeping on a wait queue (prepare_to_wait / finish_wait). */
struct uep_sock_waiter {
	struct uep_wait_entry entry;
	struct uep_waiter w;
	struct uepoll_wait_queue *wq;
	uint32_t key;
	bool armed;
};
void uep_sock_wait_prepare(struct uep_sock_waiter *sw,
                           struct uepoll_wait_queue *wq, uint32_t key,
                           bool exclusive);
/* 0 after a wake-up (re-check), or -EINTR. */
int uep_sock_wait_sleep(struct uep_sock_waiter *sw);
/*
 * One turn of a wait loop (sw starts with armed false): the first call
 * hooks sw on wq and returns 0, so that the caller checks its condition
 * again with the entry in place; later calls sleep.  0 (check again) or
 * -EINTR; uep_sock_wait_finish() after the loop.
 */
int uep_sock_wait_step(struct uep_sock_waiter *sw, struct uepoll_wait_queue *wq,
                       uint32_t key, bool exclusive);
void uep_sock_wait_finish(struct uep_sock_waiter *sw);

/* Names: validate and find a bound socket of the given type (a ref). */
int uep_unix_validate_addr(const struct sockaddr_un *a, socklen_t len);
struct uep_sock *uep_unix_find_other(const struct sockaddr_un *a, socklen_t len,
                                     int type, int *err);
void uep_unix_copy_addr(struct msghdr *msg, struct uep_sock *from);

/* Sends SIGPIPE to the calling thread (send_sig to current). */
void uep_sock_sigpipe(void);

/* ---- unix_stream.c / unix_dgram.c ---- */
extern const struct uep_proto_ops uep_unix_stream_ops;
extern const struct uep_proto_ops uep_unix_dgram_ops;
extern const struct uep_proto_ops uep_unix_seqpacket_ops;
int uep_unix_stream_connect(struct uep_sock *sk, const struct sockaddr_un *a,
                            socklen_t len, bool nonblock);
void uep_unix_dgram_peer_wake_disconnect(struct uep_sock *sk,
                                         struct uep_sock *other);
void uep_unix_dgram_disconnected(struct uep_sock *sk, struct uep_sock *other);

/* ---- the socket calls, for socket_api.c: fds in, -errno out ---- */
int uep_socket_create(int domain, int type, int protocol);
int uep_socketpair_create(int domain, int type, int protocol, int sv[2]);
int uep_sock_bind(struct uep_sock *sk, const struct sockaddr *a, socklen_t len);
/* Take sk's name out of the namespace (its release). */
void uep_unix_ns_remove(struct uep_sock *sk);
int uep_sock_listen(struct uep_sock *sk, int backlog);
int uep_sock_accept(struct uep_sock *sk, struct uepoll_file *f,
                    struct sockaddr *a, socklen_t *len, int flags);
int uep_sock_connect(struct uep_sock *sk, struct uepoll_file *f,
                     const struct sockaddr *a, socklen_t len);
int uep_sock_getname(struct uep_sock *sk, struct sockaddr *a, socklen_t *len,
                     bool peer);
int uep_sock_shutdown(struct uep_sock *sk, int how);
int uep_sock_getsockopt(struct uep_sock *sk, int level, int name, void *val,
                        socklen_t *len);
int uep_sock_setsockopt(struct uep_sock *sk, int level, int name,
                        const void *val, socklen_t len);
ssize_t uep_sock_sendmsg(struct uep_sock *sk, struct uepoll_file *f,
                         const struct msghdr *msg, int flags);
ssize_t uep_sock_recvmsg(struct uep_sock *sk, struct uepoll_file *f,
                         struct msghdr *msg, int flags);
/* FIONREAD (SIOCINQ): queued bytes, or the next datagram's; -EINVAL when
 * listening. */
int uep_sock_inq(struct uep_sock *sk);

#endif
