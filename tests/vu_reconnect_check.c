/* SPDX-License-Identifier: MIT */
/*
 * A front-end that goes away and comes back: start a vhost-user daemon,
 * then three times connect the in-process front-end, run QEMU's start
 * sequence (features, memory table, rings), read the config space and
 * drop the socket. The daemon must serve each new connection, stay alive
 * and exit cleanly on SIGTERM.
 *
 *   vu_reconnect_check [--pre-socket NAME PROGRAM ARGS... --] --socket NAME
 *                      --queues N [--packed] DAEMON ARGS...
 *
 * "@DIR@" in any argument becomes a private temporary directory; NAME is a
 * socket path (with @DIR@) to wait for. --pre-socket starts a helper first
 * (vdev-switch for vhost-user-net) and waits for its socket.
 * Exit 0 passed, 1 failed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drvsim.h"
#include "vdev/device.h"
#include "vu_front.h"

static char dir[] = "/tmp/vdev-reconnect-XXXXXX";
static pid_t pre_pid = -1, daemon_pid = -1;
static char *sock;

static char *subst(const char *a)
{
	const char *at = strstr(a, "@DIR@");
	char *s;

	if (at == NULL)
		return strdup(a);
	s = malloc(strlen(a) + strlen(dir) + 1);
	if (s == NULL)
		exit(1);
	sprintf(s, "%.*s%s%s", (int)(at - a), a, dir, at + 5);
	return s;
}

static pid_t spawn(char **argv, int argc)
{
	char **args = calloc((size_t)argc + 1, sizeof(char *));
	pid_t p;

	for (int i = 0; i < argc; i++)
		args[i] = subst(argv[i]);
	p = fork();
	if (p == 0) {
		execv(args[0], args);
		perror("execv");
		_exit(127);
	}
	for (int i = 0; i < argc; i++)
		free(args[i]);
	free(args);
	return p;
}

/* Wait for a socket file while `pid` lives (20 s deadline). */
static int wait_socket(const char *path, pid_t pid)
{
	struct stat st;

	for (int i = 0; i < 2000; i++) {
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return -1;
		usleep(10000);
	}
	return -1;
}

static void cleanup(void)
{
	char cmd[128];

	if (daemon_pid > 0)
		kill(daemon_pid, SIGKILL);
	if (pre_pid > 0)
		kill(pre_pid, SIGKILL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	free(sock);
	sock = NULL;
}

#define FAIL(...)                                                                          \
	do {                                                                               \
		fprintf(stderr, "vu_reconnect_check: FAIL: " __VA_ARGS__);                   \
		fputc('\n', stderr);                                                        \
		cleanup();                                                                   \
		return 1;                                                                    \
	} while (0)

int main(int argc, char **argv)
{
	unsigned nq = 1;
	bool packed = false;
	int i = 1;

	if (mkdtemp(dir) == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--pre-socket") == 0 && i + 2 < argc) {
			char *pre_sock = subst(argv[i + 1]);
			int j = i + 2;
			while (j < argc && strcmp(argv[j], "--") != 0)
				j++;
			pre_pid = spawn(argv + i + 2, j - (i + 2));
			if (wait_socket(pre_sock, pre_pid) != 0)
				FAIL("helper %s did not listen on %s", argv[i + 2], pre_sock);
			free(pre_sock);
			i = j + 1;
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			free(sock);
			sock = subst(argv[i + 1]);
			i += 2;
		} else if (strcmp(argv[i], "--queues") == 0 && i + 1 < argc) {
			nq = (unsigned)atoi(argv[i + 1]);
			i += 2;
		} else if (strcmp(argv[i], "--packed") == 0) {
			packed = true;
			i++;
		} else {
			break;
		}
	}
	if (sock == NULL || i >= argc || nq == 0 || nq > VU_FRONT_MAX_QUEUES) {
		fprintf(stderr, "usage: vu_reconnect_check [--pre-socket NAME PROG ARGS... --] "
				"--socket NAME --queues N [--packed] DAEMON ARGS...\n");
		cleanup();
		return 2;
	}
	daemon_pid = spawn(argv + i, argc - i);
	if (wait_socket(sock, daemon_pid) != 0)
		FAIL("%s did not listen on %s", argv[i], sock);
	for (int round = 0; round < 3; round++) {
		struct sim_mem m = {0};
		struct vu_front f;
		uint8_t cfg[8];
		uint64_t want = ~0ull;

		if (!packed)
			want &= ~VDEV_BIT(VDEV_F_RING_PACKED);
		sim_mem_init_memfd(&m, 4u << 20);
		if (vu_front_connect(&f, sock, 5000) != 0)
			FAIL("connection %d: %s", round + 1, f.last_error);
		if (vu_front_start(&f, &m, want, nq, 64) != 0)
			FAIL("connection %d: start: %s", round + 1, f.last_error);
		if ((f.protocol_features & (1u << 9)) && vu_front_get_config(&f, 0, cfg, 8) != 0)
			FAIL("connection %d: GET_CONFIG: %s", round + 1, f.last_error);
		for (unsigned q = 0; q < nq; q++)
			vu_front_kick(&f, q); /* the daemon looks at its rings */
		vu_front_close(&f); /* the front-end's socket drops */
		sim_mem_destroy(&m);
		if (waitpid(daemon_pid, NULL, WNOHANG) != 0) {
			daemon_pid = -1;
			FAIL("the daemon died after connection %d", round + 1);
		}
		printf("connection %d: served, dropped\n", round + 1);
	}
	int st;
	kill(daemon_pid, SIGTERM);
	if (waitpid(daemon_pid, &st, 0) != daemon_pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		daemon_pid = -1;
		FAIL("the daemon did not exit cleanly on SIGTERM (status 0x%x)", st);
	}
	daemon_pid = -1;
	printf("vu_reconnect_check: PASS (3 connections, clean exit)\n");
	cleanup();
	return 0;
}
