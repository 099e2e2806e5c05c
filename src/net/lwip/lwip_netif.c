/*
 * uepoll-lwip's NICs and their drivers: the in-process wire (two
 * interfaces joined point to point) and a TAP device.  Each driver has a
 * thread that takes frames off its NIC and hands them to lwIP under the
 * core lock: the interrupt and the softirq of the kernel's story, in one.
 * lwIP's own tcpip thread runs only the timers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <lwip/etharp.h>
#include <lwip/init.h>
#include <lwip/ip.h>
#include <netif/ethernet.h>

#include "net/lwip/lwip_int.h"

/* ---- start, trace ---- */

static pthread_once_t started = PTHREAD_ONCE_INIT;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cv = PTHREAD_COND_INITIALIZER;
static bool start_done;

static void tcpip_ready(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&start_lock);
	start_done = true;
	pthread_cond_signal(&start_cv);
	pthread_mutex_unlock(&start_lock);
}

static void start(void)
{
	tcpip_init(tcpip_ready, NULL);
	pthread_mutex_lock(&start_lock);
	while (!start_done)
		pthread_cond_wait(&start_cv, &start_lock);
	pthread_mutex_unlock(&start_lock);
}

int uepoll_lwip_init(void)
{
	pthread_once(&started, start);
	return 0;
}

/* The hook and its argument, published together (one pointer). */
struct trace_hook {
	uepoll_lwip_trace_fn fn;
	void *arg;
};
static struct trace_hook *_Atomic trace_hook;

void uepoll_lwip_set_trace(uepoll_lwip_trace_fn fn, void *arg)
{
	struct trace_hook *h = NULL;
	if (fn && (h = malloc(sizeof(*h))))
		*h = (struct trace_hook){fn, arg};
	/* The old hook is leaked on purpose: a step may be running it. */
	atomic_store_explicit(&trace_hook, h, memory_order_release);
}

void lsk_trace(enum uepoll_lwip_step step, size_t len)
{
	/* Pairs with the release store in uepoll_lwip_set_trace(). */
	struct trace_hook *h =
	        atomic_load_explicit(&trace_hook, memory_order_acquire);
	if (h)
		h->fn(step, len, h->arg);
}

/* ---- which interface a socket uses (core) ---- */

u8_t lsk_netif_of_addr(const ip_addr_t *ip)
{
	struct netif *n;
	NETIF_FOREACH(n)
	{
		if (ip4_addr_cmp(ip_2_ip4(ip), netif_ip4_addr(n)))
			return netif_get_index(n);
	}
	return 0;
}

/* The point-to-point interface whose peer is ip, if any. */
u8_t lsk_netif_to_peer(const ip_addr_t *ip)
{
	struct netif *n;
	NETIF_FOREACH(n)
	{
		if (!(n->flags & NETIF_FLAG_BROADCAST) &&
		    ip4_addr_cmp(ip_2_ip4(ip), netif_ip4_gw(n)))
			return netif_get_index(n);
	}
	return 0;
}

/* ---- the driver's queue and thread ---- */

struct frame {
	struct frame *next;
	struct pbuf *p;
	struct netif *to;
};

struct rxq {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct frame *head, *tail;
};

static void rxq_put(struct rxq *q, struct pbuf *p, struct netif *to)
{
	struct frame *fr = malloc(sizeof(*fr));
	if (!fr) {
		pbuf_free(p);
		return;
	}
	*fr = (struct frame){.p = p, .to = to};
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = fr;
	else
		q->head = fr;
	q->tail = fr;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->lock);
}

/* Hand a frame to lwIP: the stack's input under the core lock. */
static void stack_input(struct pbuf *p, struct netif *to)
{
	LOCK_TCPIP_CORE();
	lsk_trace(UEPOLL_LWIP_STACK_IN, p->tot_len);
	if (to->input(p, to) != ERR_OK)
		pbuf_free(p);
	UNLOCK_TCPIP_CORE();
}

/* ---- the wire ---- */

static struct wire {
	struct netif end[2];
	struct rxq q;
	pthread_t thread;
	bool up;
} wire = {
        .q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL}};

/* An IP packet out of one end: a copy is queued for the other. */
static err_t wire_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
	(void)a;
	struct pbuf *q = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
	if (!q)
		return ERR_MEM;
	lsk_trace(UEPOLL_LWIP_FRAME_OUT, q->tot_len);
	rxq_put(&wire.q, q, n == &wire.end[0] ? &wire.end[1] : &wire.end[0]);
	return ERR_OK;
}

static void *wire_thread(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&wire.q.lock);
		while (!wire.q.head)
			pthread_cond_wait(&wire.q.cv, &wire.q.lock);
		struct frame *fr = wire.q.head;
		wire.q.head = fr->next;
		if (!wire.q.head)
			wire.q.tail = NULL;
		pthread_mutex_unlock(&wire.q.lock);
		lsk_trace(UEPOLL_LWIP_FRAME_IN, fr->p->tot_len);
		stack_input(fr->p, fr->to);
		free(fr);
	}
	return NULL;
}

