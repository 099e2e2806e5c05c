/*
 * What the preload adds to each epoll call (issue 10: "uepoll must cost
 * nothing when it only passes kernel fds to the kernel").  A plain epoll
 * program, run under tools/uepoll-run: it calls epoll_wait, epoll_pwait
 * and epoll_ctl on one epoll fd in alternating batches, once through the
 * preload (the symbols the program links against) and once straight into
 * libc (dlopen'd), so both sides see the same fd, the same kernel and the
 * same moment of a noisy machine.  Each row: the median over batches of
 * ns per call on each side, and their ratio.  Run natively, both sides
 * are libc's (a control: the ratio is the noise floor).
 *
 *   make bench-preload        (build/release/bench/preload-calls)
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define BATCH 2000
#define ROUNDS 31

typedef int (*wait_fn)(int, struct epoll_event *, int, int);
typedef int (*pwait_fn)(int, struct epoll_event *, int, int, const sigset_t *);
typedef int (*ctl_fn)(int, int, int, struct epoll_event *);

struct side {
	wait_fn wait;
	pwait_fn pwait;
	ctl_fn ctl;
};

static int ep, pfd[2];
static sigset_t mask;

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* One batch of call kind k through side s: ns per call. */
static double batch(const struct side *s, int k)
{
	struct epoll_event ev = {.events = EPOLLIN}, out[4];
	double t0 = now_ns();
	for (int i = 0; i < BATCH; i++) {
		int r = k == 0   ? s->wait(ep, out, 4, 100)
		        : k == 1 ? s->pwait(ep, out, 4, 100, &mask)
		                 : s->ctl(ep, EPOLL_CTL_MOD, pfd[0], &ev);
		if (r != (k == 2 ? 0 : 1))
			die("epoll call");
	}
	return (now_ns() - t0) / BATCH;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (!libc)
		die("dlopen libc");
	struct side via = {epoll_wait, epoll_pwait, epoll_ctl};
	struct side direct = {
	        (wait_fn)dlsym(libc, "epoll_wait"),
	        (pwait_fn)dlsym(libc, "epoll_pwait"),
	        (ctl_fn)dlsym(libc, "epoll_ctl"),
	};
	if (!direct.wait || !direct.pwait || !direct.ctl)
		die("dlsym");
	Dl_info info;
	int preloaded = dladdr((void *)epoll_ctl, &info) && info.dli_fname &&
	                strstr(info.dli_fname, "uepoll-preload");

	ep = epoll_create1(0);
	if (ep < 0 || pipe(pfd) || write(pfd[1], "x", 1) != 1)
		die("setup");
	struct epoll_event ev = {.events = EPOLLIN};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev))
		die("epoll_ctl ADD");
	sigemptyset(&mask);

	static const char *const names[] = {
	        "epoll_wait (ready, 100 ms)",
	        "epoll_pwait (ready, mask)",
	        "epoll_ctl MOD",
	};
	printf("preload-calls: %s; %d rounds of %d calls per side, "
	       "alternating (medians)\n",
	       preloaded ? "under the preload"
	                 : "native (control: both sides are libc)",
	       ROUNDS, BATCH);
	printf("  %-28s %12s %12s %8s %8s\n", "call", "preload ns", "libc ns",
	       "ratio", "best");
	for (int k = 0; k < 3; k++) {
		double a[ROUNDS], b[ROUNDS], q[ROUNDS];
		batch(&via, k); /* warm-up */
		batch(&direct, k);
		for (int r = 0; r < ROUNDS; r++) {
			/* Alternate which side goes first. */
			if (r & 1) {
				b[r] = batch(&direct, k);
				a[r] = batch(&via, k);
			} else {
				a[r] = batch(&via, k);
				b[r] = batch(&direct, k);
			}
			q[r] = a[r] / b[r];
		}
		qsort(a, ROUNDS, sizeof(double), cmp_d);
		qsort(b, ROUNDS, sizeof(double), cmp_d);
		qsort(q, ROUNDS, sizeof(double), cmp_d);
		printf("  %-28s %12.0f %12.0f %7.3fx %7.3fx\n", names[k],
		       a[ROUNDS / 2], b[ROUNDS / 2], q[ROUNDS / 2],
		       a[0] / b[0]);
	}
	printf("  (ratio: median of the per-round ratios, preload / libc; "
	       "best: fastest batch / fastest batch, the figure least moved "
	       "by other load)\n");
	close(pfd[0]);
	close(pfd[1]);
	close(ep);
	return 0;
}
