/*
 * The calls programs written for libc expect (issue 11, item 7): fstat,
 * readv/writev, eventfd_read/eventfd_write, ppoll, select, pselect; each
 * checked against the kernel's results.
 */
#include "sys.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>

/* ---- fstat ---- */

TEST(fstat_pipe_is_fifo)
{
	int p[2];
	struct stat a, b;
	ASSERT_OK(sys_pipe(p));
	write_byte(p[1]);
	ASSERT_OK(sys_fstat(p[0], &a));
	ASSERT_OK(sys_fstat(p[1], &b));
	ASSERT_TRUE(S_ISFIFO(a.st_mode));
	ASSERT_TRUE(S_ISFIFO(b.st_mode));
	ASSERT_EQ_HEX(a.st_mode & 07777, 0600);
	ASSERT_EQ(a.st_ino, b.st_ino); /* one pipe, one inode */
	ASSERT_EQ(a.st_dev, b.st_dev);
	ASSERT_EQ(a.st_nlink, 1);
	ASSERT_EQ(a.st_size, 0); /* Linux: 0, whatever the pipe holds */
	ASSERT_EQ(a.st_blksize, 4096);
	ASSERT_EQ(a.st_blocks, 0);
	ASSERT_EQ(a.st_uid, geteuid());
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}

TEST(fstat_socket_is_sock)
{
	int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
	for (int i = 0; i < 3; i++) {
		int sv[2];
		struct stat a, b;
		ASSERT_OK(sys_socketpair(AF_UNIX, types[i], 0, sv));
		ASSERT_OK(sys_fstat(sv[0], &a));
		ASSERT_OK(sys_fstat(sv[1], &b));
		ASSERT_TRUE(S_ISSOCK(a.st_mode));
		ASSERT_EQ_HEX(a.st_mode & 07777, 0777);
		ASSERT_NE(a.st_ino, b.st_ino); /* two sockets */
		ASSERT_EQ(a.st_nlink, 1);
		ASSERT_EQ(a.st_size, 0);
		ASSERT_EQ(a.st_blksize, 4096);
		/* A dup is the same socket. */
		int d = sys_dup(sv[0]);
		ASSERT_GE(d, 0);
		ASSERT_OK(sys_fstat(d, &b));
		ASSERT_EQ(a.st_ino, b.st_ino);
		ASSERT_OK(sys_close(d));
		ASSERT_OK(sys_close(sv[0]));
		ASSERT_OK(sys_close(sv[1]));
	}
}

/* eventfd, epoll and timerfd are files on the one anonymous inode. */
TEST(fstat_anon_inode_objects)
{
	int fds[3] = {sys_eventfd(0, 0), sys_epoll_create1(0),
	              sys_timerfd_create(CLOCK_MONOTONIC, 0)};
	struct stat st[3];
	for (int i = 0; i < 3; i++) {
		ASSERT_GE(fds[i], 0);
		ASSERT_OK(sys_fstat(fds[i], &st[i]));
		ASSERT_EQ_HEX(st[i].st_mode, 0600); /* no file type bits */
		ASSERT_FALSE(S_ISFIFO(st[i].st_mode) ||
		             S_ISSOCK(st[i].st_mode) ||
		             S_ISREG(st[i].st_mode) || S_ISCHR(st[i].st_mode));
		ASSERT_EQ(st[i].st_nlink, 1);
		ASSERT_EQ(st[i].st_size, 0);
		ASSERT_EQ(st[i].st_blksize, 4096);
		ASSERT_EQ(st[i].st_uid, 0);
		ASSERT_EQ(st[i].st_ino, st[0].st_ino);
		ASSERT_EQ(st[i].st_dev, st[0].st_dev);
		ASSERT_OK(sys_close(fds[i]));
	}
}

/* (A NULL buffer, EFAULT after EBADF, is not tried: glibc's fstat is
 * declared nonnull, and UBSan stops the kernel target there.) */
TEST(fstat_errors)
{
	struct stat st;
	ASSERT_ERRNO(sys_fstat(SYS_FD_HIGH, &st), EBADF);
	ASSERT_ERRNO(sys_fstat(-1, &st), EBADF);
}

/* ---- readv, writev ---- */

