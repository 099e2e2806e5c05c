/*
 * Busy polling: a ping-pong of two threads over two epoll instances and two
 * eventfds, in one run: the kernel's sleeping epoll, uepoll sleeping,
 * uepoll with EPIOCSPARAMS busy_poll_usecs, and the raw futex floor; the
 * threads pinned to two CPUs, then both to one CPU.  Besides the round
 * trip, the CPU time both threads burnt (CLOCK_THREAD_CPUTIME_ID) per
 * round trip: spinning trades CPU for latency, and this says how much.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "uepoll.h"
#include "bench.h"

#define BP_USECS 50 /* busy_poll_usecs of the spinning variant */

enum bp_kind { BP_EPOLL, BP_FUTEX };

struct bp {
	const struct impl *im;
	enum bp_kind kind;
	int ep[2], efd[2];
	_Atomic uint32_t fw[2];
	long rounds;
	int cpu[2];
	uint64_t cpu_ns[2]; /* thread CPU time of each side */
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	errno = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (errno)
		die("pthread_setaffinity_np");
}

static void bp_futex_wait(_Atomic uint32_t *w)
{
	while (atomic_load(w) == 0)
		syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, 0, NULL,
		        NULL, 0);
	atomic_store(w, 0);
}

static void bp_futex_post(_Atomic uint32_t *w)
{
	atomic_store(w, 1);
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Side me: wait for its turn, then hand the turn to the other side. */
static void bp_recv(struct bp *p, int me)
{
	if (p->kind == BP_FUTEX) {
		bp_futex_wait(&p->fw[me]);
		return;
	}
	struct epoll_event ev;
	uint64_t v;
	int r;
	do
		r = p->im->wait(p->ep[me], &ev, 1, -1);
	while (r < 0 && errno == EINTR);
	if (r != 1 || p->im->read(p->efd[me], &v, 8) != 8)
		die("%s busypoll", p->im->name);
}

static void bp_send(struct bp *p, int to)
{
	if (p->kind == BP_FUTEX) {
		bp_futex_post(&p->fw[to]);
		return;
	}
	uint64_t v = 1;
	if (p->im->write(p->efd[to], &v, 8) != 8)
		die("%s busypoll write", p->im->name);
}

static void *bp_peer(void *arg)
{
	struct bp *p = arg;
	pin(p->cpu[1]);
	uint64_t c0 = thread_cpu_ns();
	for (long r = 0; r < p->rounds; r++) {
		bp_recv(p, 1);
		bp_send(p, 0);
	}
	p->cpu_ns[1] = thread_cpu_ns() - c0;
	return NULL;
}

/* One trial: ns per round trip; *cpu: CPU ns both threads burnt per trip. */
static double bp_trial(struct bp *p, double *cpu)
{
	pthread_t t;
	pin(p->cpu[0]);
	errno = pthread_create(&t, NULL, bp_peer, p);
	if (errno)
		die("pthread_create");
	uint64_t c0 = thread_cpu_ns(), t0 = now_ns();
	for (long r = 0; r < p->rounds; r++) {
		bp_send(p, 1);
		bp_recv(p, 0);
	}
	uint64_t dt = now_ns() - t0;
	p->cpu_ns[0] = thread_cpu_ns() - c0;
	pthread_join(t, NULL);
	*cpu = (double)(p->cpu_ns[0] + p->cpu_ns[1]) / (double)p->rounds;
	return (double)dt / (double)p->rounds;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct bp_row {
	const char *name;
	double rtt, cpu;
};

static struct bp_row bp_run(const char *name, const struct impl *im,
                            enum bp_kind kind, uint32_t usecs, int cpu1)
{
	struct bp p = {.im = im, .kind = kind, .cpu = {0, cpu1}};
	p.rounds = usecs ? (cfg.quick ? 20000 : 100000)
	                 : (cfg.quick ? 2000 : 10000);
	for (int i = 0; im && i < 2; i++) {
		p.ep[i] = im->create1(0);
		p.efd[i] = xeventfd(im, EFD_NONBLOCK);
		xctl(im, p.ep[i], EPOLL_CTL_ADD, p.efd[i], EPOLLIN, 0);
		if (usecs) {
			struct epoll_params ps = {.busy_poll_usecs = usecs};
			if (uepoll_ioctl(p.ep[i], EPIOCSPARAMS, &ps))
				die("EPIOCSPARAMS");
		}
	}
	progress("busypoll %s", name);
	double rtt[MAX_TRIALS], cpu[MAX_TRIALS], c;
	bp_trial(&p, &c); /* warm-up */
	for (int t = 0; t < cfg.trials; t++)
		rtt[t] = bp_trial(&p, &cpu[t]);
	struct result *r =
	        add_result("busypoll", im ? im->name : "kernel", name, 2,
	                   cpu1 ? 2 : 1, "ns/rtt", rtt, cfg.trials);
	snprintf(r->note, sizeof(r->note), "%s", name);
	for (int i = 0; im && i < 2; i++) {
		im->close(p.efd[i]);
		im->close(p.ep[i]);
	}
	qsort(rtt, (size_t)cfg.trials, sizeof(double), cmp_d);
	qsort(cpu, (size_t)cfg.trials, sizeof(double), cmp_d);
	return (struct bp_row){name, rtt[cfg.trials / 2], cpu[cfg.trials / 2]};
}

static void bp_print(const char *title, const struct bp_row *rows, int n)
{
	printf("\nbusypoll, %s (medians of %d trials; ratio = kernel / row)\n",
	       title, cfg.trials);
	printf("  %-26s %10s %8s %14s %14s\n", "variant", "ns/rtt", "ratio",
	       "cpu ns/rtt", "cpu ns/wake");
	for (int i = 0; i < n; i++)
		printf("  %-26s %10.0f %7.1fx %14.0f %14.0f\n", rows[i].name,
		       rows[i].rtt, rows[0].rtt / rows[i].rtt, rows[i].cpu,
		       rows[i].cpu / 2);
}

/* Both threads on CPU 0: busy polling must not cost anything here. */
void bench_busypoll_one_cpu(void)
{
	struct bp_row rows[4];
	rows[0] =
	        bp_run("kernel epoll, sleeping", &impl_kernel, BP_EPOLL, 0, 0);
	rows[1] = bp_run("uepoll, sleeping", &impl_uepoll, BP_EPOLL, 0, 0);
	rows[2] = bp_run("uepoll, busy_poll_usecs=50", &impl_uepoll, BP_EPOLL,
	                 BP_USECS, 0);
	rows[3] = bp_run("raw futex floor", NULL, BP_FUTEX, 0, 0);
	bp_print("two threads on one CPU (0)", rows, 4);
}

void bench_busypoll(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct bp_row rows[4];
	if (ncpu >= 2) {
		rows[0] = bp_run("kernel epoll, sleeping", &impl_kernel,
		                 BP_EPOLL, 0, 1);
		rows[1] = bp_run("uepoll, sleeping", &impl_uepoll, BP_EPOLL, 0,
		                 1);
		rows[2] = bp_run("uepoll, busy_poll_usecs=50", &impl_uepoll,
		                 BP_EPOLL, BP_USECS, 1);
		rows[3] = bp_run("raw futex floor", NULL, BP_FUTEX, 0, 1);
		bp_print("two threads on two CPUs (0 and 1)", rows, 4);
	}
	bench_busypoll_one_cpu();
}
