/*
 * Stress workloads on an instance's kernel half (docs/DESIGN.md, "Kernel
 * fds: the kernel half"), run beside stress.c's (whose groups 1-3 and
 * chaos pool hold kernel fds too) and stress_edges.c's (whose fork
 * sleeps in an instance with a kernel half):
 *
 *   first kernel fd  Round after round, a fresh instance W nested in a
 *                    fresh P (which in some rounds has a kernel half of
 *                    its own already); one or two threads sleep long, in
 *                    uepoll_wait or uepoll_poll on W and in uepoll_wait
 *                    on P, then another thread ADDs an already readable
 *                    kernel eventfd to W (alone, or after or before a
 *                    readable in-process one), at once or after a pause.
 *                    The birth of W's kernel half must wake every sleeper
 *                    within STRESS_BOUND_MS, P's too (W's kernel half gets
 *                    linked into P's by that waiter).
 *   mixed poll       Two threads sleep long in uepoll_poll on kernel
 *                    eventfds, a kernel pipe, in-process eventfds and an
 *                    instance holding one of each; a writer writes one of
 *                    them at a time and waits until a poller read it back,
 *                    within the bound.
 *   fd leak          main snapshots /proc/self/fd first and compares at
 *                    the end, after every object was closed: a kernel fd
 *                    left open (a kernel half, a wake eventfd, a thread's
 *                    eventfd) fails the run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"
#include "uepoll.h"

/* ---- the first kernel fd while threads sleep ---- */

enum { KB_KERNEL = 1, KB_INPROC, KB_W_IN_P };

/* One round's setting: written by the ctl thread before the barrier. */
static pthread_barrier_t kb_bar;
static int kb_w, kb_p;
static int kb_who;   /* bit 0: a thread sleeps on W, bit 1: one on P */
static bool kb_poll; /* W's sleeper sleeps in uepoll_poll */
static bool kb_quit; /* the last round: the sleepers leave */
static _Atomic int kb_woke;
static uint64_t kb_rounds, kb_wakes, kb_pk_rounds;

static void *kb_sleeper(void *arg)
{
	struct tstate *t = arg;
	int me = t->name[2] - '0'; /* 0: W, 1: P */
	uint64_t rs = 0x3141ull + (uint64_t)me;
	for (;;) {
		pthread_barrier_wait(&kb_bar);
		if (kb_quit)
			break;
		if (kb_who & 1 << me) {
			int fd = me ? kb_p : kb_w,
			    to = rnd(&rs) % 2 ? -1 : 10000;
			int n;
			struct epoll_event ev[4];
			uint64_t d = 0;
			if (!me && kb_poll) {
				struct pollfd pf = {fd, POLLIN, 0};
				doing(t, "poll(W, long)", fd);
				n = uepoll_poll(&pf, 1, to);
				if (n == 1 && !(pf.revents & POLLIN))
					n = -2;
			} else {
				doing(t,
				      me ? "epoll_wait(P, long)"
				         : "epoll_wait(W, long)",
				      fd);
				n = uepoll_wait(fd, ev, 4, to);
				d = n > 0 ? ev[0].data.u64 : 0;
				if (n > 0 &&
				    (me ? d != KB_W_IN_P
				        : d != KB_KERNEL && d != KB_INPROC))
					n = -3;
			}
			done(t);
			if (n < 1)
				die("first kernel fd: the sleeper on %s "
				    "returned "
				    "%d (data %llu) errno %d",
				    me ? "P" : "W", n, (unsigned long long)d,
				    errno);
			atomic_fetch_add(&kb_woke, 1);
		}
		pthread_barrier_wait(&kb_bar);
	}
	return NULL;
}

static void kb_add(int ep, int fd, uint64_t data)
{
	struct epoll_event e = {EPOLLIN, {.u64 = data}};
	if (uepoll_ctl(ep, EPOLL_CTL_ADD, fd, &e))
		die("first kernel fd: ADD %d: errno %d", fd, errno);
}

