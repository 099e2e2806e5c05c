/*
 * Trigger modes: level-triggered, edge-triggered ("per wakeup"), ONESHOT,
 * MOD re-arming, and which bits get reported, on pipes (both ends), eventfd
 * and a nested epoll fd.  Every expectation was checked on the kernel target.
 */
#include "sys.h"

#include <stdio.h>
#include <string.h>

#define EV_MAX 8

/* Wait with timeout 0 and expect exactly one event with this mask and data. */
static void expect_one_(int line, int ep, uint32_t mask, uint64_t data)
{
	struct epoll_event ev[EV_MAX];
	memset(ev, 0, sizeof(ev));
	int n = sys_epoll_wait(ep, ev, EV_MAX, 0);
	if (n != 1)
		test_fail(__FILE__, line,
		          "epoll_wait gave %d (errno %d), expected 1 event "
		          "(mask 0x%x data %llu); first: mask 0x%x data %llu",
		          n, errno, mask, (unsigned long long)data,
		          n > 0 ? ev[0].events : 0,
		          n > 0 ? (unsigned long long)ev[0].data.u64 : 0ULL);
	if (ev[0].events != mask || ev[0].data.u64 != data)
		test_fail(__FILE__, line,
		          "event mask 0x%x data %llu, expected mask 0x%x data "
		          "%llu",
		          ev[0].events, (unsigned long long)ev[0].data.u64,
		          mask, (unsigned long long)data);
}
#define EXPECT_ONE(ep, mask, data) expect_one_(__LINE__, ep, mask, data)

/* Wait with timeout 0 and expect nothing. */
static void expect_none_(int line, int ep)
{
	struct epoll_event ev[EV_MAX];
	memset(ev, 0, sizeof(ev));
	int n = sys_epoll_wait(ep, ev, EV_MAX, 0);
	if (n != 0)
		test_fail(__FILE__, line,
		          "epoll_wait gave %d (errno %d), expected 0; first: "
		          "mask 0x%x data %llu",
		          n, errno, n > 0 ? ev[0].events : 0,
		          n > 0 ? (unsigned long long)ev[0].data.u64 : 0ULL);
}
#define EXPECT_NONE(ep) expect_none_(__LINE__, ep)

/* Fill a non-blocking pipe: 4096-byte writes until EAGAIN; returns bytes. */
static size_t fill_pipe(int wfd)
{
	static char buf[4096];
	size_t total = 0;
	for (;;) {
		ssize_t r = sys_write(wfd, buf, sizeof(buf));
		if (r < 0) {
			ASSERT_EQ(errno, EAGAIN);
			break;
		}
		total += (size_t)r;
		ASSERT_LT(total, 1 << 22);
	}
	return total;
}

static void read_n(int fd, size_t n)
{
	static char buf[4096];
	ASSERT_LE(n, sizeof(buf));
	ASSERT_EQ(sys_read(fd, buf, n), (long long)n);
}

/*
 * The registration's stored events as fdinfo shows them: the kernel's
 * /proc/self/fdinfo/<ep>, or uepoll_fdinfo() (same line format).  Returns the
 * number of lines for tfd; *events gets the first one's mask.
 */
static int fdinfo_events(int ep, int tfd, uint32_t *events)
{
	static char buf[65536];
#if SYS_IS_UEPOLL
	int r = uepoll_fdinfo(ep, buf, sizeof(buf));
	ASSERT_GE(r, 0);
#else
	size_t len;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	FILE *f = fopen(path, "r");
	ASSERT_PTR_NE(f, NULL);
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = 0;
#endif
	int found = 0;
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		int t;
		unsigned int evs;
		if (sscanf(line, "tfd: %d events: %x", &t, &evs) == 2 &&
		    t == tfd) {
			if (!found)
				*events = evs;
			found++;
		}
		line = nl ? nl + 1 : NULL;
	}
	return found;
}

/* ---- level-triggered ---------------------------------------------------- */