static err_t wire_init(struct netif *n)
{
	n->name[0] = 'w';
	n->name[1] = n == &wire.end[0] ? 'a' : 'b';
	n->mtu = 1500;
	n->output = wire_output;
	n->flags = 0; /* point to point: no broadcast, no ARP */
	return ERR_OK;
}

int uepoll_lwip_wire(const char *a, const char *b)
{
	ip4_addr_t ip[2], mask;
	if (!ip4addr_aton(a, &ip[0]) || !ip4addr_aton(b, &ip[1])) {
		errno = EINVAL;
		return -1;
	}
	uepoll_lwip_init();
	IP4_ADDR(&mask, 255, 255, 255, 255);
	LOCK_TCPIP_CORE();
	int r = 0;
	if (wire.up) {
		r = -EBUSY;
	} else {
		for (int i = 0; i < 2 && !r; i++) {
			if (!netif_add(&wire.end[i], &ip[i], &mask, &ip[1 - i],
			               NULL, wire_init, ip_input))
				r = -ENOMEM;
			netif_set_up(&wire.end[i]);
			netif_set_link_up(&wire.end[i]);
		}
		wire.up = !r;
	}
	UNLOCK_TCPIP_CORE();
	if (!r && pthread_create(&wire.thread, NULL, wire_thread, NULL))
		r = -EAGAIN;
	if (r) {
		errno = -r;
		return -1;
	}
	return 0;
}

/* ---- the TAP device ---- */

static struct {
	struct netif nif;
	int fd;
	pthread_t thread;
} tap = {.fd = -1};

static err_t tap_linkoutput(struct netif *n, struct pbuf *p)
{
	unsigned char buf[1600];
	(void)n;
	if (p->tot_len > sizeof(buf))
		return ERR_BUF;
	u16_t len = pbuf_copy_partial(p, buf, p->tot_len, 0);
	lsk_trace(UEPOLL_LWIP_FRAME_OUT, len);
	if (write(tap.fd, buf, len) != len)
		return ERR_IF;
	return ERR_OK;
}

static void *tap_thread(void *arg)
{
	unsigned char buf[1600];
	(void)arg;
	for (;;) {
		ssize_t n = read(tap.fd, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return NULL;
		}
		lsk_trace(UEPOLL_LWIP_FRAME_IN, (size_t)n);
		struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_RAM);
		if (!p)
			continue;
		pbuf_take(p, buf, (u16_t)n);
		stack_input(p, &tap.nif);
	}
}

static err_t tap_init(struct netif *n)
{
	n->name[0] = 't';
	n->name[1] = 'p';
	n->mtu = 1500;
	n->hwaddr_len = 6;
	/* A locally administered address, fixed per process. */
	unsigned pid = (unsigned)getpid();
	unsigned char mac[6] = {0x02,
	                        0x75,
	                        0x65,
	                        (unsigned char)(pid >> 16),
	                        (unsigned char)(pid >> 8),
	                        (unsigned char)pid};
	memcpy(n->hwaddr, mac, 6);
	n->output = etharp_output;
	n->linkoutput = tap_linkoutput;
	n->flags =
	        NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	return ERR_OK;
}

int uepoll_lwip_tap(const char *name, const char *cidr)
{
	char addr[32];
	ip4_addr_t ip, mask, gw;
	const char *slash = strchr(cidr, '/');
	int bits = slash ? atoi(slash + 1) : 32;
	size_t l = slash ? (size_t)(slash - cidr) : strlen(cidr);
	if (l >= sizeof(addr) || bits < 1 || bits > 32 ||
	    strlen(name) >= IFNAMSIZ) {
		errno = EINVAL;
		return -1;
	}
	memcpy(addr, cidr, l);
	addr[l] = 0;
	if (!ip4addr_aton(addr, &ip)) {
		errno = EINVAL;
		return -1;
	}
	ip4_addr_set_u32(&mask, htonl(~0u << (32 - bits)));
	ip4_addr_set_zero(&gw);
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	uepoll_lwip_init();
	tap.fd = fd;
	LOCK_TCPIP_CORE();
	bool ok = netif_add(&tap.nif, &ip, &mask, &gw, NULL, tap_init,
	                    ethernet_input) != NULL;
	if (ok) {
		netif_set_default(&tap.nif);
		netif_set_up(&tap.nif);
		netif_set_link_up(&tap.nif);
	}
	UNLOCK_TCPIP_CORE();
	if (!ok || pthread_create(&tap.thread, NULL, tap_thread, NULL)) {
		errno = ok ? EAGAIN : ENOMEM;
		return -1;
	}
	return 0;
}
