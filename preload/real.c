/*
 * The libc functions the preload interposes, found with dlsym(RTLD_NEXT).
 *
 * The preload links the library's objects into itself, and those call
 * close(), epoll_ctl(), poll(), syscall() ... for their kernel work (the
 * host backends, the per-thread eventfds, futexes).  Left alone, the
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
	real.dup = next("dup");
	real.dup2 = next("dup2");
	real.dup3 = next("dup3");
	real.fcntl = next("fcntl");
	real.poll = next("poll");
	real.syscall = next("syscall");
	pthread_atfork(proxy_atfork_prepare, proxy_atfork_parent,
	               proxy_atfork_child);
	atomic_store_explicit(&real_done, true, memory_order_release);
}

void preload_real_init(void)
{
	if (!atomic_load_explicit(&real_done, memory_order_acquire))
		pthread_once(&real_once, real_load);
}

/*
 * UEPOLL_BACKEND as the program was given it.  uepoll reads the variable
 * when the first kernel fd joins an instance, and some programs (nginx)
 * have replaced their environment by then: the first epoll_ctl puts it
 * back for the duration of that call (preload_backend_env).
 */
static char *want_backend;
static atomic_bool backend_running;

__attribute__((constructor)) static void preload_ctor(void)
{
	preload_real_init();
	const char *b = getenv("UEPOLL_BACKEND");
	if (b)
		want_backend = strdup(b);
}

bool preload_backend_running(void)
{
	if (atomic_load_explicit(&backend_running, memory_order_relaxed))
		return true;
	if (strcmp(uepoll_host_backend(), "none") == 0)
		return false;
	atomic_store(&backend_running, true);
	return true;
}

bool preload_backend_env(void)
{
	if (!want_backend || preload_backend_running() ||
	    getenv("UEPOLL_BACKEND"))
		return false;
	return setenv("UEPOLL_BACKEND", want_backend, 1) == 0;
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
int __wrap_dup(int fd);
int __wrap_dup2(int oldfd, int newfd);
int __wrap_dup3(int oldfd, int newfd, int flags);
int __wrap_fcntl(int fd, int cmd, ...);
int __wrap_poll(struct pollfd *fds, nfds_t n, int ms);
long __wrap_syscall(long nr, ...);

int __wrap_epoll_create1(int flags)
{
	preload_real_init();
	return real.epoll_create1(flags);
}

int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	preload_real_init();
	return real.epoll_ctl(epfd, op, fd, ev);
}

int __wrap_epoll_wait(int epfd, struct epoll_event *evs, int max, int ms)
{
	preload_real_init();
	return real.epoll_wait(epfd, evs, max, ms);
}

int __wrap_epoll_pwait(int epfd, struct epoll_event *evs, int max, int ms,
                       const sigset_t *mask)
{
	preload_real_init();
	return real.epoll_pwait(epfd, evs, max, ms, mask);
}

int __wrap_epoll_pwait2(int epfd, struct epoll_event *evs, int max,
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

int __wrap_dup(int fd)
{
	preload_real_init();
	return real.dup(fd);
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

int __wrap_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *); /* as glibc's own fcntl reads it */
	va_end(ap);
	preload_real_init();
	return real.fcntl(fd, cmd, arg);
}

int __wrap_poll(struct pollfd *fds, nfds_t n, int ms)
{
	preload_real_init();
	return real.poll(fds, n, ms);
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