TEST(trig_lt_pipe_read_reports_while_ready)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 11);
	EXPECT_NONE(ep);
	write_byte(p[1]);
	write_byte(p[1]);
	EXPECT_ONE(ep, EPOLLIN, 11);
	EXPECT_ONE(ep, EPOLLIN, 11);
	read_n(p[0], 1); /* still one byte left: still ready */
	EXPECT_ONE(ep, EPOLLIN, 11);
	read_n(p[0], 1);
	EXPECT_NONE(ep);
}

TEST(trig_lt_pipe_write_end_out)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[1], EPOLLOUT, 12);
	EXPECT_ONE(ep, EPOLLOUT, 12);
	EXPECT_ONE(ep, EPOLLOUT, 12);
	ASSERT_EQ(fill_pipe(p[1]), 65536);
	EXPECT_NONE(ep);
	read_n(p[0], 1); /* no whole page slot free yet */
	EXPECT_NONE(ep);
	read_n(p[0], 4095); /* first page now free */
	EXPECT_ONE(ep, EPOLLOUT, 12);
	EXPECT_ONE(ep, EPOLLOUT, 12);
}

TEST(trig_lt_eventfd_in_out_inout)
{
	int ep = new_ep();
	int a = new_efd(0, EFD_NONBLOCK), b = new_efd(0, EFD_NONBLOCK),
	    c = new_efd(0, EFD_NONBLOCK);
	ADD(ep, a, EPOLLIN, 1);
	ADD(ep, b, EPOLLOUT, 2);
	ADD(ep, c, EPOLLIN | EPOLLOUT, 3);
	struct epoll_event ev[EV_MAX];
	/* counter 0: only the OUT registrations fire */
	ASSERT_EQ(sys_epoll_wait(ep, ev, EV_MAX, 0), 2);
	ASSERT_EQ(ev[0].data.u64, 2);
	ASSERT_EQ_HEX(ev[0].events, EPOLLOUT);
	ASSERT_EQ(ev[1].data.u64, 3);
	ASSERT_EQ_HEX(ev[1].events, EPOLLOUT);
	write_u64(a, 1);
	write_u64(c, 1);
	/* same again: level-triggered keeps reporting */
	for (int round = 0; round < 2; round++) {
		memset(ev, 0, sizeof(ev));
		ASSERT_EQ(sys_epoll_wait(ep, ev, EV_MAX, 0), 3);
		for (int i = 0; i < 3; i++) {
			uint32_t want = ev[i].data.u64 == 1 ? EPOLLIN
			                : ev[i].data.u64 == 2
			                        ? EPOLLOUT
			                        : EPOLLIN | EPOLLOUT;
			ASSERT_EQ_HEX(ev[i].events, want);
		}
	}
}

TEST(trig_lt_eventfd_counter_limits)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLOUT, 5);
	write_u64(efd, 0xfffffffffffffffdULL);
	EXPECT_ONE(ep, EPOLLIN | EPOLLOUT, 5);
	write_u64(efd, 1); /* counter 0x...fe: not writable any more */
	EXPECT_ONE(ep, EPOLLIN, 5);
	ASSERT_EQ_HEX(read_u64(efd), 0xfffffffffffffffeULL);
	EXPECT_ONE(ep, EPOLLOUT, 5);
}

TEST(trig_lt_nested_epoll_reports_while_child_ready)
{
	int outer = new_ep(), inner = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(inner, efd, EPOLLIN, 1);
	ADD(outer, inner, EPOLLIN, 100);
	EXPECT_NONE(outer);
	write_u64(efd, 1);
	EXPECT_ONE(outer, EPOLLIN, 100);
	EXPECT_ONE(outer, EPOLLIN, 100);
	ASSERT_EQ(read_u64(efd), 1);
	/* polling the child drops its no-longer-ready item */
	EXPECT_NONE(outer);
	EXPECT_NONE(inner);
}

TEST(trig_nested_epoll_never_writable)
{
	int outer = new_ep(), inner = new_ep();
	int efd = new_efd(1, EFD_NONBLOCK);
	ADD(inner, efd, EPOLLIN | EPOLLOUT, 1);
	ADD(outer, inner, EPOLLOUT, 100);
	EXPECT_NONE(outer);
	MOD(outer, inner, EPOLLIN | EPOLLOUT, 101);
	EXPECT_ONE(outer, EPOLLIN, 101);
}

