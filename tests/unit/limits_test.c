/*
 * uepoll's limits (uepoll_setlimit): UEPOLL_LIMIT_WATCHES, the kernel's
 * max_user_watches (ENOSPC), and UEPOLL_LIMIT_FILES, RLIMIT_NOFILE for
 * uepoll's descriptors (EMFILE).  Each test runs in its own process, so
 * the process-wide counts start at zero.
 */
#include <fcntl.h>

#include "../runner.h"
#include "uepoll.h"

static int efd(void)
{
	return uepoll_eventfd(0, EFD_NONBLOCK);
}

static int add(int ep, int fd)
{
	struct epoll_event e = {EPOLLIN, {.u64 = (uint64_t)fd}};
	return uepoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

TEST(limits_get_set_invalid)
{
	ASSERT_GT(uepoll_getlimit(UEPOLL_LIMIT_WATCHES), 0);
	ASSERT_GT(uepoll_getlimit(UEPOLL_LIMIT_FILES), 0);
	ASSERT_ERRNO(uepoll_getlimit(0), EINVAL);
	ASSERT_ERRNO(uepoll_setlimit(3, 10), EINVAL);
	ASSERT_ERRNO(uepoll_setlimit(UEPOLL_LIMIT_WATCHES, 0), EINVAL);
	ASSERT_ERRNO(uepoll_setlimit(UEPOLL_LIMIT_WATCHES, -1), EINVAL);
	ASSERT_ERRNO(uepoll_setlimit(UEPOLL_LIMIT_FILES, 0), EINVAL);
	ASSERT_ERRNO(uepoll_setlimit(UEPOLL_LIMIT_FILES, 1L << 40), EINVAL);
	ASSERT_OK(uepoll_setlimit(UEPOLL_LIMIT_WATCHES, 5));
	ASSERT_EQ(uepoll_getlimit(UEPOLL_LIMIT_WATCHES), 5);
	ASSERT_OK(uepoll_setlimit(UEPOLL_LIMIT_FILES, 7));
	ASSERT_EQ(uepoll_getlimit(UEPOLL_LIMIT_FILES), 7);
}

/* Watches are counted across all instances of the process. */
TEST(limits_watches_enospc)
{
	int ep1 = uepoll_create1(0), ep2 = uepoll_create1(0);
	int a = efd(), b = efd(), c = efd();
	ASSERT_GE(ep1, 0);
	ASSERT_GE(ep2, 0);
	ASSERT_OK(uepoll_setlimit(UEPOLL_LIMIT_WATCHES, 3));
	ASSERT_OK(add(ep1, a));
	ASSERT_OK(add(ep1, b));
	ASSERT_OK(add(ep2, a));
	ASSERT_ERRNO(add(ep2, c), ENOSPC);
	ASSERT_ERRNO(add(ep1, c), ENOSPC);
	/* A failed ADD registered nothing. */
	ASSERT_ERRNO(uepoll_ctl(ep1, EPOLL_CTL_DEL, c, NULL), ENOENT);
	/* MOD needs no new watch. */
	struct epoll_event e = {EPOLLOUT, {.u64 = 1}};
	ASSERT_OK(uepoll_ctl(ep1, EPOLL_CTL_MOD, a, &e));
	/* DEL gives one back... */
	ASSERT_OK(uepoll_ctl(ep1, EPOLL_CTL_DEL, b, NULL));
	ASSERT_OK(add(ep2, c));
	ASSERT_ERRNO(add(ep2, b), ENOSPC);
	/* ...and so does the release of a watched file (a: two watches). */
	ASSERT_OK(uepoll_close(a));
	ASSERT_OK(add(ep2, b));
	ASSERT_OK(add(ep1, b));
	ASSERT_ERRNO(add(ep1, c), ENOSPC);
	/* ...and the release of an instance (its items). */
	ASSERT_OK(uepoll_close(ep2));
	ASSERT_OK(add(ep1, c));
	/* Nested instances count like any file. */
	int ep3 = uepoll_create1(0), d = efd();
	ASSERT_GE(ep3, 0);
	ASSERT_OK(add(ep3, ep1));
	ASSERT_ERRNO(add(ep3, d), ENOSPC);
	/* Raising the limit takes effect at once. */
	ASSERT_OK(uepoll_setlimit(UEPOLL_LIMIT_WATCHES, 4));
	ASSERT_OK(add(ep3, d));
	struct epoll_event ev[4];
	uint64_t one = 1;
	ASSERT_EQ(uepoll_write(c, &one, 8), 8);
	ASSERT_EQ(uepoll_wait(ep3, ev, 4, 0), 1);
	ASSERT_EQ(ev[0].data.u64, (uint64_t)ep1);
	ASSERT_EQ(uepoll_wait(ep1, ev, 4, 0), 1);
	ASSERT_EQ(ev[0].data.u64, (uint64_t)c);
}

/* Descriptors: lowest free number below UEPOLL_FD_BASE + limit. */
TEST(limits_files_emfile)
{
	int fd[4];
	ASSERT_OK(uepoll_setlimit(UEPOLL_LIMIT_FILES, 4));
	for (int i = 0; i < 4; i++) {
		fd[i] = efd();
		ASSERT_EQ(fd[i], UEPOLL_FD_BASE + i);
	}
	ASSERT_ERRNO(efd(), EMFILE);
	ASSERT_ERRNO(uepoll_create1(0), EMFILE);
	ASSERT_ERRNO(uepoll_dup(fd[0]), EMFILE);
	ASSERT_ERRNO(uepoll_fcntl(fd[0], F_DUPFD, (long)UEPOLL_FD_BASE),
	             EMFILE);
	/* At or past the limit: F_DUPFD's minimum gives EINVAL... */
	ASSERT_ERRNO(uepoll_fcntl(fd[0], F_DUPFD, (long)UEPOLL_FD_BASE + 4),
	             EINVAL);
	/* ...and dup2's target EBADF, as with RLIMIT_NOFILE. */
	ASSERT_ERRNO(uepoll_dup2(fd[0], UEPOLL_FD_BASE + 4), EBADF);
	ASSERT_ERRNO(uepoll_dup3(fd[0], UEPOLL_FD_BASE + 100, 0), EBADF);
	/* dup2 onto a live number below the limit needs no new number. */
	ASSERT_EQ(uepoll_dup2(fd[0], fd[3]), fd[3]);

	/* A pipe needs two numbers: with one free it fails and leaks none. */
	int p[2] = {-1, -1};
	ASSERT_OK(uepoll_close(fd[3]));
	ASSERT_ERRNO(uepoll_pipe2(p, O_NONBLOCK), EMFILE);
	ASSERT_EQ(p[0], -1);
	ASSERT_EQ(efd(), fd[3]); /* the number was given back */
	ASSERT_OK(uepoll_close(fd[3]));
	ASSERT_OK(uepoll_close(fd[2]));
	ASSERT_OK(uepoll_pipe2(p, O_NONBLOCK));
	ASSERT_EQ(p[0], fd[2]);
	ASSERT_EQ(p[1], fd[3]);

	/* Lowering the limit below open numbers keeps them working. */
	ASSERT_OK(uepoll_setlimit(UEPOLL_LIMIT_FILES, 2));
	ASSERT_EQ(uepoll_write(p[1], "x", 1), 1);
	ASSERT_ERRNO(efd(), EMFILE);
	ASSERT_OK(uepoll_close(fd[1]));
	ASSERT_EQ(efd(), fd[1]);
}
