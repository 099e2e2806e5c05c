/*
 * timerfd: a timer whose expirations are counted (fs/timerfd.c).  IN while
 * the count (ticks) is > 0; read returns the count and zeroes it.
 *
 * When the wake-ups happen, as in the kernel:
 *   - The timer function (run by the timer service, timer.c) adds one
 *     tick, sets expired, and wakes the queue with EPOLLIN.  It never
 *     re-arms the timer, even a periodic one.
 *   - A periodic timer is re-armed by the next read (or gettime): the
 *     deadline moves forward past now by whole intervals, and the
 *     intervals skipped are added to the count (overrun counting).  So a
 *     periodic timer that is never read wakes ONCE: an edge-triggered
 *     watcher sees one event, however many intervals pass.
 *   - settime clears the count and wakes nobody.
 *
 * All the state is guarded by the wait queue's lock (as the kernel's
 * ctx->wqh.lock), which is also held while arming and cancelling the
 * timer (lock order: wqh.lock -> the service's lock).  The timer function
 * takes the same lock and drops a firing that a later arm or cancel made
 * stale, by comparing sequence numbers (see timer.h), so settime never
 * waits for the service thread.  Only the release waits, to free safely.
 *
 * Clocks: deadlines are kept on CLOCK_MONOTONIC.  An absolute
 * CLOCK_REALTIME or CLOCK_BOOTTIME time is converted when it is armed, so
 * a later jump of the wall clock (settimeofday) or a suspend is not
 * followed, unlike Linux; TFD_TIMER_CANCEL_ON_SET is accepted and never
 * cancels.
 */
#include "fs/timerfd.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel/timer.h"

#define NSEC_PER_SEC 1000000000LL

struct timerfd_ctx {
	struct uepoll_wait_queue wqh; /* its lock guards all below */
	struct uep_timer t;
	int64_t expires; /* CLOCK_MONOTONIC ns of the armed deadline; 0 */
	int64_t tintv;   /* interval in ns; 0 = one-shot */
	uint64_t ticks;  /* expirations not read yet */
	bool expired;    /* fired and not re-armed yet */
	int clockid;
};

static const struct uepoll_file_operations timerfd_fops;

/* Saturates at UEP_TIME_MAX, as the kernel's ktime_t does. */
static int64_t ts_to_ns(const struct timespec *ts)
{
	if (ts->tv_sec >= UEP_TIME_MAX / NSEC_PER_SEC)
		return UEP_TIME_MAX;
	return (int64_t)ts->tv_sec * NSEC_PER_SEC + ts->tv_nsec;
}

static struct timespec ns_to_ts(int64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / NSEC_PER_SEC),
	                      .tv_nsec = (long)(ns % NSEC_PER_SEC)};
	return ts;
}

static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? UEP_TIME_MAX : INT64_MIN;
	return r;
}

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts_to_ns(&ts);
}

/*
 * Move the deadline past now by whole intervals (hrtimer_forward_now):
 * returns how many, 0 if it is still ahead.
 * Must be called with ctx->wqh.lock held.
 */
static uint64_t timerfd_forward(struct timerfd_ctx *ctx, int64_t now)
{
	if (now < ctx->expires)
		return 0;
	uint64_t delta = (uint64_t)now - (uint64_t)ctx->expires;
	uint64_t orun = delta / (uint64_t)ctx->tintv + 1;
	uint64_t step;
	if (__builtin_mul_overflow(orun, (uint64_t)ctx->tintv, &step) ||
	    step > (uint64_t)INT64_MAX)
		ctx->expires = UEP_TIME_MAX;
	else
		ctx->expires = add_sat(ctx->expires, (int64_t)step);
	return orun;
}

/*
 * The kernel's "expired && interval" re-arm, done by read and gettime:
 * add the skipped intervals to ticks and start the next period.
 * Must be called with ctx->wqh.lock held.
 */
static void timerfd_rearm(struct timerfd_ctx *ctx)
{
	if (!ctx->expired || !ctx->tintv)
		return;
	ctx->ticks += timerfd_forward(ctx, uep_timer_now()) - 1;
	ctx->expired = false;
	/* The service thread exists: it has just fired this timer. */
	uep_timer_start(&ctx->t, ctx->expires);
}

/* Must be called with ctx->wqh.lock held. */
static int64_t timerfd_remaining(struct timerfd_ctx *ctx)
{
	int64_t rem = add_sat(ctx->expires, -uep_timer_now());
	return rem < 0 ? 0 : rem;
}

/* The timer service's function (timerfd_tmrproc). */
static void timerfd_fire(struct uep_timer *t, uint64_t seq)
{
	struct timerfd_ctx *ctx = uep_container_of(t, struct timerfd_ctx, t);
	uep_wq_lock(&ctx->wqh);
	/* Re-armed or cancelled since the service took it: not ours. */
	if (seq == uep_timer_seq(t)) {
		ctx->expired = true;
		ctx->ticks++;
		uep_wake_up_locked(&ctx->wqh, EPOLLIN, 1);
	}
	uep_wq_unlock(&ctx->wqh);
}

static uint32_t timerfd_poll(struct uepoll_file *f,
                             struct uepoll_poll_table *pt)
{
	struct timerfd_ctx *ctx = f->private_data;
	uepoll_poll_wait(f, &ctx->wqh, pt);
	uep_wq_lock(&ctx->wqh);
	uint32_t events = ctx->ticks ? EPOLLIN : 0;
	uep_wq_unlock(&ctx->wqh);
	return events;
}

