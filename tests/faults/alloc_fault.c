/*
 * Allocation failure at every allocation site in turn.
 *
 * The library's calls to malloc, calloc, realloc and free are wrapped
 * (-Wl,--wrap; libc's own allocations are left alone).  A scenario that
 * uses every kind of object is run with the Nth allocation failing, for
 * N = 1, 2, ... until a run no longer reaches the Nth allocation.  Each
 * run checks that:
 *   - a call that fails, fails with ENOMEM (a write may come back short);
 *   - the instance stays consistent: every registration that succeeded
 *     reports what poll() says is ready, and the scenario then runs again
 *     without faults and fully succeeds;
 *   - nothing leaks: after everything is closed, the live allocation
 *     count is back at its baseline.
 * Exit status 0 and "faults: ok" when nothing was found.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uepoll.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static _Atomic long live;      /* library allocations not yet freed */
static _Atomic long countdown; /* the allocation that fails; 0: none */
static _Atomic long seen;      /* allocations since the run began */
static void *_Atomic failed_site;

#define MAX_SITES 64
static void *sites[MAX_SITES];
static int nsites;

static bool should_fail(void *site)
{
	atomic_fetch_add(&seen, 1);
	long c = atomic_load(&countdown);
	if (c <= 0)
		return false;
	if (atomic_fetch_sub(&countdown, 1) != 1)
		return false;
	atomic_store(&failed_site, site);
	errno = ENOMEM;
	return true;
}

void *__wrap_malloc(size_t n)
{
	if (should_fail(__builtin_return_address(0)))
		return NULL;
	void *p = __real_malloc(n);
	if (p)
		atomic_fetch_add(&live, 1);
	return p;
}

void *__wrap_calloc(size_t n, size_t m)
{
	if (should_fail(__builtin_return_address(0)))
		return NULL;
	void *p = __real_calloc(n, m);
	if (p)
		atomic_fetch_add(&live, 1);
	return p;
}

void *__wrap_realloc(void *old, size_t n)
{
	if (should_fail(__builtin_return_address(0)))
		return NULL;
	void *p = __real_realloc(old, n);
	if (p && !old)
		atomic_fetch_add(&live, 1);
	return p;
}

void __wrap_free(void *p)
{
	if (p)
		atomic_fetch_sub(&live, 1);
	__real_free(p);
}

/* ---- the scenario ---- */

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr,                                        \
			        "faults: FAILED (fail at %ld): ", cur_n);      \
			fprintf(stderr, __VA_ARGS__);                          \
			fprintf(stderr, "\n");                                 \
			failures++;                                            \
		}                                                              \
	} while (0)

static long cur_n;

#define MAXFD 32
static int fds[MAXFD];
static int nfds;

static int keep(int fd)
{
	if (fd >= 0 && nfds < MAXFD)
		fds[nfds++] = fd;
	return fd;
}

/* A call returning -1 must say ENOMEM; with faults off it must succeed. */
static bool ok(long r, const char *what, bool faults)
{
	if (r >= 0)
		return true;
	CHECK(faults && errno == ENOMEM, "%s: -1 errno %d (%s)", what, errno,
	      strerror(errno));
	return false;
}

/* Every registration (fd, events) of ep that succeeded, for the check. */
struct reg {
	int fd;
	uint32_t events;
};

