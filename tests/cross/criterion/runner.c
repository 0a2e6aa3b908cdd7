// SPDX-License-Identifier: MIT
/*
 * The runner behind tests/cross/criterion/criterion/criterion.h: registers
 * the tests, runs each in a forked child and prints Criterion's synthesis.
 */
#include "criterion/criterion.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

enum { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_SKIP = 77 };

static struct vdevcr_test *tests, **tests_tail = &tests;
static struct vdevcr_suite *suites;
static bool failed; /* in the child: some expectation failed */

void vdevcr_register_test(struct vdevcr_test *t)
{
	/* Constructors run in source order within a file: keep that order. */
	t->next = NULL;
	*tests_tail = t;
	tests_tail = &t->next;
}

void vdevcr_register_suite(struct vdevcr_suite *s)
{
	s->next = suites;
	suites = s;
}

void vdevcr_check(bool fatal, bool ok, const char *file, int line, const char *expr,
		  const char *fmt, ...)
{
	if (ok)
		return;
	va_list ap;
	fprintf(stderr, "[----] %s:%d: Assertion Failed: %s\n[----]  ", file, line, expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failed = true;
	if (fatal) {
		fflush(NULL);
		_exit(EXIT_FAIL);
	}
}

void vdevcr_skip(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "[SKIP]");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(NULL);
	_exit(EXIT_SKIP);
}

void vdevcr_log(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "[----] ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const struct vdevcr_suite *suite_of(const struct vdevcr_test *t)
{
	for (const struct vdevcr_suite *s = suites; s; s = s->next)
		if (strcmp(s->name, t->suite) == 0)
			return s;
	return NULL;
}

static int run_one(const struct vdevcr_test *t)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return EXIT_FAIL;
	}
	if (pid == 0) {
		const struct vdevcr_suite *s = suite_of(t);
		if (s && s->data.init)
			s->data.init();
		if (t->data.init)
			t->data.init();
		t->fn();
		if (t->data.fini)
			t->data.fini();
		if (s && s->data.fini)
			s->data.fini();
		fflush(NULL);
		_exit(failed ? EXIT_FAIL : EXIT_PASS);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "[FAIL] %s::%s: CRASH! (signal %d)\n", t->suite, t->name,
			WTERMSIG(st));
		return -1;
	}
	return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
	const char *filter = NULL;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--filter=", 9) == 0)
			filter = argv[i] + 9;
		else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
			filter = argv[++i];
	}
	unsigned tested = 0, passing = 0, failing = 0, crashing = 0, skipped = 0;
	for (const struct vdevcr_test *t = tests; t; t = t->next) {
		char id[256];
		snprintf(id, sizeof(id), "%s/%s", t->suite, t->name);
		if (filter && fnmatch(filter, id, 0) != 0)
			continue;
		if (t->data.disabled) {
			skipped++;
			continue;
		}
		tested++;
		int rc = run_one(t);
		if (rc == EXIT_PASS) {
			passing++;
		} else if (rc == EXIT_SKIP) {
			skipped++;
			tested--;
		} else if (rc < 0) {
			crashing++;
			failing++;
		} else {
			fprintf(stderr, "[FAIL] %s::%s\n", t->suite, t->name);
			failing++;
		}
	}
	printf("[====] Synthesis: Tested: %u | Passing: %u | Failing: %u | Crashing: %u "
	       "(skipped %u)\n",
	       tested, passing, failing, crashing, skipped);
	return failing ? 1 : 0;
}
