/* uepoll_notify: a kernel eventfd that follows an instance's readiness. */
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../runner.h"
#include "uepoll.h"

static int kernel_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

static int instance_readable(int ep)
{
	struct pollfd p = {.fd = ep, .events = POLLIN};
	return uepoll_poll(&p, 1, 0) == 1;
}

static void kernel_clear(int fd)
{
	uint64_t v;
	ASSERT_EQ(read(fd, &v, 8), 8);
}

TEST(notify_follows_ready_list)
{
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, EFD_NONBLOCK);
	int kfd = eventfd(0, EFD_NONBLOCK);
	ASSERT_OK(uepoll_notify(ep, kfd));
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
	ASSERT_FALSE(kernel_readable(kfd));

	uint64_t one = 1;
	ASSERT_EQ(uepoll_write(efd, &one, 8), 8);
	ASSERT_TRUE(kernel_readable(kfd));
	/* A second event while signalled writes nothing more. */
	ASSERT_EQ(uepoll_write(efd, &one, 8), 8);
	uint64_t v;
	ASSERT_EQ(read(kfd, &v, 8), 8);
	ASSERT_EQ(v, 1);

	/* Level-triggered and unread: still readable after a harvest. */
	struct epoll_event out;
	ASSERT_EQ(uepoll_wait(ep, &out, 1, 0), 1);
	ASSERT_TRUE(instance_readable(ep));

	/* Drained: a poll of the instance empties its list and re-arms. */
	ASSERT_EQ(uepoll_read(efd, &v, 8), 8);
	ASSERT_FALSE(instance_readable(ep));
	ASSERT_FALSE(kernel_readable(kfd));
	ASSERT_EQ(uepoll_write(efd, &one, 8), 8);
	ASSERT_TRUE(kernel_readable(kfd));
	kernel_clear(kfd);

	/* Removed: nothing is written any more. */
	ASSERT_EQ(uepoll_read(efd, &v, 8), 8);
	ASSERT_EQ(uepoll_wait(ep, &out, 1, 0), 0);
	ASSERT_OK(uepoll_notify(ep, -1));
	ASSERT_EQ(uepoll_write(efd, &one, 8), 8);
	ASSERT_FALSE(kernel_readable(kfd));
	uepoll_close(ep);
	uepoll_close(efd);
	close(kfd);
}

TEST(notify_signals_at_once_when_already_ready)
{
	int ep = uepoll_create1(0), efd = uepoll_eventfd(1, EFD_NONBLOCK);
	int kfd = eventfd(0, EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN};
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
	ASSERT_OK(uepoll_notify(ep, kfd));
	ASSERT_TRUE(kernel_readable(kfd));
	ASSERT_ERRNO(uepoll_notify(ep, efd), EINVAL);  /* not a kernel fd */
	ASSERT_ERRNO(uepoll_notify(efd, kfd), EINVAL); /* not an epoll */
	uepoll_close(ep);
	uepoll_close(efd);
	close(kfd);
}
