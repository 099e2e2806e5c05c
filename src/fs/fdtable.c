/* The descriptor table: see fdtable.h. */
#include "fs/fdtable.h"

#include <errno.h>
#include <stdlib.h>

#include "fs/fork.h"
#include "lib/sigsafe.h"

/*
 * Slots per chunk: a chunk is 64 KiB (16-byte slots), so a small program
 * allocates one, a million descriptors take 256, and the array of chunk
 * pointers is 8 KiB.
 */
#define UEP_FD_CHUNK 4096
#define UEP_FD_NCHUNKS (UEP_FD_CAPACITY / UEP_FD_CHUNK)
/*
 * Locks for the slots (number mod 256): many more than threads, so two
 * threads rarely meet on one unless they use one descriptor, and
 * neighbouring numbers, which programs use together, never share one;
 * 256 futex words are 1 KiB (in release builds).
 */
#define UEP_FD_STRIPES 256
#define WORD_BITS 64

struct fd_slot {
	struct uepoll_file *file; /* under the slot's stripe lock */
	unsigned flags;           /* UEP_FD_CLOEXEC, under the stripe lock */
	/* uep_fd_set_kernel_epoll's kfd + 1, or 0: written under the stripe
	 * lock, read without it (uep_fget_epoll) */
	_Atomic int kfd1;
};

static struct fd_slot *_Atomic chunks[UEP_FD_NCHUNKS];

/* Lowest-free allocation: open_bits per number, full_bits per full word. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t open_bits[UEP_FD_CAPACITY / WORD_BITS];
static uint64_t full_bits[UEP_FD_CAPACITY / WORD_BITS / WORD_BITS];
static long fd_limit = UEP_FD_CAPACITY; /* under table_lock */

/*
 * Owner-aware (lib/sigsafe.h): a signal handler's lookup can tell that
 * the section it interrupted holds the stripe (see uep_fget).
 */
static struct uep_owned_mutex stripes[UEP_FD_STRIPES];

static struct uep_owned_mutex *stripe_of(unsigned idx)
{
	return &stripes[idx % UEP_FD_STRIPES];
}

/* The slot of index idx, or NULL if its chunk was never allocated. */
static struct fd_slot *slot_of(unsigned idx)
{
	struct fd_slot *c = atomic_load_explicit(&chunks[idx / UEP_FD_CHUNK],
	                                         memory_order_acquire);
	return c ? &c[idx % UEP_FD_CHUNK] : NULL;
}

/* Must be called with table_lock held. */
static struct fd_slot *slot_create(unsigned idx)
{
	struct fd_slot *s = slot_of(idx);
	if (s)
		return s;
	struct fd_slot *c = calloc(UEP_FD_CHUNK, sizeof(*c));
	if (!c)
		return NULL;
	atomic_store_explicit(&chunks[idx / UEP_FD_CHUNK], c,
	                      memory_order_release);
	return &c[idx % UEP_FD_CHUNK];
}

static void bit_set(unsigned idx)
{
	unsigned w = idx / WORD_BITS;
	open_bits[w] |= 1ull << (idx % WORD_BITS);
	if (open_bits[w] == ~0ull)
		full_bits[w / WORD_BITS] |= 1ull << (w % WORD_BITS);
}

static void bit_clear(unsigned idx)
{
	unsigned w = idx / WORD_BITS;
	open_bits[w] &= ~(1ull << (idx % WORD_BITS));
	full_bits[w / WORD_BITS] &= ~(1ull << (w % WORD_BITS));
}

/* Lowest clear index >= from, or -1.  Must be called with table_lock. */
static long find_free(unsigned long from)
{
	unsigned long limit = (unsigned long)fd_limit;
	unsigned long w = from / WORD_BITS;
	if (from >= limit)
		return -1;
	/* The first, partial word. */
	uint64_t free_bits = ~open_bits[w] & (~0ull << (from % WORD_BITS));
	if (free_bits)
		goto found;
	/* Then skip full words 64 at a time with full_bits. */
	for (w = w + 1; w * WORD_BITS < limit; w++) {
		if (w % WORD_BITS == 0) {
			while (w * WORD_BITS < limit &&
			       full_bits[w / WORD_BITS] == ~0ull)
				w += WORD_BITS;
			if (w * WORD_BITS >= limit)
				return -1;
		}
		if (full_bits[w / WORD_BITS] & (1ull << (w % WORD_BITS)))
			continue;
		free_bits = ~open_bits[w];
		if (free_bits)
			goto found;
	}
	return -1;
found:;
	unsigned long idx =
	        w * WORD_BITS + (unsigned)__builtin_ctzll(free_bits);
	return idx < limit ? (long)idx : -1;
}