static void check_consistent(int ep, struct reg *regs, int nregs)
{
	struct epoll_event ev[32];
	uint32_t want[32] = {0};
	/* The check itself runs without faults. */
	long saved = atomic_exchange(&countdown, 0);
	for (int i = 0; i < nregs; i++) {
		struct pollfd p = {regs[i].fd, (short)regs[i].events, 0};
		CHECK(uepoll_poll(&p, 1, 0) >= 0, "poll: errno %d", errno);
		want[i] = (uint32_t)p.revents &
		          (regs[i].events | EPOLLERR | EPOLLHUP);
	}
	int n = uepoll_wait(ep, ev, 32, 0);
	CHECK(n >= 0, "wait: errno %d", errno);
	for (int i = 0; i < nregs; i++) {
		bool found = false;
		for (int k = 0; k < n; k++)
			if (ev[k].data.u64 == (uint64_t)i) {
				found = true;
				CHECK((ev[k].events &
				       ~(EPOLLRDNORM | EPOLLWRNORM)) ==
				              (want[i] &
				               ~(EPOLLRDNORM | EPOLLWRNORM)),
				      "reg %d: events %#x, poll says %#x", i,
				      ev[k].events, want[i]);
			}
		CHECK(found == (want[i] != 0),
		      "reg %d (fd %d): reported %d, poll says %#x", i,
		      regs[i].fd, found, want[i]);
	}
	atomic_store(&countdown, saved);
}

/* A file of our own whose poll hooks two queues (an extra epoll hook). */
static struct uepoll_wait_queue *wq1, *wq2;

static uint32_t two_poll(struct uepoll_file *f, struct uepoll_poll_table *pt)
{
	uepoll_poll_wait(f, wq1, pt);
	uepoll_poll_wait(f, wq2, pt);
	return EPOLLIN;
}

static const struct uepoll_file_operations two_fops = {.poll = two_poll};

/* Returns true when every call succeeded. */
static bool scenario(bool faults)
{
	struct reg regs[16];
	int nregs = 0, p[2] = {-1, -1};
	bool all = true;
	char buf[10000];
	memset(buf, 'x', sizeof(buf));
	nfds = 0;

	int ep = keep(uepoll_create1(0));
	all &= ok(ep, "epoll_create1", faults);
	int ep2 = keep(uepoll_create(1));
	all &= ok(ep2, "epoll_create", faults);
	if (ok(uepoll_pipe2(p, O_NONBLOCK), "pipe2", faults)) {
		keep(p[0]);
		keep(p[1]);
	} else {
		all = false;
	}
	int efd = keep(uepoll_eventfd(1, EFD_NONBLOCK));
	all &= ok(efd, "eventfd", faults);
	int tfd = keep(uepoll_timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
	all &= ok(tfd, "timerfd_create", faults);
	if (tfd >= 0) {
		struct itimerspec its = {{0, 0}, {0, 1}};
		all &= ok(uepoll_timerfd_settime(tfd, 0, &its, NULL),
		          "timerfd_settime", faults);
	}
	int sv[2] = {-1, -1};
	if (ok(uepoll_socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	       "socketpair", faults)) {
		keep(sv[0]);
		keep(sv[1]);
		all &= ok(uepoll_write(sv[0], "hello", 5), "write(socket)",
		          faults);
	} else {
		all = false;
	}
	wq1 = uepoll_wait_queue_create();
	wq2 = uepoll_wait_queue_create();
	all &= ok(wq1 && wq2 ? 0 : (errno = ENOMEM, -1), "wait_queue_create",
	          faults);
	int own = -1;
	if (wq1 && wq2) {
		own = keep(uepoll_file_create(&two_fops, NULL, 0));
		all &= ok(own, "file_create", faults);
	}
	int d = p[0] >= 0 ? keep(uepoll_dup(p[0])) : -1;
	if (p[0] >= 0)
		all &= ok(d, "dup", faults);

	struct {
		int fd;
		uint32_t ev;
	} targets[] = {{p[0], EPOLLIN},
	               {p[1], EPOLLOUT},
	               {efd, EPOLLIN | EPOLLET},
	               {tfd, EPOLLIN},
	               {d, EPOLLIN | EPOLLONESHOT},
	               {sv[1], EPOLLIN},
	               {own, EPOLLIN}};
	if (ep >= 0) {
		for (unsigned i = 0; i < sizeof(targets) / sizeof(targets[0]);
		     i++) {
			if (targets[i].fd < 0)
				continue;
			struct epoll_event e = {targets[i].ev,
			                        {.u64 = (uint64_t)nregs}};
			if (ok(uepoll_ctl(ep, EPOLL_CTL_ADD, targets[i].fd, &e),
			       "ctl ADD", faults))
				regs[nregs++] = (struct reg){targets[i].fd,
				                             targets[i].ev};
			else
				all = false;
		}
		if (ep2 >= 0) {
			struct epoll_event e = {EPOLLIN, {.u64 = 99}};
			all &= ok(uepoll_ctl(ep2, EPOLL_CTL_ADD, ep, &e),
			          "ctl ADD nested", faults);
		}
	}
	if (p[1] >= 0) {
		ssize_t w = uepoll_write(p[1], buf, sizeof(buf));
		if (ok(w, "write(pipe)", faults))
			CHECK(w == (ssize_t)sizeof(buf) || faults,
			      "short write %zd", w);
		else
			all = false;
		all &= w == (ssize_t)sizeof(buf);
	}
	if (ep >= 0) {
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL); /* let the timer expire */
		check_consistent(ep, regs, nregs);
	}
	/* Enough entries (fds repeated) to need the poll table's chunks. */
	struct pollfd pf[4 * MAXFD];
	for (int i = 0; i < 4 * nfds; i++)
		pf[i] = (struct pollfd){fds[i % nfds], POLLPRI, 0};
	all &= ok(uepoll_poll(pf, (nfds_t)(4 * nfds), 1), "poll", faults);
	if (ep2 >= 0) {
		struct epoll_event ev[4];
		int n = uepoll_wait(ep2, ev, 4, 0);
		all &= ok(n, "wait nested", faults);
	}
	/* Read everything back, then close in an order that races nothing. */
	if (p[0] >= 0)
		while (uepoll_read(p[0], buf, sizeof(buf)) > 0)
			;
	for (int i = nfds - 1; i >= 0; i--)
		CHECK(uepoll_close(fds[i]) == 0, "close(%d): errno %d", fds[i],
		      errno);
	uepoll_wait_queue_destroy(wq1);
	uepoll_wait_queue_destroy(wq2);
	return all;
}

