/*
 * Sockets of your own (usock_api.c): the family table and the calls of
 * socket_api.c that may sleep on a user socket.
 */
#ifndef UEP_USOCK_H
#define UEP_USOCK_H

#include <stdbool.h>
#include <sys/socket.h>

#include "fs/file.h"

/* A registered family's socket: true with its result in *ret. */
bool uep_usock_family(int domain, int type, int protocol, int *ret);

int uep_usock_connect(struct uepoll_file *f, const struct sockaddr *addr,
                      socklen_t len);
int uep_usock_accept(struct uepoll_file *f, struct sockaddr *addr,
                     socklen_t *len, int flags);
ssize_t uep_usock_sendmsg(struct uepoll_file *f, const struct msghdr *msg,
                          int flags);
ssize_t uep_usock_recvmsg(struct uepoll_file *f, struct msghdr *msg, int flags);

/* An operation that cannot sleep, or -EOPNOTSUPP when it is NULL. */
#define UEP_USOCK_CALL(f, op, ...)                                             \
	((f)->f_sop->op ? (f)->f_sop->op((f), __VA_ARGS__) : -EOPNOTSUPP)

#endif
