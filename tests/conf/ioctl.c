/*
 * ioctl(2) on epoll instances and the other objects: EPIOCSPARAMS /
 * EPIOCGPARAMS with the checks of the kernel's selftest
 * net/epoll_busy_poll.c, and FIONBIO, FIONREAD, FIOCLEX.
 */
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "sys.h"

#ifndef EPIOCSPARAMS
struct epoll_params {
	uint32_t busy_poll_usecs;
	uint16_t busy_poll_budget;
	uint8_t prefer_busy_poll;
	uint8_t __pad;
};
#define EPOLL_IOC_TYPE 0x8A
#define EPIOCSPARAMS _IOW(EPOLL_IOC_TYPE, 0x01, struct epoll_params)
#define EPIOCGPARAMS _IOR(EPOLL_IOC_TYPE, 0x02, struct epoll_params)
#endif

/* A page that faults on any access. */
static void *bad_page(void)
{
	void *p =
	        mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	return p;
}

TEST(ioctl_epiocgparams_defaults_are_zero)
{
	int ep = new_ep();
	struct epoll_params p = {0xff, 0xff, 1, 0xf};
	ASSERT_OK(sys_ioctl(ep, EPIOCGPARAMS, &p));
	ASSERT_EQ(p.busy_poll_usecs, 0);
	ASSERT_EQ(p.busy_poll_budget, 0);
	ASSERT_EQ(p.prefer_busy_poll, 0);
	ASSERT_EQ(p.__pad, 0);
	void *bad = bad_page();
	ASSERT_ERRNO(sys_ioctl(ep, EPIOCGPARAMS, bad), EFAULT);
	ASSERT_ERRNO(sys_ioctl(ep, EPIOCGPARAMS, NULL), EFAULT);
	munmap(bad, 4096);
	ASSERT_OK(sys_close(ep));
}

TEST(ioctl_epiocsparams_set_and_get)
{
	int ep = new_ep();
	struct epoll_params p = {.busy_poll_usecs = 25,
	                         .busy_poll_budget = 16,
	                         .prefer_busy_poll = 1};
	ASSERT_OK(sys_ioctl(ep, EPIOCSPARAMS, &p));
	memset(&p, 0xff, sizeof(p));
	ASSERT_OK(sys_ioctl(ep, EPIOCGPARAMS, &p));
	ASSERT_EQ(p.busy_poll_usecs, 25);
	ASSERT_EQ(p.busy_poll_budget, 16);
	ASSERT_EQ(p.prefer_busy_poll, 1);
	ASSERT_EQ(p.__pad, 0);
	ASSERT_OK(sys_close(ep));
}

static int set_net_admin(bool on)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &h, d))
		return -1;
	if (on)
		d[CAP_TO_INDEX(CAP_NET_ADMIN)].effective |=
		        CAP_TO_MASK(CAP_NET_ADMIN);
	else
		d[CAP_TO_INDEX(CAP_NET_ADMIN)].effective &=
		        ~CAP_TO_MASK(CAP_NET_ADMIN);
	return (int)syscall(SYS_capset, &h, d);
}

/* The selftest's test_set_invalid, in its order. */
TEST(ioctl_epiocsparams_invalid)
{
	int ep = new_ep();
	struct epoll_params p = {0};
	p.__pad = 1;
	ASSERT_ERRNO(sys_ioctl(ep, EPIOCSPARAMS, &p), EINVAL);
	p.__pad = 0;
	p.busy_poll_usecs = (uint32_t)INT32_MAX + 1;
	ASSERT_ERRNO(sys_ioctl(ep, EPIOCSPARAMS, &p), EINVAL);
	p.busy_poll_usecs = 32;
	p.prefer_busy_poll = 2;
	ASSERT_ERRNO(sys_ioctl(ep, EPIOCSPARAMS, &p), EINVAL);
	p.prefer_busy_poll = 1;
	p.busy_poll_budget = UINT16_MAX; /* above NAPI_POLL_WEIGHT (64) */
	if (set_net_admin(true) == 0) {
		ASSERT_OK(sys_ioctl(ep, EPIOCSPARAMS, &p));
		ASSERT_OK(set_net_admin(false));
		ASSERT_ERRNO(sys_ioctl(ep, EPIOCSPARAMS, &p), EPERM);
		ASSERT_OK(set_net_admin(true));
	} else {
		ASSERT_ERRNO(sys_ioctl(ep, EPIOCSPARAMS, &p), EPERM);
	}
	p.busy_poll_budget = 64; /* the limit itself needs no capability */
	int dropped = set_net_admin(false) == 0;
	ASSERT_OK(sys_ioctl(ep, EPIOCSPARAMS, &p));
	if (dropped)
		ASSERT_OK(set_net_admin(true));
	void *bad = bad_page();
	ASSERT_ERRNO(sys_ioctl(ep, EPIOCSPARAMS, bad), EFAULT);
	ASSERT_ERRNO(sys_ioctl(ep, EPIOCSPARAMS, NULL), EFAULT);
	munmap(bad, 4096);
	ASSERT_OK(sys_close(ep));
}

