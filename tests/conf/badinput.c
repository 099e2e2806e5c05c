/*
 * Bad input: NULL and kernel-space pointers, invalid descriptors,
 * out-of-range sizes and flags get the kernel's error; closing a watched
 * object while a thread waits behaves as on Linux.
 */
#include "sys.h"

#include <pthread.h>

/* An address in kernel space: every copy to or from it faults. */
#define KADDR ((void *)0xffff800000001000ull)
#define EP_MAX_EVENTS ((int)(0x7fffffff / sizeof(struct epoll_event)))

/* Hidden from the compiler, which would refuse the calls below. */
static void *volatile nullp;
static volatile int neg1 = -1, imin = INT32_MIN, toomany = EP_MAX_EVENTS + 1;

TEST(badinput_create_sizes_and_flags)
{
	ASSERT_ERRNO(sys_epoll_create(0), EINVAL);
	ASSERT_ERRNO(sys_epoll_create(-1), EINVAL);
	ASSERT_ERRNO(sys_epoll_create1(-1), EINVAL);
	ASSERT_ERRNO(sys_epoll_create1(EPOLL_CLOEXEC << 1), EINVAL);
	ASSERT_ERRNO(sys_eventfd(0, 0x2), EINVAL);
	ASSERT_ERRNO(sys_eventfd(0, -1), EINVAL);
	int p[2];
	ASSERT_ERRNO(sys_pipe2(p, 0x1), EINVAL);
	ASSERT_ERRNO(sys_pipe2(NULL, 0), EFAULT);
	ASSERT_ERRNO(sys_pipe(NULL), EFAULT);
}

TEST(badinput_ctl_pointers)
{
	int ep = new_ep(), efd = sys_eventfd(0, EFD_NONBLOCK);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, NULL), EFAULT);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_MOD, efd, NULL), EFAULT);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, KADDR), EFAULT);
	ASSERT_ERRNO(sys_epoll_ctl(-1, EPOLL_CTL_ADD, efd, KADDR), EFAULT);
	ASSERT_ERRNO(sys_epoll_ctl(ep, 99, efd, NULL), EFAULT);
	/* DEL never reads the event. */
	ADD(ep, efd, EPOLLIN, 1);
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, efd, KADDR));
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL), ENOENT);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, -1, NULL), EBADF);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, INT32_MAX, NULL), EBADF);
	struct epoll_event e = {EPOLLIN, {.u64 = 0}};
	ASSERT_ERRNO(sys_epoll_ctl(ep, 0, efd, &e), EINVAL);
	ASSERT_ERRNO(sys_epoll_ctl(ep, -1, efd, &e), EINVAL);
	ASSERT_ERRNO(sys_epoll_ctl(efd, EPOLL_CTL_ADD, ep, &e), EINVAL);
}

TEST(badinput_wait_sizes_and_pointers)
{
	int ep = new_ep(), efd = sys_eventfd(0, EFD_NONBLOCK);
	struct epoll_event ev[2];
	ASSERT_ERRNO(sys_epoll_wait(ep, ev, 0, 0), EINVAL);
	ASSERT_ERRNO(sys_epoll_wait(ep, ev, neg1, 0), EINVAL);
	ASSERT_ERRNO(sys_epoll_wait(ep, ev, toomany, 0), EINVAL);
	ASSERT_ERRNO(sys_epoll_wait(ep, ev, imin, 0), EINVAL);
	ASSERT_ERRNO(sys_epoll_wait(-1, ev, 1, 0), EBADF);
	ASSERT_ERRNO(sys_epoll_wait(INT32_MAX, ev, 1, 0), EBADF);
	ASSERT_ERRNO(sys_epoll_wait(efd, ev, 1, 0), EINVAL);
	ASSERT_ERRNO(sys_epoll_wait(ep, (void *)(uintptr_t)KADDR, 1, 0),
	             EFAULT);
	/* NULL passes the range check: nothing ready, nothing copied. */
	ASSERT_EQ(sys_epoll_wait(ep, nullp, 1, 0), 0);
	ADD(ep, efd, EPOLLIN, 7);
	write_u64(efd, 1);
	ASSERT_ERRNO(sys_epoll_wait(ep, nullp, 1, 0), EFAULT);
	/* The item stayed queued. */
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 1);
	ASSERT_EQ(ev[0].data.u64, 7);
	struct timespec bad = {0, -1}, neg = {-1, 0};
	ASSERT_ERRNO(sys_epoll_pwait2(ep, ev, 1, &bad, NULL), EINVAL);
	ASSERT_ERRNO(sys_epoll_pwait2(ep, ev, 1, &neg, NULL), EINVAL);
	ASSERT_ERRNO(sys_epoll_pwait2(-1, ev, 1, KADDR, NULL), EFAULT);
}

TEST(badinput_io)
{
	int efd = sys_eventfd(0, EFD_NONBLOCK), p[2];
	char buf[16];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ASSERT_ERRNO(sys_read(-1, buf, 1), EBADF);
	ASSERT_ERRNO(sys_write(-1, buf, 1), EBADF);
	ASSERT_ERRNO(sys_read(efd, buf, 7), EINVAL);
	ASSERT_ERRNO(sys_write(efd, buf, 7), EINVAL);
	ASSERT_ERRNO(sys_write(efd, nullp, 8), EFAULT);
	ASSERT_ERRNO(sys_write(p[1], nullp, 1), EFAULT);
	ASSERT_EQ(sys_write(p[1], nullp, 0), 0);
	ASSERT_ERRNO(sys_write(p[0], buf, 1), EBADF);
	ASSERT_ERRNO(sys_read(p[1], buf, 1), EBADF);
	ASSERT_ERRNO(sys_close(-1), EBADF);
	ASSERT_OK(sys_close(efd));
	ASSERT_ERRNO(sys_close(efd), EBADF);
	ASSERT_ERRNO(sys_dup(-1), EBADF);
	ASSERT_ERRNO(sys_dup(efd), EBADF);
	ASSERT_ERRNO(sys_dup3(p[0], p[0], 0), EINVAL);
	ASSERT_ERRNO(sys_dup3(p[0], p[1], 0x1), EINVAL);
	ASSERT_ERRNO(sys_poll(nullp, 1, 0), EFAULT);
	ASSERT_EQ(sys_poll(nullp, 0, 0), 0);
}

struct bi_waiter {
	int ep, n;
	struct epoll_event ev;
};

static void *bi_wait(void *arg)
{
	struct bi_waiter *w = arg;
	w->n = sys_epoll_wait(w->ep, &w->ev, 1, 300);
	return NULL;
}

/* Closing the watched object's last descriptor ends its registration. */
TEST(badinput_close_watched_object_during_wait)
{
	struct bi_waiter w = {new_ep(), -2, {0, {0}}};
	int efd = sys_eventfd(0, EFD_NONBLOCK);
	ADD(w.ep, efd, EPOLLIN, 1);
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, bi_wait, &w), 0);
	sleep_ms(50);
	ASSERT_OK(sys_close(efd));
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(w.n, 0);
}

/* With a dup alive the registration stays, and a write still wakes. */
TEST(badinput_close_watched_fd_with_dup_during_wait)
{
	struct bi_waiter w = {new_ep(), -2, {0, {0}}};
	int efd = sys_eventfd(0, EFD_NONBLOCK);
	int d = sys_dup(efd);
	ADD(w.ep, efd, EPOLLIN, 5);
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, bi_wait, &w), 0);
	sleep_ms(50);
	ASSERT_OK(sys_close(efd));
	write_u64(d, 1);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(w.n, 1);
	ASSERT_EQ(w.ev.data.u64, 5);
}
