/*
 * Single-thread workloads: ctl, wait and poll-vs-wait over a growing
 * interest set, the write/wait/read cycle, bytes per registration, and the
 * kernels that `make bench-callgrind` runs under callgrind.
 *
 * The watched objects are eventfds of the implementation under test: the
 * kernel's for epoll (so the kernel side ends where RLIMIT_NOFILE ends it),
 * uepoll's for uepoll (they hold no kernel descriptor).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "uepoll.h"
#include "bench.h"

static const long sizes[] = {100, 1000, 10000, 100000, 1000000};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define MAX_K 64

static double clock_pair_ns; /* cost of a now_ns() pair, subtracted */

static void calibrate_clock(void)
{
	double best = 1e9;
	for (int r = 0; r < 5; r++) {
		uint64_t t0 = now_ns(), t = 0;
		for (int i = 0; i < 10000; i++) {
			uint64_t a = now_ns();
			t += now_ns() - a;
		}
		(void)t0;
		if ((double)t / 10000 < best)
			best = (double)t / 10000;
	}
	clock_pair_ns = best;
}

static int is_ctl_size(long n)
{
	return n == 1000 || n == 10000 || n == 100000 || n == 1000000;
}

/* ---- wait ---- */

struct wait_ctx {
	const struct impl *im;
	int ep, k;
	const int *ready; /* the k ready fds (ET re-arms them) */
	struct pollfd *pfds;
	long npfds;
};

static uint64_t run_wait_lt(void *p, long iters)
{
	struct wait_ctx *c = p;
	struct epoll_event evs[MAX_K];
	uint64_t t0 = now_ns();
	for (long i = 0; i < iters; i++)
		if (c->im->wait(c->ep, evs, c->k, 0) != c->k)
			die("%s LT wait: not %d events", c->im->name, c->k);
	return now_ns() - t0;
}

/* Re-arm each item by writing again, then time the wait alone. */
static uint64_t run_wait_et(void *p, long iters)
{
	struct wait_ctx *c = p;
	struct epoll_event evs[MAX_K];
	uint64_t one = 1, t = 0;
	for (long i = 0; i < iters; i++) {
		for (int j = 0; j < c->k; j++)
			if (c->im->write(c->ready[j], &one, 8) != 8)
				die("%s write", c->im->name);
		uint64_t t0 = now_ns();
		int r = c->im->wait(c->ep, evs, c->k, 0);
		t += now_ns() - t0;
		if (r != c->k)
			die("%s ET wait: %d, not %d events", c->im->name, r,
			    c->k);
	}
	double net = (double)t - clock_pair_ns * (double)iters;
	return net > 0 ? (uint64_t)net : 0;
}

static uint64_t run_poll(void *p, long iters)
{
	struct wait_ctx *c = p;
	uint64_t t0 = now_ns();
	for (long i = 0; i < iters; i++)
		if (c->im->poll(c->pfds, (nfds_t)c->npfds, 0) != c->k)
			die("%s poll: not %d ready", c->im->name, c->k);
	return now_ns() - t0;
}

/* Make k of the first n pool fds ready (spread out), or drain them. */
static void set_ready(struct wait_ctx *c, const int *pool, long n, int *ready,
                      int on)
{
	uint64_t v = 1;
	struct epoll_event evs[MAX_K];
	for (int j = 0; j < c->k; j++) {
		ready[j] = pool[(long)j * n / c->k];
		if (on ? c->im->write(ready[j], &v, 8) != 8
		       : c->im->read(ready[j], &v, 8) != 8)
			die("%s set_ready", c->im->name);
	}
	if (!on) /* flush items queued but no longer ready */
		while (c->im->wait(c->ep, evs, MAX_K, 0) > 0)
			;
}

