/*
 * The harness: implementations, trials, the table, results.csv and plots.
 *
 *   uepoll-bench [--only a,b,...] [--out DIR]
 *   uepoll-bench --callgrind WHAT ITERS      (see scale.c)
 *
 * BENCH_QUICK=1 in the environment: fewer and shorter trials.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "uepoll.h"
#include "bench.h"

static int k_eventfd(unsigned int initval, int flags)
{
	return eventfd(initval, flags);
}

const struct impl impl_kernel = {
        .name = "kernel",
        .create1 = epoll_create1,
        .ctl = epoll_ctl,
        .wait = epoll_wait,
        .eventfd = k_eventfd,
        .read = read,
        .write = write,
        .close = close,
        .poll = poll,
};

const struct impl impl_uepoll = {
        .name = "uepoll",
        .create1 = uepoll_create1,
        .ctl = uepoll_ctl,
        .wait = uepoll_wait,
        .eventfd = uepoll_eventfd,
        .read = uepoll_read,
        .write = uepoll_write,
        .close = uepoll_close,
        .poll = uepoll_poll,
};

const struct impl *const impls[NIMPLS] = {&impl_kernel, &impl_uepoll};

struct bench_cfg cfg;

#define MAX_RESULTS 1024
static struct result results[MAX_RESULTS];
static int nresults;
static const char *outdir = "build/bench";

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;
	va_start(ap, fmt);
	fprintf(stderr, "uepoll-bench: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (errno %d: %s)\n", e, strerror(e));
	exit(1);
}

void progress(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "  .. ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

int xeventfd(const struct impl *im, int flags)
{
	int fd = im->eventfd(0, flags);
	if (fd < 0)
		die("%s eventfd", im->name);
	return fd;
}

void xctl(const struct impl *im, int epfd, int op, int fd, uint32_t events,
          uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	if (im->ctl(epfd, op, fd, &ev) < 0)
		die("%s epoll_ctl op %d fd %d", im->name, op, fd);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static struct result *new_result(const char *bench, const char *impl,
                                 const char *variant, long n, long k,
                                 const char *unit)
{
	if (nresults == MAX_RESULTS)
		die("too many results");
	struct result *r = &results[nresults++];
	memset(r, 0, sizeof(*r));
	snprintf(r->bench, sizeof(r->bench), "%s", bench);
	snprintf(r->impl, sizeof(r->impl), "%s", impl);
	snprintf(r->variant, sizeof(r->variant), "%s", variant);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	r->n = n;
	r->k = k;
	return r;
}

struct result *add_result(const char *bench, const char *impl,
                          const char *variant, long n, long k, const char *unit,
                          const double *samples, int ns)
{
	double s[MAX_TRIALS];
	struct result *r = new_result(bench, impl, variant, n, k, unit);
	if (ns < 1 || ns > MAX_TRIALS)
		die("bad sample count %d", ns);
	memcpy(s, samples, (size_t)ns * sizeof(*s));
	qsort(s, (size_t)ns, sizeof(*s), cmp_double);
	r->min = s[0];
	r->max = s[ns - 1];
	r->med = ns % 2 ? s[ns / 2] : (s[ns / 2 - 1] + s[ns / 2]) / 2;
	return r;
}

struct result *add_na(const char *bench, const char *impl, const char *variant,
                      long n, long k, const char *unit, const char *why)
{
	struct result *r = new_result(bench, impl, variant, n, k, unit);
	r->na = 1;
	snprintf(r->note, sizeof(r->note), "%s", why);
	return r;
}

void measure(run_fn fn, void *ctx, double per_op, double *samples)
{
	long iters = 1;
	uint64_t t;
	/* Calibrate (this also warms caches up). */
	for (;;) {
		t = fn(ctx, iters);
		if (t >= cfg.target_ns / 8 || iters >= (1L << 40))
			break;
		iters *= t < cfg.target_ns / 256 ? 16 : 4;
	}
	double scaled = (double)iters * cfg.target_ns / (double)(t ? t : 1);
	iters = scaled < 1 ? 1 : (long)scaled;
	for (int i = 0; i < cfg.trials; i++)
		samples[i] = (double)fn(ctx, iters) / (double)iters / per_op;
}

