/*
 * The errno matrix of epoll_create*, epoll_ctl and epoll_wait/pwait/pwait2,
 * including the order in which the kernel finds the errors.
 */
#include "sys.h"

#include <limits.h>
#include <pthread.h>

/* EP_MAX_EVENTS on x86_64: INT_MAX / sizeof(struct epoll_event). */
#define EP_MAX_EVENTS ((int)(INT_MAX / sizeof(struct epoll_event)))

/* An address no user pointer can have (fails access_ok on both targets). */
#define BAD_PTR optr((struct epoll_event *)(intptr_t)-4096)

/* Hide a value from the compiler (it warns about impossible sizes). */
static int opaque(int x)
{
	volatile int v = x;
	return v;
}

static struct epoll_event *optr(struct epoll_event *p)
{
	struct epoll_event *volatile v = p;
	return v;
}

/* NULL as an events buffer, hidden from the compiler. */
#define NULL_EVS optr(NULL)

/* ---- epoll_create / epoll_create1 ---- */

TEST(err_create_size_zero_or_negative)
{
	ASSERT_ERRNO(sys_epoll_create(0), EINVAL);
	ASSERT_ERRNO(sys_epoll_create(-1), EINVAL);
	ASSERT_ERRNO(sys_epoll_create(INT_MIN), EINVAL);
	int ep = sys_epoll_create(1);
	ASSERT_GE(ep, 0);
	ASSERT_OK(sys_close(ep));
	ep = sys_epoll_create(INT_MAX);
	ASSERT_GE(ep, 0);
	ASSERT_OK(sys_close(ep));
}

TEST(err_create1_bad_flags)
{
	ASSERT_ERRNO(sys_epoll_create1(-1), EINVAL);
	ASSERT_ERRNO(sys_epoll_create1(O_NONBLOCK), EINVAL);
	ASSERT_ERRNO(sys_epoll_create1(EPOLL_CLOEXEC | O_NONBLOCK), EINVAL);
	ASSERT_ERRNO(sys_epoll_create1(1), EINVAL);
}

TEST(err_create1_cloexec_visible)
{
	int ep = sys_epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(ep, 0);
	int fl = sys_fcntl(ep, F_GETFD, 0);
	ASSERT_EQ(fl, FD_CLOEXEC);
	int ep2 = new_ep();
	ASSERT_EQ(sys_fcntl(ep2, F_GETFD, 0), 0);
	int ep3 = sys_epoll_create(5);
	ASSERT_GE(ep3, 0);
	ASSERT_EQ(sys_fcntl(ep3, F_GETFD, 0), 0);
	ASSERT_OK(sys_close(ep));
	ASSERT_OK(sys_close(ep2));
	ASSERT_OK(sys_close(ep3));
}

/* ---- epoll_ctl ---- */

TEST(err_ctl_null_event_efault_before_ebadf)
{
	int bad = closed_fd();
	/* ADD and MOD copy the event in before looking at any descriptor. */
	ASSERT_ERRNO(sys_epoll_ctl(-1, EPOLL_CTL_ADD, -1, NULL), EFAULT);
	ASSERT_ERRNO(sys_epoll_ctl(bad, EPOLL_CTL_ADD, bad, NULL), EFAULT);
	ASSERT_ERRNO(sys_epoll_ctl(-1, EPOLL_CTL_MOD, -1, NULL), EFAULT);
	ASSERT_ERRNO(sys_epoll_ctl(bad, EPOLL_CTL_MOD, bad, NULL), EFAULT);
	/* An unknown op also copies the event. */
	ASSERT_ERRNO(sys_epoll_ctl(-1, 99, -1, NULL), EFAULT);
	ASSERT_ERRNO(sys_epoll_ctl(bad, 0, bad, NULL), EFAULT);
}

