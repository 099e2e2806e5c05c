/*
 * Multi-thread workloads: ping-pong between two sleeping threads (with a
 * raw futex ping-pong as the floor), the thundering herd, and seed 003's
 * batching latency model.
 */
#include <errno.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "uepoll.h"
#include "bench.h"

static void xwrite1(const struct impl *im, int fd)
{
	uint64_t v = 1;
	if (im->write(fd, &v, 8) != 8)
		die("%s write", im->name);
}

static int xwait(const struct impl *im, int ep, struct epoll_event *evs,
                 int max, int timeout)
{
	int r;
	do
		r = im->wait(ep, evs, max, timeout);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		die("%s wait", im->name);
	return r;
}

static void xthread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	errno = pthread_create(t, NULL, fn, arg);
	if (errno)
		die("pthread_create");
}

/* ---- pingpong ---- */

struct pp {
	const struct impl *im;
	int ep[2], efd[2]; /* thread i sleeps on ep[i], woken via efd[i] */
	long rounds;
};

static void pp_step(const struct pp *p, int me)
{
	struct epoll_event ev;
	uint64_t v;
	if (xwait(p->im, p->ep[me], &ev, 1, -1) != 1 ||
	    p->im->read(p->efd[me], &v, 8) != 8)
		die("%s pingpong", p->im->name);
}

static void *pp_peer(void *arg)
{
	struct pp *p = arg;
	for (long r = 0; r < p->rounds; r++) {
		pp_step(p, 1);
		xwrite1(p->im, p->efd[0]);
	}
	return NULL;
}

static double pp_trial(struct pp *p)
{
	pthread_t t;
	xthread(&t, pp_peer, p);
	uint64_t t0 = now_ns();
	for (long r = 0; r < p->rounds; r++) {
		xwrite1(p->im, p->efd[1]);
		pp_step(p, 0);
	}
	uint64_t dt = now_ns() - t0;
	pthread_join(t, NULL);
	return (double)dt / (double)p->rounds;
}

static _Atomic uint32_t fw[2];

static void futex_wait(_Atomic uint32_t *w)
{
	while (atomic_load(w) == 0)
		syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, 0, NULL,
		        NULL, 0);
	atomic_store(w, 0);
}