int main(void)
{
	/* Warm up: the descriptor table's first chunk is never freed. */
	scenario(false);
	long base = atomic_load(&live);
	long n;
	for (n = 1;; n++) {
		cur_n = n;
		atomic_store(&seen, 0);
		atomic_store(&failed_site, NULL);
		atomic_store(&countdown, n);
		scenario(true);
		atomic_store(&countdown, 0);
		long leaked = atomic_load(&live) - base;
		CHECK(leaked == 0, "%ld allocations leaked", leaked);
		void *site = atomic_load(&failed_site);
		if (!site)
			break; /* fewer than n allocations: all covered */
		bool known = false;
		for (int i = 0; i < nsites; i++)
			known |= sites[i] == site;
		if (!known && nsites < MAX_SITES)
			sites[nsites++] = site;
		/* Usable afterwards: the whole scenario succeeds again. */
		CHECK(scenario(false), "scenario failed without faults");
		CHECK(atomic_load(&live) == base, "leak after the clean rerun");
		if (failures > 20)
			break;
	}
	printf("faults: %ld allocations per run, each failed in turn; %d "
	       "distinct call sites:",
	       n - 1, nsites);
	for (int i = 0; i < nsites; i++)
		printf(" %p", sites[i]);
	printf("\n");
	/* Name them (the binary is linked -no-pie, so addresses are real). */
	char cmd[64 + MAX_SITES * 20];
	int len = snprintf(cmd, sizeof(cmd),
	                   "addr2line -s -p -f -e /proc/%d/exe", (int)getpid());
	for (int i = 0; i < nsites; i++)
		len += snprintf(cmd + len, sizeof(cmd) - (size_t)len, " %p",
		                (void *)((char *)sites[i] - 1));
	fflush(stdout);
	if (system(cmd) != 0)
		printf("(addr2line not available)\n");
	if (failures) {
		printf("faults: %d FAILED checks\n", failures);
		return 1;
	}
	printf("faults: ok\n");
	return 0;
}
