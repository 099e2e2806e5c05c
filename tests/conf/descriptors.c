/*
 * Descriptors: close, dup, dup2, dup3, fcntl (F_GETFL/F_SETFL, F_GETFD/
 * F_SETFD, F_DUPFD, F_DUPFD_CLOEXEC).  Numbers are compared only relative
 * to each other (the two targets number descriptors differently).
 */
#include "sys.h"

#include <pthread.h>

static short poll_inout(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
	ASSERT_GE(sys_poll(&p, 1, 0), 0);
	return p.revents;
}

/* ---- close ---- */

TEST(desc_close_twice_ebadf)
{
	int efd = new_efd(0, 0);
	ASSERT_OK(sys_close(efd));
	ASSERT_ERRNO(sys_close(efd), EBADF);
	int p[2];
	new_pipe(p, 0);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_ERRNO(sys_close(p[0]), EBADF);
	ASSERT_OK(sys_close(p[1]));
	ASSERT_ERRNO(sys_close(p[1]), EBADF);
	int ep = new_ep();
	ASSERT_OK(sys_close(ep));
	ASSERT_ERRNO(sys_close(ep), EBADF);
	ASSERT_ERRNO(sys_close(-1), EBADF);
}

TEST(desc_io_on_closed_ebadf)
{
	int efd = new_efd(0, EFD_NONBLOCK);
	write_u64(efd, 1);
	ASSERT_OK(sys_close(efd));
	uint64_t v = 1;
	ASSERT_ERRNO(sys_read(efd, &v, 8), EBADF);
	ASSERT_ERRNO(sys_write(efd, &v, 8), EBADF);
	int p[2];
	new_pipe(p, O_NONBLOCK);
	write_byte(p[1]);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
	char c;
	ASSERT_ERRNO(sys_read(p[0], &c, 1), EBADF);
	ASSERT_ERRNO(sys_write(p[1], "x", 1), EBADF);
	ASSERT_ERRNO(sys_read(-1, &c, 1), EBADF);
	ASSERT_ERRNO(sys_write(-1, "x", 1), EBADF);
}

TEST(desc_ops_on_closed_ebadf)
{
	int bad = closed_fd();
	ASSERT_ERRNO(sys_dup(bad), EBADF);
	ASSERT_ERRNO(sys_dup(-1), EBADF);
	ASSERT_ERRNO(sys_dup2(bad, SYS_FD_HIGH), EBADF);
	ASSERT_ERRNO(sys_dup2(-1, SYS_FD_HIGH), EBADF);
	ASSERT_ERRNO(sys_dup3(bad, SYS_FD_HIGH, 0), EBADF);
	ASSERT_ERRNO(sys_fcntl(bad, F_GETFL, 0), EBADF);
	ASSERT_ERRNO(sys_fcntl(bad, F_GETFD, 0), EBADF);
	ASSERT_ERRNO(sys_fcntl(bad, F_SETFL, O_NONBLOCK), EBADF);
	ASSERT_ERRNO(sys_fcntl(bad, F_DUPFD, SYS_FD_HIGH), EBADF);
	ASSERT_ERRNO(sys_fcntl(-1, F_GETFD, 0), EBADF);
	/* The failed dup2 did not create the target. */
	ASSERT_ERRNO(sys_close(SYS_FD_HIGH), EBADF);
}

TEST(desc_poll_closed_is_nval)
{
	int bad = closed_fd();
	struct pollfd p = {.fd = bad, .events = POLLIN};
	ASSERT_EQ(sys_poll(&p, 1, 0), 1);
	ASSERT_EQ_HEX(p.revents, POLLNVAL);
	/* A negative fd is ignored. */
	p = (struct pollfd){.fd = -1, .events = POLLIN, .revents = 0x7};
	ASSERT_EQ(sys_poll(&p, 1, 0), 0);
	ASSERT_EQ_HEX(p.revents, 0);
}

TEST(desc_lowest_free_number_reused)
{
	int a = new_efd(0, 0);
	int b = new_efd(0, 0);
	ASSERT_NE(a, b);
	ASSERT_OK(sys_close(a));
	int c = new_efd(0, 0);
	ASSERT_EQ(c, a);
}

/* ---- dup ---- */

