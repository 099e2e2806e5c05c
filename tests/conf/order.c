/*
 * Ready-list order: what a harvest returns, in which order, and how the
 * level-triggered re-queue makes successive waits round-robin.  Every
 * sequence here was observed on the kernel target.
 */
#include "sys.h"

#include <stdio.h>
#include <string.h>

#define EV_MAX 64

/* Format the data values of evs[0..n) into buf. */
static const char *fmt_seq(char *buf, size_t len, const uint64_t *d, int n)
{
	size_t off = 0;
	buf[0] = 0;
	off += (size_t)snprintf(buf + off, len - off, "{");
	for (int i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%llu",
		                        i ? " " : "", (unsigned long long)d[i]);
	if (off < len)
		snprintf(buf + off, len - off, "}");
	return buf;
}

/*
 * epoll_wait(ep, .., max, 0) must return exactly the data sequence want[]
 * (all with mask `mask`).
 */
static void expect_seq_(int line, int ep, int max, uint32_t mask,
                        const uint64_t *want, int nwant)
{
	struct epoll_event ev[EV_MAX];
	uint64_t got[EV_MAX];
	char a[512], b[512];
	memset(ev, 0, sizeof(ev));
	if (max > EV_MAX)
		test_fail(__FILE__, line, "max %d too large", max);
	int n = sys_epoll_wait(ep, ev, max, 0);
	if (n < 0)
		test_fail(__FILE__, line, "epoll_wait failed: errno %d", errno);
	for (int i = 0; i < n; i++)
		got[i] = ev[i].data.u64;
	int ok = n == nwant;
	for (int i = 0; ok && i < n; i++)
		ok = got[i] == want[i];
	if (!ok)
		test_fail(__FILE__, line,
		          "epoll_wait(max %d) gave %s, expected %s", max,
		          fmt_seq(a, sizeof(a), got, n),
		          fmt_seq(b, sizeof(b), want, nwant));
	for (int i = 0; i < n; i++)
		if (ev[i].events != mask)
			test_fail(
			        __FILE__, line,
			        "event %d (data %llu) mask 0x%x, expected 0x%x",
			        i, (unsigned long long)got[i], ev[i].events,
			        mask);
}
#define EXPECT_SEQ_M(ep, max, mask, ...)                                       \
	do {                                                                   \
		const uint64_t w_[] = {__VA_ARGS__};                           \
		expect_seq_(__LINE__, ep, max, mask, w_,                       \
		            (int)(sizeof(w_) / sizeof(w_[0])));                \
	} while (0)
#define EXPECT_SEQ(ep, max, ...) EXPECT_SEQ_M(ep, max, EPOLLIN, __VA_ARGS__)
#define EXPECT_EMPTY(ep) expect_seq_(__LINE__, ep, EV_MAX, EPOLLIN, NULL, 0)

enum { A = 1, B = 2, C = 3, D = 4 };

struct pipes {
	int r[5], w[5];
};

/* n pipes; pipe i (1-based) is registered with data i and flags[i-1]. */
static void setup(int ep, struct pipes *p, int n, const uint32_t *flags)
{
	for (int i = 1; i <= n; i++) {
		int fds[2];
		ASSERT_OK(sys_pipe2(fds, O_NONBLOCK));
		p->r[i] = fds[0];
		p->w[i] = fds[1];
		ADD(ep, fds[0], EPOLLIN | (flags ? flags[i - 1] : 0),
		    (uint64_t)i);
	}
}

/* Three LT pipes A, B, C registered and made readable in that order. */
static int setup_abc(struct pipes *p)
{
	int ep = new_ep();
	setup(ep, p, 3, NULL);
	write_byte(p->w[A]);
	write_byte(p->w[B]);
	write_byte(p->w[C]);
	return ep;
}

static void drain(int fd)
{
	char buf[256];
	while (sys_read(fd, buf, sizeof(buf)) > 0)
		;
	ASSERT_EQ(errno, EAGAIN);
}

