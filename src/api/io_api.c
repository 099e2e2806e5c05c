/*
 * Calls that programs written for libc expect beside read and write:
 * fstat, readv/writev, glibc's eventfd_read/eventfd_write, and the file
 * status flags behind fcntl's F_SETFL and the pipe size (issue 11).
 *
 * What an object looks like to fstat and F_SETFL depends on the kernel
 * file it stands for: a pipe (pipefs inode, S_IFIFO), a socket (sockfs,
 * S_IFSOCK), or an anonymous inode (eventfd, epoll, timerfd, and objects
 * made with uepoll_file_create: no file type bits, mode 0600, owned by
 * root, one inode for all of them).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs/fdtable.h"
#include "fs/file.h"
#include "fs/objects.h"
#include "net/socket.h"
#include "api/api.h"
#include "api/uaccess.h"

/* The kernel caps one read or write at INT_MAX rounded down to a page. */
#define MAX_RW_COUNT ((size_t)INT_MAX & ~(size_t)4095)
/* readv/writev move their data through one buffer of at most this. */
#define RW_BOUNCE_MAX ((size_t)1 << 20)

enum uep_file_kind uep_file_kind(const struct uepoll_file *f)
{
	if (uep_is_file_pipe(f))
		return UEP_KIND_PIPE;
	if (uep_is_file_socket(f))
		return UEP_KIND_SOCKET;
	return UEP_KIND_ANON;
}

/* The kernel's SETFL_MASK (O_NDELAY is O_NONBLOCK here). */
#define SETFL_MASK (O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME)

/*
 * fcntl's setfl(): O_NOATIME needs the inode's owner (an anonymous inode
 * is root's), O_DIRECT a pipe (packet mode; nothing else does direct
 * I/O).  O_ASYNC needs a fasync method, which no uepoll object has (no
 * SIGIO is ever sent): like an eventfd's on Linux, the bit does not stick.
 */
int uep_file_setfl(struct uepoll_file *f, unsigned arg)
{
	enum uep_file_kind kind = uep_file_kind(f);
	int old = atomic_load(&f->f_flags);
	if ((arg & O_NOATIME) && !(old & O_NOATIME) && kind == UEP_KIND_ANON &&
	    geteuid() != 0)
		return -EPERM;
	if ((arg & O_DIRECT) && kind != UEP_KIND_PIPE)
		return -EINVAL;
	int new;
	do
		new = (int)(arg & SETFL_MASK) | (old & ~SETFL_MASK);
	while (!atomic_compare_exchange_weak(&f->f_flags, &old, new));
	return 0;
}

/*
 * F_GETPIPE_SZ and F_SETPIPE_SZ: EBADF on anything but a pipe (whose size
 * is fixed: fs/pipe.c).
 */
int uep_file_pipe_size(struct uepoll_file *f, int cmd, unsigned arg)
{
	if (uep_file_kind(f) != UEP_KIND_PIPE)
		return -EBADF;
	if (cmd == F_GETPIPE_SZ)
		return UEP_PIPE_SIZE;
	return uep_pipe_set_size(f, arg);
}

/* ---- fstat ---- */

static void file_stat(struct uepoll_file *f, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_nlink = 1;
	st->st_blksize = 4096;
	switch (uep_file_kind(f)) {
	case UEP_KIND_PIPE:
		/* Both ends share the pipe: one inode. */
		st->st_mode = S_IFIFO | 0600;
		st->st_ino = (ino_t)(uintptr_t)f->private_data;
		st->st_uid = geteuid();
		st->st_gid = getegid();
		break;
	case UEP_KIND_SOCKET:
		st->st_mode = S_IFSOCK | 0777;
		st->st_ino = (ino_t)(uintptr_t)uep_file_sock(f);
		st->st_uid = geteuid();
		st->st_gid = getegid();
		break;
	case UEP_KIND_ANON:
		st->st_mode = 0600;
		st->st_ino = 1;
		break;
	}
}

UEPOLL_API int uepoll_fstat(int fd, struct stat *st)
{
	if (!uep_is_uepoll_fd(fd))
		return fstat(fd, st);
	struct uepoll_file *f = uep_fget(fd);
	if (!f)
		return (int)uep_ret_errno(-EBADF);
	int r = 0;
	if (uep_copy_faults(st, sizeof(*st)))
		r = -EFAULT;
	else
		file_stat(f, st);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

/* ---- readv, writev ---- */

/*
 * import_iovec's checks, in its order: the count, the array, every
 * length (negative as a ssize_t: EINVAL), then each buffer (beyond user
 * space: EFAULT).  The total is capped at MAX_RW_COUNT as the kernel
 * truncates it.  NULL with a length faults here, where the kernel would
 * fault copying it.
 */
static ssize_t iov_total(const struct iovec *iov, int iovcnt)
{
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	if (iovcnt && uep_copy_faults(iov, (size_t)iovcnt * sizeof(*iov)))
		return -EFAULT;
	for (int i = 0; i < iovcnt; i++)
		if ((ssize_t)iov[i].iov_len < 0)
			return -EINVAL;
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++) {
		size_t len = iov[i].iov_len;
		if (len > MAX_RW_COUNT - total)
			len = MAX_RW_COUNT - total;
		if (len && uep_copy_faults(iov[i].iov_base, len))
			return -EFAULT;
		total += len;
	}
	return (ssize_t)total;
}

