/*
 * Lifetime of registrations: the key is (open file, fd number); close, dup,
 * dup2/dup3 and F_DUPFD behave exactly as on Linux.  A registration lives
 * until DEL, until its file's last reference is released, or until its epoll
 * instance is released.  Every expectation was checked on the kernel target.
 */
#include "sys.h"

#include <stdio.h>
#include <string.h>

#define EV_MAX 16

/*
 * epoll_wait(ep, .., EV_MAX, 0) must return exactly the data values want[]
 * in this order, each with mask `mask`.
 */
static void expect_(int line, int ep, uint32_t mask, const uint64_t *want,
                    int nwant)
{
	struct epoll_event ev[EV_MAX];
	memset(ev, 0, sizeof(ev));
	int n = sys_epoll_wait(ep, ev, EV_MAX, 0);
	if (n < 0)
		test_fail(__FILE__, line, "epoll_wait failed: errno %d (%s)",
		          errno, strerror(errno));
	char got[256] = "", exp[256] = "";
	size_t go = 0, eo = 0;
	for (int i = 0; i < n && go < sizeof(got); i++)
		go += (size_t)snprintf(got + go, sizeof(got) - go, " %llu/0x%x",
		                       (unsigned long long)ev[i].data.u64,
		                       ev[i].events);
	for (int i = 0; i < nwant && eo < sizeof(exp); i++)
		eo += (size_t)snprintf(exp + eo, sizeof(exp) - eo, " %llu/0x%x",
		                       (unsigned long long)want[i], mask);
	int ok = n == nwant;
	for (int i = 0; ok && i < n; i++)
		ok = ev[i].data.u64 == want[i] && ev[i].events == mask;
	if (!ok)
		test_fail(__FILE__, line,
		          "epoll_wait gave %d event(s) {%s }, expected {%s } "
		          "(data/mask)",
		          n, got, exp);
}
#define EXPECT_M(ep, mask, ...)                                                \
	do {                                                                   \
		const uint64_t w_[] = {__VA_ARGS__};                           \
		expect_(__LINE__, ep, mask, w_,                                \
		        (int)(sizeof(w_) / sizeof(w_[0])));                    \
	} while (0)
#define EXPECT(ep, ...) EXPECT_M(ep, EPOLLIN, __VA_ARGS__)
#define EXPECT_NONE(ep) expect_(__LINE__, ep, 0, NULL, 0)

static int ctl(int ep, int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event e = {.events = events, .data.u64 = data};
	return sys_epoll_ctl(ep, op, fd, &e);
}

#define DEL(ep, fd) ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL))

/* ---- the key is (file, fd number) ------------------------------------------
 */

TEST(life_del_through_dup_enoent)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 1);
	int d = sys_dup(p[0]);
	ASSERT_GE(d, 0);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL), ENOENT);
	write_byte(p[1]);
	EXPECT(ep, 1); /* still registered */
	DEL(ep, p[0]);
	EXPECT_NONE(ep);
}

TEST(life_mod_through_dup_enoent)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 1);
	int d = sys_dup(p[0]);
	ASSERT_GE(d, 0);
	ASSERT_ERRNO(ctl(ep, EPOLL_CTL_MOD, d, EPOLLIN, 2), ENOENT);
	write_byte(p[1]);
	EXPECT(ep, 1); /* data unchanged */
}

TEST(life_add_dup_two_registrations)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	int d = sys_dup(p[0]);
	ASSERT_GE(d, 0);
	ADD(ep, p[0], EPOLLIN, 1);
	ADD(ep, d, EPOLLIN, 2);
	ASSERT_ERRNO(ctl(ep, EPOLL_CTL_ADD, d, EPOLLIN, 3), EEXIST);
	EXPECT_NONE(ep);
	write_byte(p[1]);
	/*
	 * One wakeup of the file runs its wait-queue entries newest first
	 * (each registration hooks the queue at the head), so the later
	 * registration is queued, and reported, first.
	 */
	EXPECT(ep, 2, 1);
	EXPECT(ep, 2, 1);
	MOD(ep, d, EPOLLIN, 22);
	EXPECT(ep, 22, 1);
	DEL(ep, p[0]);
	EXPECT(ep, 22);
}

