/* What the API layer's files share. */
#ifndef UEP_API_H
#define UEP_API_H

#include <sys/types.h>

#include "fs/file.h"

/* Read and write with the blocking behaviour of the file's flags (rw.c). */
ssize_t uep_file_read(struct uepoll_file *f, void *buf, size_t count);
ssize_t uep_file_write(struct uepoll_file *f, const void *buf, size_t count);

/*
 * For the preload: a new uepoll descriptor for an instance whose kernel
 * half is kfd, the program's own kernel epoll (see preload/); -errno.
 */
int uep_preload_instance(int kfd);

#endif
