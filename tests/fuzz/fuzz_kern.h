/*
 * The differential fuzzer's kernel half (issue 10's mechanisms): kernel
 * objects on uepoll's side, preload-style instances, and what the model
 * needs to know which waits keep the kernel's order.  Included by
 * fuzz_diff.h (see its header comment for the rules).
 *
 * Kernel objects: each side gets its own kernel pipe, eventfd or socket
 * pair; uepoll's side reaches it through the uepoll_* calls, which pass
 * numbers below UEPOLL_FD_BASE to the kernel, and its epoll_ctl puts it in
 * an instance's kernel half.
 *
 * Preload-style instances: uepoll's side does what preload/interpose.c's
 * epoll_create1 does (a kernel epoll, then uep_preload_instance on it),
 * in one of two ways:
 *   - as the preload: the slot holds the kernel epoll's number, a table
 *     (s->ptab, the preload's table) turns it into the instance's for
 *     epoll_ctl and epoll_wait, close and dup2 onto it drop the instance
 *     first, and a copy made by dup is a plain kernel epoll (the preload
 *     does not see it).  Such an instance takes kernel fds only (the
 *     preload turns uepoll's numbers into -1), so in-process targets are
 *     not offered to it (kdomain).
 *   - by its uepoll number: ctl, wait and every other call name the
 *     instance, in-process items may join it, and its kernel epoll is
 *     closed after its last descriptor.
 */
#ifndef UEP_FUZZ_KERN_H
#define UEP_FUZZ_KERN_H

#include <stdlib.h>
#include <sys/socket.h>

#include "api/api.h"

/* ---- the model ---- */

FZ_FN int fz_new_obj(struct fz_state *s)
{
	if (s->nobj + 1 >= FZ_OBJS)
		return 0;
	int o = (int)++s->nobj;
	s->obj[o] = (struct fz_obj){.upk = -1};
	return o;
}

/* The number uepoll's side gives epoll_ctl and epoll_wait for ufd. */
FZ_FN int fz_uep(const struct fz_state *s, int ufd)
{
	for (unsigned k = 0; k < s->nptab; k++)
		if (s->ptab[k].kfd == ufd)
			return s->ptab[k].uep;
	return ufd;
}

/* The preload's table_forget: a kernel epoll's instance goes. */
FZ_FN void fz_ptab_forget(struct fz_state *s, int ufd)
{
	int e = errno;
	for (unsigned k = 0; k < s->nptab; k++) {
		if (s->ptab[k].kfd != ufd)
			continue;
		uepoll_close(s->ptab[k].uep);
		s->ptab[k] = s->ptab[--s->nptab];
		break;
	}
	errno = e;
}

/* close(2) on uepoll's side, as the preload's close does it. */
FZ_FN int fz_uclose(struct fz_state *s, int ufd)
{
	fz_ptab_forget(s, ufd);
	return uepoll_close(ufd);
}

/* After its last descriptor, an instance's own kernel epoll goes. */
FZ_FN void fz_obj_drop(struct fz_state *s, int o)
{
	if (!o || s->obj[o].upk < 0)
		return;
	for (int i = 0; i < FZ_SLOTS; i++)
		if (s->slot[i].kind != FZ_FREE && s->slot[i].obj == o)
			return;
	close(s->obj[o].upk);
	s->obj[o].upk = -1;
}

/* Slot i's number was closed (close, or dup2 onto it). */
FZ_FN void fz_release(struct fz_state *s, int i)
{
	int o = s->slot[i].obj;
	s->slot[i] = (struct fz_slot){FZ_FREE, -1, -1, false, 0, 0, false};
	fz_obj_drop(s, o);
}

/* Slot d holds copies (kfd, ufd) of slot src's object. */
FZ_FN void fz_copy(struct fz_state *s, int d, int src, int kfd, int ufd)
{
	struct fz_slot c = s->slot[src];
	c.kfd = kfd;
	c.ufd = ufd;
	c.reg = false;
	s->slot[d] = c;
}

/*
 * An instance that takes kernel fds only is not offered a live other (a
 * kernel epoll cannot name it: EBADF where the kernel's own target
 * succeeds); a kernel fd that is no epoll is (EINVAL on both sides).
 * Steered around (avoid_known): a kernel epoll into an instance named by
 * its uepoll number, whose depth check does not count it (open,
 * fuzz_found_nested_kernel_epoll_counts_in_depth).
 */
