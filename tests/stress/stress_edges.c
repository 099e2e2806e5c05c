/*
 * Stress workloads at the engine's edges (issue 11), run beside stress.c's:
 *
 *   poll vs close   Two threads sleep in uepoll_poll on eventfds of a small
 *                   pool while another replaces pool entries and closes the
 *                   old ones: a poll entry must keep its file (ASan sees a
 *                   use-after-free otherwise).
 *   signal writes   A ticker sends SIGUSR2 every ~100 us to two threads;
 *                   the handler writes an eventfd.  One thread loops in ctl
 *                   and wait on an instance watching it, the other in pwait
 *                   with a mask that blocks SIGUSR2 (its handler may run
 *                   only at the call's exit).  No deadlock (watchdog), and
 *                   every count written is read back at the end.  The
 *                   handler also writes a second descriptor whose eventfd
 *                   a third thread keeps replacing (dup2), so the old
 *                   file's last reference goes while handlers write it:
 *                   the release must run in the replacing thread, not in a
 *                   handler or a deferred wake-up (ASan sees a use-after-
 *                   free, TSan a free in a handler), and at the end the
 *                   instance watching every replaced file holds one item.
 *   poll ping-pong  Two threads pass a count back and forth through two
 *                   eventfds, each sleeping in uepoll_poll (no timeout)
 *                   or a blocking read: the lockless re-poll after a wake
 *                   (docs/DESIGN.md, Barriers); a lost wake-up hangs one,
 *                   and the watchdog reports it.
 *   fork            Every 2 s the watchdog thread forks; the child writes
 *                   its copy of an eventfd that a parent thread sleeps on,
 *                   must see it through its copy of the instance, uses
 *                   fresh objects, closes its copies and exits 0.  A
 *                   second instance K has a kernel half (a kernel
 *                   eventfd and an in-process one), and a parent thread
 *                   sleeps in it: the child sleeps in its copy of K (in
 *                   ppoll on the shared kernel half), then writes its
 *                   copy of the in-process eventfd and must see it
 *                   through K; meanwhile the parent writes one of the
 *                   two, and its thread must read that within
 *                   STRESS_BOUND_MS (the child must not steal it).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stress.h"
#include "uepoll.h"

#define PC_POOL 8

/* ---- poll racing close ---- */

static _Atomic int pc_pool[PC_POOL];
static _Atomic uint64_t pc_polls, pc_closes;

static void *pc_poller(void *arg)
{
	struct tstate *t = arg;
	uint64_t rs = 0x51ull + (uint64_t)(uintptr_t)arg;
	while (!atomic_load(&stop)) {
		struct pollfd pf[2];
		for (int i = 0; i < 2; i++)
			pf[i] = (struct pollfd){
			        .fd = atomic_load(&pc_pool[rnd(&rs) % PC_POOL]),
			        .events = POLLIN};
		doing(t, "poll(pool)", pf[0].fd);
		int n = uepoll_poll(pf, 2, (int)(rnd(&rs) % 3));
		done(t);
		if (n < 0)
			die("poll(pool): errno %d", errno);
		atomic_fetch_add(&pc_polls, 1);
	}
	return NULL;
}

static void *pc_closer(void *arg)
{
	struct tstate *t = arg;
	uint64_t rs = 0x77ull;
	while (!atomic_load(&stop)) {
		int i = (int)(rnd(&rs) % PC_POOL);
		doing(t, "eventfd+close", -1);
		int fd = uepoll_eventfd(0, EFD_NONBLOCK);
		if (fd < 0)
			die("eventfd: errno %d", errno);
		if (rnd(&rs) % 4 == 0) {
			uint64_t one = 1;
			uepoll_write(fd, &one, 8);
		}
		int old = atomic_exchange(&pc_pool[i], fd);
		uepoll_close(old);
		done(t);
		atomic_fetch_add(&pc_closes, 1);
		sleep_us((long)(rnd(&rs) % 300));
	}
	return NULL;
}

/* ---- a signal handler writing eventfds ---- */

static int sig_efd, sig_ep, pw_ep;
static _Atomic uint64_t sig_written, sig_read, sig_sent, pw_calls;
static pthread_t sig_targets[2];
static atomic_int sig_ntargets;
/* The replaced eventfd: its descriptor, the instance watching them all. */
static int sr_slot, sr_ep;
static _Atomic uint64_t sr_writes, sr_replaces;

static void sig_handler(int sig)
{
	int saved = errno;
	uint64_t one = 1;
	(void)sig;
	if (uepoll_write(sig_efd, &one, 8) == 8)
		atomic_fetch_add(&sig_written, 1);
	if (uepoll_write(sr_slot, &one, 8) == 8)
		atomic_fetch_add(&sr_writes, 1);
	errno = saved;
}

