/* Smoke test: the simplest round trip, on both targets. */
#include "sys.h"

TEST(smoke_eventfd_wait)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 42);
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 0);
	write_u64(efd, 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 1);
	ASSERT_EQ_HEX(ev[0].events, EPOLLIN);
	ASSERT_EQ(ev[0].data.u64, 42);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}
