/*
 * ppoll, select and pselect over uepoll and kernel descriptors, on top of
 * the poll machinery (fs/select.c).  A call that names no uepoll
 * descriptor is the kernel's own.
 *
 * select's sets are bitmaps indexed by descriptor number, as in the
 * kernel, which reads nfds bits of each and allows nfds > FD_SETSIZE.
 * uepoll descriptors are >= UEPOLL_FD_BASE (2^30), so naming one takes
 * sets of (fd / 8 + 1) bytes.  Of such a set only two ranges are read and
 * written: the kernel descriptors below RLIMIT_NOFILE and the uepoll
 * descriptors within the span of uepoll's table (uep_fd_span, the kernel's
 * max_fds); the bits between and beyond are ignored as the kernel ignores
 * bits beyond its descriptor table, so a calloc'ed set stays untouched
 * there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>

#include "fs/fdtable.h"
#include "fs/select.h"
#include "api/uaccess.h"

/* poll's masks for select's three sets (the kernel's POLL*_SET). */
#define IN_SET (POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR)
#define OUT_SET (POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR)
#define EX_SET (POLLPRI)

static int any_uepoll_fd(const struct pollfd *fds, nfds_t nfds)
{
	for (nfds_t i = 0; i < nfds; i++)
		if (uep_is_uepoll_fd(fds[i].fd))
			return 1;
	return 0;
}

UEPOLL_API int uepoll_ppoll(struct pollfd *fds, nfds_t nfds,
                            const struct timespec *tmo, const sigset_t *sigmask)
{
	struct uep_deadline dl;
	if (tmo) {
		if (!uep_access_ok(tmo, sizeof(*tmo)))
			return (int)uep_ret_errno(-EFAULT);
		if (tmo->tv_sec < 0 || tmo->tv_nsec < 0 ||
		    tmo->tv_nsec >= 1000000000L)
			return (int)uep_ret_errno(-EINVAL);
	}
	/* uepoll_poll's bound (api.c): every uepoll number and 65536 more. */
	if (nfds > (nfds_t)uep_fd_limit() + 65536)
		return (int)uep_ret_errno(-EINVAL);
	if (nfds && (!fds || !uep_access_ok(fds, nfds * sizeof(*fds))))
		return (int)uep_ret_errno(-EFAULT);
	if (!any_uepoll_fd(fds, nfds) && nfds)
		return ppoll(fds, nfds, tmo, sigmask);
	uep_deadline_ts(&dl, tmo); /* glibc's ppoll leaves *tmo as it was */
	return (int)uep_ret_errno(uep_do_poll(fds, nfds, &dl, sigmask));
}

/* ---- select ---- */

#define WORD_BITS (8 * sizeof(unsigned long))

static bool bit_get(const fd_set *s, unsigned long i)
{
	const unsigned long *w = (const unsigned long *)s;
	return s && (w[i / WORD_BITS] >> (i % WORD_BITS) & 1);
}

static void bit_set(fd_set *s, unsigned long i)
{
	((unsigned long *)s)[i / WORD_BITS] |= 1ul << (i % WORD_BITS);
}

/* Clear bits [from, to) of s: whole words at once between the ends. */
static void bits_clear(fd_set *s, unsigned long from, unsigned long to)
{
	unsigned long *w = (unsigned long *)s;
	for (unsigned long i = from; s && i < to;) {
		if (i % WORD_BITS == 0 && to - i >= WORD_BITS) {
			w[i / WORD_BITS] = 0;
			i += WORD_BITS;
		} else {
			w[i / WORD_BITS] &= ~(1ul << (i % WORD_BITS));
			i++;
		}
	}
}

/* The word of set s holding bit i, or 0 for no set. */
static unsigned long word_of(const fd_set *s, unsigned long i)
{
	return s ? ((const unsigned long *)s)[i / WORD_BITS] : 0;
}

struct sel {
	fd_set *set[3];
	unsigned long range[2][2]; /* [kernel, uepoll][from, to) */
	struct pollfd *pfd;
	nfds_t n;
};

/* The pollfds of every set bit; -EBADF for a bit naming no descriptor. */
static int sel_collect(struct sel *s)
{
	nfds_t cap = 0;
	for (int r = 0; r < 2; r++) {
		for (unsigned long i = s->range[r][0]; i < s->range[r][1];
		     i++) {
			/* Skip the words no set has a bit in. */
			if (i % WORD_BITS == 0 &&
			    !(word_of(s->set[0], i) | word_of(s->set[1], i) |
			      word_of(s->set[2], i))) {
				i += WORD_BITS - 1;
				continue;
			}
			short ev = 0;
			if (bit_get(s->set[0], i))
				ev |= POLLIN | POLLRDNORM | POLLRDBAND;
			if (bit_get(s->set[1], i))
				ev |= POLLOUT | POLLWRNORM | POLLWRBAND;
			if (bit_get(s->set[2], i))
				ev |= POLLPRI;
			if (!ev)
				continue;
			if (!uep_is_uepoll_fd((int)i)) {
				if (fcntl((int)i, F_GETFD) < 0)
					return -EBADF;
			} else {
				struct uepoll_file *f = uep_fget((int)i);
				if (!f)
					return -EBADF;
				uep_file_put(f);
			}
			if (s->n == cap) {
				cap = cap ? 2 * cap : 16;
				struct pollfd *p =
				        realloc(s->pfd, cap * sizeof(*p));
				if (!p)
					return -ENOMEM;
				s->pfd = p;
			}
			s->pfd[s->n++] =
			        (struct pollfd){.fd = (int)i, .events = ev};
		}
	}
	return 0;
}