FZ_FN bool fz_kdomain_skip(struct fz_state *s, int e, int t)
{
	if (e < 0 || t < 0)
		return false;
	bool uinst = s->slot[e].kind == FZ_EPOLL && !s->slot[e].ukern;
	if (s->avoid_known && uinst && s->slot[t].kind == FZ_EPOLL &&
	    s->slot[t].ukern) {
		s->n_known++;
		return true;
	}
	if (s->slot[t].ukern)
		return false;
	if (s->slot[e].kind != FZ_EPOLL)
		return false;
	return s->slot[e].obj && s->obj[s->slot[e].obj].kdomain;
}

/*
 * Steered around (avoid_known): an item watching an in-process instance
 * watches EPOLLIN, level-triggered, not ONESHOT, so that a nested kernel
 * half's link never stands for readiness its item does not want, and its
 * first event is no second edge (open, tests/conf/fuzz_found.c:
 * fuzz_found_nested_kernel_link_not_ready_for_epollout,
 * fuzz_found_nested_kernel_link_first_event_not_an_edge).
 */
FZ_FN void fz_steer_nested(struct fz_state *s, int t, struct epoll_event *a,
                           struct epoll_event *b)
{
	if (!s->avoid_known || t < 0 || s->slot[t].kind != FZ_EPOLL ||
	    s->slot[t].ukern)
		return;
	uint32_t off = EPOLLONESHOT | EPOLLET;
	if ((a->events & EPOLLIN) && !(a->events & off))
		return;
	a->events = b->events = (a->events | EPOLLIN) & ~off;
	s->n_known++;
}

/*
 * Steered around (avoid_known): closing a registered number whose file
 * stays open.  Its registration stays, keyed by the number, and the two
 * sides reuse numbers differently once uepoll's side holds kernel fds
 * (a kernel object takes a kernel number there, a uepoll one here): a
 * later copy of the file may land on the stale key on one side only.
 */
FZ_FN bool fz_stale_steer(struct fz_state *s, int i)
{
	if (!s->avoid_known || s->slot[i].kind == FZ_FREE || !s->slot[i].reg)
		return false;
	for (int j = 0; j < FZ_SLOTS; j++)
		if (j != i && s->slot[j].kind != FZ_FREE &&
		    s->slot[j].fid == s->slot[i].fid) {
			s->n_known++;
			return true;
		}
	return false;
}

/* o has a kernel half now: so has every instance that ever watched it. */
FZ_FN void fz_set_khalf(struct fz_state *s, int o)
{
	if (s->obj[o].khalf)
		return;
	s->obj[o].khalf = true;
	for (unsigned k = 0; k < s->nedge; k++)
		if (s->edge[k][1] == o)
			fz_set_khalf(s, s->edge[k][0]);
}

/* An ADD into slot e of target t (uepoll's number ut) succeeded. */
FZ_FN void fz_note_add(struct fz_state *s, int e, int t, int ut)
{
	if (t >= 0)
		s->slot[t].reg = true;
	int o = e >= 0 && s->slot[e].kind == FZ_EPOLL ? s->slot[e].obj : 0;
	if (!o)
		return;
	if (ut >= 0 && ut < UEPOLL_FD_BASE) {
		fz_set_khalf(s, o);
		return;
	}
	s->obj[o].inproc = true;
	int c = t >= 0 && s->slot[t].kind == FZ_EPOLL ? s->slot[t].obj : 0;
	if (!c)
		return;
	if (s->nedge == FZ_EDGES) {
		fz_set_khalf(s, o); /* no room to follow: assume the worst */
		return;
	}
	s->edge[s->nedge][0] = (uint16_t)o;
	s->edge[s->nedge++][1] = (uint16_t)c;
	if (s->obj[c].khalf)
		fz_set_khalf(s, o);
}

/* Does uepoll's instance in slot e harvest two halves (fuzz_diff.h)? */
FZ_FN bool fz_mixed(const struct fz_state *s, int e)
{
	int o = e >= 0 && s->slot[e].kind == FZ_EPOLL ? s->slot[e].obj : 0;
	return o && s->obj[o].inproc && s->obj[o].khalf;
}

/* ---- the operations ---- */

