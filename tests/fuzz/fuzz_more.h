/*
 * The differential fuzzer's second set of operations (issue 11): AF_UNIX
 * socket pairs of every type (so sockets after their peer is gone, and
 * dup2 over live sockets through fz_op_dup), send/recv/shutdown, fcntl
 * with every command and out-of-range arguments, F_SETFL flags, readv and
 * writev with random vectors, fstat, ppoll, select, and glibc's eventfd
 * helpers.  Included by fuzz_diff.h; every descriptor stays non-blocking
 * (F_SETFL always keeps O_NONBLOCK).
 *
 * Steered around by construction (documented differences, README):
 * F_SETFL O_ASYNC (no SIGIO: the bit does not stick), F_DUPFD arguments in
 * (0, 2^30) (uepoll gives its lowest number), and fstat's st_dev, st_ino,
 * owner and times.
 */
#ifndef UEP_FUZZ_MORE_H
#define UEP_FUZZ_MORE_H

#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

FZ_FN void fz_op_create_socketpair(struct fz_state *s)
{
	static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
	static const char *const names[] = {"STREAM", "DGRAM", "SEQPACKET"};
	uint8_t b = fz_u8(s);
	int t = b % 3;
	int flags = SOCK_NONBLOCK | ((b & 4) ? SOCK_CLOEXEC : 0);
	int a = fz_free_slot(s, b >> 4);
	if (a < 0)
		return;
	s->slot[a].kind = FZ_SOCK; /* reserve it while looking for a second */
	int c = fz_free_slot(s, (unsigned)a + 1);
	s->slot[a].kind = FZ_FREE;
	if (c < 0)
		return;
	int k[2], u[2];
	fz_log(s, "s%d, s%d = socketpair(AF_UNIX, %s|NONBLOCK%s)", a, c,
	       names[t], (b & 4) ? "|CLOEXEC" : "");
	errno = 0;
	int kr = socketpair(AF_UNIX, types[t] | flags, 0, k);
	int ke = errno;
	errno = 0;
	int ur = uepoll_socketpair(AF_UNIX, types[t] | flags, 0, u);
	int ue = errno;
	fz_cmp_ret(s, "socketpair", kr, ke, ur, ue);
	if (kr == 0 && ur == 0) {
		fz_set(s, a, FZ_SOCK, k[0], u[0]);
		fz_set(s, c, FZ_SOCK, k[1], u[1]);
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

/* send / recv (recvmsg, so MSG_TRUNC shows) / shutdown on any target. */
FZ_FN void fz_op_sock(struct fz_state *s)
{
	uint8_t tb = fz_u8(s), wb = fz_u8(s), sb = fz_u8(s);
	int kfd, ufd;
	char tn[24];
	fz_target(s, tb, &kfd, &ufd, tn, sizeof(tn));
	if (kfd == s->kdir)
		return;
	errno = 0;
	long kr, ur;
	int ke, ue;
	switch (wb % 4) {
	case 0:
	case 1: {
		static const int fl[] = {0, MSG_NOSIGNAL, MSG_DONTWAIT,
		                         MSG_EOR};
		int flags = MSG_DONTWAIT | fl[(wb >> 2) % 4];
		size_t n = fz_size(sb);
		for (size_t k = 0; k < n; k++)
			fz_wbuf[k] = (unsigned char)(s->nops + k * 3);
		fz_log(s, "send(%s, %zu, %#x)", tn, n, flags);
		kr = send(kfd, fz_wbuf, n, flags);
		ke = errno;
		errno = 0;
		ur = uepoll_send(ufd, fz_wbuf, n, flags);
		ue = errno;
		fz_cmp_ret(s, "send", kr, ke, ur, ue);
		if (!s->diverged && kr >= 0 && kr != ur)
			fz_diverge(s, "send: kernel %ld, uepoll %ld", kr, ur);
		break;
	}
	case 2: {
		static const int fl[] = {0, MSG_PEEK, MSG_TRUNC, MSG_WAITALL};
		int flags = MSG_DONTWAIT | fl[(wb >> 2) % 4];
		size_t n = fz_size(sb);
		struct iovec kiov = {fz_krbuf, n}, uiov = {fz_urbuf, n};
		struct msghdr km = {.msg_iov = &kiov, .msg_iovlen = 1};
		struct msghdr um = {.msg_iov = &uiov, .msg_iovlen = 1};
		fz_log(s, "recvmsg(%s, %zu, %#x)", tn, n, flags);
		kr = recvmsg(kfd, &km, flags);
		ke = errno;
		errno = 0;
		ur = uepoll_recvmsg(ufd, &um, flags);
		ue = errno;
		fz_cmp_ret(s, "recvmsg", kr, ke, ur, ue);
		if (s->diverged || kr < 0)
			break;
		size_t got = (size_t)kr < n ? (size_t)kr : n;
		if (kr != ur || memcmp(fz_krbuf, fz_urbuf, got) != 0 ||
		    km.msg_flags != um.msg_flags)
			fz_diverge(s,
			           "recvmsg: kernel %ld flags %#x, uepoll %ld "
			           "flags %#x (or data)",
			           kr, km.msg_flags, ur, um.msg_flags);
		s->n_io_ok += kr > 0;
		break;
	}
	default: {
		int how = sb % 8 < 6 ? sb % 3 : sb % 8 == 6 ? 3 : -1;
		fz_log(s, "shutdown(%s, %d)", tn, how);
		kr = shutdown(kfd, how);
		ke = errno;
		errno = 0;
		ur = uepoll_shutdown(ufd, how);
		ue = errno;
		fz_cmp_ret(s, "shutdown", kr, ke, ur, ue);
		break;
	}
	}
}

/* F_SETFL's argument: always O_NONBLOCK, plus any of the others. */
FZ_FN int fz_setfl_arg(uint8_t b)
{
	static const int bits[] = {O_APPEND, O_DIRECT,          O_NOATIME,
	                           O_SYNC,   O_CREAT | O_TRUNC, O_RDWR,
	                           O_CLOEXEC};
	if (b == 255)
		return ~O_ASYNC;
	int a = O_NONBLOCK;
	for (unsigned k = 0; k < sizeof(bits) / sizeof(bits[0]); k++)
		if (b & (1u << k))
			a |= bits[k];
	return a;
}

FZ_FN void fz_op_fcntl(struct fz_state *s)
{
	uint8_t tb = fz_u8(s), cb = fz_u8(s), ab = fz_u8(s);
	/*
	 * Arguments that mean "the lowest free number" on both sides (0, and
	 * 2^32 as an unsigned int) or an error; a small positive one would
	 * number the copies differently (README: F_DUPFD below 2^30).
	 */
	static const long dup_args[] = {
	        0,       -1,   0x80000000L,         1L << 32,
	        INT_MAX, -100, 0x7fffffff00000000L, 0xffffffffL};
	int kfd, ufd;
	char tn[24];
	fz_target(s, tb, &kfd, &ufd, tn, sizeof(tn));
	int cmd;
	long arg = 0;
	switch (cb % 10) {
	case 0:
	case 1:
		cmd = cb & 0x10 ? F_DUPFD_CLOEXEC : F_DUPFD;
		arg = dup_args[ab % 8];
		break;
	case 2:
		cmd = F_GETFD;
		break;
	case 3:
		cmd = F_SETFD;
		arg = ab % 4 == 3 ? -1 : ab % 4;
		break;
	case 4:
		cmd = F_GETFL;
		break;
	case 5:
	case 6:
		cmd = F_SETFL;
		arg = fz_setfl_arg(ab);
		break;
	case 7:
		cmd = cb & 0x10 ? F_GETPIPE_SZ : F_SETPIPE_SZ;
		arg = ab % 2 ? 65536 : 40000;
		break;
	case 8:
		cmd = 9999;
		break;
	default:
		cmd = -1;
		break;
	}
	fz_log(s, "fcntl(%s, %d, %#lx)", tn, cmd, arg);
	errno = 0;
	int kr = fcntl(kfd, cmd, arg);
	int ke = errno;
	errno = 0;
	int ur = uepoll_fcntl(ufd, cmd, arg);
	int ue = errno;
	fz_cmp_ret(s, "fcntl", kr, ke, ur, ue);
	bool dup = cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC;
	if (dup && kr >= 0 && ur >= 0) {
		/* Keep the copy if there is room; else close both. */
		int live = fz_pick(s, tb, FZ_FREE);
		int d = fz_free_slot(s, ab);
		bool same = live >= 0 && s->slot[live].kfd == kfd;
		if (d >= 0 && same) {
			fz_copy(s, d, live, kr, ur);
		} else {
			close(kr);
			uepoll_close(ur);
		}
	} else if (dup) {
		if (kr >= 0)
			close(kr);
		if (ur >= 0)
			uepoll_close(ur);
	} else if (!s->diverged && kr >= 0 && kr != ur) {
		fz_diverge(s, "fcntl: kernel %d, uepoll %d", kr, ur);
	}
}

/* A vector over buf: 1-4 segments of the sizes sb picks, some empty. */
FZ_FN int fz_iov(struct fz_state *s, uint8_t sb, unsigned char *buf,
                 struct iovec *iov)
{
	int n = sb % 4 + 1;
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		size_t len = fz_size(fz_u8(s));
		if (off + len > FZ_IO_MAX)
			len = FZ_IO_MAX - off;
		iov[i] = (struct iovec){buf + off, len};
		off += len;
	}
	return n;
}

FZ_FN void fz_op_rwv(struct fz_state *s)
{
	uint8_t tb = fz_u8(s), wb = fz_u8(s), sb = fz_u8(s);
	int kfd, ufd;
	char tn[24];
	fz_target(s, tb, &kfd, &ufd, tn, sizeof(tn));
	if (kfd == s->kdir || kfd == -1)
		return;
	bool wr = wb & 1;
	struct iovec kiov[4], uiov[4];
	int n = fz_iov(s, sb, wr ? fz_wbuf : fz_krbuf, kiov);
	fz_iov(s, sb, wr ? fz_wbuf : fz_urbuf, uiov);
	/* The same sizes on both sides: re-derive uiov from kiov. */
	for (int i = 0; i < n; i++)
		uiov[i] = (struct iovec){
		        (wr ? fz_wbuf : fz_urbuf) +
		                ((unsigned char *)kiov[i].iov_base -
		                 (wr ? fz_wbuf : fz_krbuf)),
		        kiov[i].iov_len};
	int cnt = wb % 16 == 14 ? -1 : wb % 16 == 15 ? IOV_MAX + 1 : n;
	if (wr) {
		unsigned i = tb % (FZ_SLOTS + 3);
		bool efd = i < FZ_SLOTS && s->slot[i].kind == FZ_EVENTFD;
		for (int k = 0; k < n; k++) {
			if (efd && kiov[k].iov_len >= 8) {
				uint64_t v = fz_u8(s) % 4;
				memcpy(kiov[k].iov_base, &v, 8);
				kiov[k].iov_len = uiov[k].iov_len = 8;
			} else {
				for (size_t b = 0; b < kiov[k].iov_len; b++)
					((unsigned char *)kiov[k].iov_base)[b] =
					        (unsigned char)(s->nops + b);
			}
		}
	}
	fz_log(s, "%s(%s, %d segs, cnt %d)", wr ? "writev" : "readv", tn, n,
	       cnt);
	errno = 0;
	ssize_t kr = wr ? writev(kfd, kiov, cnt) : readv(kfd, kiov, cnt);
	int ke = errno;
	errno = 0;
	ssize_t ur = wr ? uepoll_writev(ufd, uiov, cnt)
	                : uepoll_readv(ufd, uiov, cnt);
	int ue = errno;
	fz_cmp_ret(s, wr ? "writev" : "readv", kr, ke, ur, ue);
	if (!s->diverged && kr >= 0 &&
	    (kr != ur || (!wr && memcmp(fz_krbuf, fz_urbuf, (size_t)kr) != 0)))
		fz_diverge(s, "%s: kernel %zd, uepoll %zd (or data)",
		           wr ? "writev" : "readv", kr, ur);
	s->n_io_ok += kr > 0;
}

FZ_FN void fz_op_fstat(struct fz_state *s)
{
	int kfd, ufd;
	char tn[24];
	fz_target(s, fz_u8(s), &kfd, &ufd, tn, sizeof(tn));
	if (kfd == s->kdir)
		return;
	struct stat ks, us;
	fz_log(s, "fstat(%s)", tn);
	errno = 0;
	int kr = fstat(kfd, &ks);
	int ke = errno;
	errno = 0;
	int ur = uepoll_fstat(ufd, &us);
	int ue = errno;
	fz_cmp_ret(s, "fstat", kr, ke, ur, ue);
	if (!s->diverged && kr == 0 &&
	    (ks.st_mode != us.st_mode || ks.st_nlink != us.st_nlink ||
	     ks.st_size != us.st_size || ks.st_blksize != us.st_blksize ||
	     ks.st_blocks != us.st_blocks))
		fz_diverge(s,
		           "fstat: kernel mode %#o nlink %lu size %ld, uepoll "
		           "mode %#o nlink %lu size %ld",
		           ks.st_mode, (unsigned long)ks.st_nlink,
		           (long)ks.st_size, us.st_mode,
		           (unsigned long)us.st_nlink, (long)us.st_size);
}

/* glibc's eventfd_read / eventfd_write on any target. */
FZ_FN void fz_op_efd_helper(struct fz_state *s)
{
	uint8_t tb = fz_u8(s), vb = fz_u8(s);
	int kfd, ufd;
	char tn[24];
	fz_target(s, tb, &kfd, &ufd, tn, sizeof(tn));
	if (kfd == s->kdir)
		return;
	errno = 0;
	int kr, ur, ke, ue;
	if (vb & 1) {
		eventfd_t v = fz_value(s, vb >> 1);
		fz_log(s, "eventfd_write(%s, %#llx)", tn,
		       (unsigned long long)v);
		kr = eventfd_write(kfd, v);
		ke = errno;
		errno = 0;
		ur = uepoll_eventfd_write(ufd, v);
		ue = errno;
		fz_cmp_ret(s, "eventfd_write", kr, ke, ur, ue);
	} else {
		eventfd_t kv = 0, uv = 0;
		fz_log(s, "eventfd_read(%s)", tn);
		kr = eventfd_read(kfd, &kv);
		ke = errno;
		errno = 0;
		ur = uepoll_eventfd_read(ufd, &uv);
		ue = errno;
		fz_cmp_ret(s, "eventfd_read", kr, ke, ur, ue);
		if (!s->diverged && kr == 0 && kv != uv)
			fz_diverge(s, "eventfd_read: kernel %llu, uepoll %llu",
			           (unsigned long long)kv,
			           (unsigned long long)uv);
	}
}

/*
 * Which targets select can name: not -1 or INT_MAX, and not a closed
 * slot's number (1000 + i), which the kernel ignores when its table is
 * smaller and reports EBADF otherwise (see README, select).
 */
FZ_FN bool fz_selectable(const struct pollfd *k, const struct pollfd *u,
                         size_t uset_bytes)
{
	return k->fd >= 0 && k->fd < 1000 && u->fd >= 0 &&
	       (size_t)u->fd / 8 < uset_bytes;
}

/* ppoll or select (timeout 0) over up to four targets. */
FZ_FN void fz_op_poll_select(struct fz_state *s)
{
	static fd_set *uset[3]; /* big enough for uepoll's numbers */
	static const size_t uset_bytes = (UEPOLL_FD_BASE + 200000) / 8;
	uint8_t nb = fz_u8(s), mb = fz_u8(s);
	int n = nb % 4 + 1;
	struct pollfd kp[4], up[4];
	char line[160] = "";
	for (int i = 0; i < n; i++) {
		char tn[24];
		fz_target(s, fz_u8(s), &kp[i].fd, &up[i].fd, tn, sizeof(tn));
		uint8_t eb = fz_u8(s);
		kp[i].events = up[i].events =
		        (short)((eb & 1 ? POLLIN : 0) | (eb & 2 ? POLLOUT : 0) |
		                (eb & 4 ? POLLPRI : 0) |
		                (eb & 8 ? POLLRDHUP : 0));
		size_t l = strlen(line);
		snprintf(line + l, sizeof(line) - l, " %s:%#x", tn,
		         kp[i].events);
	}
	struct timespec zero = {0, 0};
	if (!(mb & 1)) {
		fz_log(s, "ppoll(%s, 0)", line);
		errno = 0;
		int kr = ppoll(kp, (nfds_t)n, &zero, NULL);
		int ke = errno;
		errno = 0;
		int ur = uepoll_ppoll(up, (nfds_t)n, &zero, NULL);
		int ue = errno;
		fz_cmp_ret(s, "ppoll", kr, ke, ur, ue);
		for (int i = 0; !s->diverged && kr > 0 && i < n; i++)
			if (kp[i].revents != up[i].revents)
				fz_diverge(
				        s,
				        "ppoll: fd %d kernel %#x, uepoll %#x",
				        i, kp[i].revents, up[i].revents);
		return;
	}
	/* select: a bad descriptor (-1, INT_MAX) cannot be in a set. */
	fd_set kset[3];
	/* Mapped: only the pages touched cost memory (even under ASan). */
	if (!uset[0])
		for (int j = 0; j < 3; j++)
			uset[j] = mmap(NULL, uset_bytes, PROT_READ | PROT_WRITE,
			               MAP_PRIVATE | MAP_ANONYMOUS |
			                       MAP_NORESERVE,
			               -1, 0);
	if (uset[0] == MAP_FAILED || uset[1] == MAP_FAILED ||
	    uset[2] == MAP_FAILED)
		return;
	int kmax = -1, umax = -1;
	for (int j = 0; j < 3; j++)
		FD_ZERO(&kset[j]);
	for (int i = 0; i < n; i++) {
		if (!fz_selectable(&kp[i], &up[i], uset_bytes))
			continue;
		for (int j = 0; j < 3; j++) {
			if (!(kp[i].events & (j == 0   ? POLLIN
			                      : j == 1 ? POLLOUT
			                               : POLLPRI)))
				continue;
			FD_SET(kp[i].fd, &kset[j]);
			((unsigned long *)uset[j])[up[i].fd / 64] |=
			        1ul << (up[i].fd % 64);
		}
		kmax = kp[i].fd > kmax ? kp[i].fd : kmax;
		umax = up[i].fd > umax ? up[i].fd : umax;
	}
	fz_log(s, "select(%s, 0)", line);
	struct timeval ktv = {0, 0}, utv = {0, 0};
	errno = 0;
	int kr = select(kmax + 1, &kset[0], &kset[1], &kset[2], &ktv);
	int ke = errno;
	errno = 0;
	int ur = uepoll_select(umax + 1, uset[0], uset[1], uset[2], &utv);
	int ue = errno;
	fz_cmp_ret(s, "select", kr, ke, ur, ue);
	for (int i = 0; i < n; i++) {
		if (!fz_selectable(&kp[i], &up[i], uset_bytes))
			continue;
		for (int j = 0; j < 3; j++) {
			unsigned long *w = (unsigned long *)uset[j];
			bool ub = w[up[i].fd / 64] >> (up[i].fd % 64) & 1;
			bool kb = FD_ISSET(kp[i].fd, &kset[j]);
			if (!s->diverged && kr > 0 && ub != kb)
				fz_diverge(s,
				           "select: fd %d set %d kernel %d, "
				           "uepoll %d",
				           i, j, kb, ub);
		}
	}
	/* Then clear (a descriptor may be named twice). */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < 3 && up[i].fd >= 0 &&
		                (size_t)up[i].fd / 8 < uset_bytes;
		     j++)
			((unsigned long *)uset[j])[up[i].fd / 64] &=
			        ~(1ul << (up[i].fd % 64));
}

#endif
