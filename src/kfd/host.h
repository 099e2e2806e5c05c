/*
 * Kernel descriptors in uepoll (the host bridge).  A kernel fd that enters
 * an interest set (or a mixed uepoll_poll) is seen through a host file: a
 * uepoll file whose poll asks the kernel (poll(2) with timeout 0) and whose
 * wait queue is woken by a backend that watches the kernel fd:
 *
 *   epoll  (fallback)  two kernel epoll instances, one registered for the
 *                      input events and one for the output events, both
 *                      edge-triggered: which one fires tells the wake-up's
 *                      key, as the kernel's own callback would see it.
 *   uring              io_uring multishot poll requests (host_uring.c),
 *                      when liburing was found at build time and the
 *                      kernel allows io_uring.
 *
 * UEPOLL_BACKEND=epoll|uring forces one.  Nothing runs in the background:
 * a thread that sleeps in uepoll while host files exist sleeps in ppoll on
 * its own eventfd plus the backend's fds (sync.c), and whoever wakes
 * dispatches the backend's events, which wake the host files' queues.
 */
#ifndef UEP_HOST_H
#define UEP_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/file.h"

struct uep_host_backend {
	const char *name;
	int (*init)(void);      /* 0 or -errno; called once */
	int (*add)(int fd);     /* watch fd for every event; 0 or -errno */
	void (*del)(int fd);    /* stop watching (fd may be closed already) */
	int (*fds)(int out[2]); /* kernel fds readable when dispatch has work */
	void (*dispatch)(void); /* never blocks; calls uep_host_ready() */
};

extern const struct uep_host_backend uep_host_epoll_backend;
#ifdef UEP_HAVE_LIBURING
extern const struct uep_host_backend uep_host_uring_backend;
#endif

/* Backends report readiness of a kernel fd: key = the events that fired. */
void uep_host_ready(int fd, uint32_t key);

/*
 * The host file of kernel fd with a new reference, created on first use;
 * NULL with *err = -EBADF (not open), -EPERM (regular file or directory:
 * not pollable) or -ENOMEM.
 */
struct uepoll_file *uep_host_fget(int fd, int *err);

/* "epoll", "uring" or "none" (no backend started yet). */
const char *uep_host_backend_name(void);

bool uep_is_host_file(const struct uepoll_file *f);

/* uepoll_close of a kernel fd: forget its host file (its registrations go). */
void uep_host_forget(int fd);
/* Hold (true) or release (false) the host table's lock across a fork. */
void uep_host_fork_lock(bool lock);

#endif