/* ---- output ---- */

static struct result *find(const struct result *like, const char *impl)
{
	for (int i = 0; i < nresults; i++) {
		struct result *r = &results[i];
		if (!strcmp(r->bench, like->bench) &&
		    !strcmp(r->variant, like->variant) && r->n == like->n &&
		    r->k == like->k && !strcmp(r->unit, like->unit) &&
		    !strcmp(r->impl, impl))
			return r;
	}
	return NULL;
}

static void fmt_value(char *buf, size_t len, const struct result *r)
{
	if (!r)
		snprintf(buf, len, "-");
	else if (r->na)
		snprintf(buf, len, "n/a");
	else if (r->med >= 100000)
		snprintf(buf, len, "%.0f", r->med);
	else if (r->med >= 100)
		snprintf(buf, len, "%.1f", r->med);
	else
		snprintf(buf, len, "%.3g", r->med);
}

static void fmt_n(char *buf, size_t len, long n)
{
	if (n >= 1000000 && n % 1000000 == 0)
		snprintf(buf, len, "%ldM", n / 1000000);
	else if (n >= 1000 && n % 1000 == 0)
		snprintf(buf, len, "%ldk", n / 1000);
	else
		snprintf(buf, len, "%ld", n);
}

static int bench_rank(const char *b)
{
	static const char *const order[] = {"cycle",        "ctl",  "wait",
	                                    "poll-vs-wait", "mem",  "pingpong",
	                                    "busypoll",     "herd", "batch"};
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (!strcmp(b, order[i]))
			return (int)i;
	return 99;
}

/* Table order: bench, unit, k, variant, then n (so a row block is a curve). */
static int cmp_row(const void *a, const void *b)
{
	const struct result *x = *(const struct result *const *)a;
	const struct result *y = *(const struct result *const *)b;
	int c = bench_rank(x->bench) - bench_rank(y->bench);
	if (!c)
		c = strcmp(x->unit, y->unit);
	if (!c)
		c = (x->k > y->k) - (x->k < y->k);
	if (!c && strcmp(x->bench, "batch"))
		c = strcmp(x->variant, y->variant);
	if (!c)
		c = (x->n > y->n) - (x->n < y->n);
	return c;
}

static void print_table(FILE *f)
{
	char kv[32], uv[32], ratio[32], ns[24], ks[24];
	static const struct result *rows[MAX_RESULTS];
	int nrows = 0;
	/* One row per (bench, variant, n, k, unit), at its first result. */
	for (int i = 0; i < nresults; i++) {
		const struct result *r = &results[i];
		struct result *kr = find(r, "kernel"), *ur = find(r, "uepoll");
		if ((kr ? kr : ur) == r)
			rows[nrows++] = r;
	}
	qsort(rows, (size_t)nrows, sizeof(rows[0]), cmp_row);
	fprintf(f, "\n%-12s %-16s %6s %5s %-9s %11s %11s %7s  %s\n", "bench",
	        "variant", "n", "k", "unit", "kernel", "uepoll", "k/u", "note");
	const struct result *prev = NULL;
	for (int i = 0; i < nrows; i++) {
		const struct result *r = rows[i];
		struct result *kr = find(r, "kernel"), *ur = find(r, "uepoll");
		if (prev &&
		    (strcmp(prev->bench, r->bench) ||
		     strcmp(prev->unit, r->unit) ||
		     strcmp(prev->variant, r->variant) || prev->k != r->k))
			fprintf(f, "\n");
		prev = r;
		fmt_value(kv, sizeof(kv), kr);
		fmt_value(uv, sizeof(uv), ur);
		if (kr && ur && !kr->na && !ur->na && ur->med > 0)
			snprintf(ratio, sizeof(ratio), "%.2fx",
			         kr->med / ur->med);
		else
			snprintf(ratio, sizeof(ratio), "-");
		fmt_n(ns, sizeof(ns), r->n);
		fmt_n(ks, sizeof(ks), r->k);
		char note[160];
		snprintf(note, sizeof(note), "%s%s%s%s%s",
		         kr && kr->note[0] ? "kernel: " : "",
		         kr ? kr->note : "",
		         kr && kr->note[0] && ur && ur->note[0] ? "; " : "",
		         ur && ur->note[0] ? "uepoll: " : "",
		         ur ? ur->note : "");
		fprintf(f, "%-12s %-16s %6s %5s %-9s %11s %11s %7s  %s\n",
		        r->bench, r->variant, ns, ks, r->unit, kv, uv, ratio,
		        note);
	}
	fprintf(f, "\n");
}