TEST(life_add_dup_independent_modes)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	int d = sys_dup(p[0]);
	ASSERT_GE(d, 0);
	ADD(ep, p[0], EPOLLIN | EPOLLET, 1);
	ADD(ep, d, EPOLLIN | EPOLLONESHOT, 2);
	write_byte(p[1]);
	EXPECT(ep, 2, 1); /* newest registration woken first */
	EXPECT_NONE(ep);
	write_byte(p[1]);
	EXPECT(ep, 1); /* ET fires again, ONESHOT stays disabled */
	MOD(ep, d, EPOLLIN, 3);
	EXPECT(ep, 3);
	EXPECT(ep, 3);
}

/* ---- closing a registered fd number ----------------------------------------
 */

TEST(life_close_registered_fd_dup_alive_events_continue)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 7);
	int d = sys_dup(p[0]);
	ASSERT_GE(d, 0);
	ASSERT_OK(sys_close(p[0]));
	EXPECT_NONE(ep);
	write_byte(p[1]);
	EXPECT(ep, 7); /* old data: the registration is still there */
	EXPECT(ep, 7);
	char c;
	ASSERT_EQ(sys_read(d, &c, 1), 1);
	EXPECT_NONE(ep);
	write_byte(p[1]);
	EXPECT(ep, 7);
}

TEST(life_closed_number_del_mod_ebadf)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 7);
	int d = sys_dup(p[0]);
	ASSERT_GE(d, 0);
	int closed = p[0];
	ASSERT_OK(sys_close(closed));
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, closed, NULL), EBADF);
	ASSERT_ERRNO(ctl(ep, EPOLL_CTL_MOD, closed, EPOLLIN, 8), EBADF);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL), ENOENT);
	write_byte(p[1]);
	EXPECT(ep, 7);
}

TEST(life_dup2_same_file_onto_closed_number_eexist)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 7);
	int d = sys_dup(p[0]);
	ASSERT_GE(d, 0);
	int num = p[0];
	ASSERT_OK(sys_close(num));
	/* the same file back under the same number: the old key again */
	ASSERT_EQ(sys_dup2(d, num), num);
	ASSERT_ERRNO(ctl(ep, EPOLL_CTL_ADD, num, EPOLLIN, 9), EEXIST);
	MOD(ep, num, EPOLLIN, 10);
	write_byte(p[1]);
	EXPECT(ep, 10);
	DEL(ep, num);
	EXPECT_NONE(ep);
}

TEST(life_close_last_ref_removes_registration)
{
	int ep = new_ep(), p[2], q[2];
	new_pipe(p, O_NONBLOCK);
	new_pipe(q, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 1);
	int num = p[0];
	ASSERT_OK(sys_close(num)); /* the read end's only reference */
	EXPECT_NONE(ep);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, num, NULL), EBADF);
	/* reuse the number for another pipe: a fresh ADD works */
	ASSERT_EQ(sys_dup2(q[0], num), num);
	ADD(ep, num, EPOLLIN, 2);
	write_byte(q[1]);
	EXPECT(ep, 2);
	DEL(ep, num);
	EXPECT_NONE(ep);
}

TEST(life_close_ready_item_leaves_ready_list)
{
	int ep = new_ep(), p[2], q[2];
	new_pipe(p, O_NONBLOCK);
	new_pipe(q, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 1);
	ADD(ep, q[0], EPOLLIN, 2);
	write_byte(p[1]);
	write_byte(q[1]);
	ASSERT_OK(sys_close(p[0])); /* queued, then its file goes away */
	EXPECT(ep, 2);
	EXPECT(ep, 2);
}

TEST(life_close_dup_keeps_registration)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 5);
	int d = sys_dup(p[0]);
	ASSERT_GE(d, 0);
	ASSERT_OK(sys_close(d));
	write_byte(p[1]);
	EXPECT(ep, 5);
	DEL(ep, p[0]);
	EXPECT_NONE(ep);
}

TEST(life_two_regs_close_one_number_both_stay)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	int d = sys_dup(p[0]);
	ASSERT_GE(d, 0);
	ADD(ep, p[0], EPOLLIN, 1);
	ADD(ep, d, EPOLLIN, 2);
	ASSERT_OK(sys_close(d)); /* file still open through p[0] */
	write_byte(p[1]);
	EXPECT(ep, 2, 1); /* newest registration woken first */
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL), EBADF);
	ASSERT_OK(sys_close(p[0])); /* last reference: both go */
	EXPECT_NONE(ep);
}

