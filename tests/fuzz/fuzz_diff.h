/*
 * Differential fuzzing with the kernel as the oracle.
 *
 * A byte string is decoded into a sequence of operations (create an epoll
 * instance, a pipe, an eventfd or a socket pair; epoll_ctl with any op,
 * mask and target, valid or not; epoll_wait with timeout 0 and any
 * maxevents; read, write, close, dup, dup2; and those of fuzz_more.h:
 * send/recv/shutdown, fcntl, readv/writev, fstat, ppoll, select) on a
 * table of slots.  Each operation is applied to the
 * kernel and to uepoll in the same process: a slot holds the kernel's
 * descriptor and uepoll's (their numbers differ), and the two results --
 * return value, errno, the bytes read, the event array in order -- must be
 * equal.  The same decoder serves the seed-driven runner (bytes from a
 * PRNG) and the libFuzzer target (bytes from the fuzzer).
 *
 * The kernel half (fuzz_kern.h): kernel pipes, eventfds and socket pairs
 * on uepoll's side too (each side its own), so uepoll_ctl puts them in an
 * instance's kernel half, and preload-style instances (a kernel epoll
 * adopted by uep_preload_instance, named as the preload names it or by
 * its uepoll number), which may get in-process items and nest.
 *
 * What is compared: everything, and a wait's events in order, except on
 * an instance that harvests two halves in turn (uepoll's side has had
 * both an in-process item and a kernel half, its own or one linked from
 * a nested instance, fz_mixed).  The kernel half's events and the ready
 * list's come in turns there, so the order within a wait, and which
 * events come first when they outnumber maxevents, are uepoll's choice:
 * such a wait uses maxevents FZ_BIGEV (more than all registrations), so
 * that both sides report every ready event and their states stay alike,
 * and compares the events as a multiset.  Pure instances (in-process
 * only, or kernel fds only) keep the strict comparison.
 *
 * Everything is non-blocking and every wait has timeout 0, so both sides
 * are deterministic.  SIGPIPE must be ignored by the caller.
 * avoid_known steers around the open divergences (fuzz_kern.h,
 * fz_steer_nested, fz_stale_steer); FUZZ_STRICT turns it off.
 *
 * Header-only (static functions): included by tests/unit/fuzz_diff_test.c
 * and tests/fuzz/fuzz_target.c.
 */
#ifndef UEP_FUZZ_DIFF_H
#define UEP_FUZZ_DIFF_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "uepoll.h"

#define FZ_SLOTS 12
#define FZ_MAXEV 8
#define FZ_IO_MAX 70000
#define FZ_LOG_LINES 512
/* Every function here is static; not every includer uses all of them. */
#define FZ_FN static __attribute__((unused))

enum fz_kind { FZ_FREE, FZ_EPOLL, FZ_PIPE_R, FZ_PIPE_W, FZ_EVENTFD, FZ_SOCK };

/*
 * ukern: uepoll's side holds a kernel fd (a kernel object, or a preload
 * instance's kernel epoll).  obj: the epoll instance (index in s->obj,
 * shared by the copies dup makes; 0 for anything else).  fid: the open
 * file (shared by copies); reg: this number was registered somewhere.
 */
struct fz_slot {
	enum fz_kind kind;
	int kfd, ufd;
	bool ukern;
	int obj;
	unsigned fid;
	bool reg;
};

/*
 * What uepoll's side of an instance has ever had (fuzz_kern.h): in-process
 * registrations, a kernel half; kdomain: takes kernel fds only (the
 * preload's instances, named by their kernel epoll); upk: the kernel epoll
 * of a kernel-only instance named by its uepoll number, closed with its
 * last descriptor.
 */
struct fz_obj {
	bool inproc, khalf, kdomain;
	int upk;
};

#define FZ_OBJS 512
#define FZ_EDGES 256
#define FZ_PTAB 16
#define FZ_BIGEV 256

