/*
 * pipe: flags, masks, EOF/EPIPE, capacity and page granularity, PIPE_BUF
 * atomicity, blocking, and what epoll reports (ET per wake-up, ONESHOT, LT).
 */
#include "sys.h"

#include <pthread.h>

#define PIPE_CAP 65536
#define PAGE 4096

static char big[70000];

static void write_n(int fd, size_t n)
{
	ASSERT_EQ(sys_write(fd, big, n), n);
}

static void read_n(int fd, size_t n)
{
	static char rbuf[70000];
	ASSERT_EQ(sys_read(fd, rbuf, n), n);
}

/* Fill a non-blocking pipe with PAGE-sized writes; returns the total. */
static long fill(int wfd)
{
	long total = 0;
	ssize_t w;
	while ((w = sys_write(wfd, big, PAGE)) > 0)
		total += w;
	ASSERT_EQ(w, -1);
	ASSERT_EQ(errno, EAGAIN);
	return total;
}

/* ---- creation and flags ---- */

TEST(pipe_pipe2_flags)
{
	int p[2];
	new_pipe(p, 0);
	ASSERT_EQ(sys_fcntl(p[0], F_GETFL, 0) & (O_ACCMODE | O_NONBLOCK),
	          O_RDONLY);
	ASSERT_EQ(sys_fcntl(p[1], F_GETFL, 0) & (O_ACCMODE | O_NONBLOCK),
	          O_WRONLY);
	ASSERT_EQ(sys_fcntl(p[0], F_GETFD, 0), 0);
	ASSERT_EQ(sys_fcntl(p[1], F_GETFD, 0), 0);
	int q[2];
	new_pipe(q, O_NONBLOCK | O_CLOEXEC);
	ASSERT_EQ(sys_fcntl(q[0], F_GETFL, 0) & (O_ACCMODE | O_NONBLOCK),
	          O_RDONLY | O_NONBLOCK);
	ASSERT_EQ(sys_fcntl(q[1], F_GETFL, 0) & (O_ACCMODE | O_NONBLOCK),
	          O_WRONLY | O_NONBLOCK);
	ASSERT_EQ(sys_fcntl(q[0], F_GETFD, 0), FD_CLOEXEC);
	ASSERT_EQ(sys_fcntl(q[1], F_GETFD, 0), FD_CLOEXEC);
	int r[2];
	new_pipe(r, O_CLOEXEC);
	ASSERT_FALSE(sys_fcntl(r[0], F_GETFL, 0) & O_NONBLOCK);
	ASSERT_EQ(sys_fcntl(r[1], F_GETFD, 0), FD_CLOEXEC);
}

TEST(pipe_plain_pipe_is_blocking)
{
	int p[2] = {-1, -1};
	ASSERT_OK(sys_pipe(p));
	ASSERT_GE(p[0], 0);
	ASSERT_GE(p[1], 0);
	ASSERT_FALSE(sys_fcntl(p[0], F_GETFL, 0) & O_NONBLOCK);
	ASSERT_FALSE(sys_fcntl(p[1], F_GETFL, 0) & O_NONBLOCK);
	ASSERT_EQ(sys_fcntl(p[0], F_GETFD, 0), 0);
	write_byte(p[1]);
	char c;
	ASSERT_EQ(sys_read(p[0], &c, 1), 1);
	ASSERT_EQ(c, 'x');
}

TEST(pipe_pipe2_bad_flags_einval)
{
	int p[2] = {-1, -1};
	ASSERT_ERRNO(sys_pipe2(p, O_APPEND), EINVAL);
	ASSERT_ERRNO(sys_pipe2(p, -1), EINVAL);
	ASSERT_ERRNO(sys_pipe2(p, O_NONBLOCK | O_RDWR), EINVAL);
	/* The array is untouched on failure. */
	ASSERT_EQ(p[0], -1);
	ASSERT_EQ(p[1], -1);
}

/* ---- masks ---- */

TEST(pipe_empty_masks)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ASSERT_EQ_HEX(poll_mask(p[0]), 0);
	ASSERT_EQ_HEX(poll_mask(p[1]), POLLOUT | POLLWRNORM);
	ASSERT_EQ_HEX(epoll_mask(p[0], EPOLLIN | EPOLLOUT), 0);
	ASSERT_EQ_HEX(epoll_mask(p[1], EPOLLIN | EPOLLOUT), EPOLLOUT);
}

