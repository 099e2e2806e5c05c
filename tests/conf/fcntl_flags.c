/*
 * fcntl: the file status flags F_SETFL keeps on each object, and the order
 * of fcntl's argument errors (issue 11, item 6).
 */
#include "sys.h"

#include <sys/socket.h>

#define SETTABLE (O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME)

/* F_SETFL flag, then F_GETFL: the access mode plus what stuck. */
static int setfl_getfl(int fd, int flag)
{
	int acc = sys_fcntl(fd, F_GETFL, 0) & O_ACCMODE;
	ASSERT_OK(sys_fcntl(fd, F_SETFL, flag));
	int r = sys_fcntl(fd, F_GETFL, 0);
	ASSERT_GE(r, 0);
	ASSERT_OK(sys_fcntl(fd, F_SETFL, 0));
	return r & ~acc;
}

static void check_common(int fd)
{
	ASSERT_EQ_HEX(setfl_getfl(fd, O_APPEND), O_APPEND);
	ASSERT_EQ_HEX(setfl_getfl(fd, O_NOATIME), O_NOATIME);
	ASSERT_EQ_HEX(setfl_getfl(fd, O_NONBLOCK), O_NONBLOCK);
	ASSERT_EQ_HEX(setfl_getfl(fd, O_APPEND | O_NONBLOCK),
	              O_APPEND | O_NONBLOCK);
	/* Bits F_SETFL cannot change are ignored, without an error. */
	ASSERT_EQ_HEX(setfl_getfl(fd, O_SYNC | O_DSYNC | O_CREAT | O_TRUNC |
	                                      O_EXCL | O_NOCTTY | O_CLOEXEC),
	              0);
	/* Clearing works. */
	ASSERT_OK(sys_fcntl(fd, F_SETFL, O_APPEND));
	ASSERT_OK(sys_fcntl(fd, F_SETFL, 0));
	ASSERT_EQ(sys_fcntl(fd, F_GETFL, 0) & O_APPEND, 0);
}

TEST(fcntl_setfl_append_noatime_kept_on_pipes)
{
	int p[2];
	ASSERT_OK(sys_pipe(p));
	check_common(p[0]);
	check_common(p[1]);
	/* O_DIRECT is the pipe's packet mode: it sticks too. */
	ASSERT_EQ_HEX(setfl_getfl(p[1], O_DIRECT), O_DIRECT);
	ASSERT_EQ_HEX(setfl_getfl(p[0], SETTABLE), SETTABLE);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}

TEST(fcntl_setfl_append_noatime_kept_on_sockets)
{
	int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
	for (int i = 0; i < 3; i++) {
		int sv[2];
		ASSERT_OK(sys_socketpair(AF_UNIX, types[i], 0, sv));
		check_common(sv[0]);
		/* No direct I/O on a socket: EINVAL, nothing changes. */
		ASSERT_OK(sys_fcntl(sv[0], F_SETFL, O_NONBLOCK));
		ASSERT_ERRNO(sys_fcntl(sv[0], F_SETFL, O_DIRECT | O_APPEND),
		             EINVAL);
		ASSERT_ERRNO(sys_fcntl(sv[0], F_SETFL, -1), EINVAL);
		ASSERT_EQ_HEX(sys_fcntl(sv[0], F_GETFL, 0),
		              O_RDWR | O_NONBLOCK);
		ASSERT_OK(sys_close(sv[0]));
		ASSERT_OK(sys_close(sv[1]));
	}
}

TEST(fcntl_setfl_anon_objects)
{
	int fds[3] = {sys_eventfd(0, 0), sys_epoll_create1(0),
	              sys_timerfd_create(CLOCK_MONOTONIC, 0)};
	for (int i = 0; i < 3; i++) {
		ASSERT_GE(fds[i], 0);
		check_common(fds[i]);
		/* No fasync: O_ASYNC does not stick (no error either). */
		ASSERT_EQ_HEX(setfl_getfl(fds[i], O_ASYNC), 0);
		ASSERT_ERRNO(sys_fcntl(fds[i], F_SETFL, O_DIRECT), EINVAL);
		ASSERT_ERRNO(sys_fcntl(fds[i], F_SETFL, -1), EINVAL);
		ASSERT_EQ_HEX(sys_fcntl(fds[i], F_GETFL, 0), O_RDWR);
		ASSERT_OK(sys_close(fds[i]));
	}
}

/* O_APPEND changes nothing on a pipe's or socket's data path. */
TEST(fcntl_append_pipe_data_unchanged)
{
	int p[2];
	char b[8];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ASSERT_OK(sys_fcntl(p[1], F_SETFL, O_APPEND | O_NONBLOCK));
	ASSERT_EQ(sys_write(p[1], "abc", 3), 3);
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 3);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}

