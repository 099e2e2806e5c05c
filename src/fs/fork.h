/*
 * fork() in library mode: pthread_atfork handlers that hold the library's
 * global locks across the fork (so the child finds them free) and give the
 * child's thread its own per-thread state.  What a child may do is in
 * uepoll.h ("fork").  The timer service's handlers (kernel/timer.c) run
 * inside these: its lock is the innermost.
 */
#ifndef UEP_FORK_H
#define UEP_FORK_H

/* Register the handlers (once; the descriptor table calls it at load). */
void uep_fork_init(void);

#endif