/* ---- edge-triggered ------------------------------------------------------ */

TEST(trig_et_pipe_reports_once)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLET, 21);
	write_byte(p[1]);
	EXPECT_ONE(ep, EPOLLIN, 21);
	EXPECT_NONE(ep);
	EXPECT_NONE(ep);
}

TEST(trig_et_pipe_second_write_without_read)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLET, 22);
	write_byte(p[1]);
	EXPECT_ONE(ep, EPOLLIN, 22);
	write_byte(p[1]); /* every pipe write wakes readers: new event */
	EXPECT_ONE(ep, EPOLLIN, 22);
	EXPECT_NONE(ep);
	write_byte(p[1]);
	write_byte(p[1]); /* two wakeups while queued: one event */
	EXPECT_ONE(ep, EPOLLIN, 22);
	EXPECT_NONE(ep);
}

TEST(trig_et_pipe_partial_read_no_event)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLET, 23);
	ASSERT_EQ(sys_write(p[1], "abcd", 4), 4);
	EXPECT_ONE(ep, EPOLLIN, 23);
	read_n(p[0], 2);
	EXPECT_NONE(ep);
	read_n(p[0], 1);
	EXPECT_NONE(ep);
}

TEST(trig_et_pipe_drain_then_write)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLET, 24);
	write_byte(p[1]);
	EXPECT_ONE(ep, EPOLLIN, 24);
	read_n(p[0], 1);
	char c;
	ASSERT_ERRNO(sys_read(p[0], &c, 1), EAGAIN);
	EXPECT_NONE(ep);
	write_byte(p[1]);
	EXPECT_ONE(ep, EPOLLIN, 24);
	EXPECT_NONE(ep);
}

TEST(trig_et_add_already_ready_reports_once)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	write_byte(p[1]);
	ADD(ep, p[0], EPOLLIN | EPOLLET, 25);
	EXPECT_ONE(ep, EPOLLIN, 25);
	EXPECT_NONE(ep);
}

TEST(trig_et_pipe_write_end)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[1], EPOLLOUT | EPOLLET, 26);
	EXPECT_ONE(ep, EPOLLOUT, 26); /* ready at ADD */
	EXPECT_NONE(ep);
	write_byte(p[1]); /* wakes readers only */
	EXPECT_NONE(ep);
	read_n(p[0], 1); /* pipe was not full: writers not woken */
	EXPECT_NONE(ep);
	ASSERT_EQ(fill_pipe(p[1]), 65536);
	EXPECT_NONE(ep);
	read_n(p[0], 1); /* partial page: no slot freed, no wakeup */
	EXPECT_NONE(ep);
	read_n(p[0], 4095); /* slot freed on a full pipe: wakeup */
	EXPECT_ONE(ep, EPOLLOUT, 26);
	EXPECT_NONE(ep);
}

TEST(trig_et_eventfd_every_write)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLET, 31);
	EXPECT_NONE(ep);
	write_u64(efd, 1);
	EXPECT_ONE(ep, EPOLLIN, 31);
	EXPECT_NONE(ep);
	write_u64(efd, 1);
	EXPECT_ONE(ep, EPOLLIN, 31);
	EXPECT_NONE(ep);
	ASSERT_EQ(read_u64(efd), 2);
	EXPECT_NONE(ep);
	write_u64(efd, 5);
	EXPECT_ONE(ep, EPOLLIN, 31);
}

TEST(trig_et_eventfd_inout_every_write_and_read)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLOUT | EPOLLET, 32);
	EXPECT_ONE(ep, EPOLLOUT, 32); /* writable at ADD */
	EXPECT_NONE(ep);
	write_u64(efd, 1);
	EXPECT_ONE(ep, EPOLLIN | EPOLLOUT, 32);
	EXPECT_NONE(ep);
	write_u64(efd, 1);
	EXPECT_ONE(ep, EPOLLIN | EPOLLOUT, 32);
	EXPECT_NONE(ep);
	ASSERT_EQ(read_u64(efd), 2);
	EXPECT_ONE(ep, EPOLLOUT, 32);
	EXPECT_NONE(ep);
	uint64_t v;
	ASSERT_ERRNO(sys_read(efd, &v, sizeof(v)), EAGAIN);
	EXPECT_NONE(ep);
}

