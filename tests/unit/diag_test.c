/*
 * The diagnostic mode: each kind of mistake provoked and reported once,
 * the same programs done right reporting nothing; the per-item and
 * per-instance counters; busy polling's spin wake-ups.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../runner.h"
#include "uepoll.h"

#define MAX_REPORTS 64
static struct {
	enum uepoll_diag_kind kind;
	int epfd, fd;
	char msg[512];
} reports[MAX_REPORTS];
static _Atomic int nreports;

static void collect(const struct uepoll_diag_report *r, void *arg)
{
	(void)arg;
	int i = atomic_fetch_add(&nreports, 1);
	if (i >= MAX_REPORTS)
		return;
	reports[i].kind = r->kind;
	reports[i].epfd = r->epfd;
	reports[i].fd = r->fd;
	snprintf(reports[i].msg, sizeof(reports[i].msg), "%s", r->message);
}

static void diag_on(void)
{
	ASSERT_OK(uepoll_set_diag(UEPOLL_DIAG_ON, collect, NULL));
}

static int count_kind(enum uepoll_diag_kind k)
{
	int n = 0;
	for (int i = 0; i < nreports && i < MAX_REPORTS; i++)
		n += reports[i].kind == k;
	return n;
}

static void add(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
}

static int wait0(int ep, int max)
{
	struct epoll_event out[16];
	int n = uepoll_wait(ep, out, max, 0);
	ASSERT_GE(n, 0);
	return n;
}

/* ---- et-unread ---- */

TEST(diag_et_unread_reported_once)
{
	diag_on();
	int ep = uepoll_create1(0), p[2];
	ASSERT_OK(uepoll_pipe2(p, O_NONBLOCK));
	add(ep, p[0], EPOLLIN | EPOLLET);
	ASSERT_EQ(uepoll_write(p[1], "ab", 2), 2);
	ASSERT_EQ(wait0(ep, 4), 1);
	char c;
	ASSERT_EQ(uepoll_read(p[0], &c, 1), 1); /* one byte of two */
	ASSERT_EQ(wait0(ep, 4), 0);             /* the edge is gone */
	ASSERT_EQ(count_kind(UEPOLL_DIAG_ET_UNREAD), 1);
	ASSERT_EQ(reports[0].fd, p[0]);
	ASSERT_EQ(reports[0].epfd, ep);
	ASSERT_TRUE(strstr(reports[0].msg, "until EAGAIN") != NULL);
	/* Again: not reported twice for the same (instance, fd, kind). */
	ASSERT_EQ(uepoll_write(p[1], "cd", 2), 2);
	ASSERT_EQ(wait0(ep, 4), 1);
	ASSERT_EQ(wait0(ep, 4), 0);
	ASSERT_EQ(count_kind(UEPOLL_DIAG_ET_UNREAD), 1);
	uepoll_close(p[0]);
	uepoll_close(p[1]);
	uepoll_close(ep);
}

TEST(diag_et_drained_or_exact_read_is_fine)
{
	diag_on();
	int ep = uepoll_create1(0), p[2];
	int efd = uepoll_eventfd(0, EFD_NONBLOCK);
	ASSERT_OK(uepoll_pipe2(p, O_NONBLOCK));
	add(ep, p[0], EPOLLIN | EPOLLET);
	add(ep, efd, EPOLLIN | EPOLLET);
	for (int round = 0; round < 3; round++) {
		uint64_t one = 1, v;
		char buf[2];
		ASSERT_EQ(uepoll_write(p[1], "abc", 3), 3);
		ASSERT_EQ(uepoll_write(efd, &one, 8), 8);
		ASSERT_EQ(wait0(ep, 4), 2);
		/* The pipe read until EAGAIN; the eventfd's one read drains. */
		while (uepoll_read(p[0], buf, sizeof(buf)) > 0)
			;
		ASSERT_EQ(uepoll_read(efd, &v, 8), 8);
		ASSERT_EQ(wait0(ep, 4), 0);
	}
	ASSERT_EQ(nreports, 0);
	uepoll_close(p[0]);
	uepoll_close(p[1]);
	uepoll_close(efd);
	uepoll_close(ep);
}

/* ---- eagain-storm ---- */