/* A kernel pipe, eventfd or socket pair on each side, its own. */
FZ_FN void fz_op_create_kobj(struct fz_state *s)
{
	static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
	uint8_t b = fz_u8(s);
	int what = b % 5; /* 0, 1: pipe; 2: eventfd; 3, 4: socket pair */
	int a = fz_free_slot(s, b >> 4), c = -1;
	if (a < 0)
		return;
	if (what != 2) {
		s->slot[a].kind = FZ_SOCK; /* reserved while finding c */
		c = fz_free_slot(s, (unsigned)a + 1);
		s->slot[a].kind = FZ_FREE;
		if (c < 0)
			return;
	}
	int k[2] = {-1, -1}, u[2] = {-1, -1}, kr, ur, ke, ue;
	enum fz_kind ka = FZ_SOCK, kc = FZ_SOCK;
	errno = 0;
	if (what < 2) {
		int flags = O_NONBLOCK | (b & 8 ? O_CLOEXEC : 0);
		fz_log(s, "s%d, s%d = kernel pipe2(%#x)", a, c, flags);
		kr = pipe2(k, flags);
		ke = errno;
		ur = pipe2(u, flags);
		ue = errno;
		ka = FZ_PIPE_R;
		kc = FZ_PIPE_W;
	} else if (what == 2) {
		unsigned init = b & 8 ? 0 : b >> 6;
		int flags = EFD_NONBLOCK | (b & 32 ? EFD_SEMAPHORE : 0);
		fz_log(s, "s%d = kernel eventfd(%u, %#x)", a, init, flags);
		kr = k[0] = eventfd(init, flags);
		ke = errno;
		ur = u[0] = eventfd(init, flags);
		ue = errno;
		ka = FZ_EVENTFD;
	} else {
		int type = types[(b >> 3) % 3] | SOCK_NONBLOCK;
		fz_log(s, "s%d, s%d = kernel socketpair(AF_UNIX, %#x)", a, c,
		       type);
		kr = socketpair(AF_UNIX, type, 0, k);
		ke = errno;
		ur = socketpair(AF_UNIX, type, 0, u);
		ue = errno;
	}
	fz_cmp_ret(s, "kernel object", kr, ke, ur, ue);
	if (kr < 0 || ur < 0) {
		for (int j = 0; j < 2; j++) {
			if (kr >= 0 && k[j] >= 0)
				close(k[j]);
			if (ur >= 0 && u[j] >= 0)
				close(u[j]);
		}
		return;
	}
	s->slot[a] =
	        (struct fz_slot){ka, k[0], u[0], true, 0, ++s->nfid, false};
	if (c >= 0)
		s->slot[c] = (struct fz_slot){kc, k[1],      u[1], true,
		                              0,  ++s->nfid, false};
}

/*
 * epoll_create1 / epoll_create on the kernel's side; on uepoll's, what
 * the preload's do (kernel epoll_create1, then uep_preload_instance),
 * named by the kernel epoll (bit 4) or by the instance.
 */
FZ_FN void fz_op_create_pepoll(struct fz_state *s)
{
	uint8_t b = fz_u8(s);
	int flags = (b & 3) == 3 ? 0x1234 : (b & 1) ? EPOLL_CLOEXEC : 0;
	bool legacy = b & 4, as_preload = b & 16;
	int size = (b & 8) ? 0 : 1;
	int i = fz_free_slot(s, b >> 5), o = fz_new_obj(s);
	if (i < 0 || !o)
		return;
	fz_log(s, "s%d = preload %s epoll_create%s(%#x)", i,
	       as_preload ? "kernel-named" : "uepoll-named", legacy ? "" : "1",
	       legacy ? size : flags);
	errno = 0;
	int kr = legacy ? epoll_create(size) : epoll_create1(flags);
	int ke = errno, ur, ue, upk = -1, uep = -1;
	errno = 0;
	if (legacy && size <= 0) {
		ur = -1; /* the preload's epoll_create */
		errno = EINVAL;
	} else {
		ur = upk = epoll_create1(legacy ? 0 : flags);
	}
	if (upk >= 0) {
		uep = uep_preload_instance(upk);
		if (uep < 0) {
			close(upk);
			errno = -uep;
			ur = upk = -1;
		}
	}
	ue = errno;
	fz_cmp_ret(s, "preload epoll_create", kr, ke, ur, ue);
	if (kr < 0 || ur < 0 || (as_preload && s->nptab == FZ_PTAB)) {
		if (kr >= 0)
			close(kr);
		if (uep >= 0)
			uepoll_close(uep);
		if (upk >= 0)
			close(upk);
		return;
	}
	s->obj[o].khalf = true;
	if (as_preload) {
		s->obj[o].kdomain = true;
		s->ptab[s->nptab].kfd = upk;
		s->ptab[s->nptab++].uep = uep;
		s->slot[i] = (struct fz_slot){FZ_EPOLL, kr,        upk,  true,
		                              o,        ++s->nfid, false};
		return;
	}
	/* uep_preload_instance's number is close-on-exec; make it the
	 * kernel's (F_GETFD is compared). */
	uepoll_fcntl(uep, F_SETFD,
	             !legacy && (flags & EPOLL_CLOEXEC) ? FD_CLOEXEC : 0);
	s->obj[o].upk = upk;
	s->slot[i] =
	        (struct fz_slot){FZ_EPOLL, kr, uep, false, o, ++s->nfid, false};
}