static void bench_wait_at(const struct impl *im, int ep, const int *pool,
                          long n, struct pollfd *pfds)
{
	static const int ks[] = {1, MAX_K};
	double s[MAX_TRIALS], e[MAX_TRIALS];
	int ready[MAX_K];
	for (unsigned ki = 0; ki < 2; ki++) {
		struct wait_ctx c = {im, ep, ks[ki], ready, pfds, n};
		set_ready(&c, pool, n, ready, 1);
		/* level-triggered: never read, every call returns the k */
		measure(run_wait_lt, &c, 1, s);
		for (int t = 0; t < cfg.trials; t++)
			e[t] = s[t] / c.k;
		add_result("wait", im->name, "LT", n, c.k, "ns/call", s,
		           cfg.trials);
		add_result("wait", im->name, "LT", n, c.k, "ns/event", e,
		           cfg.trials);
		/* poll-vs-wait on the same n and k */
		for (long i = 0; i < n; i++)
			pfds[i] = (struct pollfd){.fd = pool[i],
			                          .events = POLLIN};
		measure(run_poll, &c, 1, s);
		add_result("poll-vs-wait", im->name, "poll", n, c.k, "ns/call",
		           s, cfg.trials);
		measure(run_wait_lt, &c, 1, s);
		add_result("poll-vs-wait", im->name, "wait", n, c.k, "ns/call",
		           s, cfg.trials);
		/* edge-triggered: re-armed by a write before each call */
		for (int j = 0; j < c.k; j++)
			xctl(im, ep, EPOLL_CTL_MOD, ready[j], EPOLLIN | EPOLLET,
			     (uint64_t)j);
		measure(run_wait_et, &c, 1, s);
		for (int t = 0; t < cfg.trials; t++)
			e[t] = s[t] / c.k;
		add_result("wait", im->name, "ET", n, c.k, "ns/call", s,
		           cfg.trials);
		add_result("wait", im->name, "ET", n, c.k, "ns/event", e,
		           cfg.trials);
		for (int j = 0; j < c.k; j++)
			xctl(im, ep, EPOLL_CTL_MOD, ready[j], EPOLLIN,
			     (uint64_t)j);
		set_ready(&c, pool, n, ready, 0);
	}
}

/* ---- ctl ---- */

static void bench_ctl_at(const struct impl *im, int ep, const int *spare,
                         long m, long n)
{
	double add[MAX_TRIALS], mod[MAX_TRIALS], del[MAX_TRIALS];
	int reps = cfg.quick ? 2 : 4;
	for (int t = -1; t < cfg.trials; t++) { /* t = -1: warm-up */
		uint64_t ta = 0, tm = 0, td = 0;
		for (int r = 0; r < reps; r++) {
			uint64_t t0 = now_ns();
			for (long j = 0; j < m; j++)
				xctl(im, ep, EPOLL_CTL_ADD, spare[j], EPOLLIN,
				     (uint64_t)j);
			uint64_t t1 = now_ns();
			/* RDHUP makes no eventfd ready: nothing gets queued */
			for (long j = 0; j < m; j++)
				xctl(im, ep, EPOLL_CTL_MOD, spare[j],
				     EPOLLIN | EPOLLRDHUP, (uint64_t)j + 1);
			uint64_t t2 = now_ns();
			for (long j = 0; j < m; j++)
				xctl(im, ep, EPOLL_CTL_DEL, spare[j], 0, 0);
			uint64_t t3 = now_ns();
			ta += t1 - t0;
			tm += t2 - t1;
			td += t3 - t2;
		}
		if (t < 0)
			continue;
		add[t] = (double)ta / (double)(m * reps);
		mod[t] = (double)tm / (double)(m * reps);
		del[t] = (double)td / (double)(m * reps);
	}
	add_result("ctl", im->name, "ADD", n, 0, "ns/op", add, cfg.trials);
	add_result("ctl", im->name, "MOD", n, 0, "ns/op", mod, cfg.trials);
	add_result("ctl", im->name, "DEL", n, 0, "ns/op", del, cfg.trials);
}