TEST(err_ctl_null_event_efault_valid_fds)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, NULL), EFAULT);
	ADD(ep, efd, EPOLLIN, 1);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_MOD, efd, NULL), EFAULT);
	ASSERT_ERRNO(sys_epoll_ctl(ep, 42, efd, NULL), EFAULT);
	/* Also when epfd is not an epoll instance. */
	ASSERT_ERRNO(sys_epoll_ctl(efd, EPOLL_CTL_ADD, ep, NULL), EFAULT);
}

TEST(err_ctl_del_ignores_event_pointer)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));
	ADD(ep, efd, EPOLLIN, 1);
	/* DEL does not even look at a garbage pointer. */
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, efd, BAD_PTR));
	/* DEL with NULL still finds the other errors. */
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL), ENOENT);
	ASSERT_ERRNO(sys_epoll_ctl(-1, EPOLL_CTL_DEL, efd, NULL), EBADF);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, -1, NULL), EBADF);
}

TEST(err_ctl_ebadf_epfd_then_fd)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	int bad = closed_fd();
	struct epoll_event ev = {.events = EPOLLIN};
	ASSERT_ERRNO(sys_epoll_ctl(-1, EPOLL_CTL_ADD, efd, &ev), EBADF);
	ASSERT_ERRNO(sys_epoll_ctl(bad, EPOLL_CTL_ADD, efd, &ev), EBADF);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, -1, &ev), EBADF);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, bad, &ev), EBADF);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_MOD, bad, &ev), EBADF);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, bad, &ev), EBADF);
	/* Both bad: still EBADF. */
	ASSERT_ERRNO(sys_epoll_ctl(-1, EPOLL_CTL_ADD, -1, &ev), EBADF);
	/* A bad target wins over a non-epoll epfd. */
	ASSERT_ERRNO(sys_epoll_ctl(efd, EPOLL_CTL_ADD, bad, &ev), EBADF);
	/* A bad epfd wins over fd == epfd. */
	ASSERT_ERRNO(sys_epoll_ctl(bad, EPOLL_CTL_ADD, bad, &ev), EBADF);
	/* An unknown op with a bad descriptor: EBADF, not EINVAL. */
	ASSERT_ERRNO(sys_epoll_ctl(ep, 99, bad, &ev), EBADF);
	ASSERT_ERRNO(sys_epoll_ctl(-1, 99, efd, &ev), EBADF);
}

TEST(err_ctl_epfd_not_epoll_einval)
{
	int efd = new_efd(0, EFD_NONBLOCK);
	int efd2 = new_efd(0, EFD_NONBLOCK);
	int ep = new_ep();
	struct epoll_event ev = {.events = EPOLLIN};
	ASSERT_ERRNO(sys_epoll_ctl(efd, EPOLL_CTL_ADD, efd2, &ev), EINVAL);
	ASSERT_ERRNO(sys_epoll_ctl(efd, EPOLL_CTL_MOD, efd2, &ev), EINVAL);
	ASSERT_ERRNO(sys_epoll_ctl(efd, EPOLL_CTL_DEL, efd2, &ev), EINVAL);
	ASSERT_ERRNO(sys_epoll_ctl(efd, EPOLL_CTL_ADD, ep, &ev), EINVAL);
	int p[2];
	ASSERT_OK(sys_pipe(p));
	ASSERT_ERRNO(sys_epoll_ctl(p[0], EPOLL_CTL_ADD, efd, &ev), EINVAL);
}

TEST(err_ctl_fd_equals_epfd)
{
	int ep = new_ep();
	struct epoll_event ev = {.events = EPOLLIN};
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_MOD, ep, &ev), EINVAL);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, ep, &ev), EINVAL);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, ep, NULL), EINVAL);
	/* The check compares open files: a dup of the instance is EINVAL
	 * too. */
	int d = sys_dup(ep);
	ASSERT_GE(d, 0);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, d, &ev), EINVAL);
}