TEST(pipe_read_end_in_when_data)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	write_byte(p[1]);
	ASSERT_EQ_HEX(poll_mask(p[0]), POLLIN | POLLRDNORM);
	ASSERT_EQ_HEX(epoll_mask(p[0], EPOLLIN | EPOLLOUT), EPOLLIN);
	ASSERT_EQ_HEX(poll_mask(p[1]), POLLOUT | POLLWRNORM);
	read_n(p[0], 1);
	ASSERT_EQ_HEX(poll_mask(p[0]), 0);
}

TEST(pipe_in_hup_when_writer_gone_with_data)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	write_n(p[1], 10);
	ASSERT_OK(sys_close(p[1]));
	ASSERT_EQ_HEX(poll_mask(p[0]), POLLIN | POLLRDNORM | POLLHUP);
	ASSERT_EQ_HEX(epoll_mask(p[0], EPOLLIN), EPOLLIN | EPOLLHUP);
	ASSERT_EQ_HEX(epoll_mask(p[0], EPOLLIN | EPOLLRDHUP),
	              EPOLLIN | EPOLLHUP);
	/* The data is still there. */
	char b[16];
	ASSERT_EQ(sys_read(p[0], b, 4), 4);
	ASSERT_EQ_HEX(poll_mask(p[0]), POLLIN | POLLRDNORM | POLLHUP);
}

TEST(pipe_hup_alone_when_empty_and_writer_gone)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	write_n(p[1], 3);
	ASSERT_OK(sys_close(p[1]));
	char b[16];
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 3);
	ASSERT_EQ_HEX(poll_mask(p[0]), POLLHUP);
	ASSERT_EQ_HEX(epoll_mask(p[0], EPOLLIN), EPOLLHUP);
	/* EOF, repeatedly. */
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 0);
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 0);
}

TEST(pipe_eof_on_blocking_read_end)
{
	int p[2];
	new_pipe(p, 0);
	ASSERT_OK(sys_close(p[1]));
	char b[4];
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 0);
}

TEST(pipe_write_end_out_err_when_reader_gone)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_EQ_HEX(poll_mask(p[1]), POLLOUT | POLLWRNORM | POLLERR);
	ASSERT_EQ_HEX(epoll_mask(p[1], EPOLLOUT), EPOLLOUT | EPOLLERR);
	ASSERT_EQ_HEX(epoll_mask(p[1], EPOLLIN), EPOLLERR);
}

TEST(pipe_full_write_end_err_only_when_reader_gone)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	fill(p[1]);
	ASSERT_EQ_HEX(poll_mask(p[1]), 0);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_EQ_HEX(poll_mask(p[1]), POLLERR);
	ASSERT_EQ_HEX(epoll_mask(p[1], EPOLLOUT), EPOLLERR);
	ASSERT_ERRNO(sys_write(p[1], "x", 1), EPIPE);
}

TEST(pipe_write_without_reader_epipe)
{
	int p[2];
	new_pipe(p, 0);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_ERRNO(sys_write(p[1], "abc", 3), EPIPE);
	int q[2];
	new_pipe(q, O_NONBLOCK);
	write_n(q[1], 5);
	ASSERT_OK(sys_close(q[0]));
	ASSERT_ERRNO(sys_write(q[1], "abc", 3), EPIPE);
	/* Writing 0 bytes returns 0 before looking for readers. */
	ASSERT_EQ(sys_write(q[1], big, 0), 0);
}

TEST(pipe_rdnorm_wrnorm_when_asked)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	write_byte(p[1]);
	ASSERT_EQ_HEX(epoll_mask(p[0], EPOLLIN | EPOLLRDNORM),
	              EPOLLIN | EPOLLRDNORM);
	ASSERT_EQ_HEX(epoll_mask(p[0], EPOLLRDNORM), EPOLLRDNORM);
	ASSERT_EQ_HEX(epoll_mask(p[1], EPOLLOUT | EPOLLWRNORM),
	              EPOLLOUT | EPOLLWRNORM);
	ASSERT_EQ_HEX(epoll_mask(p[1], EPOLLWRNORM), EPOLLWRNORM);
	ASSERT_EQ_HEX(epoll_mask(p[0], EPOLLRDBAND | EPOLLWRBAND | EPOLLPRI),
	              0);
}

