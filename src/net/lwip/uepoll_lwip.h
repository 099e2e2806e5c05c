/*
 * uepoll-lwip: lwIP's TCP and UDP as uepoll sockets, the reference
 * integration of a userspace TCP/IP stack (README, "Making your own
 * sockets pollable").  It uses only the public contract of uepoll.h
 * (uepoll_socket_create, uepoll_poll_wait, uepoll_wake_up) and lwIP's raw
 * API, with lwIP's core lock (LWIP_TCPIP_CORE_LOCKING) around every stack
 * call, so that any thread may use any socket.
 *
 * Link: libuepoll-lwip.a libuepoll.a -llwip.  All calls return -1 with
 * errno on failure, like the rest of uepoll.
 */
#ifndef UEPOLL_LWIP_H
#define UEPOLL_LWIP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Start lwIP (its tcpip thread, which runs the timers) once. */
int uepoll_lwip_init(void);

/*
 * An lwIP socket: AF_INET, SOCK_STREAM (TCP) or SOCK_DGRAM (UDP), with
 * SOCK_NONBLOCK and SOCK_CLOEXEC.  Starts lwIP if needed.
 */
int uepoll_lwip_socket(int domain, int type, int protocol);

/* uepoll_socket(AF_INET, ...) makes lwIP sockets from now on (or no more). */
int uepoll_lwip_register(void);
int uepoll_lwip_unregister(void);

/*
 * The in-process wire: two network interfaces ("hosts") a and b, joined
 * point to point, addresses in dotted form.  An IP packet one sends is
 * copied, queued, and handed to the other's IP input by the wire's own
 * thread (the NIC's interrupt and softirq).  A socket bound to one host's
 * address, or connecting to the other's, uses that host's interface.
 * Only one wire per process.
 */
int uepoll_lwip_wire(const char *a, const char *b);

/*
 * A TAP device (which must exist and be up on the kernel's side) as an
 * lwIP Ethernet interface with address cidr ("10.0.0.2/24"), the default
 * route.  A driver thread reads its frames and hands them to the stack.
 */
int uepoll_lwip_tap(const char *name, const char *cidr);

/* Steps of a packet's way that the drivers and sockets report. */
enum uepoll_lwip_step {
	UEPOLL_LWIP_FRAME_IN = 1, /* the driver took a frame from the NIC */
	UEPOLL_LWIP_STACK_IN,     /* ...and hands it to lwIP (IP, TCP) */
	UEPOLL_LWIP_RX_QUEUED,    /* data on a socket's receive queue */
	UEPOLL_LWIP_RECV,         /* recv returned bytes to the program */
	UEPOLL_LWIP_SEND,         /* send gave bytes to TCP */
	UEPOLL_LWIP_FRAME_OUT,    /* the driver put a frame on the NIC */
};
/* Called in the thread of the step, maybe under lwIP's core lock. */
typedef void (*uepoll_lwip_trace_fn)(enum uepoll_lwip_step step, size_t len,
                                     void *arg);
void uepoll_lwip_set_trace(uepoll_lwip_trace_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
