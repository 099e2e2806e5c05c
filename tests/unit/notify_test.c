/* uepoll_notify: a kernel eventfd that follows an instance's readiness. */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>
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

/* The instance owns a duplicate: the caller's number can be closed and reused.
 */
TEST(notify_never_writes_a_reused_fd_number)
{
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, EFD_NONBLOCK);
	int kfd = eventfd(0, EFD_NONBLOCK);
	ASSERT_OK(uepoll_notify(ep, kfd));
	struct epoll_event ev = {.events = EPOLLIN};
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
	close(kfd);
	/* A regular file takes the number. */
	char path[] = "/tmp/uepoll-notify-XXXXXX";
	int file = mkstemp(path);
	ASSERT_GE(file, 0);
	unlink(path);
	uint64_t one = 1;
	ASSERT_EQ(uepoll_write(efd, &one, 8), 8);
	struct stat st;
	ASSERT_OK(fstat(file, &st));
	ASSERT_EQ(st.st_size, 0); /* nothing was written into the file */
	close(file);
	uepoll_close(ep);
	uepoll_close(efd);
}

TEST(notify_refuses_what_is_not_an_eventfd)
{
	int ep = uepoll_create1(0), p[2];
	ASSERT_OK(pipe(p));
	ASSERT_ERRNO(uepoll_notify(ep, p[1]), EINVAL);
	char path[] = "/tmp/uepoll-notify-XXXXXX";
	int file = mkstemp(path);
	ASSERT_GE(file, 0);
	unlink(path);
	ASSERT_ERRNO(uepoll_notify(ep, file), EINVAL);
	ASSERT_ERRNO(uepoll_notify(ep, 987654), EBADF);
	int kep = epoll_create1(0);
	ASSERT_ERRNO(uepoll_notify(ep, kep), EINVAL);
	close(kep);
	close(file);
	close(p[0]);
	close(p[1]);
	uepoll_close(ep);
}

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* Replacing or removing the eventfd, and closing the instance, let go. */
TEST(notify_releases_its_duplicate_on_replace_and_close)
{
	int before = open_fds();
	int ep = uepoll_create1(0);
	int k1 = eventfd(0, EFD_NONBLOCK), k2 = eventfd(0, EFD_NONBLOCK);
	ASSERT_OK(uepoll_notify(ep, k1));
	ASSERT_EQ(open_fds(), before + 3);
	ASSERT_OK(uepoll_notify(ep, k2));
	ASSERT_EQ(open_fds(), before + 3);
	ASSERT_OK(uepoll_notify(ep, -1));
	ASSERT_EQ(open_fds(), before + 2);
	ASSERT_OK(uepoll_notify(ep, k1));
	uepoll_close(ep);
	ASSERT_EQ(open_fds(), before + 2);
	close(k1);
	close(k2);
}

/* A blocking eventfd is made non-blocking: a full counter never blocks. */
TEST(notify_write_never_blocks_on_a_full_eventfd)
{
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, EFD_NONBLOCK);
	int kfd = eventfd(0, 0);
	uint64_t max = UINT64_MAX - 1;
	ASSERT_EQ(write(kfd, &max, 8), 8);
	ASSERT_OK(uepoll_notify(ep, kfd));
	ASSERT_TRUE(fcntl(kfd, F_GETFL) & O_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN};
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
	uint64_t one = 1;
	ASSERT_EQ(uepoll_write(efd, &one, 8), 8); /* returns: no block */
	uepoll_close(ep);
	uepoll_close(efd);
	close(kfd);
}