/* Packet mode: each write is one packet, a read takes at most one. */
TEST(pipe_odirect_packets)
{
	int p[2];
	char b[16];
	ASSERT_OK(sys_pipe2(p, O_DIRECT | O_NONBLOCK));
	/* pipe2's O_DIRECT goes to the write end only. */
	ASSERT_EQ_HEX(sys_fcntl(p[0], F_GETFL, 0), O_RDONLY | O_NONBLOCK);
	ASSERT_EQ_HEX(sys_fcntl(p[1], F_GETFL, 0),
	              O_WRONLY | O_DIRECT | O_NONBLOCK);
	ASSERT_EQ(sys_write(p[1], "abc", 3), 3);
	ASSERT_EQ(sys_write(p[1], "defg", 4), 4);
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 3);
	ASSERT_EQ(memcmp(b, "abc", 3), 0);
	/* A short read takes part of the packet and drops the rest. */
	ASSERT_EQ(sys_read(p[0], b, 2), 2);
	ASSERT_EQ(memcmp(b, "de", 2), 0);
	ASSERT_ERRNO(sys_read(p[0], b, sizeof(b)), EAGAIN);
	/* Packet mode is the writer's: a plain write merges again. */
	ASSERT_OK(sys_fcntl(p[1], F_SETFL, O_NONBLOCK));
	ASSERT_EQ(sys_write(p[1], "hi", 2), 2);
	ASSERT_EQ(sys_write(p[1], "jk", 2), 2);
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 4);
	/*
	 * A packet write's sub-page tail still tops up a plain last page: the
	 * kernel checks only that page.
	 */
	ASSERT_EQ(sys_write(p[1], "lm", 2), 2);
	ASSERT_OK(sys_fcntl(p[1], F_SETFL, O_DIRECT | O_NONBLOCK));
	ASSERT_EQ(sys_write(p[1], "no", 2), 2);
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 4);
	ASSERT_EQ(memcmp(b, "lmno", 4), 0);
	/* A read stops after the first packet it reached. */
	ASSERT_EQ(sys_write(p[1], "pq", 2), 2);
	ASSERT_EQ(sys_write(p[1], "rs", 2), 2);
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 2);
	ASSERT_EQ(sys_read(p[0], b, sizeof(b)), 2);
	ASSERT_ERRNO(sys_read(p[0], b, sizeof(b)), EAGAIN);
	/* A packet larger than a page is cut into pages. */
	static char big[5000];
	ASSERT_EQ(sys_write(p[1], big, sizeof(big)), sizeof(big));
	ASSERT_EQ(sys_read(p[0], big, sizeof(big)), 4096);
	ASSERT_EQ(sys_read(p[0], big, sizeof(big)), 5000 - 4096);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}

/* The descriptor is checked before the argument (EBADF first). */
TEST(fcntl_badfd_before_argument)
{
	int bad = SYS_FD_HIGH;
	ASSERT_ERRNO(sys_fcntl(bad, F_DUPFD, 1L << 30), EBADF);
	ASSERT_ERRNO(sys_fcntl(bad, F_DUPFD, -1), EBADF);
	ASSERT_ERRNO(sys_fcntl(bad, F_DUPFD_CLOEXEC, -1), EBADF);
	ASSERT_ERRNO(sys_fcntl(bad, 9999, 0), EBADF);
	ASSERT_ERRNO(sys_fcntl(bad, F_SETFL, -1), EBADF);
	ASSERT_ERRNO(sys_fcntl(bad, F_SETFD, 1), EBADF);
	ASSERT_ERRNO(sys_fcntl(bad, F_GETFD, 0), EBADF);
	ASSERT_ERRNO(sys_fcntl(bad, F_GETFL, 0), EBADF);
	ASSERT_ERRNO(sys_fcntl(bad, F_GETPIPE_SZ, 0), EBADF);
	ASSERT_ERRNO(sys_fcntl(-1, F_DUPFD, -5), EBADF);
}

TEST(fcntl_argument_errors)
{
	int efd = new_efd(0, 0);
	/* The argument is an unsigned int: -1 is huge, 2^32 is 0. */
	ASSERT_ERRNO(sys_fcntl(efd, F_DUPFD, -1), EINVAL);
	ASSERT_ERRNO(sys_fcntl(efd, F_DUPFD_CLOEXEC, -1), EINVAL);
	ASSERT_ERRNO(sys_fcntl(efd, F_DUPFD, 0x80000000L), EINVAL);
	int d = sys_fcntl(efd, F_DUPFD, 1L << 32);
	ASSERT_GE(d, 0);
	ASSERT_OK(sys_close(d));
	ASSERT_ERRNO(sys_fcntl(efd, 9999, 0), EINVAL);
	ASSERT_ERRNO(sys_fcntl(efd, -1, 0), EINVAL);
	/* F_SETFD keeps only FD_CLOEXEC. */
	ASSERT_OK(sys_fcntl(efd, F_SETFD, 0xff));
	ASSERT_EQ(sys_fcntl(efd, F_GETFD, 0), FD_CLOEXEC);
	ASSERT_OK(sys_fcntl(efd, F_SETFD, 2));
	ASSERT_EQ(sys_fcntl(efd, F_GETFD, 0), 0);
	/* Pipe sizes: only pipes have one. */
	ASSERT_ERRNO(sys_fcntl(efd, F_GETPIPE_SZ, 0), EBADF);
	int p[2];
	ASSERT_OK(sys_pipe(p));
	ASSERT_EQ(sys_fcntl(p[0], F_GETPIPE_SZ, 0), 65536);
	ASSERT_EQ(sys_fcntl(p[1], F_GETPIPE_SZ, 0), 65536);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
	ASSERT_OK(sys_close(efd));
}

/* A resize, even to the same size, wakes the writers: an ET OUT edge. */
TEST(pipe_setpipe_sz_wakes_et_writer)
{
	int p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	int ep = new_ep();
	ADD(ep, p[1], EPOLLOUT | EPOLLET, 1);
	struct epoll_event ev[2];
	ASSERT_EQ(wait0(ep, ev, 2), 1);
	ASSERT_EQ(wait0(ep, ev, 2), 0);
	ASSERT_EQ(sys_fcntl(p[0], F_SETPIPE_SZ, 65536), 65536);
	ASSERT_EQ(wait0(ep, ev, 2), 1);
	ASSERT_EQ(sys_fcntl(p[1], F_SETPIPE_SZ, 40000), 65536);
	ASSERT_EQ(wait0(ep, ev, 2), 1);
	ASSERT_OK(sys_close(ep));
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}
