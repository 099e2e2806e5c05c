/*
 * Kernel fds in an interest set.  The objects are always the kernel's
 * (pipe2, eventfd, socketpair called directly); the epoll is sys_*: the
 * kernel's on the kernel target, uepoll's on the uepoll target, where the
 * kernel fds go into the instance's kernel half.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "sys.h"

/* Close a kernel fd the way the target wants it closed. */
static void kclose(int fd)
{
	ASSERT_OK(sys_close(fd));
}

TEST(host_pipe_lt_then_drain)
{
	int ep = sys_epoll_create1(0), p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ADD(ep, p[0], EPOLLIN, 1);
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 0);
	ASSERT_EQ(write(p[1], "ab", 2), 2);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 1);
	ASSERT_EQ_HEX(ev[0].events, EPOLLIN);
	ASSERT_EQ(ev[0].data.u64, 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 1); /* level: again */
	char buf[4];
	ASSERT_EQ(read(p[0], buf, 4), 2);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 0);
	kclose(p[0]);
	kclose(p[1]);
	ASSERT_OK(sys_close(ep));
}

TEST(host_pipe_et_every_write)
{
	int ep = sys_epoll_create1(0), p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ADD(ep, p[0], EPOLLIN | EPOLLET, 1);
	struct epoll_event ev[4];
	ASSERT_EQ(write(p[1], "a", 1), 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 0);
	ASSERT_EQ(write(p[1], "b", 1), 1); /* a new wake-up: a new edge */
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 0);
	kclose(p[0]);
	kclose(p[1]);
}

TEST(host_pipe_write_end_et_out_only_on_full_read)
{
	int ep = sys_epoll_create1(0), p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ADD(ep, p[1], EPOLLOUT | EPOLLET, 2);
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 1); /* ready at ADD */
	ASSERT_EQ_HEX(ev[0].events, EPOLLOUT);
	ASSERT_EQ(write(p[1], "a", 1), 1); /* OUT-side unchanged: no edge */
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 0);
	kclose(p[0]);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 1);
	ASSERT_EQ_HEX(ev[0].events, EPOLLOUT | EPOLLERR);
	kclose(p[1]);
}

TEST(host_mixed_with_kernel_eventfd_and_own_object)
{
	int ep = sys_epoll_create1(0);
	int kefd = eventfd(0, EFD_NONBLOCK);
	int oefd = sys_eventfd(0, EFD_NONBLOCK);
	ASSERT_GE(kefd, 0);
	ASSERT_GE(oefd, 0);
	ADD(ep, kefd, EPOLLIN, 10);
	ADD(ep, oefd, EPOLLIN, 20);
	struct epoll_event ev[4];
	uint64_t one = 1;
	ASSERT_EQ(write(kefd, &one, 8), 8);
	write_u64(oefd, 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 2);
	uint64_t seen = ev[0].data.u64 + ev[1].data.u64;
	ASSERT_EQ(seen, 30);
	kclose(kefd);
	ASSERT_OK(sys_close(oefd));
}

static int wake_fd;

static void *late_writer(void *arg)
{
	(void)arg;
	sleep_ms(100);
	uint64_t one = 1;
	if (write(wake_fd, &one, 8) != 8)
		abort();
	return NULL;
}

TEST(host_sleeping_waiter_woken_by_kernel_fd)
{
	int ep = sys_epoll_create1(0);
	wake_fd = eventfd(0, EFD_NONBLOCK);
	ADD(ep, wake_fd, EPOLLIN, 5);
	pthread_t t;
	pthread_create(&t, NULL, late_writer, NULL);
	struct epoll_event ev[4];
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 3000), 1);
	ASSERT_LT(now_ms() - t0, 2500);
	ASSERT_EQ(ev[0].data.u64, 5);
	pthread_join(t, NULL);
	kclose(wake_fd);
}

