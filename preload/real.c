/*
 * The libc functions the preload interposes, found with dlsym(RTLD_NEXT).
 *
 * The preload links the library's objects into itself, and those call
 * close(), epoll_ctl(), syscall() ... for their kernel work (the kernel
 * halves, the eventfds, futexes).  Left alone, the
 * dynamic linker would bind those calls to the preload's own exported
 * definitions, i.e. back into uepoll.  The link therefore wraps them
 * (ld --wrap, see preload.mk): an undefined reference to close() in the
 * library becomes a reference to __wrap_close(), defined here to call
 * libc.  The double underscore is ld's naming, not ours to choose.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uepoll.h>

#include "preload.h"

struct preload_real real;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static atomic_bool real_done;

static void *next(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p)
		abort(); /* libc without it: nothing sensible can run */
	return p;
}

static void real_load(void)
{
	real.epoll_create1 = next("epoll_create1");
	real.epoll_ctl = next("epoll_ctl");
	real.epoll_wait = next("epoll_wait");
	real.epoll_pwait = next("epoll_pwait");
	real.epoll_pwait2 = next("epoll_pwait2");
	real.close = next("close");
	real.dup2 = next("dup2");
	real.dup3 = next("dup3");
	real.close_range = next("close_range");
	real.closefrom = next("closefrom");
	real.syscall = next("syscall");
	atomic_store_explicit(&real_done, true, memory_order_release);
}

UEP_HOT void preload_real_init(void)
{
	if (!atomic_load_explicit(&real_done, memory_order_acquire))
		pthread_once(&real_once, real_load);
}

/* ---- the library's own calls (ld --wrap) ---- */

int __wrap_epoll_create1(int flags);
int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int __wrap_epoll_wait(int epfd, struct epoll_event *evs, int max, int ms);
int __wrap_epoll_pwait(int epfd, struct epoll_event *evs, int max, int ms,
                       const sigset_t *mask);
int __wrap_epoll_pwait2(int epfd, struct epoll_event *evs, int max,
                        const struct timespec *ts, const sigset_t *mask);
int __wrap_close(int fd);
int __wrap_dup2(int oldfd, int newfd);
int __wrap_dup3(int oldfd, int newfd, int flags);
int __wrap_close_range(unsigned first, unsigned last, int flags);
void __wrap_closefrom(int lowfd);
long __wrap_syscall(long nr, ...);

int __wrap_epoll_create1(int flags)
{
	preload_real_init();
	return real.epoll_create1(flags);
}

UEP_HOT int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	preload_real_init();
	return real.epoll_ctl(epfd, op, fd, ev);
}

UEP_HOT int __wrap_epoll_wait(int epfd, struct epoll_event *evs, int max,
                              int ms)
{
	preload_real_init();
	return real.epoll_wait(epfd, evs, max, ms);
}

UEP_HOT int __wrap_epoll_pwait(int epfd, struct epoll_event *evs, int max,
                               int ms, const sigset_t *mask)
{
	preload_real_init();
	return real.epoll_pwait(epfd, evs, max, ms, mask);
}

UEP_HOT int __wrap_epoll_pwait2(int epfd, struct epoll_event *evs, int max,
                                const struct timespec *ts, const sigset_t *mask)
{
	preload_real_init();
	return real.epoll_pwait2(epfd, evs, max, ts, mask);
}

int __wrap_close(int fd)
{
	preload_real_init();
	return real.close(fd);
}

int __wrap_dup2(int oldfd, int newfd)
{
	preload_real_init();
	return real.dup2(oldfd, newfd);
}

int __wrap_dup3(int oldfd, int newfd, int flags)
{
	preload_real_init();
	return real.dup3(oldfd, newfd, flags);
}

int __wrap_close_range(unsigned first, unsigned last, int flags)
{
	preload_real_init();
	return real.close_range(first, last, flags);
}

void __wrap_closefrom(int lowfd)
{
	preload_real_init();
	real.closefrom(lowfd);
}

long __wrap_syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	preload_real_init();
	return real.syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
