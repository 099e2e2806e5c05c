/*
 * Timer lateness: how late expirations reach a thread waiting in
 * epoll_wait, for the kernel's timerfd and uepoll's, side by side in one
 * run.  Lateness = the time the waiter sees the event - the deadline.
 *
 *   oneshot:  N one-shot timers at random 1-20 ms absolute deadlines (after a
 *             50 ms arming window), all
 *             in one epoll instance, harvested by one thread.
 *   periodic: one 1 ms periodic timer over T ticks; each wake reads the
 *             count, and the latest tick's deadline is start + count * 1 ms.
 *
 * Usage: timer_lateness [N [T [rounds]]]   (defaults 1000 2000 3)
 * Rounds alternate kernel and uepoll so drift of the machine hits both.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "uepoll.h"

struct impl {
	const char *name;
	int (*tfd_create)(int, int);
	int (*tfd_settime)(int, int, const struct itimerspec *,
	                   struct itimerspec *);
	int (*ep_create1)(int);
	int (*ep_ctl)(int, int, int, struct epoll_event *);
	int (*ep_wait)(int, struct epoll_event *, int, int);
	ssize_t (*rd)(int, void *, size_t);
	int (*cl)(int);
};

static const struct impl kernel = {
        "kernel",      timerfd_create, timerfd_settime,
        epoll_create1, epoll_ctl,      epoll_wait,
        read,          close};
static const struct impl uepoll = {"uepoll",
                                   uepoll_timerfd_create,
                                   uepoll_timerfd_settime,
                                   uepoll_create1,
                                   uepoll_ctl,
                                   uepoll_wait,
                                   uepoll_read,
                                   uepoll_close};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec ns_ts(int64_t ns)
{
	struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
	return ts;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

struct samples {
	double *us;
	size_t n, cap;
};

static void add(struct samples *s, int64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4096;
		s->us = realloc(s->us, s->cap * sizeof(double));
		if (!s->us)
			die("realloc");
	}
	s->us[s->n++] = (double)ns / 1000.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const struct samples *s, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
	return s->us[i];
}

static void oneshot(const struct impl *im, int n, struct samples *out)
{
	int ep = im->ep_create1(0);
	int *fds = calloc((size_t)n, sizeof(int));
	int64_t *dl = calloc((size_t)n, sizeof(int64_t));
	if (ep < 0 || !fds || !dl)
		die("setup");
	for (int i = 0; i < n; i++) {
		fds[i] = im->tfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
		if (fds[i] < 0)
			die("timerfd_create");
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
		if (im->ep_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev))
			die("epoll_ctl");
	}
	/* Every timer armed before the first deadline. */
	int64_t base = now_ns() + 50000000;
	for (int i = 0; i < n; i++) {
		dl[i] = base + 1000000 + (int64_t)(random() % 19000000);
		struct itimerspec t = {.it_value = ns_ts(dl[i])};
		if (im->tfd_settime(fds[i], TFD_TIMER_ABSTIME, &t, NULL))
			die("timerfd_settime");
	}
	int got = 0;
	while (got < n) {
		struct epoll_event evs[64];
		int k = im->ep_wait(ep, evs, 64, 5000);
		int64_t now = now_ns();
		if (k <= 0)
			die("epoll_wait (lost expirations?)");
		for (int j = 0; j < k; j++) {
			uint64_t c;
			int i = (int)evs[j].data.u32;
			if (im->rd(fds[i], &c, 8) != 8)
				die("read");
			add(out, now - dl[i]);
			got++;
		}
	}
	for (int i = 0; i < n; i++)
		im->cl(fds[i]);
	im->cl(ep);
	free(fds);
	free(dl);
}

static void periodic(const struct impl *im, int ticks, struct samples *out)
{
	const int64_t intv = 1000000;
	int ep = im->ep_create1(0);
	int fd = im->tfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (ep < 0 || fd < 0)
		die("setup");
	struct epoll_event ev = {.events = EPOLLIN};
	if (im->ep_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		die("epoll_ctl");
	int64_t start = now_ns() + intv;
	struct itimerspec t = {.it_value = ns_ts(start),
	                       .it_interval = ns_ts(intv)};
	if (im->tfd_settime(fd, TFD_TIMER_ABSTIME, &t, NULL))
		die("timerfd_settime");
	uint64_t total = 0;
	while (total < (uint64_t)ticks) {
		struct epoll_event e;
		int k = im->ep_wait(ep, &e, 1, 5000);
		int64_t now = now_ns();
		if (k != 1)
			die("epoll_wait");
		uint64_t c;
		if (im->rd(fd, &c, 8) != 8)
			die("read");
		total += c;
		/* The latest tick counted was due at start + (total-1)*intv. */
		add(out, now - (start + (int64_t)(total - 1) * intv));
	}
	im->cl(fd);
	im->cl(ep);
}

static void report(const char *scen, const char *impl, struct samples *s)
{
	qsort(s->us, s->n, sizeof(double), cmp_double);
	printf("%-22s %-7s %7zu %9.1f %9.1f %9.1f %9.1f\n", scen, impl, s->n,
	       pct(s, 50), pct(s, 90), pct(s, 99), s->us[s->n - 1]);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	int ticks = argc > 2 ? atoi(argv[2]) : 2000;
	int rounds = argc > 3 ? atoi(argv[3]) : 3;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	const struct impl *im[2] = {&kernel, &uepoll};
	struct samples os[2] = {{0}}, pe[2] = {{0}};
	srandom(1);
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < 2; i++) {
			oneshot(im[i], n, &os[i]);
			periodic(im[i], ticks, &pe[i]);
		}
	printf("timer lateness in microseconds (%d rounds)\n", rounds);
	printf("%-22s %-7s %7s %9s %9s %9s %9s\n", "scenario", "impl",
	       "samples", "p50", "p90", "p99", "max");
	char name[2][64];
	snprintf(name[0], sizeof(name[0]), "oneshot %d x 1-20ms", n);
	snprintf(name[1], sizeof(name[1]), "periodic 1ms x %d", ticks);
	for (int i = 0; i < 2; i++)
		report(name[0], im[i]->name, &os[i]);
	for (int i = 0; i < 2; i++)
		report(name[1], im[i]->name, &pe[i]);
	return 0;
}
