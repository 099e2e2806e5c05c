/*
 * Kernel fds in an interest set, beyond host.c: what only the kernel can
 * decide (what may be registered, EXCLUSIVE across processes), the sleep
 * that must hear both halves (a first kernel fd while a thread sleeps, a
 * nested instance's late kernel fd, a cold mixed poll), fork, and the fd
 * limit.  On the uepoll target the kernel fds go into the instance's
 * kernel half (docs/DESIGN.md).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "sys.h"

static int add_errno(int ep, int fd, uint32_t events)
{
	struct epoll_event e = {.events = events};
	return sys_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0 ? errno : 0;
}

/* ---- what may be registered: the kernel's answer ---- */

TEST(kfd_opath_fd_ebadf)
{
	int ep = sys_epoll_create1(0);
	int fd = open("/", O_PATH);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(add_errno(ep, fd, EPOLLIN), EBADF);
	close(fd);
}

TEST(kfd_dev_zero_eperm)
{
	int ep = sys_epoll_create1(0);
	int fd = open("/dev/zero", O_RDONLY);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(add_errno(ep, fd, EPOLLIN), EPERM);
	close(fd);
}

/* A regular file with its own poll: accepted, as the kernel accepts it. */
TEST(kfd_proc_mounts_accepted)
{
	int ep = sys_epoll_create1(0);
	int fd = open("/proc/mounts", O_RDONLY);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(add_errno(ep, fd, EPOLLPRI), 0);
	struct epoll_event ev[2];
	ASSERT_GE(sys_epoll_wait(ep, ev, 2, 0), 0);
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL));
	close(fd);
}

/* DEL and MOD of a kernel fd never added: ENOENT, and no fd left open. */
TEST(kfd_del_mod_never_added_enoent)
{
	int ep = sys_epoll_create1(0), p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	struct epoll_event e = {.events = EPOLLIN};
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), ENOENT);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &e), ENOENT);
	close(p[0]);
	close(p[1]);
}

/* ---- the fd limit ---- */

/*
 * RLIMIT_NOFILE lowered to the fds open, then the first kernel fd is
 * added.  The kernel needs no fd for it.  uepoll needs one for the
 * instance's kernel half: it may fail, with ENOMEM (never EMFILE), and
 * nothing is remembered: with the limit back the same ADD succeeds.
 */
TEST(kfd_rlimit_lowered_before_first_add)
{
	int ep = sys_epoll_create1(0), p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	struct rlimit old, low;
	ASSERT_OK(getrlimit(RLIMIT_NOFILE, &old));
	int lowest = dup(0);
	ASSERT_GE(lowest, 0);
	close(lowest);
	low = old;
	low.rlim_cur = (rlim_t)lowest;
	ASSERT_OK(setrlimit(RLIMIT_NOFILE, &low));
	int e1 = add_errno(ep, p[0], EPOLLIN);
	int e2 = add_errno(ep, p[0], EPOLLIN);
	ASSERT_OK(setrlimit(RLIMIT_NOFILE, &old));
	if (e1 == 0) {
		ASSERT_EQ(e2, EEXIST);
	} else {
		ASSERT_EQ(e1, ENOMEM);
		ASSERT_EQ(e2, ENOMEM);
		ASSERT_EQ(add_errno(ep, p[0], EPOLLIN), 0);
	}
	ASSERT_EQ(write(p[1], "x", 1), 1);
	struct epoll_event ev[2];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 1000), 1);
	close(p[0]);
	close(p[1]);
}

/* ---- EXCLUSIVE across processes (the shape of LTP's epoll_wait16) ---- */

#define EXCL_PROCS 8

/*
 * Each of 8 forked processes has its own instance holding one shared pipe
 * with EPOLLIN | EPOLLET | EPOLLEXCLUSIVE and waits; one write wakes one.
 */
