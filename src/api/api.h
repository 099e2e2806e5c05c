/* What the API layer's files share. */
#ifndef UEP_API_H
#define UEP_API_H

#include <sys/types.h>

#include "fs/file.h"

/* Read and write with the blocking behaviour of the file's flags (rw.c). */
ssize_t uep_file_read(struct uepoll_file *f, void *buf, size_t count);
ssize_t uep_file_write(struct uepoll_file *f, const void *buf, size_t count);
/* write(2) on uepoll descriptor fd, async-signal-safe for eventfds. */
ssize_t uep_fd_write(int fd, const void *buf, size_t count);

/* What kernel file an object stands for (fstat, F_SETFL): io_api.c. */
enum uep_file_kind { UEP_KIND_ANON, UEP_KIND_PIPE, UEP_KIND_SOCKET };
enum uep_file_kind uep_file_kind(const struct uepoll_file *f);
/* fcntl F_SETFL, and F_GETPIPE_SZ / F_SETPIPE_SZ: 0, a size, or -errno. */
int uep_file_setfl(struct uepoll_file *f, unsigned arg);
int uep_file_pipe_size(struct uepoll_file *f, int cmd, unsigned arg);

/*
 * For the preload: a new uepoll descriptor for an instance whose kernel
 * half is kfd, the program's own kernel epoll (see preload/); -errno.
 */
int uep_preload_instance(int kfd);

#endif