/* Two instances watch one pipe level-triggered, as two threads would. */
TEST(diag_eagain_storm_reported)
{
	diag_on();
	int ep1 = uepoll_create1(0), ep2 = uepoll_create1(0), p[2];
	ASSERT_OK(uepoll_pipe2(p, O_NONBLOCK));
	add(ep1, p[0], EPOLLIN);
	add(ep2, p[0], EPOLLIN);
	for (int i = 0; i < 20; i++) {
		char c;
		ASSERT_EQ(uepoll_write(p[1], "x", 1), 1);
		ASSERT_EQ(wait0(ep1, 4), 1);
		ASSERT_EQ(wait0(ep2, 4), 1);
		ASSERT_EQ(uepoll_read(p[0], &c, 1), 1); /* ep2's event */
		ASSERT_ERRNO(uepoll_read(p[0], &c, 1), EAGAIN); /* ep1's */
	}
	ASSERT_EQ(count_kind(UEPOLL_DIAG_EAGAIN_STORM), 1);
	ASSERT_EQ(reports[0].fd, p[0]);
	uepoll_close(p[0]);
	uepoll_close(p[1]);
	uepoll_close(ep1);
	uepoll_close(ep2);
}

TEST(diag_level_triggered_reader_is_fine)
{
	diag_on();
	int ep = uepoll_create1(0), p[2];
	ASSERT_OK(uepoll_pipe2(p, O_NONBLOCK));
	add(ep, p[0], EPOLLIN);
	for (int i = 0; i < 40; i++) {
		char buf[8];
		ASSERT_EQ(uepoll_write(p[1], "xy", 2), 2);
		ASSERT_EQ(wait0(ep, 4), 1);
		ASSERT_EQ(uepoll_read(p[0], buf, 1), 1);
		ASSERT_EQ(wait0(ep, 4), 1); /* one byte left: still ready */
		ASSERT_EQ(uepoll_read(p[0], buf, 8), 1);
		ASSERT_ERRNO(uepoll_read(p[0], buf, 8), EAGAIN);
	}
	ASSERT_EQ(nreports, 0);
	uepoll_close(p[0]);
	uepoll_close(p[1]);
	uepoll_close(ep);
}

/* ---- herd ---- */

struct herd_arg {
	int ep;
	int got;
};

static void *herd_waiter(void *arg)
{
	struct herd_arg *h = arg;
	struct epoll_event ev;
	h->got = uepoll_wait(h->ep, &ev, 1, 5000);
	return NULL;
}

static void wait_sleeping(int ep)
{
	struct uepoll_stats st;
	for (int i = 0; i < 5000; i++) {
		ASSERT_OK(uepoll_stats(ep, &st));
		if (st.waiters == 1)
			return;
		usleep(1000);
	}
	FAIL("no waiter on %d", ep);
}

static void herd_run(uint32_t extra)
{
	int efd = uepoll_eventfd(0, EFD_NONBLOCK);
	struct herd_arg h[2];
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		h[i].ep = uepoll_create1(0);
		add(h[i].ep, efd, EPOLLIN | extra);
		ASSERT_EQ(pthread_create(&t[i], NULL, herd_waiter, &h[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		wait_sleeping(h[i].ep);
	uint64_t one = 1;
	ASSERT_EQ(uepoll_write(efd, &one, 8), 8);
	for (int i = 0; i < 2; i++) {
		if (extra)
			uepoll_write(efd, &one, 8); /* release the other */
		pthread_join(t[i], NULL);
	}
	for (int i = 0; i < 2; i++) {
		struct uepoll_stats st;
		ASSERT_OK(uepoll_stats(h[i].ep, &st));
		ASSERT_LE(st.herd_max, extra ? 1 : 2);
		uepoll_close(h[i].ep);
	}
	uepoll_close(efd);
}

TEST(diag_herd_reported)
{
	diag_on();
	herd_run(0);
	ASSERT_EQ(count_kind(UEPOLL_DIAG_HERD), 1);
	ASSERT_TRUE(strstr(reports[0].msg, "EPOLLEXCLUSIVE") != NULL);
}

TEST(diag_exclusive_is_no_herd)
{
	diag_on();
	herd_run(EPOLLEXCLUSIVE);
	ASSERT_EQ(count_kind(UEPOLL_DIAG_HERD), 0);
}

/* ---- closed-watched ---- */

TEST(diag_close_with_dup_reported)
{
	diag_on();
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, 0);
	add(ep, efd, EPOLLIN);
	int d = uepoll_dup(efd);
	ASSERT_GE(d, 0);
	ASSERT_OK(uepoll_close(efd));
	ASSERT_EQ(count_kind(UEPOLL_DIAG_CLOSED_WATCHED), 1);
	ASSERT_EQ(reports[0].fd, efd);
	ASSERT_EQ(reports[0].epfd, ep);
	ASSERT_TRUE(strstr(reports[0].msg, "EPOLL_CTL_DEL") != NULL);
	uepoll_close(d);
	uepoll_close(ep);
}

TEST(diag_close_right_is_fine)
{
	diag_on();
	int ep = uepoll_create1(0), a = uepoll_eventfd(0, 0);
	int b = uepoll_eventfd(0, 0);
	add(ep, a, EPOLLIN);
	add(ep, b, EPOLLIN);
	ASSERT_OK(uepoll_close(a)); /* no dup: the registration goes */
	int d = uepoll_dup(b);
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_DEL, b, NULL));
	ASSERT_OK(uepoll_close(b)); /* removed first */
	ASSERT_OK(uepoll_close(d));
	ASSERT_EQ(nreports, 0);
	uepoll_close(ep);
}