/* ---- data ---- */

TEST(pipe_data_in_order_partial_reads)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ASSERT_EQ(sys_write(p[1], "abc", 3), 3);
	ASSERT_EQ(sys_write(p[1], "def", 3), 3);
	char b[8] = {0};
	ASSERT_EQ(sys_read(p[0], b, 4), 4);
	ASSERT_TRUE(memcmp(b, "abcd", 4) == 0);
	ASSERT_EQ(sys_read(p[0], b, 8), 2);
	ASSERT_TRUE(memcmp(b, "ef", 2) == 0);
	ASSERT_ERRNO(sys_read(p[0], b, 8), EAGAIN);
}

TEST(pipe_zero_length_io)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	char b[4];
	/* A zero-length read returns 0 even on an empty pipe. */
	ASSERT_EQ(sys_read(p[0], b, 0), 0);
	ASSERT_EQ(sys_write(p[1], b, 0), 0);
	ASSERT_EQ_HEX(poll_mask(p[0]), 0);
}

TEST(pipe_wrong_end_ebadf)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	char b[4] = "abc";
	ASSERT_ERRNO(sys_read(p[1], b, 1), EBADF);
	ASSERT_ERRNO(sys_write(p[0], b, 1), EBADF);
	ASSERT_ERRNO(sys_read(p[1], b, 0), EBADF);
	ASSERT_ERRNO(sys_write(p[0], b, 0), EBADF);
	/* Also on blocking ends, and with data present. */
	int q[2];
	new_pipe(q, 0);
	write_byte(q[1]);
	ASSERT_ERRNO(sys_read(q[1], b, 1), EBADF);
	ASSERT_ERRNO(sys_write(q[0], b, 1), EBADF);
}

TEST(pipe_nonblock_empty_read_eagain)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	char b[4];
	ASSERT_ERRNO(sys_read(p[0], b, 4), EAGAIN);
}

/* ---- capacity ---- */

TEST(pipe_capacity_page_writes)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ASSERT_EQ(fill(p[1]), PIPE_CAP);
	ASSERT_EQ_HEX(poll_mask(p[1]), 0);
	ASSERT_EQ_HEX(epoll_mask(p[1], EPOLLOUT), 0);
	ASSERT_ERRNO(sys_write(p[1], "x", 1), EAGAIN);
}

TEST(pipe_capacity_byte_writes)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	long total = 0;
	ssize_t w;
	while ((w = sys_write(p[1], "x", 1)) > 0)
		total += w;
	ASSERT_EQ(w, -1);
	ASSERT_EQ(errno, EAGAIN);
	ASSERT_EQ(total, PIPE_CAP);
}

TEST(pipe_capacity_is_pages_not_bytes)
{
	/* Each 1000-byte write merges into the last page only if it fits:
	 * 4 per page, 16 pages, 64000 bytes. */
	int p[2];
	new_pipe(p, O_NONBLOCK);
	long total = 0;
	ssize_t w;
	while ((w = sys_write(p[1], big, 1000)) > 0)
		total += w;
	ASSERT_EQ(w, -1);
	ASSERT_EQ(errno, EAGAIN);
	ASSERT_EQ(total, 64000);
	ASSERT_EQ_HEX(poll_mask(p[1]), 0);
}

TEST(pipe_large_write_partial_when_empty)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ASSERT_EQ(sys_write(p[1], big, 70000), PIPE_CAP);
	ASSERT_ERRNO(sys_write(p[1], big, 70000), EAGAIN);
	ASSERT_ERRNO(sys_write(p[1], big, 1), EAGAIN);
}

TEST(pipe_large_write_partial_after_100)
{
	/* 100 bytes in: the 70000-byte write merges its 368-byte tail
	 * (70000 % 4096) into the first page, then fills 15 pages. */
	int p[2];
	new_pipe(p, O_NONBLOCK);
	write_n(p[1], 100);
	ASSERT_EQ(sys_write(p[1], big, 70000), 368 + 15 * PAGE);
}

