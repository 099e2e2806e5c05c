/*
 * A signal handler that writes an eventfd: write(2) on an eventfd is
 * async-signal-safe, and "the handler writes an eventfd, the event loop
 * watches it" is a common pattern.  A timer fires SIGALRM every 100 us
 * while the thread loops in ctl and wait on an instance that watches the
 * eventfd, so the handler lands in the middle of every engine path.  No
 * deadlock (the runner's timeout is the watchdog), and every count the
 * handler wrote is read back.
 */
#include <stdatomic.h>
#include <sys/time.h>

#include "sys.h"

static int sw_efd;
static atomic_ullong sw_written;

static void sw_handler(int sig)
{
	int saved = errno;
	uint64_t one = 1;
	(void)sig;
	if (sys_write(sw_efd, &one, sizeof(one)) == sizeof(one))
		atomic_fetch_add(&sw_written, 1);
	errno = saved;
}

static void storm(uint32_t et)
{
	struct sigaction sa = {.sa_handler = sw_handler,
	                       .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	ASSERT_OK(sigaction(SIGALRM, &sa, NULL));
	sw_efd = sys_eventfd(0, EFD_NONBLOCK);
	ASSERT_GE(sw_efd, 0);
	int ep = new_ep(), other = sys_eventfd(0, EFD_NONBLOCK);
	ASSERT_GE(other, 0);
	ADD(ep, sw_efd, EPOLLIN | et, 1);
	struct itimerval it = {{0, 100}, {0, 100}};
	ASSERT_OK(setitimer(ITIMER_REAL, &it, NULL));
	uint64_t got = 0, v;
	int64_t end = now_ms() + 1500;
	long loops = 0;
	while (now_ms() < end) {
		struct epoll_event ev[4];
		MOD(ep, sw_efd, EPOLLIN | et, 1);
		ADD(ep, other, EPOLLIN, 2);
		int n = sys_epoll_wait(ep, ev, 4, 1);
		if (n < 0)
			ASSERT_EQ(errno, EINTR);
		if (sys_read(sw_efd, &v, sizeof(v)) == sizeof(v))
			got += v;
		ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, other, NULL));
		loops++;
	}
	struct itimerval off = {{0, 0}, {0, 0}};
	ASSERT_OK(setitimer(ITIMER_REAL, &off, NULL));
	sleep_ms(10);
	if (sys_read(sw_efd, &v, sizeof(v)) == sizeof(v))
		got += v;
	ASSERT_GT(loops, 0);
	ASSERT_GT(atomic_load(&sw_written), 0);
	ASSERT_EQ(got, atomic_load(&sw_written)); /* no count lost */
	/* The last write's wake-up reached the instance: it is ready. */
	uint64_t one = 1;
	ASSERT_EQ(sys_write(sw_efd, &one, sizeof(one)), sizeof(one));
	struct epoll_event ev[2];
	MOD(ep, sw_efd, EPOLLIN | et, 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 1000), 1);
	ASSERT_OK(sys_close(ep));
	ASSERT_OK(sys_close(other));
	ASSERT_OK(sys_close(sw_efd));
}

TEST_T(signal_handler_writes_eventfd_during_ctl_and_wait_lt, 20)
{
	storm(0);
}

TEST_T(signal_handler_writes_eventfd_during_ctl_and_wait_et, 20)
{
	storm(EPOLLET);
}