TEST(order_rr_maxevents_1)
{
	struct pipes p;
	int ep = setup_abc(&p);
	EXPECT_SEQ(ep, 1, A);
	EXPECT_SEQ(ep, 1, B);
	EXPECT_SEQ(ep, 1, C);
	EXPECT_SEQ(ep, 1, A);
	EXPECT_SEQ(ep, 1, B);
}

TEST(order_rr_maxevents_2)
{
	struct pipes p;
	int ep = setup_abc(&p);
	EXPECT_SEQ(ep, 2, A, B);
	EXPECT_SEQ(ep, 2, C, A);
	EXPECT_SEQ(ep, 2, B, C);
	EXPECT_SEQ(ep, 2, A, B);
}

TEST(order_rr_maxevents_3)
{
	struct pipes p;
	int ep = setup_abc(&p);
	for (int i = 0; i < 4; i++)
		EXPECT_SEQ(ep, 3, A, B, C);
	EXPECT_SEQ(ep, 64, A, B, C);
}

TEST(order_mixed_maxevents)
{
	struct pipes p;
	int ep = setup_abc(&p);
	EXPECT_SEQ(ep, 2, A, B); /* list: C A B */
	EXPECT_SEQ(ep, 1, C);    /* list: A B C */
	EXPECT_SEQ(ep, 3, A, B, C);
	EXPECT_SEQ(ep, 1, A); /* list: B C A */
	EXPECT_SEQ(ep, 2, B, C);
	EXPECT_SEQ(ep, 3, A, B, C);
}

TEST(order_made_ready_in_reverse)
{
	struct pipes p;
	int ep = new_ep();
	setup(ep, &p, 3, NULL);
	write_byte(p.w[C]);
	write_byte(p.w[B]);
	write_byte(p.w[A]);
	EXPECT_SEQ(ep, 1, C);
	EXPECT_SEQ(ep, 1, B);
	EXPECT_SEQ(ep, 1, A);
	EXPECT_SEQ(ep, 3, C, B, A);
}

TEST(order_ready_at_add_follows_add_order)
{
	int ep = new_ep();
	int fds[4][2];
	for (int i = 1; i <= 3; i++) {
		ASSERT_OK(sys_pipe2(fds[i], O_NONBLOCK));
		write_byte(fds[i][1]);
	}
	ADD(ep, fds[B][0], EPOLLIN, B);
	ADD(ep, fds[C][0], EPOLLIN, C);
	ADD(ep, fds[A][0], EPOLLIN, A);
	EXPECT_SEQ(ep, 3, B, C, A);
	EXPECT_SEQ(ep, 2, B, C);
	EXPECT_SEQ(ep, 2, A, B);
}

TEST(order_et_items_mixed_in)
{
	struct pipes p;
	const uint32_t fl[3] = {0, EPOLLET, 0};
	int ep = new_ep();
	setup(ep, &p, 3, fl);
	write_byte(p.w[A]);
	write_byte(p.w[B]);
	write_byte(p.w[C]);
	EXPECT_SEQ(ep, 2, A, B); /* B is ET: not re-queued; list C A */
	EXPECT_SEQ(ep, 2, C, A);
	EXPECT_SEQ(ep, 2, C, A);
	write_byte(p.w[B]); /* B wakes: appended at the tail */
	EXPECT_SEQ(ep, 1, C);
	EXPECT_SEQ(ep, 3, A, B, C);
	EXPECT_SEQ(ep, 3, A, C);
}

TEST(order_et_rewake_goes_to_tail)
{
	struct pipes p;
	const uint32_t fl[3] = {EPOLLET, EPOLLET, EPOLLET};
	int ep = new_ep();
	setup(ep, &p, 3, fl);
	write_byte(p.w[A]);
	write_byte(p.w[B]);
	write_byte(p.w[C]);
	EXPECT_SEQ(ep, 1, A);
	write_byte(p.w[A]);
	EXPECT_SEQ(ep, 3, B, C, A);
	EXPECT_EMPTY(ep);
	write_byte(p.w[C]);
	write_byte(p.w[A]);
	write_byte(p.w[C]); /* already queued: keeps its place */
	EXPECT_SEQ(ep, 3, C, A);
	EXPECT_EMPTY(ep);
}

