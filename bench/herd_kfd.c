/*
 * The herd around kernel fds (issue 10): 8 threads wait, idle, each on an
 * instance of its own holding only an eventfd of the implementation;
 * the main thread takes 1000 events from a kernel pipe through another
 * instance.  Printed: the context switches the 8 idle threads made
 * meanwhile (voluntary + involuntary, from /proc/self/task/TID/status),
 * and the time of a wait(0) on an idle instance while another instance
 * holds a kernel fd (a system call or not).  Kernel epoll and uepoll side
 * by side.  make bench-herd.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "uepoll.h"

#define IDLE 8
#define EVENTS 1000

struct impl {
	const char *name;
	int (*create1)(int);
	int (*ctl)(int, int, int, struct epoll_event *);
	int (*wait)(int, struct epoll_event *, int, int);
	int (*efd)(unsigned, int);
	ssize_t (*write)(int, const void *, size_t);
	int (*close)(int);
};

static const struct impl impls[] = {
        {"kernel", epoll_create1, epoll_ctl, epoll_wait, eventfd, write, close},
        {"uepoll", uepoll_create1, uepoll_ctl, uepoll_wait, uepoll_eventfd,
         uepoll_write, uepoll_close},
};

struct idle {
	const struct impl *im;
	pthread_t t;
	_Atomic int tid;
	int ep, efd;
};

static void *idle_main(void *arg)
{
	struct idle *d = arg;
	struct epoll_event ev;
	atomic_store(&d->tid, (int)syscall(SYS_gettid));
	d->im->wait(d->ep, &ev, 1, -1); /* until the stop write */
	return NULL;
}

static long switches(int tid)
{
	char path[64], line[128];
	long sum = 0;
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		long v;
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			sum += v;
	}
	fclose(f);
	return sum;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long run(const struct impl *im, double *ns_wait0)
{
	/* The kernel fd first: the idle threads sleep after it joined. */
	int ep = im->create1(0), p[2];
	if (ep < 0 || pipe2(p, O_NONBLOCK) < 0)
		exit(1);
	struct epoll_event e = {.events = EPOLLIN}, out;
	im->ctl(ep, EPOLL_CTL_ADD, p[0], &e);
	struct idle d[IDLE];
	for (int i = 0; i < IDLE; i++) {
		d[i].im = im;
		atomic_store(&d[i].tid, 0);
		d[i].ep = im->create1(0);
		d[i].efd = im->efd(0, EFD_NONBLOCK);
		if (d[i].ep < 0 || d[i].efd < 0 ||
		    im->ctl(d[i].ep, EPOLL_CTL_ADD, d[i].efd, &e) < 0) {
			perror("setup");
			exit(1);
		}
		pthread_create(&d[i].t, NULL, idle_main, &d[i]);
	}
	for (int i = 0; i < IDLE; i++)
		while (!atomic_load(&d[i].tid))
			usleep(1000);
	usleep(100 * 1000); /* all asleep */
	long before = 0, after = 0;
	for (int i = 0; i < IDLE; i++)
		before += switches(d[i].tid);
	for (int i = 0; i < EVENTS; i++) {
		char c;
		if (write(p[1], "x", 1) != 1 ||
		    im->wait(ep, &out, 1, -1) != 1 || read(p[0], &c, 1) != 1) {
			perror("event");
			exit(1);
		}
		usleep(100); /* the events come one by one */
	}
	for (int i = 0; i < IDLE; i++)
		after += switches(d[i].tid);
	/* uepoll_wait(0) on an idle instance while ep holds a kernel fd. */
	double t0 = now_s();
	for (int i = 0; i < 10000; i++)
		im->wait(d[0].ep, &out, 1, 0);
	*ns_wait0 = (now_s() - t0) * 1e9 / 10000;
	for (int i = 0; i < IDLE; i++) {
		uint64_t one = 1;
		im->write(d[i].efd, &one, 8);
		pthread_join(d[i].t, NULL);
		im->close(d[i].efd);
		im->close(d[i].ep);
	}
	im->close(ep);
	close(p[0]);
	close(p[1]);
	return after - before;
}

int main(void)
{
	printf("%d idle threads on instances of their own, %d kernel-fd "
	       "events elsewhere\n",
	       IDLE, EVENTS);
	printf("%-8s %26s %22s\n", "impl", "idle threads' switches",
	       "wait(0) on idle, ns");
	for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
		double ns;
		long sw = run(&impls[i], &ns);
		printf("%-8s %26ld %22.0f\n", impls[i].name, sw, ns);
	}
	return 0;
}