TEST(life_close_write_end_registration_removed)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[1], EPOLLOUT, 1);
	ADD(ep, p[0], EPOLLIN, 2);
	EXPECT_M(ep, EPOLLOUT, 1);
	ASSERT_OK(sys_close(p[1]));
	/* the write-end item is gone; the read end sees HUP */
	EXPECT_M(ep, EPOLLHUP, 2);
}

/* ---- dup2 / dup3 / F_DUPFD over registered numbers --------------------------
 */

TEST(life_dup2_over_registered_last_ref)
{
	int ep = new_ep(), p[2], q[2];
	new_pipe(p, O_NONBLOCK);
	new_pipe(q, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 1);
	write_byte(p[1]); /* queued */
	write_byte(q[1]);
	int num = p[0];
	ASSERT_EQ(sys_dup2(q[0], num), num); /* closes p's read end */
	EXPECT_NONE(ep); /* the old item went with its file */
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, num, NULL), ENOENT);
	ADD(ep, num, EPOLLIN, 2);
	EXPECT(ep, 2);
}

TEST(life_dup2_over_registered_old_file_alive)
{
	int ep = new_ep(), p[2], q[2];
	new_pipe(p, O_NONBLOCK);
	new_pipe(q, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 1);
	int keep = sys_dup(p[0]);
	ASSERT_GE(keep, 0);
	int num = p[0];
	ASSERT_EQ(sys_dup2(q[0], num), num);
	write_byte(p[1]);
	EXPECT(ep, 1); /* follows the old file, old data */
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, num, NULL), ENOENT);
	ADD(ep, num, EPOLLIN, 2); /* same number, other file: new key */
	write_byte(q[1]);
	EXPECT(ep, 1, 2);
	ASSERT_OK(sys_close(keep)); /* p's read end released */
	EXPECT(ep, 2);
	DEL(ep, num);
	EXPECT_NONE(ep);
}

TEST(life_dup3_over_registered_last_ref)
{
	int ep = new_ep();
	int a = new_efd(1, EFD_NONBLOCK), b = new_efd(1, EFD_NONBLOCK);
	ADD(ep, a, EPOLLIN, 1);
	ADD(ep, b, EPOLLIN, 2);
	EXPECT(ep, 1, 2);
	ASSERT_EQ(sys_dup3(b, a, O_CLOEXEC), a); /* a's eventfd released */
	EXPECT(ep, 2);
	ADD(ep, a, EPOLLIN, 3); /* b's file under a's number */
	EXPECT(ep, 2, 3);
	ASSERT_ERRNO(ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN, 4), EEXIST);
}

TEST(life_dup2_onto_itself_keeps_registration)
{
	int ep = new_ep();
	int a = new_efd(1, EFD_NONBLOCK);
	ADD(ep, a, EPOLLIN, 1);
	ASSERT_EQ(sys_dup2(a, a), a);
	EXPECT(ep, 1);
	ASSERT_ERRNO(ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN, 2), EEXIST);
}

TEST(life_dup2_to_high_number_is_new_key)
{
	int ep = new_ep();
	int a = new_efd(1, EFD_NONBLOCK);
	ADD(ep, a, EPOLLIN, 1);
	int hi = SYS_FD_HIGH;
	ASSERT_EQ(sys_dup2(a, hi), hi);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, hi, NULL), ENOENT);
	ADD(ep, hi, EPOLLIN, 2);
	EXPECT(ep, 1, 2);
	ASSERT_OK(sys_close(a));
	EXPECT(ep, 1, 2);
	ASSERT_OK(sys_close(hi));
	EXPECT_NONE(ep);
}

TEST(life_fcntl_dupfd_is_a_dup)
{
	int ep = new_ep();
	int a = new_efd(1, EFD_NONBLOCK);
	ADD(ep, a, EPOLLIN, 1);
	int d = sys_fcntl(a, F_DUPFD_CLOEXEC, 0);
	ASSERT_GE(d, 0);
	ASSERT_NE(d, a);
	ASSERT_ERRNO(ctl(ep, EPOLL_CTL_MOD, d, EPOLLIN, 5), ENOENT);
	ADD(ep, d, EPOLLIN, 2);
	ASSERT_OK(sys_close(a));
	EXPECT(ep, 1, 2);
	ASSERT_OK(sys_close(d));
	EXPECT_NONE(ep);
}