/* ---- starved ---- */

static void starve_run(int maxevents)
{
	int ep = uepoll_create1(0), fds[8];
	uint64_t one = 1;
	for (int i = 0; i < 8; i++) {
		fds[i] = uepoll_eventfd(0, EFD_NONBLOCK);
		ASSERT_EQ(uepoll_write(fds[i], &one, 8), 8);
		add(ep, fds[i], EPOLLIN);
	}
	for (int i = 0; i < 16; i++)
		ASSERT_EQ(wait0(ep, maxevents), maxevents);
	for (int i = 0; i < 8; i++)
		uepoll_close(fds[i]);
	uepoll_close(ep);
}

TEST(diag_starved_reported)
{
	diag_on();
	starve_run(1);
	ASSERT_GE(count_kind(UEPOLL_DIAG_STARVED), 1);
	ASSERT_TRUE(strstr(reports[0].msg, "maxevents=1") != NULL);
}

TEST(diag_enough_maxevents_is_fine)
{
	diag_on();
	starve_run(8);
	ASSERT_EQ(nreports, 0);
}

/* ---- repeat, stderr, off ---- */

TEST(diag_repeat_reports_every_time)
{
	ASSERT_OK(uepoll_set_diag(UEPOLL_DIAG_ON | UEPOLL_DIAG_REPEAT, collect,
	                          NULL));
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, 0);
	add(ep, efd, EPOLLIN);
	for (int i = 0; i < 2; i++) {
		int d = uepoll_dup(efd);
		ASSERT_OK(uepoll_close(efd));
		ASSERT_EQ(uepoll_dup2(d, efd), efd);
		uepoll_close(d);
	}
	ASSERT_EQ(count_kind(UEPOLL_DIAG_CLOSED_WATCHED), 2);
	ASSERT_ERRNO(uepoll_set_diag(0x100, NULL, NULL), EINVAL);
	uepoll_close(efd);
	uepoll_close(ep);
}

TEST(diag_off_keeps_no_counters)
{
	int ep = uepoll_create1(0), efd = uepoll_eventfd(1, 0);
	add(ep, efd, EPOLLIN | EPOLLET);
	struct uepoll_item_info ii;
	ASSERT_EQ(wait0(ep, 4), 1);
	ASSERT_OK(uepoll_item_info(ep, efd, &ii));
	ASSERT_EQ(ii.counted, 0);
	ASSERT_EQ_HEX(ii.events, EPOLLIN | EPOLLET | EPOLLERR | EPOLLHUP);
	ASSERT_EQ(ii.data, (uint64_t)efd);
	ASSERT_EQ(wait0(ep, 4), 0);
	ASSERT_EQ(nreports, 0);
	uepoll_close(efd);
	uepoll_close(ep);
}

/* ---- counters ---- */

