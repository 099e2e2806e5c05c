/*
 * libFuzzer target of the differential fuzzer (see fuzz_diff.h): every
 * input is an operation sequence run on the kernel and on uepoll; a
 * divergence prints the operations and aborts, so libFuzzer saves the
 * input.  Set FUZZ_STRICT=1 to stop steering around the open divergences.
 */
#include <signal.h>
#include <stdlib.h>

#include "fuzz_diff.h"

static struct fz_state st;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	st.avoid_known = !getenv("FUZZ_STRICT");
	if (fz_run(&st, data, size)) {
		fz_report(&st, stderr);
		abort();
	}
	return 0;
}