/* ---- epoll instances: dup, close, several instances -------------------------
 */

TEST(life_epoll_dup_keeps_instance)
{
	int ep = new_ep();
	int a = new_efd(1, EFD_NONBLOCK), b = new_efd(0, EFD_NONBLOCK);
	ADD(ep, a, EPOLLIN, 1);
	int ep2 = sys_dup(ep);
	ASSERT_GE(ep2, 0);
	ASSERT_OK(sys_close(ep));
	EXPECT(ep2, 1);
	ADD(ep2, b, EPOLLIN, 2);
	ASSERT_ERRNO(ctl(ep2, EPOLL_CTL_ADD, a, EPOLLIN, 3), EEXIST);
	write_u64(b, 1);
	EXPECT(ep2, 1, 2);
	struct epoll_event ev[1];
	ASSERT_ERRNO(sys_epoll_wait(ep, ev, 1, 0), EBADF);
}

TEST(life_epoll_dup_is_same_instance)
{
	int ep = new_ep();
	int a = new_efd(1, EFD_NONBLOCK);
	int ep2 = sys_dup(ep);
	ASSERT_GE(ep2, 0);
	ADD(ep, a, EPOLLIN, 1);
	ASSERT_ERRNO(ctl(ep2, EPOLL_CTL_ADD, a, EPOLLIN, 2), EEXIST);
	EXPECT(ep2, 1);
	MOD(ep2, a, EPOLLIN, 3);
	EXPECT(ep, 3);
	DEL(ep2, a);
	EXPECT_NONE(ep);
	EXPECT_NONE(ep2);
}

TEST(life_epoll_dup_add_into_itself_einval)
{
	int ep = new_ep();
	int ep2 = sys_dup(ep);
	ASSERT_GE(ep2, 0);
	ASSERT_ERRNO(ctl(ep, EPOLL_CTL_ADD, ep2, EPOLLIN, 1), EINVAL);
	ASSERT_ERRNO(ctl(ep2, EPOLL_CTL_ADD, ep, EPOLLIN, 1), EINVAL);
	ASSERT_ERRNO(ctl(ep, EPOLL_CTL_ADD, ep, EPOLLIN, 1), EINVAL);
}

TEST(life_close_epoll_other_instance_unaffected)
{
	int ep1 = new_ep(), ep2 = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep1, p[0], EPOLLIN, 1);
	ADD(ep2, p[0], EPOLLIN, 2);
	write_byte(p[1]);
	EXPECT(ep1, 1);
	ASSERT_OK(sys_close(ep1));
	EXPECT(ep2, 2);
	char c;
	ASSERT_EQ(sys_read(p[0], &c, 1), 1);
	EXPECT_NONE(ep2);
	write_byte(p[1]);
	EXPECT(ep2, 2);
	DEL(ep2, p[0]);
	ADD(ep2, p[0], EPOLLIN, 3);
	EXPECT(ep2, 3);
}

TEST(life_close_epoll_then_new_instance_same_pipe)
{
	int p[2];
	new_pipe(p, O_NONBLOCK);
	int ep1 = new_ep();
	ADD(ep1, p[0], EPOLLIN | EPOLLET, 1);
	write_byte(p[1]);
	ASSERT_OK(sys_close(ep1)); /* with a queued item */
	int ep2 = new_ep();
	ADD(ep2, p[0], EPOLLIN | EPOLLET, 2);
	EXPECT(ep2, 2);
	EXPECT_NONE(ep2);
	write_byte(p[1]);
	EXPECT(ep2, 2);
}

TEST(life_eventfd_in_two_instances)
{
	int ep1 = new_ep(), ep2 = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep1, efd, EPOLLIN, 1);
	ADD(ep2, efd, EPOLLIN | EPOLLET, 2);
	EXPECT_NONE(ep1);
	EXPECT_NONE(ep2);
	write_u64(efd, 1);
	EXPECT(ep1, 1);
	EXPECT(ep2, 2);
	EXPECT(ep1, 1);
	EXPECT_NONE(ep2);
	ASSERT_EQ(read_u64(efd), 1);
	EXPECT_NONE(ep1);
	EXPECT_NONE(ep2);
	write_u64(efd, 1);
	EXPECT(ep2, 2);
	EXPECT(ep1, 1);
}