TEST(order_not_ready_item_dropped_at_harvest)
{
	struct pipes p;
	int ep = setup_abc(&p);
	EXPECT_SEQ(ep, 1, A); /* list: B C A */
	drain(p.r[B]);
	EXPECT_SEQ(ep, 3, C, A);
	EXPECT_SEQ(ep, 3, C, A);
	write_byte(p.w[B]); /* re-added at the tail */
	EXPECT_SEQ(ep, 3, C, A, B);
	drain(p.r[A]);
	drain(p.r[C]);
	EXPECT_SEQ(ep, 1, B);
	EXPECT_SEQ(ep, 3, B);
}

TEST(order_not_ready_dropped_does_not_count_toward_max)
{
	struct pipes p;
	int ep = setup_abc(&p);
	drain(p.r[A]);
	EXPECT_SEQ(ep, 1, B); /* A dropped, B taken: list C B */
	EXPECT_SEQ(ep, 1, C);
	EXPECT_SEQ(ep, 1, B);
	drain(p.r[B]);
	drain(p.r[C]);
	EXPECT_EMPTY(ep);
}

TEST(order_new_ready_between_waits)
{
	struct pipes p;
	int ep = new_ep();
	setup(ep, &p, 3, NULL);
	write_byte(p.w[A]);
	write_byte(p.w[B]);
	EXPECT_SEQ(ep, 1, A); /* list: B A */
	write_byte(p.w[C]);   /* list: B A C */
	EXPECT_SEQ(ep, 3, B, A, C);
	EXPECT_SEQ(ep, 2, B, A);
	EXPECT_SEQ(ep, 2, C, B);
}

TEST(order_ten_eventfds_maxevents_3)
{
	int ep = new_ep();
	int efd[10];
	for (int i = 0; i < 10; i++) {
		efd[i] = new_efd(0, EFD_NONBLOCK);
		ADD(ep, efd[i], EPOLLIN, (uint64_t)(100 + i));
	}
	for (int i = 0; i < 10; i++)
		write_u64(efd[i], 1);
	/* plain round robin over 0..9, three at a time */
	int next = 0;
	for (int round = 0; round < 12; round++) {
		uint64_t w[3];
		for (int k = 0; k < 3; k++)
			w[k] = 100 + (uint64_t)((next + k) % 10);
		expect_seq_(__LINE__, ep, 3, EPOLLIN, w, 3);
		next = (next + 3) % 10;
	}
	EXPECT_SEQ(ep, 10, 106, 107, 108, 109, 100, 101, 102, 103, 104, 105);
}

TEST(order_ten_eventfds_half_drained)
{
	int ep = new_ep();
	int efd[10];
	for (int i = 0; i < 10; i++) {
		efd[i] = new_efd(0, EFD_NONBLOCK);
		ADD(ep, efd[i], EPOLLIN, (uint64_t)(100 + i));
		write_u64(efd[i], 1);
	}
	EXPECT_SEQ(ep, 4, 100, 101, 102, 103); /* 4..9 0..3 */
	for (int i = 0; i < 10; i += 2)
		ASSERT_EQ(read_u64(efd[i]), 1);
	EXPECT_SEQ(ep, 3, 105, 107, 109); /* 4, 6, 8 dropped */
	EXPECT_SEQ(ep, 3, 101, 103, 105);
	write_u64(efd[0], 1);
	EXPECT_SEQ(ep, 10, 107, 109, 101, 103, 105, 100);
}

TEST(order_del_ready_item_removed)
{
	struct pipes p;
	int ep = setup_abc(&p);
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, p.r[B], NULL));
	EXPECT_SEQ(ep, 3, A, C);
	EXPECT_SEQ(ep, 1, A);
	EXPECT_SEQ(ep, 1, C);
	write_byte(p.w[B]);
	EXPECT_SEQ(ep, 3, A, C);
}