static void na_at(const struct impl *im, long n, const char *why)
{
	static const char *const units[] = {"ns/call", "ns/event"};
	if (is_ctl_size(n)) {
		add_na("ctl", im->name, "ADD", n, 0, "ns/op", why);
		add_na("ctl", im->name, "MOD", n, 0, "ns/op", why);
		add_na("ctl", im->name, "DEL", n, 0, "ns/op", why);
	}
	for (int k = 1; k <= MAX_K; k *= MAX_K) {
		for (int u = 0; u < 2; u++) {
			add_na("wait", im->name, "LT", n, k, units[u], why);
			add_na("wait", im->name, "ET", n, k, units[u], why);
		}
		add_na("poll-vs-wait", im->name, "poll", n, k, "ns/call", why);
		add_na("poll-vs-wait", im->name, "wait", n, k, "ns/call", why);
	}
}

void bench_scale(void)
{
	long m = cfg.quick ? 2000 : 5000; /* spare fds for ctl */
	calibrate_clock();
	for (int ii = 0; ii < NIMPLS; ii++) {
		const struct impl *im = impls[ii];
		long maxn = sizes[NSIZES - 1];
		if (im == &impl_kernel) /* room for misc fds */
			while (maxn + m + 64 > cfg.fd_hard)
				maxn /= 10;
		long pool_n = maxn + m;
		int *pool = malloc((size_t)pool_n * sizeof(*pool));
		struct pollfd *pfds = malloc((size_t)maxn * sizeof(*pfds));
		if (!pool || !pfds)
			die("malloc");
		progress("scale %s: %ld eventfds", im->name, pool_n);
		for (long i = 0; i < pool_n; i++)
			pool[i] = xeventfd(im, EFD_NONBLOCK);
		int ep = im->create1(0);
		if (ep < 0)
			die("%s create", im->name);
		long reg = 0;
		for (unsigned si = 0; si < NSIZES; si++) {
			long n = sizes[si];
			if (n > maxn) {
				char why[64];
				snprintf(why, sizeof(why), "n/a (fd limit %ld)",
				         cfg.fd_hard);
				na_at(im, n, why);
				continue;
			}
			for (; reg < n; reg++)
				xctl(im, ep, EPOLL_CTL_ADD, pool[reg], EPOLLIN,
				     (uint64_t)reg);
			progress("scale %s: n=%ld", im->name, n);
			if (is_ctl_size(n))
				bench_ctl_at(im, ep, pool + maxn, m, n);
			bench_wait_at(im, ep, pool, n, pfds);
		}
		im->close(ep);
		for (long i = 0; i < pool_n; i++)
			im->close(pool[i]);
		free(pool);
		free(pfds);
	}
}

/* ---- cycle ---- */

struct cycle_ctx {
	const struct impl *im;
	int ep, efd;
};

static uint64_t run_cycle(void *p, long iters)
{
	struct cycle_ctx *c = p;
	struct epoll_event ev;
	uint64_t v = 1;
	uint64_t t0 = now_ns();
	for (long i = 0; i < iters; i++) {
		if (c->im->write(c->efd, &v, 8) != 8 ||
		    c->im->wait(c->ep, &ev, 1, 0) != 1 ||
		    c->im->read(c->efd, &v, 8) != 8)
			die("%s cycle", c->im->name);
	}
	return now_ns() - t0;
}

void bench_cycle(void)
{
	double s[MAX_TRIALS];
	for (int ii = 0; ii < NIMPLS; ii++) {
		const struct impl *im = impls[ii];
		struct cycle_ctx c = {im, im->create1(0),
		                      xeventfd(im, EFD_NONBLOCK)};
		if (c.ep < 0)
			die("create");
		xctl(im, c.ep, EPOLL_CTL_ADD, c.efd, EPOLLIN, 0);
		progress("cycle %s", im->name);
		measure(run_cycle, &c, 1, s);
		add_result("cycle", im->name, "write+wait0+read", 1, 1,
		           "ns/cycle", s, cfg.trials);
		im->close(c.efd);
		im->close(c.ep);
	}
}

/* ---- mem ---- */

/* active_objs * objsize of a slab cache, or -1 if not visible. */
static long slab_bytes(const char *name)
{
	char line[512], n[64];
	long active, total, size;
	FILE *f = fopen("/proc/slabinfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld %ld %ld", n, &active, &total,
		           &size) == 4 &&
		    !strcmp(n, name)) {
			fclose(f);
			return active * size;
		}
	}
	fclose(f);
	return -1;
}