TEST(desc_dup_same_object)
{
	int efd = new_efd(0, EFD_NONBLOCK);
	int d = sys_dup(efd);
	ASSERT_GE(d, 0);
	ASSERT_NE(d, efd);
	write_u64(d, 6);
	ASSERT_EQ(read_u64(efd), 6);
	write_u64(efd, 2);
	ASSERT_OK(sys_close(efd));
	/* The object lives on through the dup. */
	ASSERT_EQ(read_u64(d), 2);
}

TEST(desc_dup_pipe_write_end)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	int w = sys_dup(p[1]);
	ASSERT_GE(w, 0);
	ASSERT_NE(w, p[1]);
	ASSERT_NE(w, p[0]);
	ASSERT_EQ(sys_write(w, "hello", 5), 5);
	char b[8] = {0};
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 5);
	ASSERT_TRUE(memcmp(b, "hello", 5) == 0);
	/* The dup'd end is a write end: reading from it is EBADF. */
	ASSERT_ERRNO(sys_read(w, b, 1), EBADF);
}

TEST(desc_dup_keeps_pipe_writer_alive)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	int w = sys_dup(p[1]);
	ASSERT_GE(w, 0);
	ASSERT_OK(sys_close(p[1]));
	/* Still a writer: no HUP, no EOF. */
	ASSERT_EQ_HEX(poll_inout(p[0]), 0);
	char c;
	ASSERT_ERRNO(sys_read(p[0], &c, 1), EAGAIN);
	ASSERT_OK(sys_close(w));
	ASSERT_EQ_HEX(poll_inout(p[0]), POLLHUP);
	ASSERT_EQ(sys_read(p[0], &c, 1), 0);
}

TEST(desc_dup_read_end_shares_data)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	int r = sys_dup(p[0]);
	ASSERT_GE(r, 0);
	ASSERT_EQ(sys_write(p[1], "ab", 2), 2);
	char c;
	ASSERT_EQ(sys_read(r, &c, 1), 1);
	ASSERT_EQ(c, 'a');
	ASSERT_EQ(sys_read(p[0], &c, 1), 1);
	ASSERT_EQ(c, 'b');
	ASSERT_ERRNO(sys_read(r, &c, 1), EAGAIN);
}

TEST(desc_dup_clears_cloexec_shares_status_flags)
{
	int efd = new_efd(0, EFD_CLOEXEC);
	ASSERT_EQ(sys_fcntl(efd, F_GETFD, 0), FD_CLOEXEC);
	int d = sys_dup(efd);
	ASSERT_GE(d, 0);
	ASSERT_EQ(sys_fcntl(d, F_GETFD, 0), 0);
	ASSERT_EQ(sys_fcntl(efd, F_GETFD, 0), FD_CLOEXEC);
	/* File status flags belong to the open file: shared. */
	ASSERT_FALSE(sys_fcntl(efd, F_GETFL, 0) & O_NONBLOCK);
	ASSERT_OK(sys_fcntl(d, F_SETFL, O_NONBLOCK));
	ASSERT_TRUE(sys_fcntl(efd, F_GETFL, 0) & O_NONBLOCK);
	uint64_t v;
	ASSERT_ERRNO(sys_read(efd, &v, 8), EAGAIN);
}

TEST(desc_dup_epoll_fd_same_instance)
{
	int ep = new_ep();
	int d = sys_dup(ep);
	ASSERT_GE(d, 0);
	ASSERT_NE(d, ep);
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(d, efd, EPOLLIN, 31);
	write_u64(efd, 1);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 1);
	ASSERT_EQ(out[0].data.u64, 31);
	/* The registration is in the instance, not the descriptor. */
	struct epoll_event ev = {.events = EPOLLIN};
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), EEXIST);
	ASSERT_OK(sys_close(ep));
	ASSERT_EQ(sys_epoll_wait(d, out, 2, 0), 1);
}

/* ---- dup2 / dup3 ---- */

TEST(desc_dup2_to_free_number)
{
	int efd = new_efd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_EQ(sys_dup2(efd, SYS_FD_HIGH), SYS_FD_HIGH);
	ASSERT_EQ(sys_fcntl(SYS_FD_HIGH, F_GETFD, 0), 0);
	ASSERT_TRUE(sys_fcntl(SYS_FD_HIGH, F_GETFL, 0) & O_NONBLOCK);
	write_u64(SYS_FD_HIGH, 9);
	ASSERT_EQ(read_u64(efd), 9);
	ASSERT_OK(sys_close(SYS_FD_HIGH));
	ASSERT_ERRNO(sys_close(SYS_FD_HIGH), EBADF);
	/* The original is unaffected. */
	write_u64(efd, 1);
	ASSERT_EQ(read_u64(efd), 1);
}