TEST(diag_item_counters)
{
	diag_on();
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, EFD_NONBLOCK);
	int other = uepoll_eventfd(0, 0);
	add(ep, efd, EPOLLIN);
	struct uepoll_item_info ii;
	ASSERT_ERRNO(uepoll_item_info(ep, other, &ii), ENOENT);
	ASSERT_ERRNO(uepoll_item_info(efd, efd, &ii), EINVAL);
	ASSERT_ERRNO(uepoll_item_info(ep, efd, NULL), EFAULT);
	uint64_t one = 1, v;
	ASSERT_EQ(uepoll_write(efd, &one, 8), 8);
	ASSERT_EQ(uepoll_write(efd, &one, 8), 8);
	ASSERT_EQ(wait0(ep, 4), 1);
	ASSERT_EQ(uepoll_read(efd, &v, 8), 8);
	ASSERT_EQ(wait0(ep, 4), 0);
	ASSERT_OK(uepoll_item_info(ep, efd, &ii));
	ASSERT_EQ(ii.counted, 1);
	ASSERT_EQ(ii.wakeups, 2);
	ASSERT_EQ(ii.harvests, 2); /* the second found it not ready */
	ASSERT_EQ(ii.delivered, 1);
	ASSERT_GT(ii.last_ready_ns, 0);
	ASSERT_EQ(ii.ready, 0);
	char buf[1024];
	ASSERT_GT(uepoll_fdinfo(ep, buf, sizeof(buf)), 0);
	ASSERT_TRUE(strstr(buf, " wakeups: 2 harvests: 2 delivered: 1 ") !=
	            NULL);
	ASSERT_TRUE(strstr(buf, "waits: 2 ") != NULL);
	uepoll_close(other);
	uepoll_close(efd);
	uepoll_close(ep);
}

static void *write_later(void *arg)
{
	usleep(20000);
	uint64_t one = 1;
	ASSERT_EQ(uepoll_write(*(int *)arg, &one, 8), 8);
	return NULL;
}

TEST(diag_instance_wait_counters)
{
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, EFD_NONBLOCK);
	add(ep, efd, EPOLLIN | EPOLLET);
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, write_later, &efd), 0);
	struct epoll_event ev;
	ASSERT_EQ(uepoll_wait(ep, &ev, 1, 5000), 1);
	pthread_join(t, NULL);
	ASSERT_EQ(wait0(ep, 1), 0);
	struct uepoll_stats st;
	ASSERT_OK(uepoll_stats(ep, &st));
	ASSERT_EQ(st.waits, 2);
	ASSERT_EQ(st.sleeps, 1);
	ASSERT_EQ(st.spin_wakes, 0);
	ASSERT_EQ(st.harvests, 1);
	uepoll_close(efd);
	uepoll_close(ep);
}

/* ---- busy polling ---- */

TEST(busy_poll_waiter_is_woken_while_spinning)
{
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP("one CPU: busy polling never spins");
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, EFD_NONBLOCK);
	add(ep, efd, EPOLLIN);
	struct epoll_params p = {.busy_poll_usecs = 10 * 1000 * 1000};
	ASSERT_OK(uepoll_ioctl(ep, EPIOCSPARAMS, &p));
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, write_later, &efd), 0);
	struct epoll_event ev;
	ASSERT_EQ(uepoll_wait(ep, &ev, 1, 20000), 1);
	pthread_join(t, NULL);
	struct uepoll_stats st;
	ASSERT_OK(uepoll_stats(ep, &st));
	ASSERT_EQ(st.sleeps, 1);
	ASSERT_EQ(st.spin_wakes, 1);
	uepoll_close(efd);
	uepoll_close(ep);
}

TEST(busy_poll_spin_ends_at_the_timeout)
{
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, EFD_NONBLOCK);
	add(ep, efd, EPOLLIN);
	struct epoll_params p = {.busy_poll_usecs = 10 * 1000 * 1000};
	ASSERT_OK(uepoll_ioctl(ep, EPIOCSPARAMS, &p));
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	struct epoll_event ev;
	ASSERT_EQ(uepoll_wait(ep, &ev, 1, 50), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 +
	          (b.tv_nsec - a.tv_nsec) / 1000000;
	ASSERT_GE(ms, 49);
	ASSERT_LT(ms, 5000);
	uepoll_close(efd);
	uepoll_close(ep);
}

/* Two threads harvest one edge-triggered instance while a third writes:
 * a thread's item is checked at its own next wait, so none is reported. */
struct et_share {
	int ep, efd;
	_Atomic int stop;
};