static void *kb_ctl(void *arg)
{
	struct tstate *t = arg;
	uint64_t rs = 0x2718ull;
	while (!atomic_load(&stop)) {
		kb_w = uepoll_create1(0);
		kb_p = uepoll_create1(0);
		if (kb_w < 0 || kb_p < 0)
			die("first kernel fd: create: errno %d", errno);
		kb_add(kb_p, kb_w, KB_W_IN_P);
		/* P with a kernel half of its own: W's joins it. */
		int pk = -1;
		if (rnd(&rs) % 4 == 0) {
			pk = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			kb_add(kb_p, pk, 99);
			kb_pk_rounds++;
		}
		kb_who = 1 + (int)(rnd(&rs) % 3);
		kb_poll = rnd(&rs) % 3 == 0;
		int order = (int)(rnd(&rs) % 3); /* in-process: none, before,
		                                    after */
		/* A semaphore: a chaos thread reading a stale number that
		 * is now this one cannot make it unreadable. */
		int kfd = eventfd(1u << 20,
		                  EFD_NONBLOCK | EFD_SEMAPHORE | EFD_CLOEXEC);
		int ufd = order ? uepoll_eventfd(1, EFD_NONBLOCK) : -1;
		if (kfd < 0 || (order && ufd < 0))
			die("first kernel fd: eventfd: errno %d", errno);
		atomic_store(&kb_woke, 0);
		pthread_barrier_wait(&kb_bar);
		long pause = rnd(&rs) % 4 ? (long)(rnd(&rs) % 500) : 0;
		if (pause)
			sleep_us(pause);
		doing(t, "ADD the first kernel fd", kfd);
		if (order == 1)
			kb_add(kb_w, ufd, KB_INPROC);
		kb_add(kb_w, kfd, KB_KERNEL);
		if (order == 2)
			kb_add(kb_w, ufd, KB_INPROC);
		done(t);
		int want = __builtin_popcount((unsigned)kb_who);
		int64_t t0 = now_ns();
		doing(t, "awaiting the sleepers", kb_w);
		while (atomic_load(&kb_woke) < want) {
			if (now_ns() - t0 > bound_ns)
				die("LOST WAKE-UP: the first kernel fd of W "
				    "(sleepers on %s%s%s, in-process eventfd "
				    "%s, P %s) woke %d of %d after %lld ms",
				    kb_who & 1 ? (kb_poll ? "W (poll)" : "W")
				               : "",
				    kb_who == 3 ? " and " : "",
				    kb_who & 2 ? "P" : "",
				    order == 0   ? "none"
				    : order == 1 ? "before"
				                 : "after",
				    pk >= 0 ? "with a kernel half"
				            : "without a kernel half",
				    atomic_load(&kb_woke), want,
				    (long long)bound_ns / 1000000);
			sleep_us(20);
		}
		done(t);
		pthread_barrier_wait(&kb_bar);
		uepoll_close(kb_p);
		uepoll_close(kb_w);
		close(kfd);
		if (ufd >= 0)
			uepoll_close(ufd);
		if (pk >= 0)
			close(pk);
		kb_rounds++;
		kb_wakes += (uint64_t)want;
	}
	kb_quit = true;
	pthread_barrier_wait(&kb_bar);
	return NULL;
}

/* ---- uepoll_poll over a mixed set ---- */

/* Kernel eventfds, a kernel pipe, in-process eventfds; the last two
 * (one of each kind) are watched by the instance pm_ep, not polled. */
enum { PM_K0, PM_K1, PM_PIPE, PM_U0, PM_U1, PM_IK, PM_IU, PM_OBJS };
#define PM_POLLED PM_IK /* pm_rd[0..PM_POLLED) are polled directly */

static int pm_rd[PM_OBJS], pm_wr[PM_OBJS], pm_ep, pm_stop;
static _Atomic uint64_t pm_written, pm_harvested;

static bool pm_is_pipe(int i)
{
	return i == PM_PIPE;
}

static void pm_read(struct tstate *t, int i)
{
	uint64_t v;
	char bytes[16];
	doing(t, "read(mixed)", pm_rd[i]);
	ssize_t r = pm_is_pipe(i) ? uepoll_read(pm_rd[i], bytes, sizeof(bytes))
	                          : uepoll_read(pm_rd[i], &v, sizeof(v));
	done(t);
	if (r > 0)
		atomic_fetch_add(&pm_harvested,
		                 pm_is_pipe(i) ? (uint64_t)r : v);
	else if (r != -1 || errno != EAGAIN)
		die("mixed poll: read %d: %zd errno %d", i, r, errno);
}

static void *pm_poller(void *arg)
{
	struct tstate *t = arg;
	uint64_t rs = 0x1618ull + (uint64_t)t->name[2];
	while (!atomic_load(&stop)) {
		struct pollfd pf[PM_POLLED + 2];
		for (int i = 0; i < PM_POLLED; i++)
			pf[i] = (struct pollfd){pm_rd[i], POLLIN, 0};
		pf[PM_POLLED] = (struct pollfd){pm_ep, POLLIN, 0};
		pf[PM_POLLED + 1] = (struct pollfd){pm_stop, POLLIN, 0};
		doing(t, "poll(mixed, long)", pm_ep);
		int n = uepoll_poll(pf, PM_POLLED + 2,
		                    rnd(&rs) % 2 ? -1 : 10000);
		done(t);
		if (n < 0)
			die("mixed poll: errno %d", errno);
		for (int i = 0; i < PM_POLLED; i++)
			if (pf[i].revents & POLLIN)
				pm_read(t, i);
		if (pf[PM_POLLED].revents & POLLIN) {
			struct epoll_event ev[2];
			doing(t, "epoll_wait(mixed, 0)", pm_ep);
			int k = uepoll_wait(pm_ep, ev, 2, 0);
			done(t);
			for (int j = 0; j < k; j++)
				pm_read(t, (int)ev[j].data.u64);
		}
	}
	return NULL;
}