TEST(order_del_then_readd_goes_to_tail)
{
	struct pipes p;
	int ep = setup_abc(&p);
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, p.r[A], NULL));
	ADD(ep, p.r[A], EPOLLIN, A);
	EXPECT_SEQ(ep, 3, B, C, A);
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, p.r[C], NULL));
	ADD(ep, p.r[C], EPOLLIN, 33);
	EXPECT_SEQ(ep, 3, B, A, 33);
}

TEST(order_mod_queued_item_keeps_place)
{
	struct pipes p;
	int ep = setup_abc(&p);
	MOD(ep, p.r[A], EPOLLIN, 11);
	MOD(ep, p.r[B], EPOLLIN, 22);
	EXPECT_SEQ(ep, 3, 11, 22, C);
	EXPECT_SEQ(ep, 1, 11);
	MOD(ep, p.r[A], EPOLLIN, 111); /* A: at the tail */
	EXPECT_SEQ(ep, 3, 22, C, 111);
}

TEST(order_mod_to_zero_then_back)
{
	struct pipes p;
	int ep = setup_abc(&p);
	MOD(ep, p.r[B], 0, B); /* stays linked, dropped at harvest */
	EXPECT_SEQ(ep, 3, A, C);
	MOD(ep, p.r[B], EPOLLIN, B); /* ready again: appended */
	EXPECT_SEQ(ep, 3, A, C, B);
	EXPECT_SEQ(ep, 2, A, C);
}

TEST(order_mod_zero_while_queued_then_back_before_harvest)
{
	struct pipes p;
	int ep = setup_abc(&p);
	MOD(ep, p.r[A], 0, A);
	MOD(ep, p.r[A], EPOLLIN, A); /* still linked: keeps its place */
	EXPECT_SEQ(ep, 3, A, B, C);
}

TEST(order_oneshot_rearm_goes_to_tail)
{
	struct pipes p;
	const uint32_t fl[3] = {EPOLLONESHOT, 0, 0};
	int ep = new_ep();
	setup(ep, &p, 3, fl);
	write_byte(p.w[A]);
	write_byte(p.w[B]);
	write_byte(p.w[C]);
	EXPECT_SEQ(ep, 3, A, B, C);
	EXPECT_SEQ(ep, 3, B, C);
	MOD(ep, p.r[A], EPOLLIN | EPOLLONESHOT, A);
	EXPECT_SEQ(ep, 3, B, C, A);
	EXPECT_SEQ(ep, 3, B, C);
}

TEST(order_queued_twice_reported_once)
{
	struct pipes p;
	const uint32_t fl[2] = {0, EPOLLET};
	int ep = new_ep();
	setup(ep, &p, 2, fl);
	write_byte(p.w[A]);
	write_byte(p.w[B]);
	write_byte(p.w[A]);
	write_byte(p.w[B]);
	EXPECT_SEQ(ep, 8, A, B);
	EXPECT_SEQ(ep, 8, A);
	write_byte(p.w[A]);
	write_byte(p.w[A]);
	EXPECT_SEQ(ep, 8, A);
}

TEST(order_eventfd_written_twice_reported_once)
{
	int ep = new_ep();
	int e1 = sys_eventfd(0, EFD_NONBLOCK);
	int e2 = sys_eventfd(0, EFD_NONBLOCK);
	ASSERT_GE(e1, 0);
	ASSERT_GE(e2, 0);
	ADD(ep, e1, EPOLLIN | EPOLLET, 1);
	ADD(ep, e2, EPOLLIN | EPOLLET, 2);
	write_u64(e2, 1);
	write_u64(e1, 1);
	write_u64(e2, 1);
	write_u64(e1, 1);
	EXPECT_SEQ(ep, 8, 2, 1);
	EXPECT_EMPTY(ep);
}