struct fz_state {
	struct fz_slot slot[FZ_SLOTS];
	const uint8_t *in;
	size_t len, pos;
	int kdir; /* a kernel directory fd: a target that cannot be polled */
	bool as_epfd;     /* fz_target picks an epfd: no kernel descriptor */
	bool avoid_known; /* steer clear of the open divergences (below) */
	unsigned nops;
	/* What the run exercised: successful ctl, waits that returned events.
	 */
	unsigned long n_ctl_ok, n_wait_ev, n_events, n_io_ok, n_known;
	unsigned long n_unordered;
	/* The instances, which watched which (ever), the preload's table. */
	struct fz_obj obj[FZ_OBJS];
	unsigned nobj, nedge, nptab, nfid;
	uint16_t edge[FZ_EDGES][2];
	struct {
		int kfd, uep;
	} ptab[FZ_PTAB];
	int diverged;
	unsigned nlog;
	char why[512];
	char log[FZ_LOG_LINES][160]; /* last: fz_run clears what is above */
};

/* Scratch buffers: static, they are large. */
static unsigned char fz_wbuf[FZ_IO_MAX], fz_krbuf[FZ_IO_MAX],
        fz_urbuf[FZ_IO_MAX];

FZ_FN uint8_t fz_u8(struct fz_state *s)
{
	return s->pos < s->len ? s->in[s->pos++] : 0;
}

FZ_FN uint32_t fz_u32(struct fz_state *s)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | fz_u8(s);
	return v;
}