static void futex_post(_Atomic uint32_t *w)
{
	atomic_store(w, 1);
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *futex_peer(void *arg)
{
	long rounds = *(long *)arg;
	for (long r = 0; r < rounds; r++) {
		futex_wait(&fw[1]);
		futex_post(&fw[0]);
	}
	return NULL;
}

static double futex_trial(long rounds)
{
	pthread_t t;
	xthread(&t, futex_peer, &rounds);
	uint64_t t0 = now_ns();
	for (long r = 0; r < rounds; r++) {
		futex_post(&fw[1]);
		futex_wait(&fw[0]);
	}
	uint64_t dt = now_ns() - t0;
	pthread_join(t, NULL);
	return (double)dt / (double)rounds;
}

void bench_pingpong(void)
{
	double s[MAX_TRIALS];
	long rounds = cfg.quick ? 1000 : 4000;
	for (int ii = 0; ii < NIMPLS; ii++) {
		const struct impl *im = impls[ii];
		struct pp p = {.im = im, .rounds = rounds};
		for (int i = 0; i < 2; i++) {
			p.ep[i] = im->create1(0);
			p.efd[i] = xeventfd(im, EFD_NONBLOCK);
			if (p.ep[i] < 0)
				die("create");
			xctl(im, p.ep[i], EPOLL_CTL_ADD, p.efd[i], EPOLLIN, 0);
		}
		progress("pingpong %s", im->name);
		pp_trial(&p); /* warm-up */
		for (int t = 0; t < cfg.trials; t++)
			s[t] = pp_trial(&p);
		add_result("pingpong", im->name, "eventfd+wait", 2, 1, "ns/rtt",
		           s, cfg.trials);
		for (int i = 0; i < 2; i++) {
			im->close(p.efd[i]);
			im->close(p.ep[i]);
		}
	}
	progress("pingpong futex");
	futex_trial(rounds);
	for (int t = 0; t < cfg.trials; t++)
		s[t] = futex_trial(rounds);
	struct result *r = add_result("pingpong", "kernel", "futex-floor", 2, 1,
	                              "ns/rtt", s, cfg.trials);
	snprintf(r->note, sizeof(r->note), "raw futex, the floor for sleeping");
}

/* ---- herd ---- */

#define MAX_HERD 16
#define STOP_DATA 1

struct herd {
	const struct impl *im;
	int nthreads, shared;
	int efd, stopfd;
	int eps[MAX_HERD];
	_Atomic int armed, woken, stop;
	_Atomic unsigned gen;
};

struct herd_arg {
	struct herd *h;
	int idx;
};

static void *herd_thread(void *arg)
{
	struct herd_arg *a = arg;
	struct herd *h = a->h;
	int ep = h->eps[h->shared ? 0 : a->idx];
	struct epoll_event evs[8];
	for (;;) {
		unsigned g = atomic_load(&h->gen);
		atomic_fetch_add(&h->armed, 1);
		int n = xwait(h->im, ep, evs, 8, -1);
		for (int i = 0; i < n; i++)
			if (evs[i].data.u64 == STOP_DATA)
				return NULL;
		atomic_fetch_sub(&h->armed, 1);
		atomic_fetch_add(&h->woken, 1);
		/* Stay out of the wait until the round is over. */
		while (atomic_load(&h->gen) == g && !atomic_load(&h->stop))
			usleep(100);
		if (atomic_load(&h->stop))
			return NULL;
	}
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct herd_variant {
	const char *name;
	int shared, excl, et;
};

static void herd_run(const struct impl *im, const struct herd_variant *v,
                     int nthreads)
{
	struct herd h = {.im = im, .nthreads = nthreads, .shared = v->shared};
	struct herd_arg args[MAX_HERD];
	pthread_t th[MAX_HERD];
	double s[MAX_TRIALS];
	int rounds = cfg.quick ? 5 : 11;
	uint32_t events = EPOLLIN | (v->excl ? EPOLLEXCLUSIVE : 0) |
	                  (v->et ? EPOLLET : 0);

	h.efd = xeventfd(im, EFD_NONBLOCK);
	h.stopfd = xeventfd(im, EFD_NONBLOCK);
	for (int i = 0; i < (v->shared ? 1 : nthreads); i++) {
		h.eps[i] = im->create1(0);
		if (h.eps[i] < 0)
			die("create");
		xctl(im, h.eps[i], EPOLL_CTL_ADD, h.efd, events, 0);
		xctl(im, h.eps[i], EPOLL_CTL_ADD, h.stopfd, EPOLLIN, STOP_DATA);
	}
	for (int i = 0; i < nthreads; i++) {
		args[i] = (struct herd_arg){&h, i};
		xthread(&th[i], herd_thread, &args[i]);
	}
	for (int r = 0; r < rounds; r++) {
		uint64_t t0 = now_ns();
		while (atomic_load(&h.armed) != nthreads) {
			if (now_ns() - t0 > 5000000000ull)
				die("herd: threads did not come back");
			sleep_us(200);
		}
		sleep_us(2000); /* let them get to sleep */
		atomic_store(&h.woken, 0);
		xwrite1(im, h.efd);
		sleep_us(10000);
		s[r] = atomic_load(&h.woken);
		uint64_t val;
		im->read(h.efd, &val, 8); /* drain */
		atomic_fetch_add(&h.gen, 1);
	}
	atomic_store(&h.stop, 1);
	xwrite1(im, h.stopfd);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	add_result("herd", im->name, v->name, nthreads, 1, "threads", s,
	           rounds);
	for (int i = 0; i < (v->shared ? 1 : nthreads); i++)
		im->close(h.eps[i]);
	im->close(h.efd);
	im->close(h.stopfd);
}

void bench_herd(void)
{
	static const struct herd_variant vs[] = {
	        {"shared-LT", 1, 0, 0},
	        {"shared-ET", 1, 0, 1},
	        {"per-thread", 0, 0, 0},
	        {"per-thread-EXCL", 0, 1, 0},
	};
	static const int quick_t[] = {2, 8}, full_t[] = {2, 4, 8, 16};
	const int *ts = cfg.quick ? quick_t : full_t;
	int nts = cfg.quick ? 2 : 4;
	for (unsigned vi = 0; vi < sizeof(vs) / sizeof(vs[0]); vi++)
		for (int ti = 0; ti < nts; ti++)
			for (int ii = 0; ii < NIMPLS; ii++) {
				progress("herd %s %s T=%d", impls[ii]->name,
				         vs[vi].name, ts[ti]);
				herd_run(impls[ii], &vs[vi], ts[ti]);
			}
}

/* ---- batch: E[L] = Tb/2 + s*lambda*Tb/2 (seed 003) ---- */

#define RING (1u << 16)
#define SERVICE_NS 40000

struct batch {
	const struct impl *im;
	int ep, efd;
	double lambda; /* arrivals per second */
	uint64_t start, dur;
	uint64_t ring[RING];
	_Atomic uint64_t head;
	_Atomic int done;
	uint64_t rng;
};

static double uniform01(uint64_t *x)
{
	/* xorshift64*: (0, 1] */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return ((double)((*x * 2685821657736338717ull) >> 11) + 1) /
	       9007199254740992.0;
}

static void spin_until(uint64_t t)
{
	while (now_ns() < t)
		;
}

/* Poisson arrivals: stamp, push, then signal with an eventfd write. */
static void *batch_producer(void *arg)
{
	struct batch *b = arg;
	double t = (double)b->start;
	uint64_t end = b->start + b->dur;
	for (;;) {
		t += -log(uniform01(&b->rng)) / b->lambda * 1e9;
		if (t >= (double)end)
			break;
		spin_until((uint64_t)t);
		uint64_t h =
		        atomic_load_explicit(&b->head, memory_order_relaxed);
		b->ring[h % RING] = now_ns();
		atomic_store_explicit(&b->head, h + 1, memory_order_release);
		xwrite1(b->im, b->efd);
	}
	atomic_store(&b->done, 1);
	return NULL;
}

/*
 * The consumer sleeps to the end of each window of Tb, takes what the
 * window collected with one wait (timeout 0), and serves it in arrival
 * order, SERVICE_NS each.  Latency = service start - arrival.
 */
static double batch_trial(struct batch *b, uint64_t tb, double *lambda_real)
{
	pthread_t t;
	struct epoll_event ev;
	uint64_t tail = 0, nev = 0;
	double lat = 0;
	atomic_store(&b->head, 0);
	atomic_store(&b->done, 0);
	b->start = now_ns() + 1000000;
	xthread(&t, batch_producer, b);
	uint64_t wend = b->start + tb;
	for (;;) {
		struct timespec ts = {(time_t)(wend / 1000000000ull),
		                      (long)(wend % 1000000000ull)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		                       NULL) == EINTR)
			;
		int done = atomic_load(&b->done);
		uint64_t cnt = 0;
		if (xwait(b->im, b->ep, &ev, 1, 0) == 1 &&
		    b->im->read(b->efd, &cnt, 8) != 8)
			die("%s batch read", b->im->name);
		for (; cnt; cnt--, tail++) {
			uint64_t s0 = now_ns();
			lat += (double)(s0 - b->ring[tail % RING]);
			nev++;
			spin_until(s0 + SERVICE_NS);
		}
		if (done && tail == atomic_load(&b->head))
			break;
		wend += tb;
	}
	pthread_join(t, NULL);
	*lambda_real = (double)nev / ((double)b->dur / 1e9);
	return nev ? lat / (double)nev / 1000 : 0;
}

void bench_batch(void)
{
	static const long tbs_us[] = {1000, 2000, 5000};
	static const double lambdas[] = {2000, 10000};
	double s[MAX_TRIALS];
	struct batch *b = calloc(1, sizeof(*b));
	if (!b)
		die("calloc");
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	b->dur = cfg.quick ? 150000000ull : 400000000ull;
	for (unsigned ti = 0; ti < 3; ti++)
		for (unsigned li = 0; li < 2; li++)
			for (int ii = 0; ii < NIMPLS; ii++) {
				const struct impl *im = impls[ii];
				double lr = 0, lsum = 0;
				char var[32];
				b->im = im;
				b->lambda = lambdas[li];
				b->rng = 0x9e3779b97f4a7c15ull + ti * 7 + li;
				b->ep = im->create1(0);
				b->efd = xeventfd(im, EFD_NONBLOCK);
				xctl(im, b->ep, EPOLL_CTL_ADD, b->efd, EPOLLIN,
				     0);
				progress("batch %s Tb=%ldus lambda=%.0f",
				         im->name, tbs_us[ti], lambdas[li]);
				for (int t = 0; t < cfg.trials; t++) {
					s[t] = batch_trial(
					        b, (uint64_t)tbs_us[ti] * 1000,
					        &lr);
					lsum += lr;
				}
				double tb = (double)tbs_us[ti];
				double lam =
				        lsum / cfg.trials / 1e6; /* per us */
				double model = tb / 2 + (SERVICE_NS / 1000.0) *
				                                lam * tb / 2;
				snprintf(var, sizeof(var), "Tb=%ldus",
				         tbs_us[ti]);
				struct result *r = add_result(
				        "batch", im->name, var,
				        (long)lambdas[li], tbs_us[ti], "us", s,
				        cfg.trials);
				r->aux = model;
				snprintf(r->note, sizeof(r->note),
				         "model %.0f (%+.0f%%)", model,
				         (r->med / model - 1) * 100);
				im->close(b->efd);
				im->close(b->ep);
			}
	free(b);
}
