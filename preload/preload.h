/*
 * libuepoll-preload.so: unmodified programs on uepoll (see README,
 * "Preload").  Internal header of the preload's three modules:
 *
 *   real.c       the libc functions it interposes, found with
 *                dlsym(RTLD_NEXT); the library's own calls to them go
 *                straight there (the link wraps them, see preload.mk)
 *   table.c      the program's epoll fds (kernel epolls: each one is the
 *                kernel half of a uepoll instance) and their instances
 *   interpose.c  the exported libc symbols
 */
#ifndef UEP_PRELOAD_H
#define UEP_PRELOAD_H

#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <time.h>

#include "lib/compiler.h"

struct preload_real {
	int (*epoll_create1)(int flags);
	int (*epoll_ctl)(int epfd, int op, int fd, struct epoll_event *ev);
	int (*epoll_wait)(int epfd, struct epoll_event *evs, int max, int ms);
	int (*epoll_pwait)(int epfd, struct epoll_event *evs, int max, int ms,
	                   const sigset_t *mask);
	int (*epoll_pwait2)(int epfd, struct epoll_event *evs, int max,
	                    const struct timespec *ts, const sigset_t *mask);
	int (*close)(int fd);
	int (*dup2)(int oldfd, int newfd);
	int (*dup3)(int oldfd, int newfd, int flags);
	int (*close_range)(unsigned first, unsigned last, int flags);
	void (*closefrom)(int lowfd);
	long (*syscall)(long nr, ...);
};

/* Filled by preload_real_init(), which every entry point calls first. */
extern struct preload_real real;
void preload_real_init(void);

/* The uepoll instance whose kernel half is fd, or 0 (not one of ours). */
int table_get(int fd);
/* Make ufd the instance of kernel epoll fd (a stale one is closed). */
void table_set(int fd, int ufd);
/* fd is closed or replaced: forget (and close) its instance, if any. */
void table_forget(int fd);

/* Every fd in [first, last] is about to be closed. */
void table_forget_range(unsigned first, unsigned last);

/*
 * Between vfork (or posix_spawn's clone) and exec the child runs on the
 * parent's memory: it must not change the table.  True in such a child.
 */
bool preload_in_vfork_child(void);

#endif