TEST(trig_et_eventfd_out_only_ignores_write_wakeup)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLOUT | EPOLLET, 33);
	EXPECT_ONE(ep, EPOLLOUT, 33);
	EXPECT_NONE(ep);
	write_u64(efd, 1); /* wakeup key is EPOLLIN: does not match OUT */
	EXPECT_NONE(ep);
	ASSERT_EQ(read_u64(efd), 1); /* key EPOLLOUT: matches */
	EXPECT_ONE(ep, EPOLLOUT, 33);
	EXPECT_NONE(ep);
}

TEST(trig_et_eventfd_semaphore_read_no_in_event)
{
	int ep = new_ep();
	int efd = new_efd(3, EFD_NONBLOCK | EFD_SEMAPHORE);
	ADD(ep, efd, EPOLLIN | EPOLLET, 34);
	EXPECT_ONE(ep, EPOLLIN, 34);
	ASSERT_EQ(read_u64(efd), 1); /* still readable, but key is OUT */
	EXPECT_NONE(ep);
	write_u64(efd, 1);
	EXPECT_ONE(ep, EPOLLIN, 34);
}

TEST(trig_et_nested_epoll_every_child_wakeup)
{
	int outer = new_ep(), inner = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(inner, efd, EPOLLIN, 1);
	ADD(outer, inner, EPOLLIN | EPOLLET, 200);
	EXPECT_NONE(outer);
	write_u64(efd, 1);
	EXPECT_ONE(outer, EPOLLIN, 200);
	EXPECT_NONE(outer);
	/* the child item is already queued, but the child still wakes */
	write_u64(efd, 1);
	EXPECT_ONE(outer, EPOLLIN, 200);
	EXPECT_NONE(outer);
	/* the child itself is level-triggered */
	EXPECT_ONE(inner, EPOLLIN, 1);
	EXPECT_ONE(inner, EPOLLIN, 1);
}

TEST(trig_et_hup_reported_once)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLET, 27);
	ASSERT_OK(sys_close(p[1]));
	EXPECT_ONE(ep, EPOLLHUP, 27);
	EXPECT_NONE(ep);
}

/* ---- EPOLLONESHOT -------------------------------------------------------- */

TEST(trig_oneshot_fires_once)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLONESHOT, 41);
	write_byte(p[1]);
	EXPECT_ONE(ep, EPOLLIN, 41);
	EXPECT_NONE(ep); /* still readable: but disabled */
	write_byte(p[1]);
	EXPECT_NONE(ep);
}

TEST(trig_oneshot_disabled_ignores_hup)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLONESHOT, 42);
	write_byte(p[1]);
	EXPECT_ONE(ep, EPOLLIN, 42);
	ASSERT_OK(sys_close(p[1]));
	EXPECT_NONE(ep); /* ERR and HUP are disabled too */
	MOD(ep, p[0], EPOLLIN | EPOLLONESHOT, 43);
	EXPECT_ONE(ep, EPOLLIN | EPOLLHUP, 43);
	EXPECT_NONE(ep);
}

TEST(trig_oneshot_write_end_disabled_ignores_err)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[1], EPOLLOUT | EPOLLONESHOT, 44);
	EXPECT_ONE(ep, EPOLLOUT, 44);
	ASSERT_OK(sys_close(p[0]));
	EXPECT_NONE(ep);
	MOD(ep, p[1], EPOLLOUT | EPOLLONESHOT, 45);
	EXPECT_ONE(ep, EPOLLOUT | EPOLLERR, 45);
	EXPECT_NONE(ep);
}