TEST(desc_dup2_same_fd_returns_it)
{
	int efd = new_efd(0, EFD_CLOEXEC);
	ASSERT_EQ(sys_dup2(efd, efd), efd);
	/* Nothing changed, not even the close-on-exec flag. */
	ASSERT_EQ(sys_fcntl(efd, F_GETFD, 0), FD_CLOEXEC);
	write_u64(efd, 3);
	ASSERT_EQ(read_u64(efd), 3);
	/* With a closed descriptor: EBADF. */
	int bad = closed_fd();
	ASSERT_ERRNO(sys_dup2(bad, bad), EBADF);
}

TEST(desc_dup2_replaces_open_target)
{
	int a = new_efd(0, EFD_NONBLOCK);
	int b = new_efd(0, EFD_NONBLOCK);
	ASSERT_EQ(sys_dup2(a, SYS_FD_HIGH), SYS_FD_HIGH);
	ASSERT_EQ(sys_dup2(b, SYS_FD_HIGH), SYS_FD_HIGH);
	write_u64(SYS_FD_HIGH, 4);
	ASSERT_EQ(read_u64(b), 4);
	uint64_t v;
	ASSERT_ERRNO(sys_read(a, &v, 8), EAGAIN);
}

TEST(desc_dup2_over_last_writer_gives_hup)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	int efd = new_efd(0, 0);
	/* Replacing the only write end closes it: the reader sees HUP. */
	ASSERT_EQ(sys_dup2(efd, p[1]), p[1]);
	ASSERT_EQ_HEX(poll_inout(p[0]), POLLHUP);
	char c;
	ASSERT_EQ(sys_read(p[0], &c, 1), 0);
	/* And p[1] is now the eventfd. */
	write_u64(p[1], 5);
	ASSERT_EQ(read_u64(efd), 5);
}

TEST(desc_dup3_cloexec)
{
	int efd = new_efd(0, 0);
	ASSERT_EQ(sys_dup3(efd, SYS_FD_HIGH, O_CLOEXEC), SYS_FD_HIGH);
	ASSERT_EQ(sys_fcntl(SYS_FD_HIGH, F_GETFD, 0), FD_CLOEXEC);
	ASSERT_EQ(sys_dup3(efd, SYS_FD_HIGH + 1, 0), SYS_FD_HIGH + 1);
	ASSERT_EQ(sys_fcntl(SYS_FD_HIGH + 1, F_GETFD, 0), 0);
	write_u64(SYS_FD_HIGH, 1);
	write_u64(SYS_FD_HIGH + 1, 2);
	ASSERT_EQ(read_u64(efd), 3);
}

TEST(desc_dup3_bad_flags_einval)
{
	int efd = new_efd(0, 0);
	ASSERT_ERRNO(sys_dup3(efd, SYS_FD_HIGH, O_NONBLOCK), EINVAL);
	ASSERT_ERRNO(sys_dup3(efd, SYS_FD_HIGH, -1), EINVAL);
	ASSERT_ERRNO(sys_dup3(efd, SYS_FD_HIGH, O_CLOEXEC | O_NONBLOCK),
	             EINVAL);
	ASSERT_ERRNO(sys_dup3(efd, SYS_FD_HIGH, FD_CLOEXEC), EINVAL);
	/* Nothing was created. */
	ASSERT_ERRNO(sys_close(SYS_FD_HIGH), EBADF);
	/* Flags are checked before the descriptor. */
	int bad = closed_fd();
	ASSERT_ERRNO(sys_dup3(bad, SYS_FD_HIGH, O_NONBLOCK), EINVAL);
}

TEST(desc_dup3_same_fd_einval)
{
	int efd = new_efd(0, 0);
	ASSERT_ERRNO(sys_dup3(efd, efd, 0), EINVAL);
	ASSERT_ERRNO(sys_dup3(efd, efd, O_CLOEXEC), EINVAL);
	/* oldfd == newfd is checked before the descriptor is looked up. */
	int bad = closed_fd();
	ASSERT_ERRNO(sys_dup3(bad, bad, 0), EINVAL);
	/* The descriptor still works. */
	write_u64(efd, 1);
	ASSERT_EQ(read_u64(efd), 1);
}