TEST(err_ctl_exclusive_with_mod)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE};
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev), EINVAL);
	/* Before the lookup: a missing key gives EINVAL, not ENOENT. */
	int efd2 = new_efd(0, EFD_NONBLOCK);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_MOD, efd2, &ev), EINVAL);
	/* And the existing item is unchanged and usable. */
	MOD(ep, efd, EPOLLOUT, 2);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLOUT);
	ASSERT_EQ(out[0].data.u64, 2);
}

TEST(err_ctl_exclusive_add_epoll_target)
{
	int ep = new_ep();
	int inner = new_ep();
	struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE};
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, inner, &ev), EINVAL);
	/* Without EXCLUSIVE the same ADD works. */
	ADD(ep, inner, EPOLLIN, 1);
}

TEST(err_ctl_exclusive_bad_bits)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE |
	                                   EPOLLONESHOT};
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), EINVAL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP;
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), EINVAL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLPRI;
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), EINVAL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDNORM;
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), EINVAL);
	/* Nothing was added. */
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL), ENOENT);
	/* The OK bits are accepted: IN|OUT|ERR|HUP|WAKEUP|ET|EXCLUSIVE. */
	ev.events = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP |
	            EPOLLET | EPOLLEXCLUSIVE;
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
}

TEST(err_ctl_exclusive_bad_bits_before_eexist)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE |
	                                   EPOLLONESHOT};
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), EINVAL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), EEXIST);
}

TEST(err_ctl_mod_of_exclusive_item)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLEXCLUSIVE, 7);
	struct epoll_event ev = {.events = EPOLLIN};
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev), EINVAL);
	ev.events = EPOLLOUT;
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev), EINVAL);
	ev.events = 0;
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev), EINVAL);
	/* The item still reports with its old data, and DEL works. */
	write_u64(efd, 1);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_EQ(out[0].data.u64, 7);
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));
	ADD(ep, efd, EPOLLIN, 8);
	MOD(ep, efd, EPOLLIN, 9);
}

TEST(err_ctl_eexist_enoent)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN};
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev), ENOENT);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, efd, &ev), ENOENT);
	ADD(ep, efd, EPOLLIN, 1);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), EEXIST);
	ev.events = EPOLLOUT | EPOLLET;
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), EEXIST);
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL), ENOENT);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev), ENOENT);
}

TEST(err_ctl_unknown_op_after_other_checks)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN};
	/* Not registered: EINVAL (not ENOENT). */
	ASSERT_ERRNO(sys_epoll_ctl(ep, 99, efd, &ev), EINVAL);
	ASSERT_ERRNO(sys_epoll_ctl(ep, 0, efd, &ev), EINVAL);
	ASSERT_ERRNO(sys_epoll_ctl(ep, -1, efd, &ev), EINVAL);
	/* Registered: EINVAL (not EEXIST), and the item is untouched. */
	ADD(ep, efd, EPOLLIN, 5);
	ev.events = EPOLLOUT;
	ev.data.u64 = 6;
	ASSERT_ERRNO(sys_epoll_ctl(ep, 4, efd, &ev), EINVAL);
	write_u64(efd, 1);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_EQ(out[0].data.u64, 5);
}

TEST(err_ctl_unknown_op_with_exclusive)
{
	int ep = new_ep();
	int inner = new_ep();
	/* The EXCLUSIVE checks only concern ADD and MOD. */
	struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE |
	                                   EPOLLONESHOT};
	ASSERT_ERRNO(sys_epoll_ctl(ep, 99, inner, &ev), EINVAL);
	/* Unknown op and fd == epfd: EINVAL as well. */
	ASSERT_ERRNO(sys_epoll_ctl(ep, 99, ep, &ev), EINVAL);
}

TEST(err_ctl_err_hup_always_reported)
{
	int ep = new_ep();
	int p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	/* events = 0: ERR and HUP are still ORed in. */
	ADD(ep, p[1], 0, 11);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 0);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLERR);
	ASSERT_EQ(out[0].data.u64, 11);
}

