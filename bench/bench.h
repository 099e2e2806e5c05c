/*
 * uepoll-bench: every workload against the kernel's epoll (kernel objects)
 * and against uepoll (uepoll objects) in the same run.  main.c holds the
 * harness (trials, results, table, CSV, plots); scale.c the single-thread
 * workloads (ctl, wait, poll-vs-wait, cycle, mem) and the callgrind
 * kernels; threads.c the multi-thread ones (pingpong, herd, batch).
 */
#ifndef UEPOLL_BENCH_H
#define UEPOLL_BENCH_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/types.h>

/* One implementation of the epoll API and its objects. */
struct impl {
	const char *name; /* "kernel" or "uepoll": the CSV's impl column */
	int (*create1)(int flags);
	int (*ctl)(int epfd, int op, int fd, struct epoll_event *ev);
	int (*wait)(int epfd, struct epoll_event *evs, int max, int timeout);
	int (*eventfd)(unsigned int initval, int flags);
	ssize_t (*read)(int fd, void *buf, size_t n);
	ssize_t (*write)(int fd, const void *buf, size_t n);
	int (*close)(int fd);
	int (*poll)(struct pollfd *fds, nfds_t n, int timeout);
};

extern const struct impl impl_kernel;
extern const struct impl impl_uepoll;
#define NIMPLS 2
extern const struct impl *const impls[NIMPLS];

#define MAX_TRIALS 15

struct bench_cfg {
	int quick;        /* BENCH_QUICK=1 */
	int trials;       /* repeated trials per figure */
	double target_ns; /* wall time of one trial of a short operation */
	long fd_hard;     /* RLIMIT_NOFILE after raising the soft limit */
};
extern struct bench_cfg cfg;

struct result {
	char bench[16];
	char impl[8];
	char variant[32];
	long n, k;
	char unit[12];
	double med, min, max;
	int na;        /* not measured: note says why */
	char note[64]; /* printed in the table only */
	double aux;    /* workload-specific (batch: the model's figure) */
};

uint64_t now_ns(void);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Record median/min/max of samples[0..ns). */
struct result *add_result(const char *bench, const char *impl,
                          const char *variant, long n, long k, const char *unit,
                          const double *samples, int ns);
/* A figure that could not be taken, with the reason (shown in the table). */
struct result *add_na(const char *bench, const char *impl, const char *variant,
                      long n, long k, const char *unit, const char *why);

/*
 * fn(ctx, iters) runs iters operations and returns the nanoseconds they
 * took (it may leave set-up out of the clock).  measure() picks iters so a
 * trial lasts about cfg.target_ns, then fills cfg.trials samples of ns per
 * operation divided by per_op (e.g. events per call).
 */
typedef uint64_t (*run_fn)(void *ctx, long iters);
void measure(run_fn fn, void *ctx, double per_op, double *samples);

/* Checked wrappers: the benchmark dies on any unexpected failure. */
int xeventfd(const struct impl *im, int flags);
void xctl(const struct impl *im, int epfd, int op, int fd, uint32_t events,
          uint64_t data);

/* Workloads. */
void bench_scale(void); /* ctl, wait, poll-vs-wait */
void bench_cycle(void);
void bench_mem(void);
int mem_child_main(long nreg);
void bench_pingpong(void);
void bench_busypoll(void);
void bench_busypoll_one_cpu(void); /* --only busypoll1 */
void bench_herd(void);
void bench_batch(void);
int callgrind_main(int argc, char **argv);

#endif