static void *et_reader(void *arg)
{
	struct et_share *s = arg;
	while (!atomic_load(&s->stop)) {
		struct epoll_event ev;
		uint64_t v;
		if (uepoll_wait(s->ep, &ev, 1, 10) == 1)
			uepoll_read(s->efd, &v, 8); /* one read drains it */
	}
	return NULL;
}

TEST(diag_et_shared_instance_is_fine)
{
	diag_on();
	struct et_share s = {.ep = uepoll_create1(0),
	                     .efd = uepoll_eventfd(0, EFD_NONBLOCK)};
	add(s.ep, s.efd, EPOLLIN | EPOLLET);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, et_reader, &s), 0);
	for (int i = 0; i < 3000; i++) {
		uint64_t one = 1;
		ASSERT_EQ(uepoll_write(s.efd, &one, 8), 8);
		if (i % 64 == 0)
			usleep(100);
	}
	usleep(50000);
	atomic_store(&s.stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ASSERT_EQ(count_kind(UEPOLL_DIAG_ET_UNREAD), 0);
	uepoll_close(s.efd);
	uepoll_close(s.ep);
}

/* A kernel pipe in the instance's kernel half: reported when the next
 * wait times out with the data left; not when it was read to EAGAIN. */
static void kernel_et_run(bool drain)
{
	int ep = uepoll_create1(0), p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	add(ep, p[0], EPOLLIN | EPOLLET);
	ASSERT_EQ(write(p[1], "ab", 2), 2);
	struct epoll_event ev;
	ASSERT_EQ(uepoll_wait(ep, &ev, 1, 1000), 1);
	char c;
	ASSERT_EQ(read(p[0], &c, 1), 1);
	if (drain)
		ASSERT_EQ(read(p[0], &c, 1), 1);
	ASSERT_EQ(uepoll_wait(ep, &ev, 1, 10), 0);
	uepoll_close(ep);
	close(p[0]);
	close(p[1]);
}

TEST(diag_et_unread_kernel_fd_reported)
{
	diag_on();
	kernel_et_run(false);
	ASSERT_EQ(count_kind(UEPOLL_DIAG_ET_UNREAD), 1);
	ASSERT_TRUE(strstr(reports[0].msg, "timed out") != NULL);
}

TEST(diag_et_drained_kernel_fd_is_fine)
{
	diag_on();
	kernel_et_run(true);
	ASSERT_EQ(nreports, 0);
}

/*
 * At exit, with the mode on and no callback, each instance still open is
 * summed up on stderr: a child process runs the program and the parent
 * reads its stderr.
 */
TEST(diag_summary_at_exit)
{
	int err[2];
	ASSERT_OK(pipe(err));
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		dup2(err[1], 2);
		close(err[0]);
		close(err[1]);
		if (uepoll_set_diag(UEPOLL_DIAG_ON, NULL, NULL))
			_exit(1);
		int ep = uepoll_create1(0), e = uepoll_eventfd(1, 0);
		struct epoll_event ev = {.events = EPOLLIN};
		struct epoll_event out[4];
		if (uepoll_ctl(ep, EPOLL_CTL_ADD, e, &ev) ||
		    uepoll_wait(ep, out, 4, 0) != 1)
			_exit(1);
		uint64_t v;
		if (uepoll_read(e, &v, 8) != 8 || uepoll_wait(ep, out, 4, 0))
			_exit(1);
		char line[64];
		snprintf(line, sizeof(line), "epoll fd %d\n", ep);
		if (write(2, line, strlen(line)) < 0)
			_exit(1);
		exit(0); /* atexit handlers run: the summary */
	}
	close(err[1]);
	char buf[2048];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(buf) - 1 &&
	       (r = read(err[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	close(err[0]);
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	int ep = -1;
	ASSERT_TRUE(sscanf(buf, "epoll fd %d", &ep) == 1);
	char want[256];
	snprintf(want, sizeof(want),
	         "uepoll diag: summary: instance %d: 1 registration(s) (0 "
	         "kernel fd(s)); 2 wait(s): 1 returned 1 event(s), 1 returned "
	         "none; 0 slept, 0 spurious wake-up(s), 0 woken while busy "
	         "polling; largest herd ",
	         ep);
	ASSERT_TRUE(strstr(buf, want) != NULL);
}