TEST(err_ctl_hup_reported_without_in)
{
	int ep = new_ep();
	int p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	/* Read end watched for OUT only (never true for it). */
	ADD(ep, p[0], EPOLLOUT, 3);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 0);
	ASSERT_OK(sys_close(p[1]));
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLHUP);
	ASSERT_EQ(out[0].data.u64, 3);
}

TEST(err_ctl_mod_keeps_err_hup)
{
	int ep = new_ep();
	int p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ADD(ep, p[1], EPOLLOUT, 1);
	/* MOD to 0 ORs ERR|HUP in again. */
	MOD(ep, p[1], 0, 2);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 0);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLERR);
	ASSERT_EQ(out[0].data.u64, 2);
}

TEST(err_ctl_unknown_bits_accepted)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | (1u << 20) | (1u << 24), 1);
	MOD(ep, efd, EPOLLOUT | (1u << 21), 2);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLOUT);
}

/* ---- epoll_wait / epoll_pwait / epoll_pwait2 ---- */

TEST(err_wait_ebadf_first)
{
	struct epoll_event out[2];
	int bad = closed_fd();
	ASSERT_ERRNO(sys_epoll_wait(-1, out, opaque(0), 0), EBADF);
	ASSERT_ERRNO(sys_epoll_wait(-1, out, opaque(-1), 0), EBADF);
	ASSERT_ERRNO(sys_epoll_wait(bad, out, opaque(0), 0), EBADF);
	ASSERT_ERRNO(sys_epoll_wait(bad, out, 1, 0), EBADF);
	ASSERT_ERRNO(sys_epoll_wait(-1, NULL_EVS, opaque(INT_MAX), 0), EBADF);
	ASSERT_ERRNO(sys_epoll_wait(-1, BAD_PTR, 1, 0), EBADF);
	ASSERT_ERRNO(sys_epoll_pwait(-1, out, opaque(0), 0, NULL), EBADF);
	ASSERT_ERRNO(sys_epoll_pwait(bad, BAD_PTR, 1, 0, NULL), EBADF);
	struct timespec ts = {0, 0};
	ASSERT_ERRNO(sys_epoll_pwait2(-1, out, opaque(0), &ts, NULL), EBADF);
	ASSERT_ERRNO(sys_epoll_pwait2(bad, BAD_PTR, 1, &ts, NULL), EBADF);
	ASSERT_ERRNO(sys_epoll_pwait2(bad, out, 1, NULL, NULL), EBADF);
}

TEST(err_wait_maxevents_einval)
{
	int ep = new_ep();
	struct epoll_event out[2];
	ASSERT_ERRNO(sys_epoll_wait(ep, out, opaque(0), 0), EINVAL);
	ASSERT_ERRNO(sys_epoll_wait(ep, out, opaque(-1), 0), EINVAL);
	ASSERT_ERRNO(sys_epoll_wait(ep, out, opaque(INT_MIN), 0), EINVAL);
	ASSERT_ERRNO(sys_epoll_wait(ep, out, opaque(INT_MAX), 0), EINVAL);
	ASSERT_ERRNO(sys_epoll_wait(ep, out, opaque(EP_MAX_EVENTS + 1), 0),
	             EINVAL);
	ASSERT_ERRNO(sys_epoll_pwait(ep, out, opaque(0), 0, NULL), EINVAL);
	struct timespec ts = {0, 0};
	ASSERT_ERRNO(sys_epoll_pwait2(ep, out, opaque(0), &ts, NULL), EINVAL);
	ASSERT_ERRNO(
	        sys_epoll_pwait2(ep, out, opaque(EP_MAX_EVENTS + 1), &ts, NULL),
	        EINVAL);
	/* maxevents is checked before the buffer and the instance type. */
	ASSERT_ERRNO(sys_epoll_wait(ep, BAD_PTR, opaque(0), 0), EINVAL);
	int efd = new_efd(0, EFD_NONBLOCK);
	ASSERT_ERRNO(sys_epoll_wait(efd, out, opaque(0), 0), EINVAL);
}

