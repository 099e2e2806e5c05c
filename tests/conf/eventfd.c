/*
 * eventfd: masks, read/write semantics, blocking, and what epoll reports
 * for it (the wake-up keys: a write wakes with EPOLLIN, a read with EPOLLOUT).
 */
#include "sys.h"

#include <limits.h>
#include <pthread.h>

#define EFD_MAXCOUNT 0xfffffffffffffffeULL

TEST(efd_mask_zero_out_only)
{
	int fd = new_efd(0, EFD_NONBLOCK);
	ASSERT_EQ_HEX(poll_mask(fd), POLLOUT);
	ASSERT_EQ_HEX(epoll_mask(fd, EPOLLIN | EPOLLOUT), EPOLLOUT);
	ASSERT_EQ_HEX(epoll_mask(fd, EPOLLIN), 0);
}

TEST(efd_mask_positive_in_out)
{
	int fd = new_efd(0, EFD_NONBLOCK);
	write_u64(fd, 1);
	ASSERT_EQ_HEX(poll_mask(fd), POLLIN | POLLOUT);
	ASSERT_EQ_HEX(epoll_mask(fd, EPOLLIN | EPOLLOUT), EPOLLIN | EPOLLOUT);
	ASSERT_EQ_HEX(epoll_mask(fd, EPOLLIN), EPOLLIN);
	ASSERT_EQ_HEX(epoll_mask(fd, EPOLLOUT), EPOLLOUT);
}

TEST(efd_mask_near_max)
{
	int fd = new_efd(0, EFD_NONBLOCK);
	write_u64(fd, EFD_MAXCOUNT - 1);
	ASSERT_EQ_HEX(poll_mask(fd), POLLIN | POLLOUT);
	ASSERT_EQ_HEX(epoll_mask(fd, EPOLLIN | EPOLLOUT), EPOLLIN | EPOLLOUT);
	write_u64(fd, 1);
	/* At 0xfffffffffffffffe: IN only. */
	ASSERT_EQ_HEX(poll_mask(fd), POLLIN);
	ASSERT_EQ_HEX(epoll_mask(fd, EPOLLIN | EPOLLOUT), EPOLLIN);
	ASSERT_EQ_HEX(epoll_mask(fd, EPOLLOUT), 0);
	ASSERT_EQ_HEX(read_u64(fd), EFD_MAXCOUNT);
	ASSERT_EQ_HEX(poll_mask(fd), POLLOUT);
}

TEST(efd_mask_max_via_single_write)
{
	int fd = new_efd(0, EFD_NONBLOCK);
	write_u64(fd, EFD_MAXCOUNT);
	ASSERT_EQ_HEX(poll_mask(fd), POLLIN);
	uint64_t one = 1;
	ASSERT_ERRNO(sys_write(fd, &one, 8), EAGAIN);
}

TEST(efd_rdnorm_not_reported)
{
	/* eventfd sets only IN/OUT, never RDNORM/WRNORM, even when asked. */
	int fd = new_efd(3, EFD_NONBLOCK);
	ASSERT_EQ_HEX(poll_mask(fd), POLLIN | POLLOUT);
	ASSERT_EQ_HEX(
	        epoll_mask(fd, EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLWRNORM),
	        EPOLLIN | EPOLLOUT);
	ASSERT_EQ_HEX(epoll_mask(fd, EPOLLRDNORM | EPOLLWRNORM), 0);
}

TEST(efd_read_returns_and_resets)
{
	int fd = new_efd(0, EFD_NONBLOCK);
	write_u64(fd, 3);
	write_u64(fd, 4);
	ASSERT_EQ(read_u64(fd), 7);
	uint64_t v;
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
	ASSERT_EQ_HEX(poll_mask(fd), POLLOUT);
}

TEST(efd_read_larger_buffer_returns_8)
{
	int fd = new_efd(9, EFD_NONBLOCK);
	uint64_t buf[2] = {0, 0xdeadULL};
	ASSERT_EQ(sys_read(fd, buf, sizeof(buf)), 8);
	ASSERT_EQ(buf[0], 9);
	ASSERT_EQ_HEX(buf[1], 0xdeadULL);
}

