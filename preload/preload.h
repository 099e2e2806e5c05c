/*
 * libuepoll-preload.so: unmodified programs on uepoll (see README,
 * "Preload").  Internal header of the preload's three modules:
 *
 *   real.c       the libc functions it interposes, found with
 *                dlsym(RTLD_NEXT); the library's own calls to them go
 *                straight there (the link wraps them, see preload.mk)
 *   proxy.c      the proxy table: the kernel eventfd that stands for each
 *                epoll instance, its uepoll descriptor, dup, close, fork
 *   interpose.c  the exported libc symbols
 */
#ifndef UEP_PRELOAD_H
#define UEP_PRELOAD_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <time.h>

struct preload_real {
	int (*epoll_create1)(int flags);
	int (*epoll_ctl)(int epfd, int op, int fd, struct epoll_event *ev);
	int (*epoll_wait)(int epfd, struct epoll_event *evs, int max, int ms);
	int (*epoll_pwait)(int epfd, struct epoll_event *evs, int max, int ms,
	                   const sigset_t *mask);
	int (*epoll_pwait2)(int epfd, struct epoll_event *evs, int max,
	                    const struct timespec *ts, const sigset_t *mask);
	int (*close)(int fd);
	int (*dup)(int fd);
	int (*dup2)(int oldfd, int newfd);
	int (*dup3)(int oldfd, int newfd, int flags);
	int (*fcntl)(int fd, int cmd, ...);
	int (*poll)(struct pollfd *fds, nfds_t n, int ms);
	long (*syscall)(long nr, ...);
};

/* Filled by preload_real_init(), which every entry point calls first. */
extern struct preload_real real;
void preload_real_init(void);

/* Has this process's host backend started (uepoll_host_backend)? */
bool preload_backend_running(void);
/* Before a ctl that may start the backend: restore UEPOLL_BACKEND if the
 * program dropped it; true if the caller must unsetenv it afterwards. */
bool preload_backend_env(void);

/* What the interposed calls do in this process. */
enum preload_mode {
	PRELOAD_UEPOLL,        /* epoll is uepoll */
	PRELOAD_CHILD_PENDING, /* a forked child: convert on first use */
	PRELOAD_CHILD_FRESH,   /* a forked child of a backend-less parent:
	                          new proxy eventfds on first use */
	PRELOAD_KERNEL,        /* converted: everything goes to libc */
};

/* The current mode; a pending child is converted here first. */
enum preload_mode proxy_mode(void);

/* The uepoll descriptor behind proxy fd, or -1 when fd is not a proxy. */
int proxy_ufd(int fd);
/* Any proxies at all?  (Lock-free: the fast path of close and poll.) */
bool proxy_any(void);

/* A new instance and its proxy (EPOLL_CLOEXEC in flags); -1 and errno. */
int proxy_create(int flags);
/* fd is about to be closed or replaced: forget it if it is a proxy. */
bool proxy_release(int fd);
/* A kernel dup of oldfd became newfd: a proxy's dup is a proxy too. */
void proxy_dup_done(int oldfd, int newfd);
/* After a wait: the proxy is readable exactly when the instance is. */
void proxy_sync(int fd, int ufd);

void proxy_atfork_prepare(void);
void proxy_atfork_parent(void);
void proxy_atfork_child(void);

#endif