TEST(trig_oneshot_mod_rearms_ready_immediately)
{
	int ep = new_ep();
	int efd = new_efd(1, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLONESHOT, 46);
	EXPECT_ONE(ep, EPOLLIN, 46);
	EXPECT_NONE(ep);
	MOD(ep, efd, EPOLLIN | EPOLLONESHOT, 47);
	EXPECT_ONE(ep, EPOLLIN, 47);
	EXPECT_NONE(ep);
	/* re-arm without ONESHOT: level-triggered from now on */
	MOD(ep, efd, EPOLLIN, 48);
	EXPECT_ONE(ep, EPOLLIN, 48);
	EXPECT_ONE(ep, EPOLLIN, 48);
}

TEST(trig_oneshot_mod_rearm_not_ready_waits)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLONESHOT, 49);
	write_byte(p[1]);
	EXPECT_ONE(ep, EPOLLIN, 49);
	read_n(p[0], 1);
	MOD(ep, p[0], EPOLLIN | EPOLLONESHOT, 50);
	EXPECT_NONE(ep);
	write_byte(p[1]);
	EXPECT_ONE(ep, EPOLLIN, 50);
	EXPECT_NONE(ep);
}

TEST(trig_oneshot_et_eventfd)
{
	int ep = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLET | EPOLLONESHOT, 51);
	EXPECT_NONE(ep);
	write_u64(efd, 1);
	EXPECT_ONE(ep, EPOLLIN, 51);
	write_u64(efd, 1);
	EXPECT_NONE(ep);
	MOD(ep, efd, EPOLLIN | EPOLLET | EPOLLONESHOT, 52);
	EXPECT_ONE(ep, EPOLLIN, 52); /* ready at MOD: queued at once */
	EXPECT_NONE(ep);
}

TEST(trig_oneshot_nested_epoll)
{
	int outer = new_ep(), inner = new_ep();
	int efd = new_efd(0, EFD_NONBLOCK);
	ADD(inner, efd, EPOLLIN, 1);
	ADD(outer, inner, EPOLLIN | EPOLLONESHOT, 53);
	write_u64(efd, 1);
	EXPECT_ONE(outer, EPOLLIN, 53);
	EXPECT_NONE(outer);
	write_u64(efd, 1);
	EXPECT_NONE(outer);
	MOD(outer, inner, EPOLLIN | EPOLLONESHOT, 54);
	EXPECT_ONE(outer, EPOLLIN, 54);
	EXPECT_NONE(outer);
}

TEST(trig_oneshot_fdinfo_only_private_bits_left)
{
	int ep = new_ep();
	int efd = new_efd(1, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLONESHOT, 55);
	uint32_t evs = 0;
	ASSERT_EQ(fdinfo_events(ep, efd, &evs), 1);
	ASSERT_EQ_HEX(evs, EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLONESHOT);
	EXPECT_ONE(ep, EPOLLIN, 55);
	ASSERT_EQ(fdinfo_events(ep, efd, &evs), 1);
	ASSERT_EQ_HEX(evs, EPOLLONESHOT);
}

/* ---- MOD ------------------------------------------------------------------
 */

TEST(trig_mod_in_to_out)
{
	int ep = new_ep();
	int efd = new_efd(1, EFD_NONBLOCK); /* readable and writable */
	ADD(ep, efd, EPOLLIN, 61);
	EXPECT_ONE(ep, EPOLLIN, 61);
	MOD(ep, efd, EPOLLOUT, 62);
	EXPECT_ONE(ep, EPOLLOUT, 62);
	MOD(ep, efd, EPOLLIN | EPOLLOUT, 63);
	EXPECT_ONE(ep, EPOLLIN | EPOLLOUT, 63);
}

TEST(trig_mod_pipe_in_to_out_on_read_end)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	write_byte(p[1]);
	ADD(ep, p[0], EPOLLIN, 64);
	EXPECT_ONE(ep, EPOLLIN, 64);
	MOD(ep, p[0], EPOLLOUT, 65); /* a read end is never writable */
	EXPECT_NONE(ep);
	MOD(ep, p[0], EPOLLIN, 66);
	EXPECT_ONE(ep, EPOLLIN, 66);
}

