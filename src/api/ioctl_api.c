/*
 * uepoll_ioctl: the ioctl(2) requests that mean something for uepoll's own
 * descriptors, with Linux's answers for the rest; kernel fds go to the
 * kernel.  The generic requests first (FIONBIO, FIOCLEX, FIONCLEX, FIOASYNC,
 * FIOQSIZE: the kernel's do_vfs_ioctl), then the file's own: EPIOC*PARAMS
 * on an instance (fs/ep_busy.c), FIONREAD on pipes and sockets.  A file
 * without the request answers ENOTTY, an instance EINVAL.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "api/uaccess.h"
#include "fs/eventpoll.h"
#include "fs/fdtable.h"
#include "fs/objects.h"
#include "net/socket.h"

/*
 * copy_from_user / copy_to_user: through process_vm_readv/writev on
 * ourselves, so that an unmapped address gives EFAULT as in the kernel
 * (not a crash).  Where the calls are refused, the range check alone.
 */
static int copy_in(void *dst, const void *src, size_t n)
{
	if (uep_copy_faults(src, n))
		return -EFAULT;
	struct iovec l = {dst, n}, r = {(void *)src, n};
	ssize_t got = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	if (got == (ssize_t)n)
		return 0;
	if (got < 0 && (errno == ENOSYS || errno == EPERM)) {
		memcpy(dst, src, n);
		return 0;
	}
	return -EFAULT;
}

static int copy_out(void *dst, const void *src, size_t n)
{
	if (uep_copy_faults(dst, n))
		return -EFAULT;
	struct iovec l = {(void *)src, n}, r = {dst, n};
	ssize_t put = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
	if (put == (ssize_t)n)
		return 0;
	if (put < 0 && (errno == ENOSYS || errno == EPERM)) {
		memcpy(dst, src, n);
		return 0;
	}
	return -EFAULT;
}

static bool capable_net_admin(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &h, d) != 0)
		return false;
	return d[CAP_TO_INDEX(CAP_NET_ADMIN)].effective &
	       CAP_TO_MASK(CAP_NET_ADMIN);
}

static int ep_params_ioctl(struct uepoll_file *f, unsigned long req, void *arg)
{
	struct epoll_params p;
	int r;
	if (!uep_is_file_epoll(f))
		return -ENOTTY;
	if (req == EPIOCGPARAMS) {
		r = uep_ep_get_params(f, &p);
		return r ? r : copy_out(arg, &p, sizeof(p));
	}
	r = copy_in(&p, arg, sizeof(p));
	if (r)
		return r;
	/* Asked only when it matters, as the kernel's capable(). */
	bool admin = p.busy_poll_budget > 64 && capable_net_admin();
	return uep_ep_set_params(f, &p, admin);
}

static int fionread(struct uepoll_file *f, void *arg)
{
	int n;
	if (uep_is_file_socket(f))
		n = uep_sock_inq(uep_file_sock(f));
	else if (uep_is_file_epoll(f))
		n = -EINVAL;
	else
		n = uep_pipe_nread(f);
	return n < 0 ? n : copy_out(arg, &n, sizeof(n));
}

static int file_ioctl(int fd, struct uepoll_file *f, unsigned long req,
                      void *arg)
{
	int on, r;
	switch (req) {
	case FIOCLEX:
		return uep_fd_set_flags(fd, UEP_FD_CLOEXEC);
	case FIONCLEX:
		return uep_fd_set_flags(fd, 0);
	case FIONBIO:
		r = copy_in(&on, arg, sizeof(on));
		if (r)
			return r;
		/* Only O_NONBLOCK changes. */
		int old = atomic_load(&f->f_flags), want;
		do
			want = on ? old | O_NONBLOCK : old & ~O_NONBLOCK;
		while (!atomic_compare_exchange_weak(&f->f_flags, &old, want));
		return 0;
	case FIOASYNC: /* no uepoll file has fasync */
	case FIOQSIZE: /* regular files only */
		return -ENOTTY;
	case FIONREAD:
		return fionread(f, arg);
	case EPIOCSPARAMS:
	case EPIOCGPARAMS:
		return ep_params_ioctl(f, req, arg);
	}
	return uep_is_file_epoll(f) ? -EINVAL : -ENOTTY;
}

UEPOLL_API int uepoll_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (!uep_is_uepoll_fd(fd))
		return ioctl(fd, request, arg);
	struct uepoll_file *f = uep_fget(fd);
	if (!f)
		return (int)uep_ret_errno(-EBADF);
	int r = file_ioctl(fd, f, request, arg);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}