TEST(efd_write_must_be_exactly_8)
{
	/* This kernel (write_iter) wants exactly 8 bytes: longer is EINVAL,
	 * unlike read, which takes any buffer of at least 8. */
	int fd = new_efd(0, EFD_NONBLOCK);
	uint64_t w[2] = {5, 6};
	ASSERT_ERRNO(sys_write(fd, w, sizeof(w)), EINVAL);
	ASSERT_ERRNO(sys_write(fd, w, 9), EINVAL);
	ASSERT_EQ_HEX(poll_mask(fd), POLLOUT);
	ASSERT_EQ(sys_write(fd, w, 8), 8);
	ASSERT_EQ(read_u64(fd), 5);
}

TEST(efd_semaphore_reads_one)
{
	int fd = new_efd(3, EFD_NONBLOCK | EFD_SEMAPHORE);
	ASSERT_EQ(read_u64(fd), 1);
	ASSERT_EQ(read_u64(fd), 1);
	ASSERT_EQ_HEX(poll_mask(fd), POLLIN | POLLOUT);
	ASSERT_EQ(read_u64(fd), 1);
	ASSERT_EQ_HEX(poll_mask(fd), POLLOUT);
	uint64_t v;
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
	write_u64(fd, 2);
	ASSERT_EQ(read_u64(fd), 1);
	ASSERT_EQ(read_u64(fd), 1);
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
}

TEST(efd_nonblock_read_eagain)
{
	int fd = new_efd(0, EFD_NONBLOCK);
	uint64_t v = 123;
	ASSERT_ERRNO(sys_read(fd, &v, 8), EAGAIN);
	ASSERT_EQ(v, 123);
}

TEST(efd_nonblock_write_overflow_eagain)
{
	int fd = new_efd(5, EFD_NONBLOCK);
	/* 5 + x must stay <= 0xfffffffffffffffe. */
	uint64_t v = EFD_MAXCOUNT - 4;
	ASSERT_ERRNO(sys_write(fd, &v, 8), EAGAIN);
	v = EFD_MAXCOUNT - 5;
	ASSERT_EQ(sys_write(fd, &v, 8), 8);
	v = 1;
	ASSERT_ERRNO(sys_write(fd, &v, 8), EAGAIN);
	/* Writing 0 never overflows. */
	v = 0;
	ASSERT_EQ(sys_write(fd, &v, 8), 8);
	ASSERT_EQ_HEX(read_u64(fd), EFD_MAXCOUNT);
}

TEST(efd_short_buffer_einval)
{
	int fd = new_efd(1, EFD_NONBLOCK);
	char b[8] = {0};
	ASSERT_ERRNO(sys_read(fd, b, 7), EINVAL);
	ASSERT_ERRNO(sys_read(fd, b, 1), EINVAL);
	ASSERT_ERRNO(sys_write(fd, b, 7), EINVAL);
	ASSERT_ERRNO(sys_write(fd, b, 4), EINVAL);
	/* The count was not touched. */
	ASSERT_EQ(read_u64(fd), 1);
	/* Short read at 0 on a non-blocking fd: EINVAL before EAGAIN. */
	ASSERT_ERRNO(sys_read(fd, b, 4), EINVAL);
}

TEST(efd_write_all_ones_einval)
{
	int fd = new_efd(0, EFD_NONBLOCK);
	uint64_t v = 0xffffffffffffffffULL;
	ASSERT_ERRNO(sys_write(fd, &v, 8), EINVAL);
	/* Also on a blocking eventfd (it would never fit). */
	int bfd = new_efd(0, 0);
	ASSERT_ERRNO(sys_write(bfd, &v, 8), EINVAL);
	ASSERT_EQ_HEX(poll_mask(fd), POLLOUT);
}