/* One uepoll measurement in this (fresh) process; prints bytes/registration. */
int mem_child_main(long nreg)
{
	int *fds = malloc((size_t)nreg * sizeof(*fds));
	if (!fds)
		return 1;
	for (long i = 0; i < nreg; i++)
		fds[i] = xeventfd(&impl_uepoll, EFD_NONBLOCK);
	int ep = uepoll_create1(0);
	struct mallinfo2 a = mallinfo2();
	for (long i = 0; i < nreg; i++)
		xctl(&impl_uepoll, ep, EPOLL_CTL_ADD, fds[i], EPOLLIN, 0);
	struct mallinfo2 b = mallinfo2();
	printf("%.1f\n", ((double)b.uordblks + (double)b.hblkhd -
	                  (double)a.uordblks - (double)a.hblkhd) /
	                         (double)nreg);
	return 0;
}

void bench_mem(void)
{
	double s[MAX_TRIALS];
	long nreg = 100000;
	int *fds = malloc((size_t)nreg * sizeof(*fds));
	if (!fds)
		die("malloc");

	/*
	 * uepoll: malloc'd bytes (chunk headers included) per registration,
	 * each trial in a fresh process: the epitem cache keeps freed items
	 * for reuse, so a process that registered before would measure 0.
	 */
	progress("mem uepoll: %ld registrations", nreg);
	for (int t = 0; t < cfg.trials; t++) {
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "/proc/%d/exe --mem-child %ld",
		         (int)getpid(), nreg);
		FILE *p = popen(cmd, "r");
		if (!p || fscanf(p, "%lf", &s[t]) != 1)
			die("mem child");
		pclose(p);
	}
	add_result("mem", "uepoll", "per-registration", nreg, 0, "bytes", s,
	           cfg.trials);

	/*
	 * kernel: slab deltas where /proc/slabinfo shows them.  What it
	 * cannot show is quoted (docs/LINUX.md, "What a registration costs
	 * the kernel"): a 64-byte hook per wait queue, 16 bytes per watched
	 * file, 208 bytes in all.
	 */
	enum { K_PWQ_BYTES = 64, K_HEAD_BYTES = 16, K_TOTAL_BYTES = 208 };
	long kn = cfg.fd_hard - 200 < 10000 ? cfg.fd_hard - 200 : 10000;
	char note[64];
	if (slab_bytes("eventpoll_epi") < 0) {
		s[0] = K_TOTAL_BYTES;
		struct result *r =
		        add_result("mem", "kernel", "per-registration", kn, 0,
		                   "bytes", s, 1);
		snprintf(r->note, sizeof(r->note),
		         "208 quoted (docs/LINUX.md), slabinfo unreadable");
		free(fds);
		return;
	}
	progress("mem kernel: %ld registrations", kn);
	int pwq_seen = slab_bytes("eventpoll_pwq") >= 0;
	for (int t = 0; t < cfg.trials; t++) {
		for (long i = 0; i < kn; i++)
			fds[i] = xeventfd(&impl_kernel, EFD_NONBLOCK);
		int ep = epoll_create1(0);
		long e0 = slab_bytes("eventpoll_epi");
		long p0 = slab_bytes("eventpoll_pwq");
		for (long i = 0; i < kn; i++)
			xctl(&impl_kernel, ep, EPOLL_CTL_ADD, fds[i], EPOLLIN,
			     0);
		long e1 = slab_bytes("eventpoll_epi");
		long p1 = slab_bytes("eventpoll_pwq");
		double per = (double)(e1 - e0) / (double)kn;
		/* not visible (merged caches): the reference figures */
		per += pwq_seen ? (double)(p1 - p0) / (double)kn : K_PWQ_BYTES;
		per += K_HEAD_BYTES; /* the file's epitems_head */
		s[t] = per;
		close(ep);
		for (long i = 0; i < kn; i++)
			close(fds[i]);
	}
	struct result *r = add_result("mem", "kernel", "per-registration", kn,
	                              0, "bytes", s, cfg.trials);
	snprintf(note, sizeof(note), "epi slab measured%s + 16 quoted",
	         pwq_seen ? ", pwq slab measured" : " + pwq 64 quoted");
	snprintf(r->note, sizeof(r->note), "%s", note);
	free(fds);
}