TEST(err_wait_max_events_boundary_ok)
{
	/* EP_MAX_EVENTS itself is accepted; NULL passes the range check. */
	int ep = new_ep();
	ASSERT_EQ(sys_epoll_wait(ep, NULL_EVS, opaque(EP_MAX_EVENTS), 0), 0);
	static struct epoll_event big[4];
	ASSERT_EQ(sys_epoll_wait(ep, big, 4, 0), 0);
}

TEST(err_wait_efault_bad_buffer)
{
	int ep = new_ep();
	ASSERT_ERRNO(sys_epoll_wait(ep, BAD_PTR, 1, 0), EFAULT);
	ASSERT_ERRNO(sys_epoll_pwait(ep, BAD_PTR, 1, 0, NULL), EFAULT);
	struct timespec ts = {0, 0};
	ASSERT_ERRNO(sys_epoll_pwait2(ep, BAD_PTR, 1, &ts, NULL), EFAULT);
	/* EFAULT comes before the not-an-epoll check. */
	int efd = new_efd(0, EFD_NONBLOCK);
	ASSERT_ERRNO(sys_epoll_wait(efd, BAD_PTR, 1, 0), EFAULT);
}

TEST(err_wait_null_buffer_nothing_ready)
{
	/* access_ok() accepts NULL: with nothing ready, no copy, result 0. */
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	ASSERT_EQ(sys_epoll_wait(ep, NULL_EVS, 1, 0), 0);
	ASSERT_EQ(sys_epoll_pwait(ep, NULL_EVS, 4, 0, NULL), 0);
	struct timespec ts = {0, 0};
	ASSERT_EQ(sys_epoll_pwait2(ep, NULL_EVS, 1, &ts, NULL), 0);
}

TEST(err_wait_null_buffer_ready_efault_requeues)
{
	/* Something ready: the copy faults, EFAULT, and the event is kept. */
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLET, 21);
	write_u64(efd, 1);
	ASSERT_ERRNO(sys_epoll_wait(ep, NULL_EVS, 1, 0), EFAULT);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 1);
	ASSERT_EQ_HEX(out[0].events, EPOLLIN);
	ASSERT_EQ(out[0].data.u64, 21);
	/* ET: delivered once now. */
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 0), 0);
}

TEST(err_wait_not_epoll_einval)
{
	struct epoll_event out[2];
	int efd = new_efd(0, EFD_NONBLOCK);
	ASSERT_ERRNO(sys_epoll_wait(efd, out, 1, 0), EINVAL);
	ASSERT_ERRNO(sys_epoll_pwait(efd, out, 1, 0, NULL), EINVAL);
	struct timespec ts = {0, 0};
	ASSERT_ERRNO(sys_epoll_pwait2(efd, out, 1, &ts, NULL), EINVAL);
	int p[2];
	ASSERT_OK(sys_pipe(p));
	ASSERT_ERRNO(sys_epoll_wait(p[0], out, 1, 0), EINVAL);
	ASSERT_ERRNO(sys_epoll_wait(p[1], out, 1, -1), EINVAL);
}

TEST(err_pwait2_bad_timespec)
{
	int ep = new_ep();
	struct epoll_event out[2];
	struct timespec ts = {-1, 0};
	ASSERT_ERRNO(sys_epoll_pwait2(ep, out, 1, &ts, NULL), EINVAL);
	ts = (struct timespec){0, -1};
	ASSERT_ERRNO(sys_epoll_pwait2(ep, out, 1, &ts, NULL), EINVAL);
	ts = (struct timespec){0, 1000000000};
	ASSERT_ERRNO(sys_epoll_pwait2(ep, out, 1, &ts, NULL), EINVAL);
	ts = (struct timespec){1, 1000000000};
	ASSERT_ERRNO(sys_epoll_pwait2(ep, out, 1, &ts, NULL), EINVAL);
	ts = (struct timespec){-1, 999999999};
	ASSERT_ERRNO(sys_epoll_pwait2(ep, out, 1, &ts, NULL), EINVAL);
	/* The largest valid nanosecond value is fine. */
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLOUT, 1);
	ts = (struct timespec){0, 999999999};
	ASSERT_EQ(sys_epoll_pwait2(ep, out, 1, &ts, NULL), 1);
}