FZ_FN void fz_log(struct fz_state *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

FZ_FN void fz_log(struct fz_state *s, const char *fmt, ...)
{
	va_list ap;
	if (s->nlog >= FZ_LOG_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(s->log[s->nlog++], sizeof(s->log[0]), fmt, ap);
	va_end(ap);
}

FZ_FN void fz_diverge(struct fz_state *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

FZ_FN void fz_diverge(struct fz_state *s, const char *fmt, ...)
{
	va_list ap;
	if (s->diverged)
		return;
	s->diverged = 1;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
}

/* Compare one call's outcome; errno matters only when both failed. */
FZ_FN void fz_cmp_ret(struct fz_state *s, const char *what, long kr, int ke,
                      long ur, int ue)
{
	bool kok = kr >= 0, uok = ur >= 0;
	if (s->nlog && s->nlog <= FZ_LOG_LINES) {
		char *l = s->log[s->nlog - 1];
		size_t n = strlen(l);
		snprintf(l + n, sizeof(s->log[0]) - n, " = %ld%s%s", kr,
		         kok ? "" : " ", kok ? "" : strerrorname_np(ke));
	}
	if (kok != uok || (!kok && ke != ue))
		fz_diverge(s,
		           "%s: kernel %ld errno %d (%s), uepoll %ld errno %d",
		           what, kr, kok ? 0 : ke, kok ? "" : strerror(ke), ur,
		           uok ? 0 : ue);
}

/* The b-th (mod their count) live slot of a kind (FZ_FREE: any), or -1. */
FZ_FN int fz_pick(const struct fz_state *s, uint8_t b, enum fz_kind kind)
{
	int live[FZ_SLOTS], n = 0;
	for (int i = 0; i < FZ_SLOTS; i++)
		if (s->slot[i].kind != FZ_FREE &&
		    (kind == FZ_FREE || s->slot[i].kind == kind))
			live[n++] = i;
	return n ? live[b % n] : -1;
}

FZ_FN void fz_slot_fds(struct fz_state *s, unsigned i, int *kfd, int *ufd,
                       char *name, size_t nlen);

/*
 * The descriptors a target byte names: mostly a live slot (an epoll one
 * when an epfd is wanted), sometimes any slot (a closed one gives numbers
 * free on both sides) or a special bad descriptor.  Returns the live slot
 * named, or -1.
 */
FZ_FN int fz_target(struct fz_state *s, uint8_t b, int *kfd, int *ufd,
                    char *name, size_t nlen)
{
	int live = b < 216 ? fz_pick(s, b,
	                             s->as_epfd && b < 180 ? FZ_EPOLL : FZ_FREE)
	                   : -1;
	unsigned i = live >= 0 ? (unsigned)live : b % (FZ_SLOTS + 3);
	fz_slot_fds(s, i, kfd, ufd, name, nlen);
	return i < FZ_SLOTS && s->slot[i].kind != FZ_FREE ? (int)i : -1;
}

/* Slot i's descriptors; i >= FZ_SLOTS names a special bad descriptor. */
FZ_FN void fz_slot_fds(struct fz_state *s, unsigned i, int *kfd, int *ufd,
                       char *name, size_t nlen)
{
	if (i < FZ_SLOTS && s->slot[i].kind != FZ_FREE) {
		*kfd = s->slot[i].kfd;
		*ufd = s->slot[i].ufd;
		snprintf(name, nlen, "s%u", i);
	} else if (i < FZ_SLOTS) {
		/* A closed slot: numbers known to be free on both sides. */
		*kfd = 1000 + (int)i;
		*ufd = UEPOLL_FD_BASE + 100000 + (int)i;
		snprintf(name, nlen, "closed(s%u)", i);
	} else if (i == FZ_SLOTS) {
		*kfd = *ufd = -1;
		snprintf(name, nlen, "-1");
	} else if (i == FZ_SLOTS + 1 && !s->as_epfd) {
		/*
		 * A kernel descriptor as the target: EPERM on both sides.
		 * (As the epfd it would test uepoll's handling of kernel
		 * descriptors, which is issue 4's; see fuzz_found.c.)
		 */
		*kfd = *ufd = s->kdir;
		snprintf(name, nlen, "dirfd");
	} else {
		*kfd = *ufd = INT32_MAX;
		snprintf(name, nlen, "INT_MAX");
	}
}

FZ_FN int fz_free_slot(struct fz_state *s, unsigned start)
{
	for (unsigned k = 0; k < FZ_SLOTS; k++) {
		unsigned i = (start + k) % FZ_SLOTS;
		if (s->slot[i].kind == FZ_FREE)
			return (int)i;
	}
	return -1;
}

FZ_FN void fz_set(struct fz_state *s, int i, enum fz_kind kind, int kfd,
                  int ufd)
{
	s->slot[i] =
	        (struct fz_slot){kind, kfd, ufd, false, 0, ++s->nfid, false};
}

/* Keep a pair that both sides created; close a half-made one. */
FZ_FN void fz_keep(struct fz_state *s, int i, enum fz_kind kind, int kfd,
                   int ufd)
{
	if (kfd >= 0 && ufd >= 0) {
		fz_set(s, i, kind, kfd, ufd);
		return;
	}
	if (kfd >= 0)
		close(kfd);
	if (ufd >= 0)
		uepoll_close(ufd);
}

#include "fuzz_kern.h"

/* ---- the operations ---- */

FZ_FN void fz_op_create_epoll(struct fz_state *s)
{
	uint8_t b = fz_u8(s);
	int flags = (b & 3) == 3 ? 0x1234 : (b & 1) ? EPOLL_CLOEXEC : 0;
	bool legacy = b & 4;
	int size = (b & 8) ? 0 : 1;
	int i = fz_free_slot(s, b >> 4), o = fz_new_obj(s);
	if (i < 0 || !o)
		return;
	fz_log(s, "s%d = epoll_create%s(%#x)", i, legacy ? "" : "1",
	       legacy ? size : flags);
	errno = 0;
	int kr = legacy ? epoll_create(size) : epoll_create1(flags);
	int ke = errno;
	errno = 0;
	int ur = legacy ? uepoll_create(size) : uepoll_create1(flags);
	int ue = errno;
	fz_cmp_ret(s, "epoll_create", kr, ke, ur, ue);
	fz_keep(s, i, FZ_EPOLL, kr, ur);
	s->slot[i].obj = kr >= 0 && ur >= 0 ? o : 0;
}

FZ_FN void fz_op_create_pipe(struct fz_state *s)
{
	uint8_t b = fz_u8(s);
	int flags = O_NONBLOCK | ((b & 1) ? O_CLOEXEC : 0);
	int r = fz_free_slot(s, b >> 4);
	if (r < 0)
		return;
	s->slot[r].kind = FZ_PIPE_R; /* reserve it while looking for a second */
	int w = fz_free_slot(s, (unsigned)r + 1);
	s->slot[r].kind = FZ_FREE;
	if (w < 0)
		return;
	int k[2], u[2];
	fz_log(s, "s%d, s%d = pipe2(O_NONBLOCK%s)", r, w,
	       (b & 1) ? "|O_CLOEXEC" : "");
	errno = 0;
	int kr = pipe2(k, flags);
	int ke = errno;
	errno = 0;
	int ur = uepoll_pipe2(u, flags);
	int ue = errno;
	fz_cmp_ret(s, "pipe2", kr, ke, ur, ue);
	if (kr == 0 && ur == 0) {
		fz_set(s, r, FZ_PIPE_R, k[0], u[0]);
		fz_set(s, w, FZ_PIPE_W, k[1], u[1]);
	} else {
		if (kr == 0) {
			close(k[0]);
			close(k[1]);
		}
		if (ur == 0) {
			uepoll_close(u[0]);
			uepoll_close(u[1]);
		}
	}
}

FZ_FN uint64_t fz_value(struct fz_state *s, uint8_t sel)
{
	switch (sel % 8) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return UINT64_MAX;
	case 3:
		return UINT64_MAX - 1;
	case 4:
		return UINT64_MAX - 2;
	case 5:
		return (uint64_t)1 << 63;
	default:
		return fz_u8(s) % 5 + 1;
	}
}

FZ_FN void fz_op_create_eventfd(struct fz_state *s)
{
	uint8_t b = fz_u8(s);
	int flags = EFD_NONBLOCK | ((b & 1) ? EFD_SEMAPHORE : 0) |
	            ((b & 2) ? EFD_CLOEXEC : 0);
	unsigned init = (b & 4) ? 0 : (b & 8) ? 0xffffffffu : fz_u8(s) % 4;
	int i = fz_free_slot(s, b >> 4);
	if (i < 0)
		return;
	fz_log(s, "s%d = eventfd(%u, %#x)", i, init, flags);
	errno = 0;
	int kr = eventfd(init, flags);
	int ke = errno;
	errno = 0;
	int ur = uepoll_eventfd(init, flags);
	int ue = errno;
	fz_cmp_ret(s, "eventfd", kr, ke, ur, ue);
	fz_keep(s, i, FZ_EVENTFD, kr, ur);
}

static const uint32_t fz_bits[] = {
        EPOLLIN,        EPOLLOUT,    EPOLLPRI,    EPOLLERR, EPOLLHUP,
        EPOLLRDHUP,     EPOLLRDNORM, EPOLLWRNORM, EPOLLET,  EPOLLONESHOT,
        EPOLLEXCLUSIVE, EPOLLWAKEUP, EPOLLRDBAND, EPOLLMSG, 0x00100000u,
};

FZ_FN uint32_t fz_mask(struct fz_state *s)
{
	uint8_t sel = fz_u8(s);
	if (sel >= 250)
		return fz_u32(s); /* anything at all */
	/* Mostly the useful ones: IN, OUT, ET, ONESHOT. */
	uint32_t m = 0;
	if (sel & 1)
		m |= EPOLLIN;
	if (sel & 2)
		m |= EPOLLOUT;
	if (sel & 4)
		m |= EPOLLET;
	if (sel & 8)
		m |= EPOLLONESHOT;
	if (sel & 16) {
		uint16_t more = (uint16_t)(fz_u8(s) << 8 | fz_u8(s));
		for (unsigned k = 0; k < sizeof(fz_bits) / sizeof(fz_bits[0]);
		     k++)
			if (more & (1u << k))
				m |= fz_bits[k];
	}
	return m;
}

FZ_FN void fz_op_ctl(struct fz_state *s)
{
	uint8_t eb = fz_u8(s), ob = fz_u8(s), tb = fz_u8(s);
	static const int ops[] = {EPOLL_CTL_ADD,
	                          EPOLL_CTL_ADD,
	                          EPOLL_CTL_ADD,
	                          EPOLL_CTL_MOD,
	                          EPOLL_CTL_MOD,
	                          EPOLL_CTL_DEL,
	                          EPOLL_CTL_DEL,
	                          0,
	                          4,
	                          -1};
	int op = ops[ob % 10];
	bool null_ev = (ob / 10) % 16 == 0;
	struct epoll_event kev = {.events = fz_mask(s)}, uev;
	kev.data.u64 = (uint64_t)fz_u8(s) << 32 | s->nops;
	uev = kev;
	int kep, uep, kt, ut;
	char en[24], tn[24];
	s->as_epfd = true;
	int e = fz_target(s, eb, &kep, &uep, en, sizeof(en));
	s->as_epfd = false;
	int t = fz_target(s, tb, &kt, &ut, tn, sizeof(tn));
	if (fz_kdomain_skip(s, e, t))
		return;
	fz_steer_nested(s, t, &kev, &uev);
	uep = fz_uep(s, uep);
	fz_log(s, "epoll_ctl(%s, %d, %s, %s{%#x, %#llx})", en, op, tn,
	       null_ev ? "NULL " : "", kev.events,
	       (unsigned long long)kev.data.u64);
	errno = 0;
	int kr = epoll_ctl(kep, op, kt, null_ev ? NULL : &kev);
	int ke = errno;
	errno = 0;
	int ur = uepoll_ctl(uep, op, ut, null_ev ? NULL : &uev);
	int ue = errno;
	fz_cmp_ret(s, "epoll_ctl", kr, ke, ur, ue);
	s->n_ctl_ok += kr == 0;
	if (kr == 0 && ur == 0 && op == EPOLL_CTL_ADD)
		fz_note_add(s, e, t, ut);
}

FZ_FN size_t fz_size(uint8_t b)
{
	static const size_t sizes[] = {
	        0,    1,    7,    8,     9,     16,    100,   4095,
	        4096, 4097, 8192, 20000, 65535, 65536, 65537, FZ_IO_MAX};
	return sizes[b % 16];
}

FZ_FN void fz_op_read(struct fz_state *s)
{
	uint8_t tb = fz_u8(s), sb = fz_u8(s);
	int kfd, ufd;
	char tn[24];
	fz_target(s, tb, &kfd, &ufd, tn, sizeof(tn));
	size_t n = fz_size(sb);
	if (kfd == s->kdir)
		return; /* a directory: nothing to compare but EISDIR */
	fz_log(s, "read(%s, %zu)", tn, n);
	errno = 0;
	ssize_t kr = read(kfd, fz_krbuf, n);
	int ke = errno;
	errno = 0;
	ssize_t ur = uepoll_read(ufd, fz_urbuf, n);
	int ue = errno;
	fz_cmp_ret(s, "read", kr, ke, ur, ue);
	if (!s->diverged && kr >= 0 &&
	    (kr != ur || memcmp(fz_krbuf, fz_urbuf, (size_t)kr) != 0))
		fz_diverge(s, "read: kernel %zd bytes, uepoll %zd (or data)",
		           kr, ur);
	s->n_io_ok += kr > 0;
}

FZ_FN void fz_op_write(struct fz_state *s)
{
	uint8_t tb = fz_u8(s), sb = fz_u8(s);
	int kfd, ufd;
	char tn[24];
	size_t n;
	fz_target(s, tb, &kfd, &ufd, tn, sizeof(tn));
	if (kfd == s->kdir || kfd == -1)
		return;
	unsigned i = tb % (FZ_SLOTS + 3);
	if (i < FZ_SLOTS && s->slot[i].kind == FZ_EVENTFD && sb < 200) {
		uint64_t v = fz_value(s, sb);
		n = sb % 23 == 0 ? 4 : sb % 29 == 0 ? 16 : 8;
		memcpy(fz_wbuf, &v, sizeof(v));
		fz_log(s, "write(%s, %#llx, %zu)", tn, (unsigned long long)v,
		       n);
	} else {
		n = fz_size(sb);
		for (size_t k = 0; k < n; k++)
			fz_wbuf[k] = (unsigned char)(s->nops + k * 7);
		fz_log(s, "write(%s, %zu)", tn, n);
	}
	errno = 0;
	ssize_t kr = write(kfd, fz_wbuf, n);
	int ke = errno;
	errno = 0;
	ssize_t ur = uepoll_write(ufd, fz_wbuf, n);
	int ue = errno;
	fz_cmp_ret(s, "write", kr, ke, ur, ue);
	if (!s->diverged && kr >= 0 && kr != ur)
		fz_diverge(s, "write: kernel wrote %zd, uepoll %zd", kr, ur);
	s->n_io_ok += kr > 0;
}

FZ_FN void fz_op_close(struct fz_state *s)
{
	uint8_t tb = fz_u8(s);
	int live = tb < 240 ? fz_pick(s, tb, FZ_FREE) : -1;
	unsigned i = live >= 0 ? (unsigned)live : tb % FZ_SLOTS;
	if (fz_stale_steer(s, (int)i))
		return;
	int kfd, ufd;
	char tn[24];
	fz_slot_fds(s, i, &kfd, &ufd, tn, sizeof(tn));
	fz_log(s, "close(%s)", tn);
	errno = 0;
	int kr = close(kfd);
	int ke = errno;
	errno = 0;
	int ur = fz_uclose(s, ufd);
	int ue = errno;
	fz_cmp_ret(s, "close", kr, ke, ur, ue);
	fz_release(s, (int)i);
}

FZ_FN void fz_op_dup(struct fz_state *s)
{
	uint8_t tb = fz_u8(s), nb = fz_u8(s);
	int live = fz_pick(s, tb, FZ_FREE);
	if (live < 0)
		return;
	unsigned i = (unsigned)live;
	int kfd, ufd;
	char tn[24];
	fz_slot_fds(s, i, &kfd, &ufd, tn, sizeof(tn));
	unsigned j = nb % FZ_SLOTS;
	if (nb & 0x80 && j != i && s->slot[j].kind != FZ_FREE) {
		/* uepoll_dup2 between a kernel fd and uepoll's: EBADF. */
		if (s->slot[i].ukern != s->slot[j].ukern ||
		    fz_stale_steer(s, (int)j))
			return;
		/* dup2 onto a live slot: closes what it held. */
		fz_log(s, "dup2(%s, s%u)", tn, j);
		errno = 0;
		int kr = dup2(kfd, s->slot[j].kfd);
		int ke = errno;
		errno = 0;
		int ur = uepoll_dup2(ufd, s->slot[j].ufd);
		int ue = errno;
		fz_cmp_ret(s, "dup2", kr, ke, ur, ue);
		if (kr >= 0 && ur >= 0) {
			int o = s->slot[j].obj;
			fz_ptab_forget(s, s->slot[j].ufd); /* the preload's */
			fz_copy(s, (int)j, (int)i, s->slot[j].kfd,
			        s->slot[j].ufd);
			fz_obj_drop(s, o);
		}
		return;
	}
	int d = fz_free_slot(s, nb);
	if (d < 0)
		return;
	fz_log(s, "s%d = dup(%s)", d, tn);
	errno = 0;
	int kr = dup(kfd);
	int ke = errno;
	errno = 0;
	int ur = uepoll_dup(ufd);
	int ue = errno;
	fz_cmp_ret(s, "dup", kr, ke, ur, ue);
	if (kr >= 0 && ur >= 0)
		fz_copy(s, d, (int)i, kr, ur);
	else
		fz_keep(s, d, FZ_FREE, kr, ur);
}

/* Register a slot in an epoll slot with a plain mask (the common case). */
FZ_FN void fz_op_add(struct fz_state *s)
{
	uint8_t eb = fz_u8(s), tb = fz_u8(s), mb = fz_u8(s);
	int e = fz_pick(s, eb, FZ_EPOLL), t = fz_pick(s, tb, FZ_FREE);
	static const uint32_t masks[] = {EPOLLIN,
	                                 EPOLLOUT,
	                                 EPOLLIN | EPOLLOUT,
	                                 EPOLLIN | EPOLLET,
	                                 EPOLLOUT | EPOLLET,
	                                 EPOLLIN | EPOLLONESHOT,
	                                 EPOLLIN | EPOLLOUT | EPOLLET,
	                                 EPOLLIN | EPOLLEXCLUSIVE};
	if (e < 0 || t < 0 || fz_kdomain_skip(s, e, t))
		return;
	bool mod = mb & 0x80;
	struct epoll_event kev = {.events = masks[mb % 8]}, uev;
	kev.data.u64 = (uint64_t)t << 32 | s->nops;
	uev = kev;
	fz_steer_nested(s, t, &kev, &uev);
	fz_log(s, "epoll_ctl(s%d, %s, s%d, {%#x, %#llx})", e,
	       mod ? "MOD" : "ADD", t, kev.events,
	       (unsigned long long)kev.data.u64);
	int op = mod ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	errno = 0;
	int kr = epoll_ctl(s->slot[e].kfd, op, s->slot[t].kfd, &kev);
	int ke = errno;
	errno = 0;
	int ur =
	        uepoll_ctl(fz_uep(s, s->slot[e].ufd), op, s->slot[t].ufd, &uev);
	int ue = errno;
	fz_cmp_ret(s, "epoll_ctl", kr, ke, ur, ue);
	s->n_ctl_ok += kr == 0;
	if (kr == 0 && ur == 0 && !mod)
		fz_note_add(s, e, t, s->slot[t].ufd);
}

#include "fuzz_more.h"

/* ---- the run ---- */

FZ_FN void fz_cleanup(struct fz_state *s)
{
	for (int i = 0; i < FZ_SLOTS; i++) {
		if (s->slot[i].kind == FZ_FREE)
			continue;
		close(s->slot[i].kfd);
		fz_uclose(s, s->slot[i].ufd);
		fz_release(s, i);
	}
	if (s->kdir >= 0)
		close(s->kdir);
	s->kdir = -1;
}

/* Print the operations so far and why they diverged. */
FZ_FN void fz_report(const struct fz_state *s, FILE *out)
{
	fprintf(out, "DIVERGENCE after %u ops: %s\n", s->nops, s->why);
	unsigned from = s->nlog > 80 ? s->nlog - 80 : 0;
	if (from)
		fprintf(out, "  ... (%u earlier ops)\n", from);
	for (unsigned k = from; k < s->nlog; k++)
		fprintf(out, "  %s\n", s->log[k]);
}

/*
 * Run the operations that data encodes.  Returns 0 when kernel and uepoll
 * agreed throughout, 1 on the first divergence (s->why says which).
 */
FZ_FN int fz_run(struct fz_state *s, const uint8_t *data, size_t len)
{
	bool avoid = s->avoid_known;
	memset(s, 0, offsetof(struct fz_state, log));
	s->avoid_known = avoid;
	s->in = data;
	s->len = len;
	s->kdir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (s->pos < s->len && !s->diverged) {
		uint8_t op = fz_u8(s);
		s->nops++;
		switch (op % 40) {
		case 0:
			fz_op_create_epoll(s);
			break;
		case 1:
			fz_op_create_pipe(s);
			break;
		case 2:
			fz_op_create_eventfd(s);
			break;
		case 3:
		case 4:
			fz_op_ctl(s);
			break;
		case 5:
		case 6:
		case 7:
			fz_op_add(s);
			break;
		case 8:
		case 9:
		case 10:
			fz_op_wait(s);
			break;
		case 11:
			fz_op_read(s);
			break;
		case 12:
		case 13:
			fz_op_write(s);
			break;
		case 14:
			fz_op_close(s);
			break;
		case 15:
		case 16:
			fz_op_dup(s);
			break;
		case 17:
		case 18:
			fz_op_create_socketpair(s);
			break;
		case 19:
		case 20:
		case 21:
		case 22:
			fz_op_sock(s);
			break;
		case 23:
		case 24:
			fz_op_fcntl(s);
			break;
		case 25:
		case 26:
			fz_op_rwv(s);
			break;
		case 27:
			fz_op_fstat(s);
			break;
		case 28:
			fz_op_efd_helper(s);
			break;
		case 29:
			fz_op_poll_select(s);
			break;
		case 32:
		case 33:
			fz_op_create_kobj(s);
			break;
		case 34:
			fz_op_create_pepoll(s);
			break;
		case 36:
		case 37:
			fz_op_add(s);
			break;
		default:
			fz_op_wait(s);
			break;
		}
	}
	fz_cleanup(s);
	return s->diverged;
}

/* splitmix64: the seed-driven runner's byte source. */
FZ_FN uint64_t fz_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

FZ_FN void fz_fill(uint64_t seed, uint8_t *buf, size_t len)
{
	uint64_t x = seed;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)fz_splitmix(&x);
}

#endif
