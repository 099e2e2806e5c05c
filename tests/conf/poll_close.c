/*
 * poll() racing close(): a thread sleeps in poll() on a descriptor that
 * another thread closes.  Linux's poll holds a reference on each file it
 * hooked, so the sleeper keeps waiting on the file (a close does not wake
 * it) until its timeout or a wake-up of the file through another
 * descriptor; then it looks the number up again and reports POLLNVAL.
 * Nothing it hooked may be freed under it.
 */
#include <pthread.h>

#include "sys.h"

struct poll_arg {
	int fd;
	int timeout;
	int ret;
	short revents;
	int64_t elapsed;
	int64_t end; /* now_ms() when poll returned */
};

static void *poller(void *p)
{
	struct poll_arg *a = p;
	struct pollfd pf = {.fd = a->fd, .events = POLLIN};
	int64_t t0 = now_ms();
	a->ret = sys_poll(&pf, 1, a->timeout);
	a->end = now_ms();
	a->elapsed = a->end - t0;
	a->revents = pf.revents;
	return NULL;
}

/* The sleeper times out, then finds the number closed. */
TEST(poll_survives_close_of_its_fd_by_another_thread)
{
	int efd = new_efd(0, EFD_NONBLOCK);
	struct poll_arg a = {.fd = efd, .timeout = 300};
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, poller, &a), 0);
	sleep_ms(50); /* the poller is asleep in poll() by now */
	ASSERT_OK(sys_close(efd));
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(a.ret, 1);
	ASSERT_EQ_HEX(a.revents, POLLNVAL);
	ASSERT_GE(a.elapsed, 250); /* the close did not wake it */
}

/* A dup keeps the file: a write through it wakes the sleeper. */
TEST(poll_on_closed_fd_still_woken_through_a_dup)
{
	int efd = new_efd(0, EFD_NONBLOCK);
	int dup = sys_dup(efd);
	ASSERT_GE(dup, 0);
	struct poll_arg a = {.fd = efd, .timeout = 10000};
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, poller, &a), 0);
	sleep_ms(50);
	ASSERT_OK(sys_close(efd));
	sleep_ms(20);
	write_u64(dup, 1);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(a.ret, 1);
	ASSERT_EQ_HEX(a.revents, POLLNVAL);
	ASSERT_LT(a.elapsed, 5000); /* woken by the write, not the timeout */
	ASSERT_OK(sys_close(dup));
}

/* The same with an epoll instance as the polled file (the preload's case). */
TEST(poll_survives_close_of_polled_epoll_fd)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct poll_arg a = {.fd = ep, .timeout = 300};
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, poller, &a), 0);
	sleep_ms(50);
	ASSERT_OK(sys_close(ep));
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(a.ret, 1);
	ASSERT_EQ_HEX(a.revents, POLLNVAL);
	ASSERT_OK(sys_close(efd));
}

/* Many rounds of the race, closing at varying moments. */
TEST_T(poll_racing_close_many_rounds, 60)
{
	for (int i = 0; i < 200; i++) {
		int efd = new_efd(0, EFD_NONBLOCK);
		struct poll_arg a = {.fd = efd, .timeout = 5};
		pthread_t t;
		ASSERT_EQ(pthread_create(&t, NULL, poller, &a), 0);
		if (i % 3)
			sleep_ms(i % 4);
		int64_t closed_at = now_ms();
		ASSERT_OK(sys_close(efd));
		ASSERT_EQ(pthread_join(t, NULL), 0);
		/*
		 * Whenever the close lands, poll ends with POLLNVAL; unless
		 * this thread was descheduled past the poller's timeout, and
		 * poll returned 0 before the close began.
		 */
		if (a.ret == 0) {
			ASSERT_LE(a.end, closed_at);
			continue;
		}
		ASSERT_EQ(a.ret, 1);
		ASSERT_EQ_HEX(a.revents, POLLNVAL);
	}
}
