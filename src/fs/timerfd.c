/*
 * timerfd: a timer whose expirations are counted (fs/timerfd.c).  IN while
 * the count (ticks) is > 0; read returns the count and zeroes it.
 *
 * When the wake-ups happen, as in the kernel:
 *   - The timer function (run by the timer service, timer.c) adds one
 *     tick, sets expired, and wakes the queue with EPOLLIN.  It never
 *     re-arms the timer, even a periodic one.  When the service is late
 *     (a busy thread, not a hardware interrupt), read, gettime and
 *     settime do the same first, where the kernel's timer would already
 *     have fired (timerfd_catch_up; settime only needs the next deadline).
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
 * Clocks: deadlines are kept on CLOCK_MONOTONIC.  A timer that follows
 * its clock -- an absolute CLOCK_REALTIME one, and any CLOCK_BOOTTIME one
 * (the kernel arms a relative CLOCK_REALTIME timer on the monotonic clock)
 * -- remembers the clock's offset from CLOCK_MONOTONIC when armed
 * (ctx->offs).  Such timers are on the follow list; when the timer
 * service reports a clock change (uep_timer_watch_clock), each moves its
 * deadline by the change of its offset and is re-armed, and one armed
 * with TFD_TIMER_CANCEL_ON_SET is cancelled as in the kernel: one tick,
 * an EPOLLIN wake-up, and the next read fails with ECANCELED.  Lock order:
 * follow_lock -> ctx->wqh.lock -> the service's lock.
 */
#include "fs/timerfd.h"

#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel/timer.h"
#include "lib/list.h"

#define NSEC_PER_SEC 1000000000LL
/* Offsets closer than this are the same (two clock reads differ a bit). */
#define OFFS_SLACK_NS 20000

struct timerfd_ctx {
	struct uepoll_wait_queue wqh; /* its lock guards all below */
	struct uep_timer t;
	int64_t expires; /* CLOCK_MONOTONIC ns of the armed deadline; 0 */
	int64_t tintv;   /* interval in ns; 0 = one-shot */
	uint64_t ticks;  /* expirations not read yet */
	bool expired;    /* fired and not re-armed yet */
	bool pending;    /* armed in the service, not fired yet */
	int clockid;
	/* following the clock: under wqh.lock */
	bool follow;           /* the deadline moves with the clock */
	bool might_cancel;     /* TFD_TIMER_CANCEL_ON_SET with ABSTIME */
	bool canceled;         /* the clock changed: the next read fails */
	int64_t offs;          /* clock - CLOCK_MONOTONIC when armed */
	struct uep_list flink; /* on follow_list (REALTIME, BOOTTIME) */
};

static pthread_mutex_t follow_lock = PTHREAD_MUTEX_INITIALIZER;
static struct uep_list follow_list = {&follow_list, &follow_list};

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

