/*
 * uepoll_trace_export_start/stop: the file is valid JSON (a small
 * recursive-descent checker below), in the trace-event format (an object
 * with a traceEvents array), and has the steps of an event's way.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../runner.h"
#include "uepoll.h"

/* ---- a JSON checker (RFC 8259's grammar, no semantics) ---- */

static bool j_value(const char **p, int depth);

static void j_ws(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

static bool j_string(const char **p)
{
	if (**p != '"')
		return false;
	for ((*p)++; **p != '"'; (*p)++) {
		if ((unsigned char)**p < 0x20)
			return false;
		if (**p == '\\') {
			(*p)++;
			if (**p == 'u') {
				for (int i = 0; i < 4; i++)
					if (!isxdigit((unsigned char)*++*p))
						return false;
			} else if (!strchr("\"\\/bfnrt", **p) || !**p) {
				return false;
			}
		}
	}
	(*p)++;
	return true;
}

static bool j_number(const char **p)
{
	const char *s = *p;
	if (**p == '-')
		(*p)++;
	if (**p == '0')
		(*p)++;
	else if (isdigit((unsigned char)**p))
		while (isdigit((unsigned char)**p))
			(*p)++;
	else
		return false;
	if (**p == '.') {
		(*p)++;
		if (!isdigit((unsigned char)**p))
			return false;
		while (isdigit((unsigned char)**p))
			(*p)++;
	}
	if (**p == 'e' || **p == 'E') {
		(*p)++;
		if (**p == '+' || **p == '-')
			(*p)++;
		if (!isdigit((unsigned char)**p))
			return false;
		while (isdigit((unsigned char)**p))
			(*p)++;
	}
	return *p > s;
}

static bool j_seq(const char **p, char close, bool members, int depth)
{
	(*p)++;
	j_ws(p);
	if (**p == close) {
		(*p)++;
		return true;
	}
	for (;;) {
		j_ws(p);
		if (members) {
			if (!j_string(p))
				return false;
			j_ws(p);
			if (*(*p)++ != ':')
				return false;
		}
		if (!j_value(p, depth + 1))
			return false;
		j_ws(p);
		if (**p == close) {
			(*p)++;
			return true;
		}
		if (*(*p)++ != ',')
			return false;
	}
}

static bool j_value(const char **p, int depth)
{
	if (depth > 64)
		return false;
	j_ws(p);
	switch (**p) {
	case '{':
		return j_seq(p, '}', true, depth);
	case '[':
		return j_seq(p, ']', false, depth);
	case '"':
		return j_string(p);
	case 't':
		return !strncmp(*p, "true", 4) && (*p += 4);
	case 'f':
		return !strncmp(*p, "false", 5) && (*p += 5);
	case 'n':
		return !strncmp(*p, "null", 4) && (*p += 4);
	}
	return j_number(p);
}

static bool json_valid(const char *s)
{
	if (!j_value(&s, 0))
		return false;
	j_ws(&s);
	return *s == '\0';
}

TEST(json_checker_checks)
{
	ASSERT_TRUE(json_valid("{\"a\":[1,-2.5e3,\"x\\n\",true,null,{}]}"));
	ASSERT_FALSE(json_valid("{\"a\":[1,]}"));
	ASSERT_FALSE(json_valid("{\"a\" 1}"));
	ASSERT_FALSE(json_valid("[01]"));
	ASSERT_FALSE(json_valid("{} x"));
}

/* ---- the export ---- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	ASSERT_TRUE(f != NULL);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void *poke(void *arg)
{
	usleep(10000);
	uint64_t one = 1;
	ASSERT_EQ(uepoll_write(*(int *)arg, &one, 8), 8);
	return NULL;
}

TEST(trace_export_writes_valid_trace_event_json)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/uepoll-trace-%d.json",
	         (int)getpid());
	int ep = uepoll_create1(0), efd = uepoll_eventfd(0, EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN}, out;
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
	ASSERT_OK(uepoll_trace_export_start(path));
	ASSERT_ERRNO(uepoll_trace_export_start(path), EBUSY);
	for (int i = 0; i < 3; i++) {
		pthread_t t;
		uint64_t v;
		ASSERT_EQ(pthread_create(&t, NULL, poke, &efd), 0);
		ASSERT_EQ(uepoll_wait(ep, &out, 1, 5000), 1);
		ASSERT_EQ(uepoll_read(efd, &v, 8), 8);
		pthread_join(t, NULL);
	}
	ASSERT_OK(uepoll_trace_export_stop());
	ASSERT_ERRNO(uepoll_trace_export_stop(), EINVAL);
	const char *s = slurp(path);
	ASSERT_TRUE(json_valid(s));
	ASSERT_TRUE(strstr(s, "\"traceEvents\":[") != NULL);
	const char *names[] = {
	        "\"name\":\"sleep\",\"cat\":\"uepoll\",\"ph\":\"B\"",
	        "\"name\":\"sleep\",\"cat\":\"uepoll\",\"ph\":\"E\"",
	        "\"name\":\"callback\"", "\"name\":\"wake_waiter\"",
	        "\"name\":\"harvest\""};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ASSERT_TRUE(strstr(s, names[i]) != NULL);
	/* Tracing is off again: nothing more is recorded. */
	uint64_t one = 1;
	ASSERT_EQ(uepoll_write(efd, &one, 8), 8);
	ASSERT_EQ(uepoll_wait(ep, &out, 1, 0), 1);
	ASSERT_TRUE(json_valid(slurp(path)));
	unlink(path);
	ASSERT_OK(uepoll_trace_export_start("/nonexistent/dir/x.json"));
	ASSERT_ERRNO(uepoll_trace_export_stop(), ENOENT);
	uepoll_close(efd);
	uepoll_close(ep);
}