TEST(host_regular_file_eperm)
{
	int ep = sys_epoll_create1(0);
	int fd = open("/proc/self/cmdline", O_RDONLY);
	ASSERT_GE(fd, 0);
	struct epoll_event e = {.events = EPOLLIN};
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e), EPERM);
	close(fd);
}

TEST(host_socketpair_rdhup)
{
	int ep = sys_epoll_create1(0), s[2];
	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s));
	ADD(ep, s[0], EPOLLIN | EPOLLRDHUP | EPOLLET, 3);
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 0);
	ASSERT_OK(shutdown(s[1], SHUT_WR));
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 1);
	ASSERT_EQ_HEX(ev[0].events, EPOLLIN | EPOLLRDHUP);
	kclose(s[0]);
	kclose(s[1]);
}

/*
 * The thread that registered a kernel fd (into the kernel half)
 * is busy in userspace, making no system call; another
 * thread waits.  The event must reach the waiter while the first thread
 * is still busy: readiness may not depend on the registering thread
 * entering the kernel.
 */
static int busy_pipe[2], busy_ep;
static _Atomic int busy_spinning = 1;

static void *busy_register_then_spin(void *arg)
{
	(void)arg;
	ADD(busy_ep, busy_pipe[0], EPOLLIN, 9);
	int64_t end = now_ms() + 1500;
	volatile unsigned long x = 0;
	while (atomic_load(&busy_spinning) == 1 && now_ms() < end)
		x++; /* clock_gettime is a vDSO call: no system call */
	atomic_store(&busy_spinning, 0);
	return NULL;
}

static void *busy_writer(void *arg)
{
	(void)arg;
	sleep_ms(100);
	if (write(busy_pipe[1], "x", 1) != 1)
		abort();
	return NULL;
}

TEST(host_event_while_registering_thread_is_busy)
{
	busy_ep = sys_epoll_create1(0);
	ASSERT_OK(pipe2(busy_pipe, O_NONBLOCK));
	pthread_t spin, wr;
	pthread_create(&spin, NULL, busy_register_then_spin, NULL);
	sleep_ms(50); /* registered by now */
	pthread_create(&wr, NULL, busy_writer, NULL);
	struct epoll_event ev[2];
	int n = sys_epoll_wait(busy_ep, ev, 2, 3000);
	int still_spinning = atomic_load(&busy_spinning);
	atomic_store(&busy_spinning, 2); /* let it stop */
	pthread_join(wr, NULL);
	pthread_join(spin, NULL);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(ev[0].data.u64, 9);
	ASSERT_EQ(still_spinning, 1);
	kclose(busy_pipe[0]);
	kclose(busy_pipe[1]);
}

TEST(host_oneshot_then_mod_rearms)
{
	int ep = sys_epoll_create1(0), p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ADD(ep, p[0], EPOLLIN | EPOLLONESHOT, 1);
	ASSERT_EQ(write(p[1], "a", 1), 1);
	struct epoll_event ev[2];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 1);
	ASSERT_EQ(write(p[1], "b", 1), 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 0); /* disabled */
	MOD(ep, p[0], EPOLLIN | EPOLLONESHOT, 2);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 1); /* ready: at once */
	ASSERT_EQ(ev[0].data.u64, 2);
	kclose(p[0]);
	kclose(p[1]);
}

TEST(host_pipe_hup_when_writer_closes)
{
	int ep = sys_epoll_create1(0), p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ADD(ep, p[0], EPOLLIN | EPOLLET, 1);
	struct epoll_event ev[2];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 0);
	ASSERT_OK(close(p[1])); /* another kernel fd: the kernel's close */
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 1);
	ASSERT_EQ_HEX(ev[0].events, EPOLLHUP);
	kclose(p[0]);
}

TEST(host_del_stops_events)
{
	int ep = sys_epoll_create1(0), p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ADD(ep, p[0], EPOLLIN, 1);
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	ASSERT_EQ(write(p[1], "a", 1), 1);
	struct epoll_event ev[2];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 0);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), ENOENT);
	kclose(p[0]);
	kclose(p[1]);
}

