/*
 * fork handlers: see fork.h.  The prepare handler takes, in the lock order
 * of the LOCKING block (eventpoll.c), every lock that is not an object's
 * own: epnested_mutex, the epitem cache, the descriptor table's allocation
 * lock and its stripes, and last the timer service's lock, the innermost
 * (kernel/timer.c; taken first, it deadlocked a fork against a nested ADD
 * polling a timerfd that another thread re-armed: unit test
 * fork_while_nested_add_polls_a_rearming_timerfd).  Threads inside the
 * library finish what they do under those locks first.  An object's own
 * locks (ep->mtx, queue locks) cannot all be taken: an object another
 * thread is inside of at the fork stays locked in the child (uepoll.h
 * says so).  Threads asleep in uepoll hold no lock; their waiters left on
 * the copies' queues are skipped by wake-ups in the child (uep_fork_gen,
 * sync.h).
 */
#include "fs/fork.h"

#include <pthread.h>
#include <stdbool.h>

#include "fs/eventpoll.h"
#include "fs/fdtable.h"
#include "kernel/timer.h"
#include "lib/sync.h"

static void fork_prepare(void)
{
	uep_ep_fork_lock(true);
	uep_fd_fork_lock(true);
	uep_timer_fork_prepare(); /* innermost (the LOCKING block) */
}

static void fork_unlock(void)
{
	uep_fd_fork_lock(false);
	uep_ep_fork_lock(false);
}

static void fork_parent(void)
{
	uep_timer_fork_parent();
	fork_unlock();
}

static void fork_child(void)
{
	uep_sync_fork_child();
	fork_unlock(); /* the forking thread owns them in the child too */
	uep_timer_fork_child(); /* may start the service thread */
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_register(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void uep_fork_init(void)
{
	pthread_once(&fork_once, fork_register);
}