TEST(efd_bad_flags_einval)
{
	ASSERT_ERRNO(sys_eventfd(0, O_APPEND), EINVAL);
	ASSERT_ERRNO(sys_eventfd(0, -1), EINVAL);
	ASSERT_ERRNO(sys_eventfd(0, EFD_NONBLOCK | 0x2), EINVAL);
	int fd = new_efd(0, EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_OK(sys_close(fd));
}

TEST(efd_flags_visible_through_fcntl)
{
	int fd = new_efd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int fl = sys_fcntl(fd, F_GETFL, 0);
	ASSERT_GE(fl, 0);
	ASSERT_TRUE(fl & O_NONBLOCK);
	ASSERT_EQ(fl & O_ACCMODE, O_RDWR);
	ASSERT_EQ(sys_fcntl(fd, F_GETFD, 0), FD_CLOEXEC);
	int fd2 = new_efd(0, 0);
	ASSERT_FALSE(sys_fcntl(fd2, F_GETFL, 0) & O_NONBLOCK);
	ASSERT_EQ(sys_fcntl(fd2, F_GETFD, 0), 0);
}

TEST(efd_initval)
{
	int fd = new_efd(5, EFD_NONBLOCK);
	ASSERT_EQ_HEX(poll_mask(fd), POLLIN | POLLOUT);
	ASSERT_EQ(read_u64(fd), 5);
	int fd2 = new_efd(UINT_MAX, EFD_NONBLOCK);
	ASSERT_EQ_HEX(read_u64(fd2), 0xffffffffULL);
	int fd3 = new_efd(7, EFD_NONBLOCK | EFD_SEMAPHORE);
	ASSERT_EQ(read_u64(fd3), 1);
}

struct efd_thread {
	int fd;
	uint64_t value;
	int delay_ms;
	uint64_t got;
};

static void *writer_fn(void *arg)
{
	struct efd_thread *t = arg;
	sleep_ms(t->delay_ms);
	if (sys_write(t->fd, &t->value, 8) != 8)
		abort();
	return NULL;
}

static void *reader_fn(void *arg)
{
	struct efd_thread *t = arg;
	sleep_ms(t->delay_ms);
	if (sys_read(t->fd, &t->got, 8) != 8)
		abort();
	return NULL;
}

TEST(efd_blocking_read_woken_by_writer)
{
	int fd = new_efd(0, 0);
	struct efd_thread t = {.fd = fd, .value = 42, .delay_ms = 100};
	pthread_t th;
	int64_t t0 = now_ms(); /* before the writer's sleep can start */
	ASSERT_EQ(pthread_create(&th, NULL, writer_fn, &t), 0);
	ASSERT_EQ(read_u64(fd), 42);
	ASSERT_GE(now_ms() - t0, 50);
	ASSERT_EQ(pthread_join(th, NULL), 0);
}

TEST(efd_blocking_write_woken_by_reader)
{
	int fd = new_efd(0, 0);
	write_u64(fd, EFD_MAXCOUNT);
	struct efd_thread t = {.fd = fd, .delay_ms = 100};
	pthread_t th;
	int64_t t0 = now_ms(); /* before the reader's sleep can start */
	ASSERT_EQ(pthread_create(&th, NULL, reader_fn, &t), 0);
	write_u64(fd, 3); /* blocks until the reader empties the counter */
	ASSERT_GE(now_ms() - t0, 50);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	ASSERT_EQ_HEX(t.got, EFD_MAXCOUNT);
	ASSERT_EQ(read_u64(fd), 3);
}

TEST(efd_blocking_semaphore_read_woken)
{
	int fd = new_efd(0, EFD_SEMAPHORE);
	struct efd_thread t = {.fd = fd, .value = 2, .delay_ms = 100};
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, writer_fn, &t), 0);
	ASSERT_EQ(read_u64(fd), 1);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	ASSERT_EQ(read_u64(fd), 1);
}

TEST(efd_epoll_wait_woken_by_writer)
{
	int ep = new_ep();
	int fd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, fd, EPOLLIN, 99);
	struct efd_thread t = {.fd = fd, .value = 1, .delay_ms = 100};
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, writer_fn, &t), 0);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 5000), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_EQ(out[0].data.u64, 99);
	ASSERT_EQ(pthread_join(th, NULL), 0);
}