int uep_fd_install(struct uepoll_file *f, unsigned fd_flags, int minfd)
{
	unsigned long from = minfd > UEPOLL_FD_BASE
	                             ? (unsigned long)minfd - UEPOLL_FD_BASE
	                             : 0;
	pthread_mutex_lock(&table_lock);
	long idx = find_free(from);
	if (idx < 0) {
		pthread_mutex_unlock(&table_lock);
		return -EMFILE;
	}
	struct fd_slot *s = slot_create((unsigned)idx);
	if (!s) {
		pthread_mutex_unlock(&table_lock);
		return -ENOMEM;
	}
	bit_set((unsigned)idx);
	struct uep_owned_mutex *st = stripe_of((unsigned)idx);
	uep_owned_lock(st);
	s->file = f;
	s->flags = fd_flags;
	uep_owned_unlock(st);
	pthread_mutex_unlock(&table_lock);
	return UEPOLL_FD_BASE + (int)idx;
}

static bool index_of(int fd, unsigned *idx)
{
	if (fd < UEPOLL_FD_BASE || fd - UEPOLL_FD_BASE >= UEP_FD_CAPACITY)
		return false;
	*idx = (unsigned)(fd - UEPOLL_FD_BASE);
	return true;
}

/* The existing slot of descriptor fd (its index in *idx), or NULL. */
static struct fd_slot *slot_at(int fd, unsigned *idx)
{
	return index_of(fd, idx) ? slot_of(*idx) : NULL;
}

/*
 * The existing slot of descriptor fd with its stripe lock taken (*st, for
 * the caller to unlock), or NULL with no lock taken.
 */
static struct fd_slot *slot_lock(int fd, struct uep_owned_mutex **st)
{
	unsigned idx;
	struct fd_slot *s = slot_at(fd, &idx);
	if (!s)
		return NULL;
	*st = stripe_of(idx);
	uep_owned_lock(*st);
	return s;
}

/* A reference to the slot's file, or a pin when pin and the file allows. */
static struct uepoll_file *slot_get(struct fd_slot *s, bool pin, bool *pinned)
{
	struct uepoll_file *f = s->file;
	*pinned = false;
	if (!f)
		return NULL;
	/*
	 * Relaxed: the final release, which waits for pins, comes after a
	 * slot_take of this stripe, so the stripe lock orders this increment
	 * before it (or, in the handler's case below, the interrupted section
	 * of this same thread does the taking, after the handler returned).
	 */
	if (pin && (f->f_mode & UEP_FMODE_SIGSAFE_WRITE)) {
		atomic_fetch_add_explicit(&f->f_pins, 1, memory_order_relaxed);
		*pinned = true;
	} else {
		uep_file_get(f);
	}
	return f;
}

/* The slot's file when the stripe was not free at once, or for a pin. */
static __attribute__((noinline)) struct uepoll_file *
fget_slow(struct fd_slot *s, struct uep_owned_mutex *st, bool pin, bool *pinned)
{
	if (uep_owned_by_me(st)) {
		/*
		 * A signal handler interrupted this thread's own section on
		 * this stripe: no other thread can change the slot meanwhile,
		 * and every section drops file references only after its
		 * unlock, so the file read here holds one.
		 */
		return slot_get(s, pin, pinned);
	}
	uep_owned_lock(st);
	struct uepoll_file *f = slot_get(s, pin, pinned);
	uep_owned_unlock(st);
	return f;
}

static UEP_ALWAYS_INLINE struct uepoll_file *fget_slot(struct fd_slot *s,
                                                       unsigned idx)
{
	struct uep_owned_mutex *st = stripe_of(idx);
	bool pinned;
	/* Busy: another thread's, or (in a handler) our own section's. */
	if (UEP_UNLIKELY(!uep_owned_trylock(st)))
		return fget_slow(s, st, false, &pinned);
	struct uepoll_file *f = s->file;
	if (f)
		uep_file_get(f);
	uep_owned_unlock(st);
	return f;
}

struct uepoll_file *uep_fget(int fd)
{
	unsigned idx;
	struct fd_slot *s = slot_at(fd, &idx);
	return s ? fget_slot(s, idx) : NULL;
}

struct uepoll_file *uep_fget_pin(int fd, bool *pinned)
{
	unsigned idx;
	struct fd_slot *s = slot_at(fd, &idx);
	*pinned = false;
	return s ? fget_slow(s, stripe_of(idx), true, pinned) : NULL;
}

/* Clear the slot; returns the file it held (its reference), or NULL. */
static struct uepoll_file *slot_take(unsigned idx)
{
	struct fd_slot *s = slot_of(idx);
	if (!s)
		return NULL;
	struct uep_owned_mutex *st = stripe_of(idx);
	uep_owned_lock(st);
	struct uepoll_file *f = s->file;
	s->file = NULL;
	s->flags = 0;
	atomic_store_explicit(&s->kfd1, 0, memory_order_relaxed);
	uep_owned_unlock(st);
	return f;
}

int uep_fd_close(int fd)
{
	unsigned idx;
	if (!index_of(fd, &idx))
		return -EBADF;
	pthread_mutex_lock(&table_lock);
	struct uepoll_file *f = slot_take(idx);
	if (f)
		bit_clear(idx);
	pthread_mutex_unlock(&table_lock);
	if (!f)
		return -EBADF;
	uep_file_put(f);
	return 0;
}