TEST(life_close_fd_watched_by_three_instances)
{
	int ep[3];
	int efd = new_efd(1, EFD_NONBLOCK);
	for (int i = 0; i < 3; i++) {
		ep[i] = new_ep();
		ADD(ep[i], efd, EPOLLIN, (uint64_t)(10 + i));
	}
	EXPECT(ep[0], 10);
	EXPECT(ep[1], 11);
	EXPECT(ep[2], 12);
	ASSERT_OK(sys_close(efd));
	for (int i = 0; i < 3; i++)
		EXPECT_NONE(ep[i]);
}

TEST(life_readd_after_del)
{
	int ep = new_ep();
	int efd = new_efd(1, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	EXPECT(ep, 1);
	DEL(ep, efd);
	EXPECT_NONE(ep);
	ASSERT_ERRNO(sys_epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL), ENOENT);
	ASSERT_ERRNO(ctl(ep, EPOLL_CTL_MOD, efd, EPOLLIN, 2), ENOENT);
	ADD(ep, efd, EPOLLIN | EPOLLET, 3);
	EXPECT(ep, 3);
	EXPECT_NONE(ep);
	ASSERT_ERRNO(ctl(ep, EPOLL_CTL_ADD, efd, EPOLLIN, 4), EEXIST);
	DEL(ep, efd);
	ADD(ep, efd, EPOLLIN, 5);
	EXPECT(ep, 5);
	EXPECT(ep, 5);
}

/* ---- a nested epoll fd as the watched file
 * ------------------------------------ */

TEST(life_nested_inner_closed_removes_registration)
{
	int outer = new_ep(), inner = new_ep();
	int efd = new_efd(1, EFD_NONBLOCK);
	ADD(inner, efd, EPOLLIN, 1);
	ADD(outer, inner, EPOLLIN, 100);
	EXPECT(outer, 100);
	ASSERT_OK(sys_close(inner));
	EXPECT_NONE(outer);
	write_u64(efd, 1);
	EXPECT_NONE(outer);
}

TEST(life_nested_inner_dup_keeps_registration)
{
	int outer = new_ep(), inner = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(inner, efd, EPOLLIN, 1);
	ADD(outer, inner, EPOLLIN, 100);
	int d = sys_dup(inner);
	ASSERT_GE(d, 0);
	int num = inner;
	ASSERT_OK(sys_close(num));
	EXPECT_NONE(outer);
	write_u64(efd, 1);
	EXPECT(outer, 100); /* old data, through the closed number's item */
	EXPECT(d, 1);
	ASSERT_ERRNO(sys_epoll_ctl(outer, EPOLL_CTL_DEL, num, NULL), EBADF);
	ASSERT_ERRNO(sys_epoll_ctl(outer, EPOLL_CTL_DEL, d, NULL), ENOENT);
	ASSERT_OK(sys_close(d));
	EXPECT_NONE(outer);
}

TEST(life_nested_outer_closed_inner_still_works)
{
	int outer = new_ep(), inner = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(inner, efd, EPOLLIN, 1);
	ADD(outer, inner, EPOLLIN, 100);
	write_u64(efd, 1);
	ASSERT_OK(sys_close(outer));
	EXPECT(inner, 1);
	int outer2 = new_ep();
	ADD(outer2, inner, EPOLLIN | EPOLLET, 200);
	EXPECT(outer2, 200);
	EXPECT_NONE(outer2);
	write_u64(efd, 1);
	EXPECT(outer2, 200);
}

TEST(life_nested_watched_file_closed_under_inner)
{
	int outer = new_ep(), inner = new_ep();
	int efd = new_efd(1, EFD_NONBLOCK);
	ADD(inner, efd, EPOLLIN, 1);
	ADD(outer, inner, EPOLLIN, 100);
	EXPECT(outer, 100);
	ASSERT_OK(sys_close(efd)); /* the inner's only item goes away */
	EXPECT_NONE(outer);
	EXPECT_NONE(inner);
}