/* Sort an event array, for the comparison as a multiset. */
FZ_FN int fz_ev_cmp(const void *a, const void *b)
{
	const struct epoll_event *x = a, *y = b;
	if (x->data.u64 != y->data.u64)
		return x->data.u64 < y->data.u64 ? -1 : 1;
	return x->events < y->events ? -1 : x->events > y->events;
}

/* An event array as text, for the log and the divergence report. */
FZ_FN void fz_ev_str(char *p, size_t len, const struct epoll_event *ev, int n)
{
	*p = 0;
	for (int k = 0; k < n && len > 40; k++) {
		int w = snprintf(p, len, " {%#x %#llx}", ev[k].events,
		                 (unsigned long long)ev[k].data.u64);
		p += w;
		len -= (size_t)w;
	}
}

FZ_FN void fz_op_wait(struct fz_state *s)
{
	uint8_t eb = fz_u8(s), mb = fz_u8(s);
	int maxevents = mb % 16 == 15 ? 0 : mb % 16 == 14 ? -1 : mb % 8 + 1;
	bool null_buf = mb >= 240;
	static struct epoll_event kev[FZ_BIGEV], uev[FZ_BIGEV];
	static char got[FZ_BIGEV * 40];
	memset(kev, 0, sizeof(kev));
	memset(uev, 0, sizeof(uev));
	int kep, uep;
	char en[24];
	s->as_epfd = true;
	int e = fz_target(s, eb, &kep, &uep, en, sizeof(en));
	s->as_epfd = false;
	uep = fz_uep(s, uep);
	/* Two halves harvested in turn: all events, in any order (top). */
	bool unordered = fz_mixed(s, e);
	if (unordered && maxevents > 0)
		maxevents = FZ_BIGEV;
	fz_log(s, "epoll_wait(%s, %s, %d, 0)%s", en, null_buf ? "NULL" : "buf",
	       maxevents, unordered ? " unordered" : "");
	errno = 0;
	int kr = epoll_wait(kep, null_buf ? NULL : kev, maxevents, 0);
	int ke = errno;
	errno = 0;
	int ur = uepoll_wait(uep, null_buf ? NULL : uev, maxevents, 0);
	int ue = errno;
	fz_cmp_ret(s, "epoll_wait", kr, ke, ur, ue);
	if (s->diverged || kr <= 0)
		return;
	if (unordered) {
		qsort(kev, (size_t)kr, sizeof(kev[0]), fz_ev_cmp);
		if (ur > 0)
			qsort(uev, (size_t)ur, sizeof(uev[0]), fz_ev_cmp);
		s->n_unordered++;
	}
	fz_ev_str(got, sizeof(got), kev, kr);
	if (kr != ur) {
		fz_diverge(s,
		           "epoll_wait: kernel %d events [%.300s ], uepoll %d",
		           kr, got, ur);
		return;
	}
	for (int k = 0; k < kr; k++) {
		if (kev[k].events != uev[k].events ||
		    kev[k].data.u64 != uev[k].data.u64) {
			fz_diverge(s,
			           "epoll_wait event %d: kernel {%#x %#llx}, "
			           "uepoll {%#x %#llx}; kernel got [%.300s ]",
			           k, kev[k].events,
			           (unsigned long long)kev[k].data.u64,
			           uev[k].events,
			           (unsigned long long)uev[k].data.u64, got);
			return;
		}
	}
	fz_log(s, "  -> %d:%.140s", kr, got);
	s->n_wait_ev++;
	s->n_events += (unsigned long)kr;
}

#endif