int uep_fd_replace(int newfd, struct uepoll_file *f, unsigned fd_flags)
{
	unsigned idx;
	if (!index_of(newfd, &idx))
		return -EBADF;
	pthread_mutex_lock(&table_lock);
	if ((long)idx >= fd_limit) {
		pthread_mutex_unlock(&table_lock);
		return -EBADF;
	}
	struct fd_slot *s = slot_create(idx);
	if (!s) {
		pthread_mutex_unlock(&table_lock);
		return -ENOMEM;
	}
	uep_file_get(f);
	struct uep_owned_mutex *st = stripe_of(idx);
	uep_owned_lock(st);
	struct uepoll_file *old = s->file;
	s->file = f;
	s->flags = fd_flags;
	atomic_store_explicit(&s->kfd1, 0, memory_order_relaxed);
	uep_owned_unlock(st);
	bit_set(idx);
	pthread_mutex_unlock(&table_lock);
	if (old)
		uep_file_put(old);
	return newfd;
}

int uep_fd_set_kernel_epoll(int fd, int kfd)
{
	struct uep_owned_mutex *st;
	struct fd_slot *s = slot_lock(fd, &st);
	if (!s)
		return -EBADF;
	int r = s->file ? 0 : -EBADF;
	if (!r)
		atomic_store_explicit(&s->kfd1, kfd + 1, memory_order_relaxed);
	uep_owned_unlock(st);
	return r;
}

void uep_fd_clear_kernel_epoll(int fd, const struct uepoll_file *f)
{
	struct uep_owned_mutex *st;
	struct fd_slot *s = slot_lock(fd, &st);
	if (!s)
		return;
	if (s->file == f)
		atomic_store_explicit(&s->kfd1, 0, memory_order_relaxed);
	uep_owned_unlock(st);
}

/*
 * A kernel epoll: no lock and no reference, the number read is all the
 * caller uses, and a kernel call on it gets the kernel's answer for
 * whatever the number is by then (a wait racing the close of its epoll fd
 * does the same on Linux).  Relaxed: nothing else is published through
 * it.  Any other descriptor: uep_fget, after one more load and branch.
 */
UEP_HOT struct uepoll_file *uep_fget_epoll(int fd, int *kfd)
{
	unsigned idx;
	struct fd_slot *s = slot_at(fd, &idx);
	if (!s)
		return NULL;
	int k1 = atomic_load_explicit(&s->kfd1, memory_order_relaxed);
	if (UEP_UNLIKELY(k1)) {
		*kfd = k1 - 1;
		return UEP_FILE_KERNEL_EPOLL;
	}
	return fget_slot(s, idx);
}

int uep_fd_get_flags(int fd)
{
	struct uep_owned_mutex *st;
	int r = -EBADF;
	struct fd_slot *s = slot_lock(fd, &st);
	if (!s)
		return r;
	if (s->file)
		r = (int)s->flags;
	uep_owned_unlock(st);
	return r;
}

int uep_fd_set_flags(int fd, unsigned fd_flags)
{
	struct uep_owned_mutex *st;
	int r = -EBADF;
	struct fd_slot *s = slot_lock(fd, &st);
	if (!s)
		return r;
	if (s->file) {
		s->flags = fd_flags;
		r = 0;
	}
	uep_owned_unlock(st);
	return r;
}

long uep_fd_span(void)
{
	long n = 0;
	for (long i = 0; i < UEP_FD_NCHUNKS; i++)
		if (atomic_load_explicit(&chunks[i], memory_order_acquire))
			n = i + 1;
	return n * UEP_FD_CHUNK;
}

long uep_fd_limit(void)
{
	pthread_mutex_lock(&table_lock);
	long l = fd_limit;
	pthread_mutex_unlock(&table_lock);
	return l;
}

int uep_fd_set_limit(long limit)
{
	if (limit < 1 || limit > UEP_FD_CAPACITY)
		return -EINVAL;
	pthread_mutex_lock(&table_lock);
	fd_limit = limit;
	pthread_mutex_unlock(&table_lock);
	return 0;
}

/* fork (fs/fork.c): the allocation lock, then every stripe. */
void uep_fd_fork_lock(bool lock)
{
	if (lock) {
		pthread_mutex_lock(&table_lock);
		for (int i = 0; i < UEP_FD_STRIPES; i++)
			uep_owned_lock(&stripes[i]);
	} else {
		for (int i = 0; i < UEP_FD_STRIPES; i++)
			uep_owned_unlock(&stripes[i]);
		pthread_mutex_unlock(&table_lock);
	}
}

/*
 * Every program that uses uepoll links this file: register the fork
 * handlers here, before any other constructor (priority 101), so that
 * handlers the program or the preload register later run their prepare
 * first and their child handler after ours: they may call uepoll there.
 */
__attribute__((constructor(101))) static void fdtable_fork_init(void)
{
	uep_fork_init();
}