TEST(pipe_pipe_buf_write_all_or_nothing)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	/* 15 full pages and 2048 bytes on the 16th: 2048 bytes free. */
	write_n(p[1], PIPE_CAP - 2048);
	ASSERT_ERRNO(sys_write(p[1], big, PAGE), EAGAIN);
	ASSERT_ERRNO(sys_write(p[1], big, 3000), EAGAIN);
	ASSERT_ERRNO(sys_write(p[1], big, 2049), EAGAIN);
	ASSERT_EQ(sys_write(p[1], big, 2048), 2048);
	ASSERT_ERRNO(sys_write(p[1], big, 1), EAGAIN);
	/* Exactly full: nothing was partially written. */
	static char rb[70000];
	ASSERT_EQ(sys_read(p[0], rb, sizeof(rb)), PIPE_CAP);
}

TEST(pipe_writable_needs_free_page)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	write_n(p[1], PIPE_CAP - 1);
	ASSERT_EQ_HEX(poll_mask(p[1]), 0);
	read_n(p[0], 1);
	/* 1 byte free, but no free page slot: not writable. */
	ASSERT_EQ_HEX(poll_mask(p[1]), 0);
	ASSERT_EQ_HEX(epoll_mask(p[1], EPOLLOUT), 0);
	read_n(p[0], PAGE - 1);
	/* The first page is consumed: writable. */
	ASSERT_EQ_HEX(poll_mask(p[1]), POLLOUT | POLLWRNORM);
	ASSERT_EQ_HEX(epoll_mask(p[1], EPOLLOUT), EPOLLOUT);
}

TEST(pipe_writable_after_read_4096)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	write_n(p[1], PIPE_CAP - 1);
	read_n(p[0], 1);
	ASSERT_EQ_HEX(poll_mask(p[1]), 0);
	read_n(p[0], PAGE);
	ASSERT_EQ_HEX(poll_mask(p[1]), POLLOUT | POLLWRNORM);
}

TEST(pipe_small_write_merges_when_not_writable)
{
	/* 65535 bytes: the last page has one free byte.  poll says not
	 * writable, yet a 1-byte write merges into that page. */
	int p[2];
	new_pipe(p, O_NONBLOCK);
	write_n(p[1], PIPE_CAP - 1);
	ASSERT_EQ_HEX(poll_mask(p[1]), 0);
	ASSERT_EQ(sys_write(p[1], "y", 1), 1);
	ASSERT_ERRNO(sys_write(p[1], "y", 1), EAGAIN);
}

/* ---- blocking ---- */

struct pipe_thread {
	int fd;
	int delay_ms;
	size_t n;
	ssize_t got;
	int close_it;
};

static void *pipe_writer_fn(void *arg)
{
	struct pipe_thread *t = arg;
	sleep_ms(t->delay_ms);
	if (t->close_it) {
		if (sys_close(t->fd) != 0)
			abort();
		return NULL;
	}
	t->got = sys_write(t->fd, big, t->n);
	return NULL;
}

static void *pipe_reader_fn(void *arg)
{
	struct pipe_thread *t = arg;
	static char rb[70000];
	sleep_ms(t->delay_ms);
	t->got = sys_read(t->fd, rb, t->n);
	return NULL;
}

TEST(pipe_blocking_read_woken_by_writer)
{
	int p[2];
	new_pipe(p, 0);
	struct pipe_thread t = {.fd = p[1], .delay_ms = 100, .n = 5};
	pthread_t th;
	int64_t t0 = now_ms(); /* before the writer's sleep can start */
	ASSERT_EQ(pthread_create(&th, NULL, pipe_writer_fn, &t), 0);
	char b[16];
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 5);
	ASSERT_GE(now_ms() - t0, 50);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	ASSERT_EQ(t.got, 5);
}

TEST(pipe_blocking_read_woken_by_close)
{
	int p[2];
	new_pipe(p, 0);
	struct pipe_thread t = {.fd = p[1], .delay_ms = 100, .close_it = 1};
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, pipe_writer_fn, &t), 0);
	char b[16];
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 0);
	ASSERT_EQ(pthread_join(th, NULL), 0);
}

TEST(pipe_blocking_write_woken_by_reader)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	fill(p[1]);
	/* Make the write end blocking. */
	int fl = sys_fcntl(p[1], F_GETFL, 0);
	ASSERT_OK(sys_fcntl(p[1], F_SETFL, fl & ~O_NONBLOCK));
	struct pipe_thread t = {.fd = p[0], .delay_ms = 100, .n = PAGE};
	pthread_t th;
	int64_t t0 = now_ms(); /* before the reader's sleep can start */
	ASSERT_EQ(pthread_create(&th, NULL, pipe_reader_fn, &t), 0);
	ASSERT_EQ(sys_write(p[1], big, PAGE), PAGE);
	ASSERT_GE(now_ms() - t0, 50);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	ASSERT_EQ(t.got, PAGE);
}