/* The selftest's invalid_fd: an AF_UNIX dgram socket; also other files. */
TEST(ioctl_epioc_on_non_epoll_is_enotty)
{
	struct epoll_params p = {0};
	int sv[2], fds[2];
	ASSERT_OK(sys_socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	ASSERT_OK(sys_pipe(fds));
	int efd = new_efd(0, 0);
	int all[] = {sv[0], fds[0], fds[1], efd};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		ASSERT_ERRNO(sys_ioctl(all[i], EPIOCGPARAMS, &p), ENOTTY);
		ASSERT_ERRNO(sys_ioctl(all[i], EPIOCSPARAMS, &p), ENOTTY);
		ASSERT_ERRNO(sys_ioctl(all[i], 0x12345, &p), ENOTTY);
		ASSERT_OK(sys_close(all[i]));
	}
	ASSERT_OK(sys_close(sv[1]));
}

TEST(ioctl_unknown_request_on_epoll_is_einval)
{
	int ep = new_ep(), n = 0, one = 1;
	ASSERT_ERRNO(sys_ioctl(ep, 0x12345, &n), EINVAL);
	ASSERT_ERRNO(sys_ioctl(ep, FIONREAD, &n), EINVAL);
	ASSERT_ERRNO(sys_ioctl(ep, FIOASYNC, &one), ENOTTY);
	ASSERT_ERRNO(sys_ioctl(ep, FIOQSIZE, &n), ENOTTY);
	ASSERT_OK(sys_close(ep));
	ASSERT_ERRNO(sys_ioctl(ep, FIONREAD, &n), EBADF);
}

TEST(ioctl_fionbio_sets_and_clears_nonblock)
{
	int efd = sys_eventfd(0, 0), ep = new_ep(), on = 1, off = 0;
	ASSERT_GE(efd, 0);
	ASSERT_OK(sys_ioctl(efd, FIONBIO, &on));
	ASSERT_TRUE(sys_fcntl(efd, F_GETFL, 0) & O_NONBLOCK);
	uint64_t v;
	ASSERT_ERRNO(sys_read(efd, &v, sizeof(v)), EAGAIN);
	ASSERT_OK(sys_ioctl(efd, FIONBIO, &off));
	ASSERT_FALSE(sys_fcntl(efd, F_GETFL, 0) & O_NONBLOCK);
	ASSERT_OK(sys_ioctl(ep, FIONBIO, &on));
	ASSERT_TRUE(sys_fcntl(ep, F_GETFL, 0) & O_NONBLOCK);
	ASSERT_ERRNO(sys_ioctl(ep, FIONBIO, NULL), EFAULT);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(ioctl_fioclex_and_fionclex)
{
	int efd = new_efd(0, 0);
	ASSERT_OK(sys_ioctl(efd, FIOCLEX, NULL));
	ASSERT_EQ(sys_fcntl(efd, F_GETFD, 0), FD_CLOEXEC);
	ASSERT_OK(sys_ioctl(efd, FIONCLEX, NULL));
	ASSERT_EQ(sys_fcntl(efd, F_GETFD, 0), 0);
	ASSERT_OK(sys_close(efd));
}

static int nread(int fd)
{
	int n = -1;
	ASSERT_OK(sys_ioctl(fd, FIONREAD, &n));
	return n;
}

TEST(ioctl_fionread_pipe_and_sockets)
{
	int fds[2], sv[2], sd[2];
	ASSERT_OK(sys_pipe(fds));
	ASSERT_EQ(nread(fds[0]), 0);
	ASSERT_EQ(sys_write(fds[1], "abc", 3), 3);
	ASSERT_EQ(sys_write(fds[1], "de", 2), 2);
	ASSERT_EQ(nread(fds[0]), 5);
	ASSERT_EQ(nread(fds[1]), 5); /* either end of the same pipe */
	char b[8];
	ASSERT_EQ(sys_read(fds[0], b, 4), 4);
	ASSERT_EQ(nread(fds[0]), 1);
	ASSERT_ERRNO(sys_ioctl(fds[0], FIONREAD, NULL), EFAULT);

	ASSERT_OK(sys_socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(sys_write(sv[1], "hello", 5), 5);
	ASSERT_EQ(sys_write(sv[1], "!", 1), 1);
	ASSERT_EQ(nread(sv[0]), 6);
	ASSERT_EQ(sys_read(sv[0], b, 2), 2);
	ASSERT_EQ(nread(sv[0]), 4);
	ASSERT_EQ(nread(sv[1]), 0);

	ASSERT_OK(sys_socketpair(AF_UNIX, SOCK_DGRAM, 0, sd));
	ASSERT_EQ(nread(sd[0]), 0);
	ASSERT_EQ(sys_write(sd[1], "xy", 2), 2);
	ASSERT_EQ(sys_write(sd[1], "zzz", 3), 3);
	ASSERT_EQ(nread(sd[0]), 2); /* the next datagram only */

	int l = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "uep-ioctl-%d",
	         (int)getpid());
	ASSERT_OK(sys_bind(l, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_OK(sys_listen(l, 4));
	int n;
	ASSERT_ERRNO(sys_ioctl(l, FIONREAD, &n), EINVAL);

	int all[] = {fds[0], fds[1], sv[0], sv[1], sd[0], sd[1], l};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		ASSERT_OK(sys_close(all[i]));
}

TEST(ioctl_fionread_eventfd_timerfd_enotty)
{
	int efd = sys_eventfd(3, 0), n;
	int tfd = sys_timerfd_create(CLOCK_MONOTONIC, 0);
	ASSERT_GE(efd, 0);
	ASSERT_GE(tfd, 0);
	ASSERT_ERRNO(sys_ioctl(efd, FIONREAD, &n), ENOTTY);
	ASSERT_ERRNO(sys_ioctl(tfd, FIONREAD, &n), ENOTTY);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(tfd));
}