TEST(kfd_exclusive_forked_waiters_one_woken)
{
	int p[2], res[2], ready[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ASSERT_OK(pipe(res));
	ASSERT_OK(pipe(ready));
	pid_t pid[EXCL_PROCS];
	for (int i = 0; i < EXCL_PROCS; i++) {
		pid[i] = fork();
		ASSERT_GE(pid[i], 0);
		if (pid[i] == 0) {
			int ep = sys_epoll_create1(0);
			struct epoll_event e = {.events = EPOLLIN | EPOLLET |
			                                  EPOLLEXCLUSIVE},
			                   out;
			if (sys_epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e) < 0)
				_exit(2);
			if (write(ready[1], "r", 1) != 1)
				_exit(2);
			char c = sys_epoll_wait(ep, &out, 1, 1500) == 1 ? 'w'
			                                                : 't';
			_exit(write(res[1], &c, 1) == 1 ? 0 : 2);
		}
	}
	for (int i = 0; i < EXCL_PROCS; i++) {
		char c;
		ASSERT_EQ(read(ready[0], &c, 1), 1);
	}
	sleep_ms(300); /* all asleep */
	ASSERT_EQ(write(p[1], "x", 1), 1);
	int woken = 0;
	for (int i = 0; i < EXCL_PROCS; i++) {
		char c;
		ASSERT_EQ(read(res[0], &c, 1), 1);
		woken += c == 'w';
		int st;
		ASSERT_EQ(waitpid(pid[i], &st, 0), pid[i]);
	}
	ASSERT_EQ(woken, 1);
	close(p[0]);
	close(p[1]);
	close(res[0]);
	close(res[1]);
	close(ready[0]);
	close(ready[1]);
}

/* ---- the sleep hears both halves ---- */

struct late {
	int fd;         /* the pipe's write end */
	int delay_ms;   /* after the thread starts */
	int64_t before; /* now_ms() just before the write */
};

static void *late_write(void *arg)
{
	struct late *l = arg;
	sleep_ms(l->delay_ms);
	l->before = now_ms();
	if (write(l->fd, "x", 1) != 1)
		abort();
	return NULL;
}

struct nest_wait {
	int ep;
	int ret;
	int64_t end;
	atomic_int started;
	struct epoll_event ev[2];
};

static void *nest_waiter(void *arg)
{
	struct nest_wait *w = arg;
	atomic_store(&w->started, 1);
	w->ret = sys_epoll_wait(w->ep, w->ev, 2, 2000);
	w->end = now_ms();
	return NULL;
}

/* Start nest_waiter on w, and give it time to fall asleep. */
static void nest_waiter_start(pthread_t *t, struct nest_wait *w)
{
	ASSERT_EQ(pthread_create(t, NULL, nest_waiter, w), 0);
	while (!atomic_load(&w->started))
		sleep_ms(1);
	sleep_ms(50);
}

/*
 * The wait ended because of the write, soon after it: timed from the
 * write itself, since under load the waiter may start late.
 */
static void nest_woken_by(const struct nest_wait *w, const struct late *l)
{
	ASSERT_GE(w->end, l->before);
	ASSERT_LT(w->end - l->before, 1350);
}

/* A thread sleeps on an instance with no kernel fd; another adds one. */
TEST(kfd_first_kernel_fd_added_while_waiting)
{
	int ep = sys_epoll_create1(0), efd = sys_eventfd(0, EFD_NONBLOCK);
	int p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ADD(ep, efd, EPOLLIN, 1); /* in-process only, so far */
	struct nest_wait w = {.ep = ep};
	pthread_t t, wr;
	nest_waiter_start(&t, &w); /* asleep */
	ADD(ep, p[0], EPOLLIN, 2);
	struct late l = {.fd = p[1], .delay_ms = 150};
	ASSERT_EQ(pthread_create(&wr, NULL, late_write, &l), 0);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(pthread_join(wr, NULL), 0);
	ASSERT_EQ(w.ret, 1);
	ASSERT_EQ(w.ev[0].data.u64, 2);
	nest_woken_by(&w, &l);
	close(p[0]);
	close(p[1]);
}

/*
 * ep1 holds ep2; a thread sleeps in a wait on ep1; a pipe joins ep2 (its
 * first kernel fd) while it sleeps; the pipe is written at 200 ms: the
 * wait returns 1 near 200 ms, as on Linux.
 */
TEST(kfd_nested_late_kernel_fd_wakes_parent_waiter)
{
	int ep1 = sys_epoll_create1(0), ep2 = sys_epoll_create1(0), p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ADD(ep1, ep2, EPOLLIN, 7);
	struct nest_wait w = {.ep = ep1};
	pthread_t t, wr;
	nest_waiter_start(&t, &w); /* asleep on ep1 */
	ADD(ep2, p[0], EPOLLIN, 1);
	struct late l = {.fd = p[1], .delay_ms = 150};
	ASSERT_EQ(pthread_create(&wr, NULL, late_write, &l), 0);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(pthread_join(wr, NULL), 0);
	ASSERT_EQ(w.ret, 1);
	ASSERT_EQ(w.ev[0].data.u64, 7);
	nest_woken_by(&w, &l);
	close(p[0]);
	close(p[1]);
}

/*
 * The first poll to see a kernel fd, over it and an object of the target:
 * the pipe written at 100 ms wakes it then, not at its timeout.
 */
