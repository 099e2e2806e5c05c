/*
 * The program's epoll fds.  Each is a kernel epoll the program created
 * (epoll_create1 under the preload calls the kernel's, so the fd, its
 * flags, EMFILE, fdinfo, ioctl, poll, fork and exec are the kernel's),
 * and it is the kernel half of a uepoll instance: epoll_ctl and
 * epoll_wait on it go through uepoll_ctl and uepoll_wait, which pass
 * kernel fds straight to it.  The table maps the fd number to the
 * instance's uepoll descriptor.
 *
 * Lock-free lookups: two levels of atomic ints (chunks allocated once,
 * published with release; lookups acquire).  Entries go before the
 * kernel closes their number (close, close_range, closefrom), so a new
 * epoll that gets the number at once is never forgotten.  A number closed
 * where the preload cannot see it (a system call without libc) keeps a
 * stale entry until it is closed again or a new epoll gets it; meanwhile
 * calls through the entry reach the kernel on whatever the number now
 * is, and get its answer.
 *
 * fork: the child has a copy of the table and of the instances, and the
 * kernel halves are shared, as Linux shares an epoll across fork.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <uepoll.h>

#include "preload.h"

#define CHUNK 1024
#define NCHUNKS 4096 /* fds up to 4M */

static _Atomic int *_Atomic chunks[NCHUNKS];

static _Atomic int *slot(int fd, bool create)
{
	if (fd < 0 || fd / CHUNK >= NCHUNKS)
		return NULL;
	_Atomic int *c =
	        atomic_load_explicit(&chunks[fd / CHUNK], memory_order_acquire);
	if (!c && create) {
		_Atomic int *n = calloc(CHUNK, sizeof(*n));
		_Atomic int *expect = NULL;
		if (!n)
			return NULL;
		if (atomic_compare_exchange_strong_explicit(
		            &chunks[fd / CHUNK], &expect, n,
		            memory_order_acq_rel, memory_order_acquire)) {
			c = n;
		} else {
			free(n);
			c = expect;
		}
	}
	return c ? &c[fd % CHUNK] : NULL;
}

UEP_HOT int table_get(int fd)
{
	_Atomic int *s = slot(fd, false);
	return s ? atomic_load_explicit(s, memory_order_acquire) : 0;
}

void table_set(int fd, int ufd)
{
	_Atomic int *s = slot(fd, true);
	int old = s ? atomic_exchange(s, ufd) : ufd;
	if (old > 0)
		uepoll_close(old);
}

void table_forget(int fd)
{
	_Atomic int *s = slot(fd, false);
	int old = s && atomic_load_explicit(s, memory_order_relaxed)
	                  ? atomic_exchange(s, 0)
	                  : 0;
	if (old > 0)
		uepoll_close(old);
}

void table_forget_range(unsigned first, unsigned last)
{
	for (unsigned c = first / CHUNK; c < NCHUNKS && c <= last / CHUNK;
	     c++) {
		if (!atomic_load_explicit(&chunks[c], memory_order_acquire))
			continue;
		unsigned lo = c == first / CHUNK ? first % CHUNK : 0;
		unsigned hi = c == last / CHUNK ? last % CHUNK : CHUNK - 1;
		for (unsigned i = lo; i <= hi; i++)
			if (table_get((int)(c * CHUNK + i)))
				table_forget((int)(c * CHUNK + i));
	}
}

/* ---- vfork ---- */

static _Atomic pid_t my_pid;

static void pid_atfork_child(void)
{
	atomic_store(&my_pid, (pid_t)syscall(SYS_getpid));
}

__attribute__((constructor)) static void table_ctor(void)
{
	atomic_store(&my_pid, (pid_t)syscall(SYS_getpid));
	pthread_atfork(NULL, NULL, pid_atfork_child);
}

/* vfork runs no atfork handler: the child's pid is not the recorded one. */
bool preload_in_vfork_child(void)
{
	return (pid_t)syscall(SYS_getpid) != atomic_load(&my_pid);
}