static void *pm_writer(void *arg)
{
	struct tstate *t = arg;
	uint64_t rs = 0x5772ull;
	while (!atomic_load(&stop)) {
		int i = (int)(rnd(&rs) % PM_OBJS);
		uint64_t one = 1;
		size_t len = pm_is_pipe(i) ? 1 : 8;
		atomic_fetch_add(&pm_written, 1);
		doing(t, "write(mixed)", pm_wr[i]);
		if (uepoll_write(pm_wr[i], &one, len) != (ssize_t)len)
			die("mixed poll: write %d: errno %d", i, errno);
		done(t);
		int64_t t0 = now_ns();
		doing(t, "awaiting a poller", pm_wr[i]);
		while (atomic_load(&pm_harvested) != atomic_load(&pm_written)) {
			if (atomic_load(&stop))
				break; /* the pollers leave */
			if (now_ns() - t0 > bound_ns)
				die("LOST WAKE-UP: mixed poll: object %d "
				    "written, "
				    "not read after %lld ms",
				    i, (long long)bound_ns / 1000000);
			sleep_us(rnd(&rs) % 4 ? 20 : 0);
		}
		done(t);
	}
	return NULL;
}

static void pm_setup(void)
{
	for (int i = 0; i < PM_OBJS; i++) {
		int fds[2] = {-1, -1};
		if (i == PM_PIPE) {
			if (pipe2(fds, O_NONBLOCK | O_CLOEXEC))
				fds[0] = -1;
		} else if (i == PM_U0 || i == PM_U1 || i == PM_IU) {
			fds[0] = fds[1] = uepoll_eventfd(0, EFD_NONBLOCK);
		} else {
			fds[0] = fds[1] =
			        eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		}
		if (fds[0] < 0)
			die("mixed poll setup: errno %d", errno);
		pm_rd[i] = fds[0];
		pm_wr[i] = fds[1];
	}
	pm_ep = uepoll_create1(0);
	pm_stop = uepoll_eventfd(0, EFD_NONBLOCK);
	if (pm_ep < 0 || pm_stop < 0)
		die("mixed poll setup: errno %d", errno);
	for (int i = PM_POLLED; i < PM_OBJS; i++) {
		struct epoll_event e = {EPOLLIN, {.u64 = (uint64_t)i}};
		if (uepoll_ctl(pm_ep, EPOLL_CTL_ADD, pm_rd[i], &e))
			die("mixed poll setup: ADD: errno %d", errno);
	}
}

/* ---- kernel fds left open ---- */

#define FD_SNAP 4096
static unsigned char fd_open_at_start[FD_SNAP / 8];

/* Calls fn on every open fd but the directory's own. */
static void each_fd(void (*fn)(int fd))
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		die("opendir(/proc/self/fd): errno %d", errno);
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
			fn(atoi(de->d_name));
	closedir(d);
}

static void fd_note(int fd)
{
	if (fd < FD_SNAP)
		fd_open_at_start[fd / 8] |= (unsigned char)(1u << fd % 8);
}

static int fd_leaks;

static void fd_check_one(int fd)
{
	if (fd < FD_SNAP && fd_open_at_start[fd / 8] & 1u << fd % 8)
		return;
	char path[64], target[256];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	fprintf(stderr, "stress: kernel fd %d left open: %s\n", fd, target);
	fd_leaks++;
}

void kfd_fds_snapshot(void)
{
	each_fd(fd_note);
}

void kfd_fds_check(void)
{
	each_fd(fd_check_one);
	if (fd_leaks)
		die("%d kernel fd(s) left open at the end", fd_leaks);
}

/* ---- the three hooks ---- */

void kfd_start(void)
{
	pthread_barrier_init(&kb_bar, NULL, 3);
	pm_setup();
	spawn(kb_ctl, "kb-ctl");
	spawn(kb_sleeper, "kb0-sleepW");
	spawn(kb_sleeper, "kb1-sleepP");
	spawn(pm_poller, "pm0-poll");
	spawn(pm_poller, "pm1-poll");
	spawn(pm_writer, "pm-write");
}

void kfd_tick(int64_t now)
{
	static bool woke;
	(void)now;
	if (atomic_load(&stop) && !woke) {
		uint64_t one = 1;
		uepoll_write(pm_stop, &one, 8); /* the pollers leave */
		woke = true;
	}
}

void kfd_finish(void)
{
	for (int i = 0; i < PM_OBJS; i++) {
		uepoll_close(pm_rd[i]);
		if (pm_wr[i] != pm_rd[i])
			uepoll_close(pm_wr[i]);
	}
	uepoll_close(pm_ep);
	uepoll_close(pm_stop);
	pthread_barrier_destroy(&kb_bar);
	printf("stress: kernel fds: %llu first kernel fds added under "
	       "%llu sleepers (all woken; %llu with P's own kernel half), "
	       "%llu mixed-poll writes read back\n",
	       (unsigned long long)kb_rounds, (unsigned long long)kb_wakes,
	       (unsigned long long)kb_pk_rounds,
	       (unsigned long long)atomic_load(&pm_written));
}
