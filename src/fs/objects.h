/* Constructors of the built-in objects; each returns -errno on failure. */
#ifndef UEP_OBJECTS_H
#define UEP_OBJECTS_H

int uep_eventfd_create(unsigned int initval, int flags);
int uep_pipe_create(int fds[2], int flags);

struct uepoll_file;
/* FIONREAD of a pipe end; -ENOTTY when f is not a pipe. */
int uep_pipe_nread(struct uepoll_file *f);

#endif
