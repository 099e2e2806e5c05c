/*
 * A plain epoll program (built without uepoll) that makes the classic
 * edge-triggered mistake: it reads one byte of two and waits again, so the
 * wait times out with data in the pipe.  With the argument "right" it
 * reads until EAGAIN instead.  With a second argument "open" it exits
 * with its epoll fd open; with "closefrom" or "close_range" it closes
 * its descriptors that way instead of one by one ("cloexec_range" only
 * marks them close-on-exec).  tests/preload/diag_run
 * runs it under
 * tools/uepoll-run with UEPOLL_DIAG=1 and expects one report, or none,
 * and with "open" (only) the summary of the instance at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <linux/close_range.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int right = argc > 1 && !strcmp(argv[1], "right");
	int p[2], ep = epoll_create1(0);
	if (ep < 0 || pipe2(p, O_NONBLOCK) < 0)
		return 1;
	printf("epoll fd %d\n", ep);
	fflush(stdout);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = p[0]};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) < 0)
		return 1;
	if (write(p[1], "ab", 2) != 2)
		return 1;
	struct epoll_event out;
	if (epoll_wait(ep, &out, 1, 1000) != 1)
		return 1;
	char c;
	if (read(p[0], &c, 1) != 1)
		return 1;
	if (right)
		while (read(p[0], &c, 1) == 1)
			;
	int n = epoll_wait(ep, &out, 1, 20);
	printf("second wait: %d event(s)%s\n", n,
	       right || n ? "" : " (one byte is still in the pipe)");
	const char *end = argc > 2 ? argv[2] : "";
	if (!strcmp(end, "open"))
		return 0;
	int low = ep < p[0] ? ep : p[0];
	if (!strcmp(end, "closefrom")) {
		closefrom(low);
		return 0;
	}
	if (!strcmp(end, "close_range"))
		return close_range((unsigned)low, ~0U, 0) ? 1 : 0;
	if (!strcmp(end, "cloexec_range"))
		return close_range((unsigned)low, ~0U, CLOSE_RANGE_CLOEXEC) ? 1
		                                                            : 0;
	close(p[0]);
	close(p[1]);
	close(ep);
	return 0;
}
