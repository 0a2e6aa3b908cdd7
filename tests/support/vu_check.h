/* SPDX-License-Identifier: MIT */
/*
 * What every end-to-end daemon check (tests/vu_*_check.c) needs around
 * its front-end: a scratch directory, the daemon under test started with
 * its standard error in a log there, a CHECK that stops the daemon and
 * removes the directory before it fails the run, and a clean stop that
 * returns the daemon's exit status. One daemon and one directory per
 * process; not thread-safe.
 */
#ifndef VDEV_TESTS_VU_CHECK_H
#define VDEV_TESTS_VU_CHECK_H

#include <sys/types.h>

/* Fails the check: prints "FAIL file:line: <message>", kills the daemon
 * (SIGKILL), removes the scratch directory and exits with status 1. */
#define VU_CHECK(c, ...)                                                                  \
	do {                                                                              \
		if (!(c))                                                                 \
			vu_check_fail(__FILE__, __LINE__, __VA_ARGS__);                   \
	} while (0)

_Noreturn void vu_check_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Creates the scratch directory /tmp/vdev-<name>-XXXXXX; returns its
 * path (static storage) or fails the check. */
const char *vu_check_dir(const char *name);

/* Starts argv[0] with argv, its standard error (and, with `both`, its
 * standard output) going to <dir>/daemon.log; returns the log's path
 * (static storage). Fails the check if it cannot fork. */
const char *vu_check_spawn(char *const argv[], int both);

/* The running daemon's pid, or -1. */
pid_t vu_check_daemon(void);

/* Sends SIGTERM to the daemon and waits for it; returns its wait status
 * (as waitpid gives it). Fails the check if there is no daemon. */
int vu_check_stop(void);

/* Removes the scratch directory (the daemon must have stopped). */
void vu_check_cleanup(void);

#endif
