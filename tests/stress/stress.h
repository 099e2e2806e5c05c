/*
 * What stress.c shares with the workloads in other files (stress_edges.c,
 * stress_kfd.c): thread states for the watchdog, the stop flag, the
 * lost wake-up bound, failure, randomness.
 */
#ifndef STRESS_H
#define STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct tstate {
	char name[24];
	_Atomic(const char *) what; /* the call in progress */
	_Atomic int fd;
	_Atomic uint64_t ops;
	_Atomic int64_t since; /* when `what` began */
	pthread_t tid;
};

extern atomic_bool stop;
extern int64_t bound_ns; /* STRESS_BOUND_MS: a wake-up later is lost */
int64_t now_ns(void);
uint64_t rnd(uint64_t *s);
void sleep_us(long us);
void doing(struct tstate *t, const char *what, int fd);
void done(struct tstate *t);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct tstate *spawn(void *(*fn)(void *), const char *name);

/*
 * The edge workloads (stress_edges.c): poll racing close, a signal handler
 * writing eventfds, pwait with masks, fork.  start: before the run, spawns
 * its threads; tick: from the watchdog loop, every 100 ms; finish: after
 * every thread stopped, checks what can only be checked at the end and
 * adds its counts to the report.  A new workload adds itself to the three.
 */
void edges_start(void);
void edges_tick(int64_t now);
void edges_finish(void);

/*
 * The kernel-half workloads (stress_kfd.c): a kernel fd arriving while
 * threads sleep, uepoll_poll over mixed sets, and the check that no kernel fd
 * is left open (kfd_fds_snapshot first thing in main, kfd_fds_check last).
 */
void kfd_start(void);
void kfd_tick(int64_t now);
void kfd_finish(void);
void kfd_fds_snapshot(void);
void kfd_fds_check(void);

#endif
