/*
 * Replay one input of the differential fuzzer, shrink it if it diverges,
 * and print the operations that remain:
 *   fuzz-replay -s SEED [LEN]   the seed runner's input (LEN bytes, 200)
 *   fuzz-replay FILE            a libFuzzer input or crash artifact
 */
#include <signal.h>
#include <stdlib.h>

#include "fuzz_diff.h"

static struct fz_state st;
static uint8_t buf[1 << 16], scratch[1 << 16];

/*
 * Shrink a diverging input (ddmin over bytes): drop spans while the run
 * still diverges the same way (same message up to the first colon).
 * Returns the new length.
 */
static size_t fz_minimize(struct fz_state *s, uint8_t *in, size_t len,
                          uint8_t *tmp)
{
	char want[64];
	if (!fz_run(s, in, len))
		return len;
	snprintf(want, sizeof(want), "%.*s", (int)strcspn(s->why, ":"), s->why);
	for (size_t chunk = len / 2; chunk >= 1; chunk /= 2) {
		bool progress = true;
		while (progress) {
			progress = false;
			for (size_t off = 0; off + chunk <= len;) {
				memcpy(tmp, in, off);
				memcpy(tmp + off, in + off + chunk,
				       len - off - chunk);
				if (fz_run(s, tmp, len - chunk) &&
				    strncmp(s->why, want, strlen(want)) == 0) {
					len -= chunk;
					memcpy(in, tmp, len);
					progress = true;
				} else {
					off += chunk;
				}
			}
		}
	}
	fz_run(s, in, len);
	return len;
}

int main(int argc, char **argv)
{
	size_t len;
	signal(SIGPIPE, SIG_IGN);
	st.avoid_known = !getenv("FUZZ_STRICT");
	if (argc >= 3 && strcmp(argv[1], "-s") == 0) {
		len = argc > 3 ? (size_t)atol(argv[3]) : 200;
		if (len > sizeof(buf))
			len = sizeof(buf);
		fz_fill(strtoull(argv[2], NULL, 0), buf, len);
	} else if (argc == 2) {
		FILE *f = fopen(argv[1], "rb");
		if (!f) {
			perror(argv[1]);
			return 2;
		}
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
	} else {
		fprintf(stderr, "usage: %s -s SEED [LEN] | %s FILE\n", argv[0],
		        argv[0]);
		return 2;
	}
	if (!fz_run(&st, buf, len)) {
		printf("no divergence (%u ops)\n", st.nops);
		return 0;
	}
	len = fz_minimize(&st, buf, len, scratch);
	printf("minimized to %zu bytes:\n", len);
	fz_report(&st, stdout);
	return 1;
}