TEST(order_four_pipes_maxevents_2)
{
	struct pipes p;
	int ep = new_ep();
	setup(ep, &p, 4, NULL);
	for (int i = 1; i <= 4; i++)
		write_byte(p.w[i]);
	EXPECT_SEQ(ep, 2, A, B);
	EXPECT_SEQ(ep, 2, C, D);
	EXPECT_SEQ(ep, 2, A, B);
	EXPECT_SEQ(ep, 3, C, D, A);
	EXPECT_SEQ(ep, 3, B, C, D);
}

TEST(order_hup_item_keeps_round_robin)
{
	struct pipes p;
	int ep = setup_abc(&p);
	EXPECT_SEQ(ep, 1, A); /* list: B C A */
	ASSERT_OK(sys_close(p.w[C]));
	/* C was queued already: it keeps its place, now IN|HUP */
	struct epoll_event ev[4];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 4, 0), 3);
	ASSERT_EQ(ev[0].data.u64, B);
	ASSERT_EQ_HEX(ev[0].events, EPOLLIN);
	ASSERT_EQ(ev[1].data.u64, C);
	ASSERT_EQ_HEX(ev[1].events, EPOLLIN | EPOLLHUP);
	ASSERT_EQ(ev[2].data.u64, A);
	ASSERT_EQ_HEX(ev[2].events, EPOLLIN);
}

TEST(order_nested_child_order_kept)
{
	struct pipes p;
	int inner = setup_abc(&p);
	int outer = new_ep();
	ADD(outer, inner, EPOLLIN, 100);
	/* polling the child from the parent does not reorder its list */
	EXPECT_SEQ(outer, 4, 100);
	EXPECT_SEQ(outer, 4, 100);
	EXPECT_SEQ(inner, 1, A);
	EXPECT_SEQ(outer, 4, 100);
	EXPECT_SEQ(inner, 3, B, C, A);
}

TEST(order_same_file_registrations_woken_newest_first)
{
	int ep = new_ep(), p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	int d1 = sys_dup(p[0]), d2 = sys_dup(p[0]);
	ASSERT_GE(d1, 0);
	ASSERT_GE(d2, 0);
	ADD(ep, p[0], EPOLLIN, 1);
	ADD(ep, d1, EPOLLIN, 2);
	ADD(ep, d2, EPOLLIN, 3);
	/* each registration hooks the file's wait queue at the head */
	write_byte(p[1]);
	EXPECT_SEQ(ep, 8, 3, 2, 1);
	EXPECT_SEQ(ep, 1, 3);
	EXPECT_SEQ(ep, 8, 2, 1, 3);
	/* re-added: now the newest */
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	ADD(ep, p[0], EPOLLIN, 4);
	drain(p[0]);
	EXPECT_EMPTY(ep);
	write_byte(p[1]);
	EXPECT_SEQ(ep, 8, 4, 3, 2);
}

TEST(order_same_file_ready_at_add_follows_add_order)
{
	int ep = new_ep(), p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	write_byte(p[1]);
	int d1 = sys_dup(p[0]), d2 = sys_dup(p[0]);
	ASSERT_GE(d1, 0);
	ASSERT_GE(d2, 0);
	ADD(ep, p[0], EPOLLIN, 1);
	ADD(ep, d1, EPOLLIN, 2);
	ADD(ep, d2, EPOLLIN, 3);
	EXPECT_SEQ(ep, 8, 1, 2, 3);
	drain(p[0]);
	EXPECT_EMPTY(ep);
	write_byte(p[1]);
	EXPECT_SEQ(ep, 8, 3, 2, 1);
}

TEST(order_same_eventfd_et_items_newest_first)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	int d = sys_dup(efd);
	ASSERT_GE(d, 0);
	ADD(ep, efd, EPOLLIN | EPOLLET, 1);
	ADD(ep, d, EPOLLIN | EPOLLET, 2);
	write_u64(efd, 1);
	EXPECT_SEQ(ep, 8, 2, 1);
	EXPECT_EMPTY(ep);
	MOD(ep, efd, EPOLLIN | EPOLLET, 1); /* ready at MOD: queued now */
	write_u64(efd, 1);                  /* d queued behind it */
	EXPECT_SEQ(ep, 8, 1, 2);
}