static void write_csv(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("open %s", path);
	fprintf(f, "bench,impl,variant,n,k,median,unit,min,max\n");
	for (int i = 0; i < nresults; i++) {
		const struct result *r = &results[i];
		if (r->na)
			continue;
		fprintf(f, "%s,%s,%s,%ld,%ld,%.6g,%s,%.6g,%.6g\n", r->bench,
		        r->impl, r->variant, r->n, r->k, r->med, r->unit,
		        r->min, r->max);
	}
	fclose(f);
}

/* ---- plots (gnuplot, when installed) ---- */

/* Write the series "x median" of the matching results; false if empty. */
static int write_series(const char *name, const char *bench, const char *impl,
                        const char *variant, long n, long k, const char *unit,
                        int by_n)
{
	char path[512];
	int rows = 0;
	snprintf(path, sizeof(path), "%s/plot/%s.dat", outdir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		die("open %s", path);
	for (int i = 0; i < nresults; i++) {
		const struct result *r = &results[i];
		if (r->na || strcmp(r->bench, bench) || strcmp(r->impl, impl) ||
		    strcmp(r->variant, variant) || strcmp(r->unit, unit) ||
		    (by_n ? (k >= 0 && r->k != k) : (n >= 0 && r->n != n)))
			continue;
		fprintf(f, "%ld %g %g %g\n", by_n ? r->n : r->k, r->med, r->min,
		        r->max);
		rows++;
	}
	fclose(f);
	return rows;
}

struct series {
	const char *name, *bench, *impl, *variant, *unit, *title;
	long k;
};

static void plot_one(FILE *gp, const char *png, const char *title,
                     const char *ylabel, const struct series *s, int ns)
{
	int first = 1;
	fprintf(gp, "set output '%s/%s'\n", outdir, png);
	fprintf(gp, "set title '%s'\nset ylabel '%s'\n", title, ylabel);
	for (int i = 0; i < ns; i++) {
		if (!write_series(s[i].name, s[i].bench, s[i].impl,
		                  s[i].variant, -1, s[i].k, s[i].unit, 1))
			continue;
		fprintf(gp,
		        "%s '%s/plot/%s.dat' using 1:2 with linespoints "
		        "title '%s'",
		        first ? "plot" : ", \\\n    ", outdir, s[i].name,
		        s[i].title);
		first = 0;
	}
	fprintf(gp, "\n");
}

static void plots(void)
{
	char path[512];
	if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
		printf("plots skipped: gnuplot is not installed "
		       "(apt-get install gnuplot-nox to get PNG plots)\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/plot", outdir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/plot/plots.gp", outdir);
	FILE *gp = fopen(path, "w");
	if (!gp)
		die("open %s", path);
	fprintf(gp, "set terminal pngcairo size 900,600 noenhanced\n"
	            "set logscale xy\nset grid\nset key top left\n"
	            "set xlabel 'n (registered)'\n");
	static const struct series wait[] = {
	        {"wait-k-lt-1", "wait", "kernel", "LT", "ns/call",
	         "kernel LT k=1", 1},
	        {"wait-u-lt-1", "wait", "uepoll", "LT", "ns/call",
	         "uepoll LT k=1", 1},
	        {"wait-k-et-1", "wait", "kernel", "ET", "ns/call",
	         "kernel ET k=1", 1},
	        {"wait-u-et-1", "wait", "uepoll", "ET", "ns/call",
	         "uepoll ET k=1", 1},
	        {"wait-k-lt-64", "wait", "kernel", "LT", "ns/call",
	         "kernel LT k=64", 64},
	        {"wait-u-lt-64", "wait", "uepoll", "LT", "ns/call",
	         "uepoll LT k=64", 64},
	        {"wait-k-et-64", "wait", "kernel", "ET", "ns/call",
	         "kernel ET k=64", 64},
	        {"wait-u-et-64", "wait", "uepoll", "ET", "ns/call",
	         "uepoll ET k=64", 64},
	};
	plot_one(gp, "wait.png", "wait: one call returning k of n ready",
	         "ns per call", wait, sizeof(wait) / sizeof(wait[0]));
	static const struct series pw[] = {
	        {"pw-u-poll-1", "poll-vs-wait", "uepoll", "poll", "ns/call",
	         "uepoll_poll k=1", 1},
	        {"pw-u-wait-1", "poll-vs-wait", "uepoll", "wait", "ns/call",
	         "uepoll_wait k=1", 1},
	        {"pw-u-poll-64", "poll-vs-wait", "uepoll", "poll", "ns/call",
	         "uepoll_poll k=64", 64},
	        {"pw-u-wait-64", "poll-vs-wait", "uepoll", "wait", "ns/call",
	         "uepoll_wait k=64", 64},
	        {"pw-k-poll-1", "poll-vs-wait", "kernel", "poll", "ns/call",
	         "kernel poll k=1", 1},
	        {"pw-k-wait-1", "poll-vs-wait", "kernel", "wait", "ns/call",
	         "kernel epoll_wait k=1", 1},
	};
	plot_one(gp, "poll-vs-wait.png", "poll (O(n)) against wait (O(ready))",
	         "ns per call", pw, sizeof(pw) / sizeof(pw[0]));
	static const struct series ctl[] = {
	        {"ctl-k-add", "ctl", "kernel", "ADD", "ns/op", "kernel ADD",
	         -1},
	        {"ctl-u-add", "ctl", "uepoll", "ADD", "ns/op", "uepoll ADD",
	         -1},
	        {"ctl-k-mod", "ctl", "kernel", "MOD", "ns/op", "kernel MOD",
	         -1},
	        {"ctl-u-mod", "ctl", "uepoll", "MOD", "ns/op", "uepoll MOD",
	         -1},
	        {"ctl-k-del", "ctl", "kernel", "DEL", "ns/op", "kernel DEL",
	         -1},
	        {"ctl-u-del", "ctl", "uepoll", "DEL", "ns/op", "uepoll DEL",
	         -1},
	};
	plot_one(gp, "ctl.png", "ctl with n registered", "ns per op", ctl,
	         sizeof(ctl) / sizeof(ctl[0]));
	fprintf(gp, "set xlabel 'threads waiting'\nunset logscale y\n");
	static const struct series herd[] = {
	        {"herd-u-shlt", "herd", "uepoll", "shared-LT", "threads",
	         "uepoll shared LT", -1},
	        {"herd-k-shlt", "herd", "kernel", "shared-LT", "threads",
	         "kernel shared LT", -1},
	        {"herd-u-shet", "herd", "uepoll", "shared-ET", "threads",
	         "uepoll shared ET", -1},
	        {"herd-u-pt", "herd", "uepoll", "per-thread", "threads",
	         "uepoll per-thread", -1},
	        {"herd-k-pt", "herd", "kernel", "per-thread", "threads",
	         "kernel per-thread", -1},
	        {"herd-u-ptx", "herd", "uepoll", "per-thread-EXCL", "threads",
	         "uepoll per-thread EXCLUSIVE", -1},
	        {"herd-k-ptx", "herd", "kernel", "per-thread-EXCL", "threads",
	         "kernel per-thread EXCLUSIVE", -1},
	};
	plot_one(gp, "herd.png", "herd: threads woken by one event",
	         "threads woken per event", herd,
	         sizeof(herd) / sizeof(herd[0]));
	fclose(gp);

	/* batch: measured against the model, per arrival rate. */
	snprintf(path, sizeof(path), "%s/plot/batch.dat", outdir);
	FILE *f = fopen(path, "w");
	int nbatch = 0;
	if (!f)
		die("open %s", path);
	for (int i = 0; i < nresults; i++) {
		const struct result *r = &results[i];
		if (!r->na && !strcmp(r->bench, "batch")) {
			fprintf(f, "%ld %ld %g %g %d\n", r->k, r->n, r->med,
			        r->aux, !strcmp(r->impl, "kernel"));
			nbatch++;
		}
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/plot/plots.gp", outdir);
	gp = fopen(path, "a");
	if (!gp)
		die("open %s", path);
	if (nbatch)
		fprintf(gp,
		        "set output '%s/batch.png'\nset logscale x\nset "
		        "logscale y\n"
		        "set title 'batch: mean latency against E[L] = Tb/2 + "
		        "s*lambda*Tb/2'\nset xlabel 'Tb (us)'\n"
		        "set ylabel 'mean latency (us)'\n"
		        "plot '%s/plot/batch.dat' using ($5==0?$1:1/0):3 with "
		        "points "
		        "pt 7 title 'uepoll measured', "
		        "'' using ($5==1?$1:1/0):3 with points pt 6 title "
		        "'kernel "
		        "measured', "
		        "'' using ($5==0?$1:1/0):4 with points pt 2 title "
		        "'model'\n",
		        outdir, outdir);
	fclose(gp);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "gnuplot %s/plot/plots.gp", outdir);
	if (system(cmd) != 0)
		printf("plots: gnuplot failed (see above)\n");
	else
		printf("plots: %s/{wait,poll-vs-wait,ctl,herd,batch}.png\n",
		       outdir);
}

/* ---- main ---- */

static int wanted(const char *only, const char *name)
{
	if (!only)
		return 1;
	size_t len = strlen(name);
	for (const char *p = only; (p = strstr(p, name)) != NULL; p += len)
		if ((p == only || p[-1] == ',') &&
		    (p[len] == '\0' || p[len] == ','))
			return 1;
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit");
	cfg.fd_hard = (long)rl.rlim_max;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	const char *q = getenv("BENCH_QUICK");

	cfg.quick = q && *q && strcmp(q, "0");
	cfg.trials = cfg.quick ? 3 : 7;
	cfg.target_ns = cfg.quick ? 5e6 : 30e6;
	raise_nofile();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "--callgrind"))
		return callgrind_main(argc - 2, argv + 2);
	if (argc > 2 && !strcmp(argv[1], "--mem-child"))
		return mem_child_main(atol(argv[2]));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			outdir = argv[++i];
		else
			die("usage: uepoll-bench [--only LIST] [--out DIR]");
	}
	mkdir(outdir, 0755);
	printf("uepoll-bench: %s run, %d trials per figure, RLIMIT_NOFILE "
	       "%ld, %ld CPUs\n",
	       cfg.quick ? "quick" : "full", cfg.trials, cfg.fd_hard,
	       sysconf(_SC_NPROCESSORS_ONLN));
	uint64_t t0 = now_ns();
	if (wanted(only, "cycle"))
		bench_cycle();
	if (wanted(only, "scale"))
		bench_scale();
	if (wanted(only, "mem"))
		bench_mem();
	if (wanted(only, "pingpong"))
		bench_pingpong();
	if (wanted(only, "busypoll"))
		bench_busypoll();
	if (wanted(only, "busypoll1"))
		bench_busypoll_one_cpu();
	if (wanted(only, "herd"))
		bench_herd();
	if (wanted(only, "batch"))
		bench_batch();
	print_table(stdout);
	char path[512];
	snprintf(path, sizeof(path), "%s/results.csv", outdir);
	write_csv(path);
	printf("results: %s\n", path);
	plots();
	printf("total %.1f s\n", (double)(now_ns() - t0) / 1e9);
	return 0;
}