TEST(readv_writev_pipe)
{
	int p[2];
	char a[3], b[5];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	struct iovec w[3] = {{"ab", 2}, {NULL, 0}, {"cdefg", 5}};
	ASSERT_EQ(sys_writev(p[1], w, 3), 7);
	struct iovec r[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
	ASSERT_EQ(sys_readv(p[0], r, 2), 7);
	ASSERT_EQ(memcmp(a, "abc", 3), 0);
	ASSERT_EQ(memcmp(b, "defg", 4), 0);
	ASSERT_ERRNO(sys_readv(p[0], r, 2), EAGAIN);
	ASSERT_EQ(sys_writev(p[1], w, 0), 0);
	ASSERT_EQ(sys_readv(p[0], r, 0), 0);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}

/* A writev of at most PIPE_BUF bytes is one write: all or nothing. */
TEST(writev_pipe_buf_atomic)
{
	int p[2];
	static char fill[15 * 4096 + 4000], x[4096];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ASSERT_EQ(sys_write(p[1], fill, sizeof(fill)), sizeof(fill));
	/* 96 bytes free in the last page, no free page: the first 96-byte
	 * segment alone would fit, the whole 4096 bytes do not. */
	struct iovec w[2] = {{x, 96}, {x, 4000}};
	ASSERT_ERRNO(sys_writev(p[1], w, 2), EAGAIN);
	struct iovec one[1] = {{x, 96}};
	ASSERT_EQ(sys_writev(p[1], one, 1), 96);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}

TEST(readv_writev_errors)
{
	int p[2];
	char b[4];
	ASSERT_OK(sys_pipe(p));
	struct iovec ok[1] = {{b, sizeof(b)}};
	struct iovec *volatile null = NULL;
	volatile int bad = -1, many = IOV_MAX + 1; /* unseen by the compiler */
	/* The descriptor first, then its mode, then the vector. */
	ASSERT_ERRNO(sys_writev(SYS_FD_HIGH, ok, bad), EBADF);
	ASSERT_ERRNO(sys_readv(SYS_FD_HIGH, ok, bad), EBADF);
	ASSERT_ERRNO(sys_writev(p[0], ok, bad), EBADF);
	ASSERT_ERRNO(sys_readv(p[1], ok, bad), EBADF);
	ASSERT_ERRNO(sys_writev(p[1], ok, bad), EINVAL);
	ASSERT_ERRNO(sys_writev(p[1], null, many), EINVAL);
	ASSERT_ERRNO(sys_readv(p[0], ok, many), EINVAL);
	ASSERT_ERRNO(sys_writev(p[1], null, 1), EFAULT);
	ASSERT_EQ(sys_writev(p[1], null, 0), 0);
	struct iovec neg[2] = {{b, 1}, {b, (size_t)-1}};
	ASSERT_ERRNO(sys_writev(p[1], neg, 2), EINVAL);
	struct iovec nul[1] = {{NULL, 3}};
	ASSERT_ERRNO(sys_writev(p[1], nul, 1), EFAULT);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(p[1]));
}

/* On a datagram socket a vector is one datagram. */
TEST(readv_writev_dgram_one_datagram)
{
	int sv[2];
	char a[2], b[8];
	ASSERT_OK(sys_socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv));
	struct iovec w[2] = {{"ab", 2}, {"cde", 3}};
	ASSERT_EQ(sys_writev(sv[0], w, 2), 5);
	ASSERT_EQ(sys_writev(sv[0], w, 1), 2);
	struct iovec r[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
	ASSERT_EQ(sys_readv(sv[1], r, 2), 5);
	ASSERT_EQ(memcmp(a, "ab", 2), 0);
	ASSERT_EQ(memcmp(b, "cde", 3), 0);
	ASSERT_EQ(sys_readv(sv[1], r, 2), 2);
	ASSERT_ERRNO(sys_readv(sv[1], r, 2), EAGAIN);
	ASSERT_OK(sys_close(sv[0]));
	ASSERT_OK(sys_close(sv[1]));
}

/*
 * An eventfd has a plain write method, no write_iter: the kernel's writev
 * calls it once per segment (and each must be 8 bytes); its read is a
 * read_iter, one call for the whole vector.
 */