/* Which of select's sets k is ready in: bit j for readfds, writefds, exceptfds.
 */
static unsigned ready_sets(const struct pollfd *p)
{
	unsigned r = 0;
	if ((p->events & POLLIN) && (p->revents & IN_SET))
		r |= 1;
	if ((p->events & POLLOUT) && (p->revents & OUT_SET))
		r |= 2;
	if ((p->events & POLLPRI) && (p->revents & EX_SET))
		r |= 4;
	return r;
}

/*
 * Poll until a set bit is ready or the deadline passes.  poll reports HUP
 * and ERR whatever was asked, which select may not count (a descriptor
 * only in exceptfds): such a descriptor is left out of the next round.
 */
static int sel_poll(struct sel *s, const struct uep_deadline *dl,
                    const sigset_t *sigmask)
{
	for (;;) {
		int r = uep_do_poll(s->pfd, s->n, dl, sigmask);
		if (r < 0)
			return r;
		int count = 0;
		nfds_t keep = 0;
		for (nfds_t k = 0; k < s->n; k++) {
			unsigned c = ready_sets(&s->pfd[k]);
			count += (c & 1) + (c >> 1 & 1) + (c >> 2 & 1);
			if (c || !s->pfd[k].revents)
				s->pfd[keep++] = s->pfd[k];
		}
		if (count || r == 0)
			return count;
		s->n = keep;
	}
}

static void sel_store(struct sel *s)
{
	for (int j = 0; j < 3; j++) {
		if (!s->set[j])
			continue;
		for (int r = 0; r < 2; r++)
			bits_clear(s->set[j], s->range[r][0], s->range[r][1]);
		for (nfds_t k = 0; k < s->n; k++)
			if (ready_sets(&s->pfd[k]) & (1u << j))
				bit_set(s->set[j], (unsigned long)s->pfd[k].fd);
	}
}

/* core_sys_select for a call that names uepoll descriptors. */
static int do_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
                     const struct uep_deadline *dl, const sigset_t *sigmask)
{
	struct sel s = {.set = {rd, wr, ex}};
	struct rlimit rl;
	unsigned long kmax = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < UEPOLL_FD_BASE)
		kmax = rl.rlim_cur;
	unsigned long umax = UEPOLL_FD_BASE + (unsigned long)uep_fd_span();
	s.range[0][0] = 0;
	s.range[0][1] = kmax;
	s.range[1][0] = UEPOLL_FD_BASE;
	s.range[1][1] = (unsigned long)nfds < umax ? (unsigned long)nfds : umax;
	for (int j = 0; j < 3; j++)
		if (s.set[j] &&
		    !uep_access_ok(s.set[j], (s.range[1][1] + 7) / 8))
			return -EFAULT;
	int r = sel_collect(&s);
	if (r == 0)
		r = sel_poll(&s, dl, sigmask);
	if (r >= 0)
		sel_store(&s);
	free(s.pfd);
	return r;
}

/* Turn a select timeval into a deadline: EFAULT, EINVAL as the kernel. */
static int tv_deadline(const struct timeval *tv, struct uep_deadline *dl)
{
	if (!tv) {
		uep_deadline_ts(dl, NULL);
		return 0;
	}
	if (!uep_access_ok(tv, sizeof(*tv)))
		return -EFAULT;
	/* kern_select folds whole seconds of tv_usec into tv_sec. */
	struct timespec ts = {tv->tv_sec + tv->tv_usec / 1000000,
	                      (tv->tv_usec % 1000000) * 1000};
	if (ts.tv_sec < 0 || ts.tv_nsec < 0)
		return -EINVAL;
	uep_deadline_ts(dl, &ts);
	return 0;
}

UEPOLL_API int uepoll_select(int nfds, fd_set *readfds, fd_set *writefds,
                             fd_set *exceptfds, struct timeval *timeout)
{
	struct uep_deadline dl;
	int r = tv_deadline(timeout, &dl);
	if (r)
		return (int)uep_ret_errno(r);
	if (nfds < 0)
		return (int)uep_ret_errno(-EINVAL);
	if (nfds <= UEPOLL_FD_BASE)
		return select(nfds, readfds, writefds, exceptfds, timeout);
	r = do_select(nfds, readfds, writefds, exceptfds, &dl, NULL);
	/* Linux's select writes back the time left. */
	if (timeout && r != -EFAULT) {
		struct timespec rel;
		uep_deadline_remaining(&dl, &rel);
		timeout->tv_sec = rel.tv_sec;
		timeout->tv_usec = rel.tv_nsec / 1000;
	}
	return (int)uep_ret_errno(r);
}

UEPOLL_API int uepoll_pselect(int nfds, fd_set *readfds, fd_set *writefds,
                              fd_set *exceptfds, const struct timespec *timeout,
                              const sigset_t *sigmask)
{
	struct uep_deadline dl;
	if (timeout) {
		if (!uep_access_ok(timeout, sizeof(*timeout)))
			return (int)uep_ret_errno(-EFAULT);
		if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
		    timeout->tv_nsec >= 1000000000L)
			return (int)uep_ret_errno(-EINVAL);
	}
	if (nfds < 0)
		return (int)uep_ret_errno(-EINVAL);
	if (nfds <= UEPOLL_FD_BASE)
		return pselect(nfds, readfds, writefds, exceptfds, timeout,
		               sigmask);
	uep_deadline_ts(&dl, timeout); /* glibc's pselect leaves it as it was */
	return (int)uep_ret_errno(
	        do_select(nfds, readfds, writefds, exceptfds, &dl, sigmask));
}