/* clock - CLOCK_MONOTONIC, the monotonic time read on both sides. */
static int64_t clock_offset(clockid_t c)
{
	int64_t m0 = uep_timer_now();
	int64_t t = clock_ns(c);
	int64_t m1 = uep_timer_now();
	return t - (m0 + (m1 - m0) / 2);
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

/* The timer service's function (timerfd_tmrproc).  wqh.lock held. */
static void timerfd_expire(struct timerfd_ctx *ctx)
{
	ctx->pending = false;
	ctx->expired = true;
	ctx->ticks++;
	uep_wake_up_locked(&ctx->wqh, EPOLLIN, 1);
}

/*
 * A deadline the service thread has not served yet (it is busy running
 * another timer's function, or not scheduled): the kernel's hrtimer would
 * have fired at the deadline, so read and gettime, which look at the
 * timer's state, fire it first.  The service's own firing is then
 * stale: cancelled here (its sequence number moves), and a periodic timer
 * is re-armed by the caller's re-arm.
 * Must be called with ctx->wqh.lock held.
 */
static void timerfd_catch_up(struct timerfd_ctx *ctx)
{
	if (!ctx->pending || uep_timer_now() < ctx->expires)
		return;
	uep_timer_cancel(&ctx->t);
	timerfd_expire(ctx);
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
	ctx->pending = uep_timer_start(&ctx->t, ctx->expires) == 0;
}

/* Must be called with ctx->wqh.lock held. */
static int64_t timerfd_remaining(struct timerfd_ctx *ctx)
{
	int64_t rem = add_sat(ctx->expires, -uep_timer_now());
	return rem < 0 ? 0 : rem;
}

static void timerfd_fire(struct uep_timer *t, uint64_t seq)
{
	struct timerfd_ctx *ctx = uep_container_of(t, struct timerfd_ctx, t);
	uep_wq_lock(&ctx->wqh);
	/* Re-armed, cancelled or caught up since the service took it. */
	if (seq == uep_timer_seq(t))
		timerfd_expire(ctx);
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
	timerfd_catch_up(ctx);
	if (!ctx->ticks) {
		uep_wq_unlock(&ctx->wqh);
		return -EAGAIN;
	}
	/* The clock changed: the ticks do not count, nothing is re-armed. */
	if (ctx->canceled) {
		ctx->canceled = false;
		ctx->offs = clock_offset(ctx->clockid);
		ctx->ticks = 0;
		ctx->expired = false;
		uep_wq_unlock(&ctx->wqh);
		return -ECANCELED;
	}
	timerfd_rearm(ctx);
	uint64_t v = ctx->ticks;
	ctx->ticks = 0;
	ctx->expired = false;
	uep_wq_unlock(&ctx->wqh);
	memcpy(buf, &v, sizeof(v));
	return sizeof(v);
}

/*
 * The clock changed (timerfd_clock_was_set): move the deadlines of the
 * timers that follow it, cancel those armed with TFD_TIMER_CANCEL_ON_SET.
 */
static void timerfd_clock_changed(void)
{
	struct uep_list *pos;
	pthread_mutex_lock(&follow_lock);
	uep_list_for_each(pos, &follow_list)
	{
		struct timerfd_ctx *ctx =
		        uep_list_entry(pos, struct timerfd_ctx, flink);
		uep_wq_lock(&ctx->wqh);
		int64_t offs = clock_offset(ctx->clockid);
		int64_t d = offs - ctx->offs;
		if ((ctx->follow || ctx->might_cancel) &&
		    (d > OFFS_SLACK_NS || d < -OFFS_SLACK_NS)) {
			ctx->offs = offs;
			if (ctx->follow && ctx->expires) {
				ctx->expires = add_sat(ctx->expires, -d);
				/* Only an armed timer goes back in the queue:
				 * one that fired waits for its read. */
				if (ctx->pending)
					uep_timer_start(&ctx->t, ctx->expires);
			}
			if (ctx->might_cancel && !ctx->canceled) {
				ctx->canceled = true;
				ctx->ticks++;
				uep_wake_up_locked(&ctx->wqh, EPOLLIN, 1);
			}
		}
		uep_wq_unlock(&ctx->wqh);
	}
	pthread_mutex_unlock(&follow_lock);
}

static void timerfd_release(struct uepoll_file *f)
{
	struct timerfd_ctx *ctx = f->private_data;
	if (ctx->clockid != CLOCK_MONOTONIC) {
		pthread_mutex_lock(&follow_lock);
		uep_list_del_init(&ctx->flink);
		pthread_mutex_unlock(&follow_lock);
	}
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
	uep_list_init(&ctx->flink);
	struct uepoll_file *f = uep_file_alloc(&timerfd_fops, ctx,
	                                       O_RDWR | (flags & TFD_NONBLOCK));
	if (!f) {
		uep_wq_destroy(&ctx->wqh);
		free(ctx);
		return -ENOMEM;
	}
	if (clockid != CLOCK_MONOTONIC) {
		pthread_mutex_lock(&follow_lock);
		uep_list_add(&ctx->flink, &follow_list);
		pthread_mutex_unlock(&follow_lock);
	}
	/* On failure the put releases ctx through timerfd_release. */
	return uep_file_install(f, flags & TFD_CLOEXEC ? O_CLOEXEC : 0);
}

int uep_timerfd_settime(struct uepoll_file *f, int flags,
                        const struct itimerspec *new_value,
                        struct itimerspec *old_value)
{
	if (f->f_op != &timerfd_fops)
		return -EINVAL;
	struct timerfd_ctx *ctx = f->private_data;
	int64_t texp = ts_to_ns(&new_value->it_value);
	bool abs = flags & TFD_TIMER_ABSTIME;
	bool follow = ctx->clockid == CLOCK_BOOTTIME ||
	              (ctx->clockid == CLOCK_REALTIME && abs);
	bool might_cancel = ctx->clockid == CLOCK_REALTIME && abs &&
	                    (flags & TFD_TIMER_CANCEL_ON_SET);
	int r = 0;

	/* Before the lock: it may start the watcher (a thread). */
	if ((follow && texp) || might_cancel)
		uep_timer_watch_clock(timerfd_clock_changed);
	uep_wq_lock(&ctx->wqh);
	uep_timer_cancel(&ctx->t);
	ctx->pending = false;
	if (old_value) {
		/* Fired, or due (a late service: timerfd_catch_up). */
		int64_t now = uep_timer_now();
		if (ctx->tintv && ctx->expires &&
		    (ctx->expired || now >= ctx->expires))
			timerfd_forward(ctx, now);
		old_value->it_value = ns_to_ts(timerfd_remaining(ctx));
		old_value->it_interval = ns_to_ts(ctx->tintv);
	}
	ctx->expired = false;
	ctx->ticks = 0;
	ctx->tintv = ts_to_ns(&new_value->it_interval);
	ctx->expires = 0;
	ctx->follow = follow;
	ctx->might_cancel = might_cancel;
	ctx->canceled = false;
	ctx->offs = ctx->clockid == CLOCK_MONOTONIC
	                    ? 0
	                    : clock_offset(ctx->clockid);
	if (texp) {
		if (abs)
			ctx->expires = add_sat(texp, -ctx->offs);
		else
			ctx->expires = add_sat(uep_timer_now(), texp);
		r = uep_timer_start(&ctx->t, ctx->expires);
		if (r < 0)
			ctx->expires = 0;
		ctx->pending = r == 0;
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
	timerfd_catch_up(ctx);
	timerfd_rearm(ctx);
	cur->it_value = ns_to_ts(timerfd_remaining(ctx));
	cur->it_interval = ns_to_ts(ctx->tintv);
	uep_wq_unlock(&ctx->wqh);
	return 0;
}