TEST(pipe_epoll_wait_woken_by_writer_close)
{
	int ep = new_ep();
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 4);
	struct pipe_thread t = {.fd = p[1], .delay_ms = 100, .close_it = 1};
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, pipe_writer_fn, &t), 0);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 5000), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLHUP);
	ASSERT_EQ(out[0].data.u64, 4);
	ASSERT_EQ(pthread_join(th, NULL), 0);
}

/* ---- epoll trigger modes ---- */

TEST(pipe_et_read_end_second_write_new_event)
{
	int ep = new_ep();
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLET, 1);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 0);
	write_byte(p[1]);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	/* No read: the second write still wakes the reader. */
	write_byte(p[1]);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(pipe_et_read_end_partial_read_no_event)
{
	int ep = new_ep();
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLET, 1);
	write_n(p[1], 10);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	read_n(p[0], 3);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	read_n(p[0], 7);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(pipe_et_read_end_writer_close_event)
{
	int ep = new_ep();
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLET, 1);
	write_n(p[1], 2);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_OK(sys_close(p[1]));
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN | EPOLLHUP);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(pipe_et_zero_write_no_event)
{
	int ep = new_ep();
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLET, 1);
	write_byte(p[1]);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ(sys_write(p[1], big, 0), 0);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(pipe_et_write_end)
{
	int ep = new_ep();
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[1], EPOLLOUT | EPOLLET, 2);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLOUT);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	/* Writes wake readers only; reads of a non-full pipe wake nobody. */
	write_n(p[1], 3);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	read_n(p[0], 3);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	fill(p[1]);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	/* Reading from a full pipe: only freeing a page wakes the writer. */
	read_n(p[0], 1);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	read_n(p[0], PAGE - 1);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLOUT);
	ASSERT_EQ(out[0].data.u64, 2);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	/* Not full any more: freeing another page is no new event. */
	read_n(p[0], PAGE);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(pipe_et_write_end_reader_close_event)
{
	int ep = new_ep();
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[1], EPOLLOUT | EPOLLET, 2);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLOUT | EPOLLERR);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(pipe_oneshot)
{
	int ep = new_ep();
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLONESHOT, 1);
	struct epoll_event out[2];
	write_byte(p[1]);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	write_byte(p[1]);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	/* Disabled entirely: even HUP is not reported. */
	ASSERT_OK(sys_close(p[1]));
	ASSERT_EQ(wait0(ep, out, 2), 0);
	MOD(ep, p[0], EPOLLIN | EPOLLONESHOT, 2);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN | EPOLLHUP);
	ASSERT_EQ(out[0].data.u64, 2);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(pipe_lt_read_end)
{
	int ep = new_ep();
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 1);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 0);
	write_n(p[1], 2);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(wait0(ep, out, 2), 1);
		ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	}
	read_n(p[0], 1);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	read_n(p[0], 1);
	ASSERT_EQ(wait0(ep, out, 2), 0);
}

TEST(pipe_lt_write_end_full_and_drained)
{
	int ep = new_ep();
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[1], EPOLLOUT, 1);
	struct epoll_event out[2];
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	fill(p[1]);
	ASSERT_EQ(wait0(ep, out, 2), 0);
	read_n(p[0], PAGE);
	ASSERT_EQ(wait0(ep, out, 2), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLOUT);
}

TEST(pipe_both_ends_one_epoll)
{
	int ep = new_ep();
	int p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLRDNORM, 10);
	ADD(ep, p[1], EPOLLOUT | EPOLLWRNORM, 11);
	write_byte(p[1]);
	struct epoll_event out[4];
	int n = wait0(ep, out, 4);
	ASSERT_EQ(n, 2);
	uint32_t rd = 0, wr = 0;
	for (int i = 0; i < n; i++) {
		if (out[i].data.u64 == 10)
			rd = out[i].events;
		else if (out[i].data.u64 == 11)
			wr = out[i].events;
	}
	ASSERT_EQ_HEX(rd, EPOLLIN | EPOLLRDNORM);
	ASSERT_EQ_HEX(wr, EPOLLOUT | EPOLLWRNORM);
}