/* A new eventfd at sr_slot, each watched by sr_ep: the old one goes. */
static void *sr_replacer(void *arg)
{
	struct tstate *t = arg;
	struct epoll_event e = {EPOLLOUT, {.u64 = 3}};
	while (!atomic_load(&stop)) {
		doing(t, "dup2(sig slot)", sr_slot);
		int n = uepoll_eventfd(0, EFD_NONBLOCK);
		if (n < 0 || uepoll_ctl(sr_ep, EPOLL_CTL_ADD, n, &e) ||
		    uepoll_dup2(n, sr_slot) != sr_slot || uepoll_close(n))
			die("sig slot replace: errno %d", errno);
		done(t);
		atomic_fetch_add(&sr_replaces, 1);
		sleep_us(20);
	}
	return NULL;
}

static void sig_drain(void)
{
	uint64_t v;
	if (uepoll_read(sig_efd, &v, 8) == 8)
		atomic_fetch_add(&sig_read, v);
}

/* ctl and wait on an instance watching the eventfd the handler writes. */
static void *sig_target(void *arg)
{
	struct tstate *t = arg;
	sig_targets[0] = pthread_self();
	atomic_fetch_add(&sig_ntargets, 1);
	int other = uepoll_eventfd(0, EFD_NONBLOCK);
	while (!atomic_load(&stop)) {
		struct epoll_event e = {EPOLLIN, {.u64 = 1}}, out[4];
		doing(t, "ctl/wait(sig)", sig_ep);
		if (uepoll_ctl(sig_ep, EPOLL_CTL_MOD, sig_efd, &e) ||
		    uepoll_ctl(sig_ep, EPOLL_CTL_ADD, other, &e))
			die("sig ctl: errno %d", errno);
		int n = uepoll_wait(sig_ep, out, 4, 2);
		if (n < 0 && errno != EINTR)
			die("sig wait: errno %d", errno);
		sig_drain();
		uepoll_ctl(sig_ep, EPOLL_CTL_DEL, other, NULL);
		done(t);
	}
	uepoll_close(other);
	return NULL;
}

/* pwait with a mask that blocks the signal: its handler runs at exit. */
static void *pw_target(void *arg)
{
	struct tstate *t = arg;
	sig_targets[1] = pthread_self();
	atomic_fetch_add(&sig_ntargets, 1);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	while (!atomic_load(&stop)) {
		struct epoll_event out[4];
		doing(t, "pwait(masked)", pw_ep);
		int n = uepoll_pwait(pw_ep, out, 4, 1, &mask);
		done(t);
		if (n < 0 && errno != EINTR)
			die("pwait: errno %d", errno);
		atomic_fetch_add(&pw_calls, 1);
	}
	return NULL;
}

static void *sig_ticker(void *arg)
{
	struct tstate *t = arg;
	uint64_t rs = 0x99ull;
	while (atomic_load(&sig_ntargets) < 2 && !atomic_load(&stop))
		sleep_us(1000);
	while (!atomic_load(&stop)) {
		doing(t, "kill", -1);
		pthread_kill(sig_targets[rnd(&rs) % 2], SIGUSR2);
		done(t);
		atomic_fetch_add(&sig_sent, 1);
		sleep_us(50 + (long)(rnd(&rs) % 100));
	}
	return NULL;
}

/* ---- poll ping-pong ---- */

static int pp_efd[2];
static _Atomic uint64_t pp_rounds;

static void *pp_player(void *arg)
{
	struct tstate *t = arg;
	int me = t->name[2] - '0';
	int in = pp_efd[me], out = pp_efd[!me];
	while (!atomic_load(&stop)) {
		uint64_t v = 1;
		struct pollfd pf = {.fd = in, .events = POLLIN};
		doing(t, "poll(ping, long)", in);
		if (uepoll_poll(&pf, 1, -1) != 1)
			die("ping-pong poll: errno %d", errno);
		done(t);
		if (uepoll_read(in, &v, 8) != 8)
			continue; /* the stop's extra write raced us */
		uepoll_write(out, &v, 8);
		atomic_fetch_add(&pp_rounds, 1);
	}
	return NULL;
}

/* ---- fork ---- */

static int fk_ep, fk_efd;
static int64_t fk_next;
static uint64_t fk_forks;
/* K: a kernel eventfd (data 1) and an in-process one (data 2). */
static int fk_kep, fk_kefd, fk_uefd;
static _Atomic uint64_t fk_kwritten, fk_kread;

/* The parent's thread in K: reads whatever K reports. */
static void *fk_ksleeper(void *arg)
{
	struct tstate *t = arg;
	struct epoll_event out[4];
	while (!atomic_load(&stop)) {
		doing(t, "epoll_wait(K, long)", fk_kep);
		int n = uepoll_wait(fk_kep, out, 4, 10000);
		done(t);
		if (n < 0)
			die("fork K sleeper: errno %d", errno);
		for (int i = 0; i < n; i++) {
			uint64_t v;
			int fd = out[i].data.u64 == 1 ? fk_kefd : fk_uefd;
			if (uepoll_read(fd, &v, 8) == 8)
				atomic_fetch_add(&fk_kread, v);
		}
	}
	return NULL;
}