TEST(readv_writev_eventfd_per_segment)
{
	int efd = sys_eventfd(0, EFD_NONBLOCK);
	uint64_t one = 1, two = 2, v = 0;
	struct iovec w[2] = {{&one, 8}, {&two, 8}};
	ASSERT_EQ(sys_writev(efd, w, 2), 16);
	struct iovec r[2] = {{&v, 4}, {(char *)&v + 4, 4}};
	ASSERT_EQ(sys_readv(efd, r, 2), 8);
	ASSERT_EQ(v, 3);
	struct iovec halves[2] = {{&one, 4}, {(char *)&one + 4, 4}};
	ASSERT_ERRNO(sys_writev(efd, halves, 2), EINVAL);
	/* A leading empty segment is one call (EINVAL), later ones are
	 * skipped; a failing one (16 bytes) ends the loop. */
	char z[1];
	struct iovec lead[2] = {{z, 0}, {&one, 8}};
	ASSERT_ERRNO(sys_writev(efd, lead, 2), EINVAL);
	struct iovec mid[4] = {{&one, 8}, {z, 0}, {&one, 16}, {&one, 8}};
	ASSERT_EQ(sys_writev(efd, mid, 4), 8);
	ASSERT_EQ(read_u64(efd), 1);
	/* A failing second segment: the first one's count is returned. */
	struct iovec part[2] = {{&one, 8}, {&one, 4}};
	ASSERT_EQ(sys_writev(efd, part, 2), 8);
	ASSERT_EQ(read_u64(efd), 1);
	ASSERT_OK(sys_close(efd));
}

/* ---- glibc's eventfd helpers ---- */

TEST(eventfd_read_write_helpers)
{
	int efd = sys_eventfd(0, EFD_NONBLOCK);
	eventfd_t v = 0;
	ASSERT_OK(sys_eventfd_write(efd, 3));
	ASSERT_OK(sys_eventfd_write(efd, 4));
	ASSERT_OK(sys_eventfd_read(efd, &v));
	ASSERT_EQ(v, 7);
	ASSERT_ERRNO(sys_eventfd_read(efd, &v), EAGAIN);
	ASSERT_ERRNO(sys_eventfd_write(efd, UINT64_MAX), EINVAL);
	ASSERT_ERRNO(sys_eventfd_write(SYS_FD_HIGH, 1), EBADF);
	ASSERT_OK(sys_close(efd));
}

/* ---- ppoll ---- */

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

TEST(ppoll_timeout_and_mask)
{
	int efd = sys_eventfd(0, EFD_NONBLOCK);
	struct pollfd p = {.fd = efd, .events = POLLIN};
	struct timespec ts = {0, 20 * 1000000};
	ASSERT_EQ(sys_ppoll(&p, 1, &ts, NULL), 0);
	ASSERT_EQ(ts.tv_nsec, 20 * 1000000); /* not written back */
	write_u64(efd, 1);
	ASSERT_EQ(sys_ppoll(&p, 1, &ts, NULL), 1);
	ASSERT_EQ(p.revents, POLLIN);
	struct timespec bad = {0, 1000000000};
	ASSERT_ERRNO(sys_ppoll(&p, 1, &bad, NULL), EINVAL);
	bad = (struct timespec){-1, 0};
	ASSERT_ERRNO(sys_ppoll(&p, 1, &bad, NULL), EINVAL);
	/* A pending signal blocked outside the call runs inside it. */
	read_u64(efd);
	sigset_t block, empty;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&empty);
	signal(SIGUSR1, on_usr1);
	ASSERT_OK(sigprocmask(SIG_BLOCK, &block, NULL));
	raise(SIGUSR1);
	ASSERT_ERRNO(sys_ppoll(&p, 1, NULL, &empty), EINTR);
	ASSERT_EQ(got_usr1, 1);
	ASSERT_OK(sigprocmask(SIG_UNBLOCK, &block, NULL));
	ASSERT_OK(sys_close(efd));
}

/* ---- select, pselect ---- */

/*
 * A set big enough for descriptor max (uepoll's numbers are >= 2^30):
 * mapped, so that only the pages touched cost memory (even under ASan).
 * Never unmapped: the test's process ends soon.
 */