/*
 * One read or write call of the whole vector: through one bounce buffer,
 * so that a pipe write of at most PIPE_BUF stays atomic and a datagram
 * stays one datagram.  Beyond RW_BOUNCE_MAX a read returns what one call
 * of that size gave; a write goes on chunk by chunk while each is whole.
 */
static ssize_t do_readv(struct uepoll_file *f, const struct iovec *iov,
                        int iovcnt)
{
	if (!(f->f_mode & UEP_FMODE_READ))
		return -EBADF;
	if (!f->f_op->read)
		return -EINVAL;
	ssize_t total = iov_total(iov, iovcnt);
	if (total <= 0)
		return total;
	size_t n =
	        (size_t)total < RW_BOUNCE_MAX ? (size_t)total : RW_BOUNCE_MAX;
	char *buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	ssize_t r = uep_file_read(f, buf, n);
	size_t off = 0;
	for (int i = 0; r > 0 && i < iovcnt && off < (size_t)r; i++) {
		size_t c = iov[i].iov_len < (size_t)r - off ? iov[i].iov_len
		                                            : (size_t)r - off;
		if (c)
			memcpy(iov[i].iov_base, buf + off, c);
		off += c;
	}
	free(buf);
	return r;
}

/*
 * do_loop_readv_writev: a file with a plain write method and no
 * write_iter (an eventfd, an object of uepoll_file_create) is written one
 * segment per call, stopping at the first short or failed one.
 */
static ssize_t writev_loop(struct uepoll_file *f, const struct iovec *iov,
                           int iovcnt)
{
	ssize_t done = 0;
	int i = 0;
	/* A leading empty segment is written (an eventfd: EINVAL); after a
	 * whole segment, iov_iter_advance skips the empty ones. */
	while (i < iovcnt) {
		ssize_t r = uep_file_write(f, iov[i].iov_base, iov[i].iov_len);
		if (r < 0)
			return done ? done : r;
		done += r;
		if ((size_t)r != iov[i].iov_len)
			break;
		while (++i < iovcnt && !iov[i].iov_len)
			;
	}
	return done;
}

static ssize_t do_writev(struct uepoll_file *f, const struct iovec *iov,
                         int iovcnt)
{
	if (!(f->f_mode & UEP_FMODE_WRITE))
		return -EBADF;
	if (!f->f_op->write)
		return -EINVAL;
	ssize_t total = iov_total(iov, iovcnt);
	if (total <= 0) /* vfs_writev: nothing to write calls nothing */
		return total;
	if (uep_file_kind(f) == UEP_KIND_ANON)
		return writev_loop(f, iov, iovcnt);
	size_t n =
	        (size_t)total < RW_BOUNCE_MAX ? (size_t)total : RW_BOUNCE_MAX;
	char *buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	size_t done = 0, i = 0, ioff = 0;
	ssize_t r = 0;
	do {
		size_t chunk =
		        (size_t)total - done < n ? (size_t)total - done : n;
		for (size_t c = 0; c < chunk;) {
			size_t k = iov[i].iov_len - ioff < chunk - c
			                   ? iov[i].iov_len - ioff
			                   : chunk - c;
			if (k) /* an empty segment may be NULL */
				memcpy(buf + c, (char *)iov[i].iov_base + ioff,
				       k);
			c += k;
			ioff += k;
			if (ioff == iov[i].iov_len) {
				i++;
				ioff = 0;
			}
		}
		r = uep_file_write(f, buf, chunk);
		if (r > 0)
			done += (size_t)r;
		if (r != (ssize_t)chunk)
			break;
	} while (done < (size_t)total);
	free(buf);
	return done ? (ssize_t)done : r;
}

UEPOLL_API ssize_t uepoll_readv(int fd, const struct iovec *iov, int iovcnt)
{
	if (!uep_is_uepoll_fd(fd))
		return readv(fd, iov, iovcnt);
	struct uepoll_file *f = uep_fget(fd);
	if (!f)
		return uep_ret_errno(-EBADF);
	ssize_t r = do_readv(f, iov, iovcnt);
	uep_file_put(f);
	return uep_ret_errno(r);
}

UEPOLL_API ssize_t uepoll_writev(int fd, const struct iovec *iov, int iovcnt)
{
	if (!uep_is_uepoll_fd(fd))
		return writev(fd, iov, iovcnt);
	struct uepoll_file *f = uep_fget(fd);
	if (!f)
		return uep_ret_errno(-EBADF);
	ssize_t r = do_writev(f, iov, iovcnt);
	uep_file_put(f);
	return uep_ret_errno(r);
}

/* ---- glibc's eventfd helpers: one 8-byte read or write ---- */

UEPOLL_API int uepoll_eventfd_read(int fd, eventfd_t *value)
{
	return uepoll_read(fd, value, sizeof(*value)) == sizeof(*value) ? 0
	                                                                : -1;
}

UEPOLL_API int uepoll_eventfd_write(int fd, eventfd_t value)
{
	return uepoll_write(fd, &value, sizeof(value)) == sizeof(value) ? 0
	                                                                : -1;
}