/* ---- callgrind kernels: run with --toggle-collect='cg_*' ---- */

__attribute__((noinline)) void cg_add(int ep, const int *fds, long iters);
__attribute__((noinline)) void cg_mod(int ep, const int *fds, long iters);
__attribute__((noinline)) void cg_del(int ep, const int *fds, long iters);
__attribute__((noinline)) void cg_wait1(int ep, long iters);
__attribute__((noinline)) void cg_cycle(int ep, int efd, long iters);

void cg_add(int ep, const int *fds, long iters)
{
	struct epoll_event ev = {.events = EPOLLIN};
	for (long i = 0; i < iters; i++)
		if (uepoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			die("add");
}

void cg_mod(int ep, const int *fds, long iters)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
	for (long i = 0; i < iters; i++)
		if (uepoll_ctl(ep, EPOLL_CTL_MOD, fds[i], &ev) < 0)
			die("mod");
}

void cg_del(int ep, const int *fds, long iters)
{
	for (long i = 0; i < iters; i++)
		if (uepoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL) < 0)
			die("del");
}

void cg_wait1(int ep, long iters)
{
	struct epoll_event ev;
	for (long i = 0; i < iters; i++)
		if (uepoll_wait(ep, &ev, 1, 0) != 1)
			die("wait1");
}

void cg_cycle(int ep, int efd, long iters)
{
	struct epoll_event ev;
	uint64_t v = 1;
	for (long i = 0; i < iters; i++)
		if (uepoll_write(efd, &v, 8) != 8 ||
		    uepoll_wait(ep, &ev, 1, 0) != 1 ||
		    uepoll_read(efd, &v, 8) != 8)
			die("cycle");
}

/* WHAT ITERS [N]: N registered first (default 1000). */
int callgrind_main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: --callgrind add|mod|del|wait1|cycle ITERS [N]");
	const char *what = argv[0];
	long iters = atol(argv[1]);
	long n = argc > 2 ? atol(argv[2]) : 1000;
	int *fds = malloc((size_t)(n + iters) * sizeof(*fds));
	if (!fds || iters < 1)
		die("bad arguments");
	for (long i = 0; i < n + iters; i++)
		fds[i] = xeventfd(&impl_uepoll, EFD_NONBLOCK);
	int ep = uepoll_create1(0);
	for (long i = 0; i < n; i++)
		xctl(&impl_uepoll, ep, EPOLL_CTL_ADD, fds[i], EPOLLIN, 0);
	const int *spare = fds + n;
	uint64_t v = 1;
	if (!strcmp(what, "add")) {
		cg_add(ep, spare, iters);
	} else if (!strcmp(what, "mod")) {
		cg_add(ep, spare, iters); /* collect only cg_mod */
		cg_mod(ep, spare, iters);
	} else if (!strcmp(what, "del")) {
		cg_add(ep, spare, iters);
		cg_del(ep, spare, iters);
	} else if (!strcmp(what, "wait1")) {
		if (uepoll_write(fds[n / 2], &v, 8) != 8)
			die("write");
		cg_wait1(ep, iters);
	} else if (!strcmp(what, "cycle")) {
		int efd = xeventfd(&impl_uepoll, EFD_NONBLOCK);
		int ep1 = uepoll_create1(0);
		xctl(&impl_uepoll, ep1, EPOLL_CTL_ADD, efd, EPOLLIN, 0);
		cg_cycle(ep1, efd, iters);
	} else {
		die("unknown callgrind kernel %s", what);
	}
	printf("callgrind kernel %s: %ld ops, %ld registered\n", what, iters,
	       n);
	return 0;
}