TEST(efd_et_event_on_every_write)
{
	int ep = new_ep();
	int fd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, fd, EPOLLIN | EPOLLOUT | EPOLLET, 1);
	struct epoll_event out[2];
	/* Initially OUT (ADD polls once). */
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLOUT);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	write_u64(fd, 1);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN | EPOLLOUT);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	/* No read in between: another write is another event. */
	write_u64(fd, 1);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN | EPOLLOUT);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	/* Two writes before the wait: one event. */
	write_u64(fd, 1);
	write_u64(fd, 1);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(efd_et_event_on_read_for_out)
{
	int ep = new_ep();
	int fd = new_efd(4, EFD_NONBLOCK);
	ADD(ep, fd, EPOLLIN | EPOLLOUT | EPOLLET, 1);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN | EPOLLOUT);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	ASSERT_EQ(read_u64(fd), 4);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLOUT);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(efd_et_semaphore_read_reports_current_mask)
{
	int ep = new_ep();
	int fd = new_efd(2, EFD_NONBLOCK | EFD_SEMAPHORE);
	ADD(ep, fd, EPOLLIN | EPOLLOUT | EPOLLET, 1);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	ASSERT_EQ(read_u64(fd), 1);
	/* The read wakes (key OUT); the re-poll sees IN|OUT (count 1). */
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN | EPOLLOUT);
}

TEST(efd_et_in_only_read_gives_nothing)
{
	/* A read wakes with key EPOLLOUT: an IN-only ET item is not queued,
	 * even though the counter is still > 0. */
	int ep = new_ep();
	int fd = new_efd(3, EFD_NONBLOCK | EFD_SEMAPHORE);
	ADD(ep, fd, EPOLLIN | EPOLLET, 1);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_EQ(read_u64(fd), 1);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	write_u64(fd, 1);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
}

TEST(efd_et_out_only_write_gives_nothing)
{
	/* A write wakes with key EPOLLIN: an OUT-only ET item is not queued,
	 * even though the eventfd is still writable. */
	int ep = new_ep();
	int fd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, fd, EPOLLOUT | EPOLLET, 1);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLOUT);
	write_u64(fd, 1);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	ASSERT_EQ(read_u64(fd), 1);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLOUT);
}

TEST(efd_et_write_zero_wakes)
{
	/* Writing 0 does not change the counter but still wakes (key IN). */
	int ep = new_ep();
	int fd = new_efd(1, EFD_NONBLOCK);
	ADD(ep, fd, EPOLLIN | EPOLLET, 1);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	write_u64(fd, 0);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	/* At count 0 the wake-up is queued but the re-poll drops it. */
	ASSERT_EQ(read_u64(fd), 1);
	write_u64(fd, 0);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(efd_lt_keeps_reporting)
{
	int ep = new_ep();
	int fd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, fd, EPOLLIN, 5);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 0);
	write_u64(fd, 2);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(wait0(ep, out, 2), 1);
		ASSERT_EQ_HEX(out[0].events, EPOLLIN);
		ASSERT_EQ(out[0].data.u64, 5);
	}
	ASSERT_EQ(read_u64(fd), 2);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(efd_lt_out_always)
{
	int ep = new_ep();
	int fd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, fd, EPOLLOUT, 5);
	struct epoll_event out[2];
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(wait0(ep, out, 2), 1);
		ASSERT_EQ_HEX(out[0].events, EPOLLOUT);
	}
	write_u64(fd, EFD_MAXCOUNT);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(efd_oneshot_fires_once_mod_rearms)
{
	int ep = new_ep();
	int fd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, fd, EPOLLIN | EPOLLONESHOT, 1);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 0);
	write_u64(fd, 1);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_EQ(out[0].data.u64, 1);
	/* Disabled: still readable, more writes, nothing. */
	ASSERT_EQ(wait0(ep, out, 2), 0);
	write_u64(fd, 1);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	/* MOD re-arms and re-polls at once: already ready. */
	MOD(ep, fd, EPOLLIN | EPOLLONESHOT, 2);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_EQ(out[0].data.u64, 2);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	/* Disabled items can still be MODded or deleted; re-arm without
	 * ONESHOT makes it level-triggered. */
	MOD(ep, fd, EPOLLIN, 3);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ(out[0].data.u64, 3);
}

TEST(efd_oneshot_mod_not_ready_waits_for_write)
{
	int ep = new_ep();
	int fd = new_efd(1, EFD_NONBLOCK);
	ADD(ep, fd, EPOLLIN | EPOLLONESHOT, 1);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ(read_u64(fd), 1);
	MOD(ep, fd, EPOLLIN | EPOLLONESHOT, 2);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	write_u64(fd, 1);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ(out[0].data.u64, 2);
	write_u64(fd, 1);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}