TEST(desc_dup2_negative_target_ebadf)
{
	int efd = new_efd(0, 0);
	ASSERT_ERRNO(sys_dup2(efd, -1), EBADF);
	ASSERT_ERRNO(sys_dup3(efd, -1, 0), EBADF);
}

/* ---- fcntl ---- */

struct late_writer {
	int fd;
	int delay_ms;
};

static void *late_writer_fn(void *arg)
{
	struct late_writer *w = arg;
	sleep_ms(w->delay_ms);
	if (sys_write(w->fd, "z", 1) != 1)
		abort();
	return NULL;
}

TEST(desc_fcntl_nonblock_pipe_read)
{
	int p[2];
	new_pipe(p, 0);
	int fl = sys_fcntl(p[0], F_GETFL, 0);
	ASSERT_GE(fl, 0);
	ASSERT_FALSE(fl & O_NONBLOCK);
	ASSERT_EQ(fl & O_ACCMODE, O_RDONLY);
	ASSERT_OK(sys_fcntl(p[0], F_SETFL, fl | O_NONBLOCK));
	ASSERT_TRUE(sys_fcntl(p[0], F_GETFL, 0) & O_NONBLOCK);
	char c;
	ASSERT_ERRNO(sys_read(p[0], &c, 1), EAGAIN);
	/* The write end is a different open file: unaffected. */
	ASSERT_FALSE(sys_fcntl(p[1], F_GETFL, 0) & O_NONBLOCK);
	/* Back to blocking: the read waits for the writer. */
	ASSERT_OK(sys_fcntl(p[0], F_SETFL, fl & ~O_NONBLOCK));
	ASSERT_FALSE(sys_fcntl(p[0], F_GETFL, 0) & O_NONBLOCK);
	struct late_writer w = {p[1], 100};
	pthread_t th;
	int64_t t0 = now_ms(); /* before the writer's sleep can start */
	ASSERT_EQ(pthread_create(&th, NULL, late_writer_fn, &w), 0);
	ASSERT_EQ(sys_read(p[0], &c, 1), 1);
	ASSERT_GE(now_ms() - t0, 50);
	ASSERT_EQ(c, 'z');
	ASSERT_EQ(pthread_join(th, NULL), 0);
}

TEST(desc_fcntl_nonblock_pipe_write)
{
	int p[2];
	new_pipe(p, 0);
	ASSERT_OK(sys_fcntl(p[1], F_SETFL, O_NONBLOCK));
	static char buf[4096];
	long total = 0;
	ssize_t w;
	while ((w = sys_write(p[1], buf, sizeof(buf))) > 0)
		total += w;
	ASSERT_EQ(w, -1);
	ASSERT_EQ(errno, EAGAIN);
	ASSERT_EQ(total, 65536);
}

TEST(desc_fcntl_setfl_keeps_access_mode)
{
	int p[2];
	new_pipe(p, 0);
	/* The access mode cannot be changed by F_SETFL; it is ignored. */
	ASSERT_OK(sys_fcntl(p[0], F_SETFL, O_RDWR | O_NONBLOCK));
	int fl = sys_fcntl(p[0], F_GETFL, 0);
	ASSERT_EQ(fl & O_ACCMODE, O_RDONLY);
	ASSERT_TRUE(fl & O_NONBLOCK);
	ASSERT_ERRNO(sys_write(p[0], "x", 1), EBADF);
	ASSERT_EQ(sys_fcntl(p[1], F_GETFL, 0) & O_ACCMODE, O_WRONLY);
}

TEST(desc_fcntl_nonblock_eventfd_read)
{
	int efd = new_efd(0, 0);
	ASSERT_OK(sys_fcntl(efd, F_SETFL, O_NONBLOCK));
	uint64_t v;
	ASSERT_ERRNO(sys_read(efd, &v, 8), EAGAIN);
	write_u64(efd, 0xfffffffffffffffeULL);
	v = 1;
	ASSERT_ERRNO(sys_write(efd, &v, 8), EAGAIN);
}