/* The child in K: a sleep in the shared kernel half, then its own event
 * through its copy (the parent's kernel eventfd may show: not read). */
static int fk_child_k(void)
{
	uint64_t one = 1;
	struct epoll_event out[4];
	if (uepoll_wait(fk_kep, out, 4, 5) < 0 ||
	    uepoll_write(fk_uefd, &one, 8) != 8)
		return 4;
	int64_t end = now_ns() + 2000000000;
	while (now_ns() < end) {
		int n = uepoll_wait(fk_kep, out, 4, 100);
		if (n < 0)
			return 5;
		for (int i = 0; i < n; i++)
			if (out[i].data.u64 == 2)
				return 0;
	}
	return 6;
}

static void *fk_sleeper(void *arg)
{
	struct tstate *t = arg;
	struct epoll_event out[2];
	int n = 0;
	/* Woken at the end; 10 s waits, which the watchdog allows. */
	while (n == 0) {
		doing(t, "epoll_wait(F, long)", fk_ep);
		n = uepoll_wait(fk_ep, out, 2, 10000);
		done(t);
	}
	if (n != 1)
		die("fork sleeper: %d errno %d", n, errno);
	return NULL;
}

/* The child: its copies work, fresh objects work, then it exits. */
static int fk_child(void)
{
	uint64_t one = 1;
	struct epoll_event out[2];
	if (uepoll_write(fk_efd, &one, 8) != 8)
		return 1;
	if (uepoll_wait(fk_ep, out, 2, 2000) != 1)
		return 2;
	int k = fk_child_k();
	if (k)
		return k;
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, EFD_NONBLOCK);
	struct epoll_event e = {EPOLLIN, {.u64 = 3}};
	if (ep < 0 || efd < 0 || uepoll_ctl(ep, EPOLL_CTL_ADD, efd, &e) ||
	    uepoll_write(efd, &one, 8) != 8 || uepoll_wait(ep, out, 2, 0) != 1)
		return 3;
	uepoll_close(efd);
	uepoll_close(ep);
	uepoll_close(fk_efd);
	uepoll_close(fk_ep);
	uepoll_close(fk_uefd);
	uepoll_close(fk_kefd);
	uepoll_close(fk_kep);
	return 0;
}

static void fk_fork(void)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork: errno %d", errno);
	if (pid == 0)
		_exit(fk_child());
	/* The parent's own event in K, while the child uses its copy. */
	uint64_t one = 1;
	int64_t tw = now_ns();
	atomic_fetch_add(&fk_kwritten, 1);
	if (uepoll_write(fk_forks % 2 ? fk_kefd : fk_uefd, &one, 8) != 8)
		die("fork: write K: errno %d", errno);
	int st;
	int64_t t0 = now_ns();
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ns() - t0 > 10000000000) {
			kill(pid, SIGKILL);
			die("fork: the child hung");
		}
		sleep_us(1000);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		die("fork: the child failed (status %#x)", st);
	while (atomic_load(&fk_kread) != atomic_load(&fk_kwritten)) {
		if (now_ns() - tw > bound_ns)
			die("LOST WAKE-UP: fork: the parent's %s eventfd in K "
			    "not read after %lld ms",
			    fk_forks % 2 ? "kernel" : "in-process",
			    (long long)bound_ns / 1000000);
		sleep_us(100);
	}
	fk_forks++;
}

/* ---- the three hooks ---- */