static fd_set *set_new(int max)
{
	void *s = mmap(NULL, (size_t)max / 8 + sizeof(fd_set),
	               PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_TRUE(s != MAP_FAILED);
	return s;
}
#define BIT_SET(s, fd) (((unsigned long *)(s))[(fd) / 64] |= 1ul << ((fd) % 64))
#define BIT_ISSET(s, fd)                                                       \
	((((unsigned long *)(s))[(fd) / 64] >> ((fd) % 64)) & 1)

TEST(select_pipe_readiness)
{
	int p[2];
	ASSERT_OK(sys_pipe(p));
	int max = p[0] > p[1] ? p[0] : p[1];
	fd_set *r = set_new(max), *w = set_new(max);
	struct timeval tv = {0, 0};
	BIT_SET(r, p[0]);
	BIT_SET(w, p[1]);
	BIT_SET(w, p[0]); /* the read end is never writable */
	ASSERT_EQ(sys_select(max + 1, r, w, NULL, &tv), 1);
	ASSERT_FALSE(BIT_ISSET(r, p[0]));
	ASSERT_TRUE(BIT_ISSET(w, p[1]));
	ASSERT_FALSE(BIT_ISSET(w, p[0]));
	write_byte(p[1]);
	BIT_SET(r, p[0]);
	BIT_SET(r, p[1]); /* nor the write end readable */
	ASSERT_EQ(sys_select(max + 1, r, w, NULL, &tv), 2);
	ASSERT_TRUE(BIT_ISSET(r, p[0]));
	ASSERT_FALSE(BIT_ISSET(r, p[1]));
	/* The writer gone: the read end is readable (EOF), once. */
	char c;
	ASSERT_EQ(sys_read(p[0], &c, 1), 1);
	ASSERT_OK(sys_close(p[1]));
	memset(w, 0, (size_t)max / 8 + sizeof(fd_set));
	BIT_SET(r, p[0]);
	ASSERT_EQ(sys_select(max + 1, r, NULL, NULL, &tv), 1);
	/* ...and exceptfds sees nothing in a hang-up: the timeout runs. */
	BIT_SET(w, p[0]);
	tv.tv_usec = 20000;
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_select(max + 1, NULL, NULL, w, &tv), 0);
	ASSERT_GE(now_ms() - t0, 15);
	ASSERT_FALSE(BIT_ISSET(w, p[0]));
	ASSERT_OK(sys_close(p[0]));
}

TEST(select_timeout_written_back)
{
	int efd = sys_eventfd(0, 0);
	fd_set *r = set_new(efd);
	BIT_SET(r, efd);
	struct timeval tv = {0, 30000};
	ASSERT_EQ(sys_select(efd + 1, r, NULL, NULL, &tv), 0);
	ASSERT_EQ(tv.tv_sec, 0);
	ASSERT_EQ(tv.tv_usec, 0); /* Linux: the time left */
	BIT_SET(r, efd);
	write_u64(efd, 1);
	tv = (struct timeval){5, 0};
	ASSERT_EQ(sys_select(efd + 1, r, NULL, NULL, &tv), 1);
	ASSERT_GT(tv.tv_sec * 1000000 + tv.tv_usec, 4000000);
	ASSERT_OK(sys_close(efd));
}

TEST(select_errors)
{
	int efd = sys_eventfd(0, 0);
	int gone = sys_dup(efd);
	ASSERT_OK(sys_close(gone));
	int max = efd > gone ? efd : gone;
	fd_set *r = set_new(max);
	struct timeval tv = {0, 0};
	ASSERT_ERRNO(sys_select(-1, r, NULL, NULL, &tv), EINVAL);
	tv.tv_usec = -1;
	ASSERT_ERRNO(sys_select(max + 1, r, NULL, NULL, &tv), EINVAL);
	tv = (struct timeval){-1, 0};
	ASSERT_ERRNO(sys_select(max + 1, r, NULL, NULL, &tv), EINVAL);
	/* tv_usec beyond a second is folded into tv_sec. */
	tv = (struct timeval){0, 1000000};
	BIT_SET(r, efd);
	write_u64(efd, 1);
	ASSERT_EQ(sys_select(max + 1, r, NULL, NULL, &tv), 1);
	/* A bit naming a closed descriptor: EBADF. */
	tv = (struct timeval){0, 0};
	BIT_SET(r, gone);
	ASSERT_ERRNO(sys_select(max + 1, r, NULL, NULL, &tv), EBADF);
	ASSERT_OK(sys_close(efd));
}

TEST(pselect_mask_and_timeout)
{
	int efd = sys_eventfd(0, 0);
	fd_set *r = set_new(efd);
	BIT_SET(r, efd);
	struct timespec ts = {0, 20 * 1000000};
	ASSERT_EQ(sys_pselect(efd + 1, r, NULL, NULL, &ts, NULL), 0);
	ASSERT_EQ(ts.tv_nsec, 20 * 1000000); /* glibc: not written back */
	ts.tv_nsec = 1000000000;
	ASSERT_ERRNO(sys_pselect(efd + 1, r, NULL, NULL, &ts, NULL), EINVAL);
	sigset_t block, empty;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&empty);
	signal(SIGUSR1, on_usr1);
	got_usr1 = 0;
	ASSERT_OK(sigprocmask(SIG_BLOCK, &block, NULL));
	raise(SIGUSR1);
	BIT_SET(r, efd);
	ASSERT_ERRNO(sys_pselect(efd + 1, r, NULL, NULL, NULL, &empty), EINTR);
	ASSERT_EQ(got_usr1, 1);
	ASSERT_OK(sigprocmask(SIG_UNBLOCK, &block, NULL));
	ASSERT_OK(sys_close(efd));
}