TEST(trig_mod_changes_data_of_queued_item)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 67);
	write_byte(p[1]);
	MOD(ep, p[0], EPOLLIN, 68); /* while it sits on the ready list */
	EXPECT_ONE(ep, EPOLLIN, 68);
	MOD(ep, p[0], EPOLLIN, 0xdeadbeefcafef00dULL);
	EXPECT_ONE(ep, EPOLLIN, 0xdeadbeefcafef00dULL);
}

TEST(trig_mod_lt_to_et)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	write_byte(p[1]);
	ADD(ep, p[0], EPOLLIN, 69);
	EXPECT_ONE(ep, EPOLLIN, 69);
	EXPECT_ONE(ep, EPOLLIN, 69);
	MOD(ep, p[0], EPOLLIN | EPOLLET, 70); /* ready at MOD: one event */
	EXPECT_ONE(ep, EPOLLIN, 70);
	EXPECT_NONE(ep);
	MOD(ep, p[0], EPOLLIN, 71);
	EXPECT_ONE(ep, EPOLLIN, 71);
	EXPECT_ONE(ep, EPOLLIN, 71);
}

TEST(trig_mod_to_zero_events_still_hup)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	write_byte(p[1]);
	ADD(ep, p[0], EPOLLIN, 72);
	EXPECT_ONE(ep, EPOLLIN, 72);
	MOD(ep, p[0], 0, 73);
	EXPECT_NONE(ep);
	write_byte(p[1]);
	EXPECT_NONE(ep);
	ASSERT_OK(sys_close(p[1]));
	EXPECT_ONE(ep, EPOLLHUP, 73);
	EXPECT_ONE(ep, EPOLLHUP, 73);
}

/* ---- which bits are accepted and reported ---------------------------------
 */

TEST(trig_pipe_never_reports_rdhup)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN | EPOLLRDHUP, 81);
	write_byte(p[1]);
	EXPECT_ONE(ep, EPOLLIN, 81);
	ASSERT_OK(sys_close(p[1]));
	EXPECT_ONE(ep, EPOLLIN | EPOLLHUP, 81);
	read_n(p[0], 1);
	EXPECT_ONE(ep, EPOLLHUP, 81);
}

TEST(trig_unknown_bits_accepted_and_stored)
{
	int ep = new_ep();
	int efd = new_efd(1, EFD_NONBLOCK);
	uint32_t unknown = (1u << 12) | (1u << 20);
	ADD(ep, efd, EPOLLIN | unknown, 82);
	EXPECT_ONE(ep, EPOLLIN, 82);
	uint32_t evs = 0;
	ASSERT_EQ(fdinfo_events(ep, efd, &evs), 1);
	ASSERT_EQ_HEX(evs, EPOLLIN | EPOLLERR | EPOLLHUP | unknown);
	MOD(ep, efd, EPOLLOUT | (1u << 22), 83);
	EXPECT_ONE(ep, EPOLLOUT, 83);
	ASSERT_EQ(fdinfo_events(ep, efd, &evs), 1);
	ASSERT_EQ_HEX(evs, EPOLLOUT | EPOLLERR | EPOLLHUP | (1u << 22));
}

TEST(trig_wakeup_accepted_and_cleared)
{
	int ep = new_ep();
	int efd = new_efd(1, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLWAKEUP, 84);
	EXPECT_ONE(ep, EPOLLIN, 84);
	uint32_t evs = 0;
	ASSERT_EQ(fdinfo_events(ep, efd, &evs), 1);
	ASSERT_EQ_HEX(evs, EPOLLIN | EPOLLERR | EPOLLHUP);
	MOD(ep, efd, EPOLLIN | EPOLLWAKEUP | EPOLLET, 85);
	EXPECT_ONE(ep, EPOLLIN, 85);
	ASSERT_EQ(fdinfo_events(ep, efd, &evs), 1);
	ASSERT_EQ_HEX(evs, EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLET);
}

TEST(trig_fdinfo_err_hup_always_added)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], 0, 86);
	uint32_t evs = 0;
	ASSERT_EQ(fdinfo_events(ep, p[0], &evs), 1);
	ASSERT_EQ_HEX(evs, EPOLLERR | EPOLLHUP);
	MOD(ep, p[0], EPOLLIN | EPOLLET, 87);
	ASSERT_EQ(fdinfo_events(ep, p[0], &evs), 1);
	ASSERT_EQ_HEX(evs, EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLET);
}

