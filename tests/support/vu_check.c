/* SPDX-License-Identifier: MIT */
#include "vu_check.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[128];
static char log_path[160];
static pid_t daemon_pid = -1;

void vu_check_cleanup(void)
{
	char cmd[192];
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = -1;
	}
	if (dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		(void)!system(cmd);
		dir[0] = '\0';
	}
}

void vu_check_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (log_path[0] != '\0' && daemon_pid > 0)
		fprintf(stderr, "(the daemon's log was %s)\n", log_path);
	vu_check_cleanup();
	exit(1);
}

const char *vu_check_dir(const char *name)
{
	snprintf(dir, sizeof(dir), "/tmp/vdev-%s-XXXXXX", name);
	VU_CHECK(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
	snprintf(log_path, sizeof(log_path), "%s/daemon.log", dir);
	return dir;
}

const char *vu_check_spawn(char *const argv[], int both)
{
	VU_CHECK(dir[0] != '\0', "vu_check_dir first");
	fflush(NULL);
	daemon_pid = fork();
	VU_CHECK(daemon_pid >= 0, "fork");
	if (daemon_pid == 0) {
		int lf = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (lf >= 0) {
			dup2(lf, 2);
			if (both)
				dup2(lf, 1);
		}
		execv(argv[0], argv);
		perror("execv");
		_exit(127);
	}
	return log_path;
}

pid_t vu_check_daemon(void)
{
	return daemon_pid;
}

int vu_check_stop(void)
{
	int st = 0;
	pid_t p = daemon_pid;
	VU_CHECK(p > 0, "no daemon to stop");
	kill(p, SIGTERM);
	VU_CHECK(waitpid(p, &st, 0) == p, "waitpid");
	daemon_pid = -1;
	return st;
}
