/* Constructors of the built-in objects; each returns -errno on failure. */
#ifndef UEP_OBJECTS_H
#define UEP_OBJECTS_H

int uep_eventfd_create(unsigned int initval, int flags);
int uep_pipe_create(int fds[2], int flags);

#include <stdbool.h>
struct uepoll_file;
/* A pipe's capacity: 16 slots of one page (F_GETPIPE_SZ). */
#define UEP_PIPE_SIZE 65536
bool uep_is_file_pipe(const struct uepoll_file *f);
int uep_pipe_set_size(struct uepoll_file *f, unsigned size);
/* FIONREAD of a pipe end; -ENOTTY when f is not a pipe. */
int uep_pipe_nread(struct uepoll_file *f);

#endif