static ssize_t timerfd_read(struct uepoll_file *f, void *buf, size_t n)
{
	struct timerfd_ctx *ctx = f->private_data;
	if (n < sizeof(uint64_t))
		return -EINVAL;
	uep_wq_lock(&ctx->wqh);
	if (!ctx->ticks) {
		uep_wq_unlock(&ctx->wqh);
		return -EAGAIN;
	}
	timerfd_rearm(ctx);
	uint64_t v = ctx->ticks;
	ctx->ticks = 0;
	ctx->expired = false;
	uep_wq_unlock(&ctx->wqh);
	memcpy(buf, &v, sizeof(v));
	return sizeof(v);
}

static void timerfd_release(struct uepoll_file *f)
{
	struct timerfd_ctx *ctx = f->private_data;
	uep_timer_cancel_sync(&ctx->t);
	uep_wq_destroy(&ctx->wqh);
	free(ctx);
}

/* No write: EINVAL, as the kernel's timerfd_fops has none. */
static const struct uepoll_file_operations timerfd_fops = {
        .poll = timerfd_poll,
        .read = timerfd_read,
        .release = timerfd_release,
};

/* CAP_WAKE_ALARM in the effective set (the alarm clocks need it). */
static bool capable_wake_alarm(void)
{
	struct __user_cap_header_struct hdr = {
	        .version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) != 0)
		return false;
	return data[CAP_WAKE_ALARM / 32].effective &
	       (1u << (CAP_WAKE_ALARM % 32));
}

int uep_timerfd_create(int clockid, int flags)
{
	if (flags & ~(TFD_CLOEXEC | TFD_NONBLOCK))
		return -EINVAL;
	switch (clockid) {
	case CLOCK_MONOTONIC:
	case CLOCK_REALTIME:
	case CLOCK_BOOTTIME:
		break;
	case CLOCK_REALTIME_ALARM:
	case CLOCK_BOOTTIME_ALARM:
		/* Accepted as their plain clocks: nothing wakes a suspend. */
		if (!capable_wake_alarm())
			return -EPERM;
		clockid = clockid == CLOCK_REALTIME_ALARM ? CLOCK_REALTIME
		                                          : CLOCK_BOOTTIME;
		break;
	default:
		return -EINVAL;
	}
	struct timerfd_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	uep_wq_init(&ctx->wqh);
	uep_timer_init(&ctx->t, timerfd_fire);
	ctx->clockid = clockid;
	struct uepoll_file *f = uep_file_alloc(&timerfd_fops, ctx,
	                                       O_RDWR | (flags & TFD_NONBLOCK));
	if (!f) {
		uep_wq_destroy(&ctx->wqh);
		free(ctx);
		return -ENOMEM;
	}
	/* On failure the put releases ctx through timerfd_release. */
	return uep_file_install(f, flags & TFD_CLOEXEC ? O_CLOEXEC : 0);
}

/* The CLOCK_MONOTONIC deadline of an absolute time on ctx's clock. */
static int64_t abs_to_mono(struct timerfd_ctx *ctx, int64_t t)
{
	if (ctx->clockid == CLOCK_MONOTONIC)
		return t;
	int64_t other = clock_ns(ctx->clockid);
	int64_t mono = uep_timer_now();
	return add_sat(t, mono - other);
}

int uep_timerfd_settime(struct uepoll_file *f, int flags,
                        const struct itimerspec *new_value,
                        struct itimerspec *old_value)
{
	if (f->f_op != &timerfd_fops)
		return -EINVAL;
	struct timerfd_ctx *ctx = f->private_data;
	int64_t texp = ts_to_ns(&new_value->it_value);
	int r = 0;

	uep_wq_lock(&ctx->wqh);
	uep_timer_cancel(&ctx->t);
	if (old_value) {
		if (ctx->expired && ctx->tintv)
			timerfd_forward(ctx, uep_timer_now());
		old_value->it_value = ns_to_ts(timerfd_remaining(ctx));
		old_value->it_interval = ns_to_ts(ctx->tintv);
	}
	ctx->expired = false;
	ctx->ticks = 0;
	ctx->tintv = ts_to_ns(&new_value->it_interval);
	ctx->expires = 0;
	if (texp) {
		if (flags & TFD_TIMER_ABSTIME)
			ctx->expires = abs_to_mono(ctx, texp);
		else
			ctx->expires = add_sat(uep_timer_now(), texp);
		r = uep_timer_start(&ctx->t, ctx->expires);
		if (r < 0)
			ctx->expires = 0;
	}
	uep_wq_unlock(&ctx->wqh);
	return r;
}

int uep_timerfd_gettime(struct uepoll_file *f, struct itimerspec *cur)
{
	if (f->f_op != &timerfd_fops)
		return -EINVAL;
	struct timerfd_ctx *ctx = f->private_data;
	uep_wq_lock(&ctx->wqh);
	timerfd_rearm(ctx);
	cur->it_value = ns_to_ts(timerfd_remaining(ctx));
	cur->it_interval = ns_to_ts(ctx->tintv);
	uep_wq_unlock(&ctx->wqh);
	return 0;
}