TEST(host_kernel_timerfd_periodic_et_one_event)
{
	int ep = sys_epoll_create1(0);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	ASSERT_GE(tfd, 0);
	ADD(ep, tfd, EPOLLIN | EPOLLET, 7);
	struct itimerspec its = {{0, 5000000}, {0, 5000000}};
	ASSERT_OK(timerfd_settime(tfd, 0, &its, NULL));
	struct epoll_event ev[2];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 2000), 1);
	ASSERT_EQ(ev[0].data.u64, 7);
	sleep_ms(40); /* more expiries, never read: no new edge */
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 0);
	uint64_t n;
	ASSERT_EQ(read(tfd, &n, 8), 8);
	ASSERT_GE(n, 2);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 2000), 1); /* re-armed by read */
	kclose(tfd);
}

TEST(host_kernel_signalfd)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	ASSERT_OK(pthread_sigmask(SIG_BLOCK, &set, NULL));
	int sfd = signalfd(-1, &set, SFD_NONBLOCK);
	ASSERT_GE(sfd, 0);
	int ep = sys_epoll_create1(0);
	ADD(ep, sfd, EPOLLIN, 3);
	struct epoll_event ev[2];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 0);
	ASSERT_OK(kill(getpid(), SIGUSR1));
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 2000), 1);
	ASSERT_EQ(ev[0].data.u64, 3);
	struct signalfd_siginfo si;
	ASSERT_EQ(read(sfd, &si, sizeof(si)), sizeof(si));
	ASSERT_EQ(si.ssi_signo, SIGUSR1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 0);
	kclose(sfd);
}

TEST(host_nested_kernel_fd_in_child_instance)
{
	int parent = sys_epoll_create1(0), child = sys_epoll_create1(0);
	int p[2];
	ASSERT_OK(pipe2(p, O_NONBLOCK));
	ADD(child, p[0], EPOLLIN, 1);
	ADD(parent, child, EPOLLIN, 2);
	struct epoll_event ev[2];
	ASSERT_EQ(sys_epoll_wait(parent, ev, 2, 0), 0);
	ASSERT_EQ(write(p[1], "a", 1), 1);
	ASSERT_EQ(sys_epoll_wait(parent, ev, 2, 2000), 1);
	ASSERT_EQ(ev[0].data.u64, 2);
	ASSERT_EQ_HEX(ev[0].events, EPOLLIN);
	ASSERT_EQ(sys_epoll_wait(child, ev, 2, 0), 1);
	ASSERT_EQ(ev[0].data.u64, 1);
	kclose(p[0]);
	kclose(p[1]);
}

/* EXCLUSIVE: 3 instances, one waiter each, one kernel eventfd: one wakes. */
static int excl_ep[3], excl_efd;
static _Atomic int excl_woken;

static _Atomic int excl_started;

static void *excl_waiter(void *arg)
{
	struct epoll_event ev;
	int i = (int)(intptr_t)arg;
	atomic_fetch_add(&excl_started, 1);
	if (sys_epoll_wait(excl_ep[i], &ev, 1, 1500) == 1)
		atomic_fetch_add(&excl_woken, 1);
	return NULL;
}

TEST(host_exclusive_wakes_one_instance)
{
	excl_efd = eventfd(0, EFD_NONBLOCK);
	pthread_t t[3];
	for (int i = 0; i < 3; i++) {
		excl_ep[i] = sys_epoll_create1(0);
		ADD(excl_ep[i], excl_efd, EPOLLIN | EPOLLEXCLUSIVE | EPOLLET,
		    i);
	}
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, excl_waiter, (void *)(intptr_t)i);
	while (atomic_load(&excl_started) < 3)
		sleep_ms(1);
	sleep_ms(300); /* all asleep (slow under sanitizers) */
	uint64_t one = 1;
	ASSERT_EQ(write(excl_efd, &one, 8), 8);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ASSERT_EQ(atomic_load(&excl_woken), 1);
	kclose(excl_efd);
}