TEST(kfd_cold_mixed_poll_woken_by_kernel_fd)
{
	int efd = sys_eventfd(0, EFD_NONBLOCK), p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	struct late l = {.fd = p[1], .delay_ms = 100};
	pthread_t t;
	int64_t t0 = now_ms();
	ASSERT_EQ(pthread_create(&t, NULL, late_write, &l), 0);
	struct pollfd fds[2] = {{.fd = efd, .events = POLLIN},
	                        {.fd = p[0], .events = POLLIN}};
	ASSERT_EQ(sys_poll(fds, 2, 2000), 1);
	ASSERT_EQ(fds[1].revents, POLLIN);
	ASSERT_LT(now_ms() - t0, 1500);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	close(p[0]);
	close(p[1]);
}

/* ---- fork ---- */

/*
 * The parent waits on an instance holding a pipe; a forked child waits on
 * an unrelated instance holding another kernel fd.  The parent gets its
 * event every time: the child takes nothing of the parent's.
 */
TEST(kfd_fork_child_on_other_instance_parent_keeps_events)
{
	int ep = sys_epoll_create1(0), p[2], q[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ASSERT_OK(pipe2(q, O_NONBLOCK));
	ADD(ep, p[0], EPOLLIN | EPOLLET, 1);
	for (int round = 0; round < 5; round++) {
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			int other = sys_epoll_create1(0);
			struct epoll_event e = {.events = EPOLLIN}, out;
			sys_epoll_ctl(other, EPOLL_CTL_ADD, q[0], &e);
			sys_epoll_wait(other, &out, 1, 300);
			_exit(0);
		}
		struct late l = {.fd = p[1], .delay_ms = 50};
		pthread_t t;
		ASSERT_EQ(pthread_create(&t, NULL, late_write, &l), 0);
		struct epoll_event ev[2];
		ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 2000), 1);
		ASSERT_EQ(ev[0].data.u64, 1);
		ASSERT_EQ(pthread_join(t, NULL), 0);
		char buf[8];
		ASSERT_EQ(read(p[0], buf, sizeof(buf)), 1);
		int st;
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
	}
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/*
 * A forked child waits on an instance it shares with its parent, holding
 * an object of the target and a kernel pipe: it gets its events (the pipe
 * while it sleeps), and the parent, afterwards, gets its own and nothing
 * of uepoll's making.
 */
TEST(kfd_fork_child_waits_on_shared_mixed_instance)
{
	int ep = sys_epoll_create1(0), efd = sys_eventfd(0, EFD_NONBLOCK);
	int p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ADD(ep, efd, EPOLLIN, 1);
	ADD(ep, p[0], EPOLLIN, 2);
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		uint64_t one = 1, v;
		int ok = sys_write(efd, &one, 8) == 8 &&
		         sys_epoll_wait(ep, ev, 4, 1000) == 1 &&
		         ev[0].data.u64 == 1 && sys_read(efd, &v, 8) == 8;
		struct late l = {.fd = p[1], .delay_ms = 100};
		pthread_t t;
		ok = ok && pthread_create(&t, NULL, late_write, &l) == 0;
		ok = ok && sys_epoll_wait(ep, ev, 4, 2000) == 1 &&
		     ev[0].data.u64 == 2;
		ok = ok && pthread_join(t, NULL) == 0;
		_exit(ok ? 0 : 1);
	}
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char c;
	ASSERT_EQ(read(p[0], &c, 1), 1);
	write_u64(efd, 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 1000), 1);
	ASSERT_EQ(ev[0].data.u64, 1);
	ASSERT_EQ(read_u64(efd), 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 0);
	close(p[0]);
	close(p[1]);
}

#if SYS_IS_UEPOLL
#include <stdio.h>

/* uepoll_fdinfo lists the kernel half's fds, not uepoll's own. */
TEST(kfd_fdinfo_lists_kernel_fds_not_uepolls_own)
{
	int ep = sys_epoll_create1(0), efd = sys_eventfd(0, 0), p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ADD(ep, efd, EPOLLIN, 1);
	ADD(ep, p[0], EPOLLIN | EPOLLET, 0x77);
	char buf[4096], want[64];
	ASSERT_GE(uepoll_fdinfo(ep, buf, sizeof(buf)), 0);
	int lines = 0;
	for (char *s = buf; (s = strstr(s, "tfd:")) != NULL; s++)
		lines++;
	ASSERT_EQ(lines, 2); /* the eventfd and the pipe; no wake eventfd */
	snprintf(want, sizeof(want), "tfd: %8d", p[0]);
	ASSERT_TRUE(strstr(buf, want) != NULL);
	ASSERT_TRUE(strstr(buf, "data:               77") != NULL);
	close(p[0]);
	close(p[1]);
}
#endif
