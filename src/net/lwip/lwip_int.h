/*
 * What the files of uepoll-lwip share: the socket, its locks, and the
 * helpers of the drivers.
 *
 * LOCKING
 *   core    lwIP's core lock (LOCK_TCPIP_CORE).  Every lwIP call and every
 *           field marked (core) below.  lwIP's callbacks (on_recv,
 *           on_sent, on_err, on_accept, on_connected, the UDP recv) run
 *           with it held, in the tcpip thread or a driver thread; they only
 *           update the socket and wake its wait queue, never sleep.
 *   lock    the socket's own mutex, innermost: the fields marked (lock),
 *           which the file's poll() reads.  They are written under core
 *           and lock together, so a holder of either reads them safely.
 *           poll() takes only lock: uepoll_wake_up() is called under core
 *           (never under lock) and runs epoll's callbacks, which must not
 *           wait for a lock that poll() holds (include/uepoll.h).
 */
#ifndef UEP_LWIP_INT_H
#define UEP_LWIP_INT_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>

#include <lwip/ip_addr.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/tcp.h>
#include <lwip/tcpip.h>
#include <lwip/udp.h>

#include "uepoll.h"
#include "net/lwip/uepoll_lwip.h"

enum lsk_state {
	LSK_NEW,        /* never connected (Linux's TCP_CLOSE, fresh) */
	LSK_LISTEN,     /* a listener */
	LSK_CONNECTING, /* SYN sent */
	LSK_CONNECTED,  /* established, maybe half closed */
	LSK_CLOSED,     /* reset, failed, or closed both ways */
};
/* What the connect calls saw (Linux's sock->state, beside TCP's state). */
enum lsk_ss {
	LSK_SS_UNCONNECTED, /* no connect under way, or its end reported */
	LSK_SS_CONNECTING,  /* a connect started it; no call saw it end yet */
	LSK_SS_CONNECTED,   /* a call saw it established, or accepted */
};
#define LSK_RCV_SHUT 1u  /* Linux's RCV_SHUTDOWN */
#define LSK_SEND_SHUT 2u /* SEND_SHUTDOWN */

/* The wake-up keys of Linux's sk_data_ready and sk_write_space. */
#define LSK_KEY_IN (EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND)
#define LSK_KEY_OUT (EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND)

struct lsk_buf { /* one received segment or datagram */
	struct lsk_buf *next;
	struct pbuf *p;
	size_t off;     /* bytes of p already read (stream) */
	ip_addr_t from; /* sender (datagram) */
	u16_t port;
};

struct lsk {
	pthread_mutex_t lock;
	struct uepoll_wait_queue *wq;
	int type; /* SOCK_STREAM or SOCK_DGRAM */

	/* (core) */
	struct tcp_pcb *tcp; /* NULL once lwIP freed it or we let it go */
	struct udp_pcb *udp;
	struct lsk_buf *rx_head, *rx_tail; /* receive queue */
	struct lsk *aq_head, *aq_tail;     /* accept queue (listener) */
	struct lsk *aq_next;               /* link in it (child) */
	int backlog;
	u8_t netif_idx; /* the interface the socket is tied to, or 0 */
	bool nodelay;   /* TCP_NODELAY */
	bool fin;       /* the peer's FIN arrived */
	enum lsk_ss ss;
	struct sockaddr_in local, peer;

	/* (lock), written under core too */
	enum lsk_state state;
	int err;         /* pending SO_ERROR */
	unsigned shut;   /* LSK_*_SHUT */
	bool writable;   /* send room (Linux's sk_stream_is_writeable) */
	bool nospace;    /* a writer found no room: wake it (SOCK_NOSPACE) */
	size_t rx_bytes; /* bytes (stream) or datagrams on the queue */
	size_t aq_len;   /* connections in the accept queue */
	bool reuseaddr;  /* SO_REUSEADDR */
};

static inline struct lsk *lsk_of(struct uepoll_file *file)
{
	return uepoll_file_private(file);
}

/* lwip_sock.c */
struct lsk *lsk_alloc(int type);
void lsk_free_queues(struct lsk *sk);
void lsk_wake(struct lsk *sk, uint32_t key);
int lsk_install(struct lsk *sk, int flags);
/* The receive queue (core): append and wake the readers; drop the head. */
void lsk_rx_queue(struct lsk *sk, struct lsk_buf *b);
void lsk_rx_drop_head(struct lsk *sk);
int lsk_addr_in(const struct sockaddr *a, socklen_t len, ip_addr_t *ip,
                u16_t *port);
int lsk_bind_addr(const struct sockaddr *a, socklen_t len, ip_addr_t *ip,
                  u16_t *port, u8_t *idx);
size_t lsk_iov_len(const struct msghdr *msg);
void lsk_addr_out(struct sockaddr_in *sin, const ip_addr_t *ip, u16_t port);
int lsk_getname(struct uepoll_file *file, struct sockaddr *addr, socklen_t *len,
                int peer);
int lsk_getsockopt(struct uepoll_file *file, int level, int name, void *val,
                   socklen_t *len);
int lsk_setsockopt(struct uepoll_file *file, int level, int name,
                   const void *val, socklen_t len);
size_t lsk_copy_out(const struct msghdr *msg, size_t at, struct pbuf *p,
                    size_t off, size_t n);

/* lwip_tcp.c */
extern const struct uepoll_socket_operations lsk_tcp_ops;
int lsk_tcp_open(struct lsk *sk);
uint32_t lsk_tcp_poll(struct lsk *sk);
void lsk_tcp_release(struct lsk *sk);

/* lwip_udp.c */
extern const struct uepoll_socket_operations lsk_udp_ops;
int lsk_udp_open(struct lsk *sk);
uint32_t lsk_udp_poll(struct lsk *sk);
void lsk_udp_release(struct lsk *sk);

/* lwip_netif.c */
u8_t lsk_netif_of_addr(const ip_addr_t *ip);
u8_t lsk_netif_to_peer(const ip_addr_t *ip);
void lsk_trace(enum uepoll_lwip_step step, size_t len);

#endif