TEST(err_pwait2_timespec_checked_before_fd)
{
	/* The timespec is read and validated before the fd lookup. */
	struct epoll_event out[2];
	struct timespec ts = {-1, 0};
	int bad = closed_fd();
	ASSERT_ERRNO(sys_epoll_pwait2(-1, out, 1, &ts, NULL), EINVAL);
	ASSERT_ERRNO(sys_epoll_pwait2(bad, out, opaque(0), &ts, NULL), EINVAL);
	ts = (struct timespec){0, 1000000000};
	ASSERT_ERRNO(sys_epoll_pwait2(bad, BAD_PTR, opaque(-1), &ts, NULL),
	             EINVAL);
}

TEST(err_pwait2_timespec_efault_before_fd)
{
	struct epoll_event out[2];
	ASSERT_ERRNO(sys_epoll_pwait2(-1, out, 1,
	                              (const struct timespec *)(intptr_t)-4096,
	                              NULL),
	             EFAULT);
}

TEST(err_pwait2_zero_does_not_block)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct epoll_event out[2];
	struct timespec ts = {0, 0};
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_epoll_pwait2(ep, out, 2, &ts, NULL), 0);
	ASSERT_LT(now_ms() - t0, 2000);
}

TEST(err_pwait2_timeout_waits)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct epoll_event out[2];
	struct timespec ts = {0, 100 * 1000000};
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_epoll_pwait2(ep, out, 2, &ts, NULL), 0);
	int64_t dt = now_ms() - t0;
	ASSERT_GE(dt, 90);
	ASSERT_LT(dt, 2000);
}

struct delayed_write {
	int fd;
	int delay_ms;
};

static void *delayed_write_fn(void *arg)
{
	struct delayed_write *d = arg;
	sleep_ms(d->delay_ms);
	uint64_t v = 1;
	if (sys_write(d->fd, &v, sizeof(v)) != sizeof(v))
		abort();
	return NULL;
}

TEST(err_pwait2_null_waits_forever)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 77);
	struct delayed_write d = {efd, 100};
	pthread_t th;
	int64_t t0 = now_ms(); /* before the writer's sleep can start */
	ASSERT_EQ(pthread_create(&th, NULL, delayed_write_fn, &d), 0);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_pwait2(ep, out, 2, NULL, NULL), 1);
	ASSERT_GE(now_ms() - t0, 50);
	ASSERT_EQ(out[0].data.u64, 77);
	ASSERT_EQ(pthread_join(th, NULL), 0);
}

TEST(err_wait_timeout_negative_waits)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 78);
	struct delayed_write d = {efd, 100};
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, delayed_write_fn, &d), 0);
	struct epoll_event out[2];
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, -5), 1);
	ASSERT_EQ(out[0].data.u64, 78);
	ASSERT_EQ(pthread_join(th, NULL), 0);
}

TEST(err_wait_timeout_ms_waits)
{
	int ep = new_ep();
	struct epoll_event out[2];
	int64_t t0 = now_ms();
	ASSERT_EQ(sys_epoll_wait(ep, out, 2, 100), 0);
	int64_t dt = now_ms() - t0;
	ASSERT_GE(dt, 90);
	ASSERT_LT(dt, 2000);
	t0 = now_ms();
	ASSERT_EQ(sys_epoll_pwait(ep, out, 2, 100, NULL), 0);
	dt = now_ms() - t0;
	ASSERT_GE(dt, 90);
	ASSERT_LT(dt, 2000);
}