TEST(desc_fcntl_getfd_setfd)
{
	int efd = new_efd(0, 0);
	ASSERT_EQ(sys_fcntl(efd, F_GETFD, 0), 0);
	ASSERT_OK(sys_fcntl(efd, F_SETFD, FD_CLOEXEC));
	ASSERT_EQ(sys_fcntl(efd, F_GETFD, 0), FD_CLOEXEC);
	/* Not shared with a dup. */
	int d = sys_dup(efd);
	ASSERT_GE(d, 0);
	ASSERT_EQ(sys_fcntl(d, F_GETFD, 0), 0);
	ASSERT_OK(sys_fcntl(efd, F_SETFD, 0));
	ASSERT_EQ(sys_fcntl(efd, F_GETFD, 0), 0);
	/* Does not touch the status flags. */
	ASSERT_FALSE(sys_fcntl(efd, F_GETFL, 0) & O_NONBLOCK);
	int p[2];
	new_pipe(p, O_CLOEXEC);
	ASSERT_OK(sys_fcntl(p[0], F_SETFD, 0));
	ASSERT_EQ(sys_fcntl(p[0], F_GETFD, 0), 0);
	ASSERT_EQ(sys_fcntl(p[1], F_GETFD, 0), FD_CLOEXEC);
}

TEST(desc_fcntl_dupfd_lowest_at_or_above)
{
	int efd = new_efd(0, EFD_CLOEXEC);
	int a = sys_fcntl(efd, F_DUPFD, SYS_FD_HIGH);
	ASSERT_EQ(a, SYS_FD_HIGH);
	int b = sys_fcntl(efd, F_DUPFD, SYS_FD_HIGH);
	ASSERT_EQ(b, SYS_FD_HIGH + 1);
	ASSERT_EQ(sys_fcntl(a, F_GETFD, 0), 0);
	ASSERT_OK(sys_close(a));
	/* The lowest free number >= arg again. */
	ASSERT_EQ(sys_fcntl(efd, F_DUPFD, SYS_FD_HIGH), SYS_FD_HIGH);
	ASSERT_EQ(sys_fcntl(efd, F_DUPFD, SYS_FD_HIGH + 5), SYS_FD_HIGH + 5);
	ASSERT_EQ(sys_fcntl(efd, F_DUPFD, SYS_FD_HIGH + 1), SYS_FD_HIGH + 2);
	write_u64(b, 8);
	ASSERT_EQ(read_u64(efd), 8);
}

TEST(desc_fcntl_dupfd_low_arg)
{
	int efd = new_efd(0, 0);
	int d = sys_fcntl(efd, F_DUPFD, 0);
	ASSERT_GE(d, 0);
	ASSERT_NE(d, efd);
	/* Like dup: the lowest free number. */
	int d2 = sys_dup(efd);
	ASSERT_GE(d2, 0);
	ASSERT_OK(sys_close(d2));
	ASSERT_OK(sys_close(d));
	ASSERT_EQ(sys_fcntl(efd, F_DUPFD, 0), d < d2 ? d : d2);
}

TEST(desc_fcntl_dupfd_cloexec)
{
	int efd = new_efd(0, 0);
	int a = sys_fcntl(efd, F_DUPFD_CLOEXEC, SYS_FD_HIGH);
	ASSERT_GE(a, SYS_FD_HIGH);
	ASSERT_EQ(sys_fcntl(a, F_GETFD, 0), FD_CLOEXEC);
	ASSERT_EQ(sys_fcntl(efd, F_GETFD, 0), 0);
	int b = sys_fcntl(efd, F_DUPFD, SYS_FD_HIGH);
	ASSERT_GT(b, a);
	ASSERT_EQ(sys_fcntl(b, F_GETFD, 0), 0);
	write_u64(a, 1);
	ASSERT_EQ(read_u64(efd), 1);
}

TEST(desc_fcntl_dupfd_negative_arg_einval)
{
	int efd = new_efd(0, 0);
	ASSERT_ERRNO(sys_fcntl(efd, F_DUPFD, -1), EINVAL);
	ASSERT_ERRNO(sys_fcntl(efd, F_DUPFD_CLOEXEC, -1), EINVAL);
}

TEST(desc_fcntl_unknown_cmd_einval)
{
	int efd = new_efd(0, 0);
	ASSERT_ERRNO(sys_fcntl(efd, 9999, 0), EINVAL);
}