void edges_start(void)
{
	for (int i = 0; i < PC_POOL; i++)
		atomic_store(&pc_pool[i], uepoll_eventfd(0, EFD_NONBLOCK));
	struct sigaction sa = {.sa_handler = sig_handler,
	                       .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	sig_efd = uepoll_eventfd(0, EFD_NONBLOCK);
	sig_ep = uepoll_create1(0);
	pw_ep = uepoll_create1(0);
	struct epoll_event e = {EPOLLIN, {.u64 = 1}};
	sr_slot = uepoll_eventfd(0, EFD_NONBLOCK);
	sr_ep = uepoll_create1(0);
	if (sig_efd < 0 || sig_ep < 0 || pw_ep < 0 || sr_slot < 0 ||
	    sr_ep < 0 || uepoll_ctl(sig_ep, EPOLL_CTL_ADD, sig_efd, &e) ||
	    uepoll_ctl(pw_ep, EPOLL_CTL_ADD, sig_efd, &e))
		die("edges setup: errno %d", errno);
	fk_ep = uepoll_create1(0);
	fk_efd = uepoll_eventfd(0, EFD_NONBLOCK);
	if (fk_ep < 0 || fk_efd < 0 ||
	    uepoll_ctl(fk_ep, EPOLL_CTL_ADD, fk_efd, &e))
		die("fork setup: errno %d", errno);
	fk_kep = uepoll_create1(0);
	fk_kefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	fk_uefd = uepoll_eventfd(0, EFD_NONBLOCK);
	struct epoll_event ek = {EPOLLIN, {.u64 = 1}};
	if (fk_kep < 0 || fk_kefd < 0 || fk_uefd < 0 ||
	    uepoll_ctl(fk_kep, EPOLL_CTL_ADD, fk_kefd, &ek))
		die("fork K setup: errno %d", errno);
	ek.data.u64 = 2;
	if (uepoll_ctl(fk_kep, EPOLL_CTL_ADD, fk_uefd, &ek))
		die("fork K setup: errno %d", errno);
	fk_next = now_ns() + 2000000000;
	spawn(pc_poller, "pc-poll0");
	spawn(pc_poller, "pc-poll1");
	spawn(pc_closer, "pc-close");
	spawn(sig_target, "sig-ctlwait");
	spawn(pw_target, "sig-pwait");
	spawn(sig_ticker, "sig-ticker");
	spawn(sr_replacer, "sig-replace");
	spawn(fk_sleeper, "fork-sleep");
	spawn(fk_ksleeper, "fork-ksleep");
	pp_efd[0] = uepoll_eventfd(0, EFD_NONBLOCK);
	pp_efd[1] = uepoll_eventfd(0, EFD_NONBLOCK);
	if (pp_efd[0] < 0 || pp_efd[1] < 0)
		die("ping-pong setup");
	spawn(pp_player, "pp0-poll");
	spawn(pp_player, "pp1-poll");
	uint64_t one = 1;
	uepoll_write(pp_efd[0], &one, 8); /* the ball */
}

void edges_tick(int64_t now)
{
	/* TSan cannot start threads (the timer service) in such a child. */
#ifndef __SANITIZE_THREAD__
	bool forks = true;
#else
	bool forks = false;
#endif
	if (forks && !atomic_load(&stop) && now >= fk_next) {
		fk_fork();
		fk_next = now + 2000000000;
	}
	/* The fork sleeper's wake-up comes with the stop. */
	static bool woke;
	if (atomic_load(&stop) && !woke) {
		uint64_t one = 1;
		uepoll_write(fk_efd, &one, 8);
		uepoll_write(fk_uefd, &one, 8); /* K's sleeper leaves */
		uepoll_write(pp_efd[0], &one, 8);
		uepoll_write(pp_efd[1], &one, 8);
		woke = true;
	}
}

void edges_finish(void)
{
	/* Every count a handler wrote is read back. */
	sig_drain();
	if (atomic_load(&sig_read) != atomic_load(&sig_written))
		die("signal writes: %llu written, %llu read",
		    (unsigned long long)atomic_load(&sig_written),
		    (unsigned long long)atomic_load(&sig_read));
	/* Only the last replacement's item is left: the others went. */
	struct epoll_event ev[4];
	int n = uepoll_wait(sr_ep, ev, 4, 0);
	if (atomic_load(&sr_replaces) && n != 1)
		die("replaced eventfds: %d items left, not 1", n);
	uepoll_close(sr_slot);
	uepoll_close(sr_ep);
	for (int i = 0; i < PC_POOL; i++)
		uepoll_close(atomic_load(&pc_pool[i]));
	uepoll_close(sig_ep);
	uepoll_close(pw_ep);
	uepoll_close(sig_efd);
	uepoll_close(fk_ep);
	uepoll_close(fk_efd);
	uepoll_close(fk_kep);
	uepoll_close(fk_kefd);
	uepoll_close(fk_uefd);
	uepoll_close(pp_efd[0]);
	uepoll_close(pp_efd[1]);
	printf("stress: edges: %llu polls racing %llu closes, %llu signals "
	       "sent, %llu eventfd writes from handlers (all read back), "
	       "%llu more racing %llu replacements of their eventfd, "
	       "%llu masked pwaits, %llu forks (the parent's event in the "
	       "kernel-half instance read back each time), %llu poll "
	       "ping-pong rounds\n",
	       (unsigned long long)atomic_load(&pc_polls),
	       (unsigned long long)atomic_load(&pc_closes),
	       (unsigned long long)atomic_load(&sig_sent),
	       (unsigned long long)atomic_load(&sig_written),
	       (unsigned long long)atomic_load(&sr_writes),
	       (unsigned long long)atomic_load(&sr_replaces),
	       (unsigned long long)atomic_load(&pw_calls),
	       (unsigned long long)fk_forks,
	       (unsigned long long)atomic_load(&pp_rounds));
}