TEST(trig_events_zero_still_reports_hup)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], 0, 88);
	write_byte(p[1]);
	EXPECT_NONE(ep);
	ASSERT_OK(sys_close(p[1]));
	EXPECT_ONE(ep, EPOLLHUP, 88); /* not IN, although data is there */
}

TEST(trig_events_zero_eventfd_never_reports)
{
	int ep = new_ep();
	int efd = new_efd(1, EFD_NONBLOCK);
	ADD(ep, efd, 0, 89);
	EXPECT_NONE(ep);
	write_u64(efd, 1);
	EXPECT_NONE(ep);
}

TEST(trig_reported_mask_is_registered_mask)
{
	int ep = new_ep();
	int efd = new_efd(1, EFD_NONBLOCK); /* IN|OUT ready */
	ADD(ep, efd, EPOLLIN, 90);
	EXPECT_ONE(ep, EPOLLIN, 90);
	/* eventfd never sets RDNORM/WRNORM, even when asked for */
	MOD(ep, efd, EPOLLIN | EPOLLRDNORM, 91);
	EXPECT_ONE(ep, EPOLLIN, 91);
	MOD(ep, efd, EPOLLOUT | EPOLLWRNORM | EPOLLPRI, 92);
	EXPECT_ONE(ep, EPOLLOUT, 92);
	MOD(ep, efd, EPOLLRDNORM | EPOLLWRNORM, 97);
	EXPECT_NONE(ep);
}

TEST(trig_pipe_rdnorm_wrnorm_when_asked)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	write_byte(p[1]);
	ADD(ep, p[0], EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLPRI, 98);
	ADD(ep, p[1], EPOLLWRNORM, 99);
	struct epoll_event ev[EV_MAX];
	ASSERT_EQ(sys_epoll_wait(ep, ev, EV_MAX, 0), 2);
	ASSERT_EQ(ev[0].data.u64, 98);
	ASSERT_EQ_HEX(ev[0].events, EPOLLIN | EPOLLRDNORM);
	ASSERT_EQ(ev[1].data.u64, 99);
	ASSERT_EQ_HEX(ev[1].events, EPOLLWRNORM);
	MOD(ep, p[0], EPOLLRDNORM, 100);
	MOD(ep, p[1], EPOLLIN, 101);
	EXPECT_ONE(ep, EPOLLRDNORM, 100);
}

TEST(trig_err_hup_reported_when_not_requested)
{
	int ep = new_ep(), p[2], q[2];
	new_pipe(p, O_NONBLOCK);
	new_pipe(q, O_NONBLOCK);
	ADD(ep, p[1], EPOLLIN, 93);  /* write end, watched for IN */
	ADD(ep, q[0], EPOLLOUT, 94); /* read end, watched for OUT */
	EXPECT_NONE(ep);
	ASSERT_OK(sys_close(p[0]));
	EXPECT_ONE(ep, EPOLLERR, 93);
	ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
	ASSERT_OK(sys_close(q[1]));
	EXPECT_ONE(ep, EPOLLHUP, 94);
}

TEST(trig_closed_writer_pipe_hup)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[0], EPOLLIN, 95);
	ASSERT_OK(sys_close(p[1]));
	EXPECT_ONE(ep, EPOLLHUP, 95);
	EXPECT_ONE(ep, EPOLLHUP, 95);
	char c;
	ASSERT_EQ(sys_read(p[0], &c, 1), 0); /* EOF */
	EXPECT_ONE(ep, EPOLLHUP, 95);
}

TEST(trig_closed_reader_pipe_out_err)
{
	int ep = new_ep(), p[2];
	new_pipe(p, O_NONBLOCK);
	ADD(ep, p[1], EPOLLOUT, 96);
	EXPECT_ONE(ep, EPOLLOUT, 96);
	ASSERT_OK(sys_close(p[0]));
	EXPECT_ONE(ep, EPOLLOUT | EPOLLERR, 96);
}
