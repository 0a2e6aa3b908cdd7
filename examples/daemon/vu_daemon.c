/* SPDX-License-Identifier: MIT */
#include "vu_daemon.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

int vu_daemon_uint(const char *prog, const char *opt, const char *s, unsigned long long lo,
		   unsigned long long hi, unsigned long long *out)
{
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *digits = hex ? s + 2 : s;
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(digits, &end, hex ? 16 : 10);
	/* strtoull takes a sign and blanks; a number here has neither */
	if (errno != 0 || *digits < '0' || (*digits > '9' && !hex) || *end != '\0' || v < lo ||
	    v > hi) {
		fprintf(stderr, "%s: --%s=%s: expected %llu..%llu\n", prog, opt, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

int vu_daemon_u32(const char *prog, const char *opt, const char *s, unsigned lo, unsigned hi,
		  unsigned *out)
{
	unsigned long long v;

	if (vu_daemon_uint(prog, opt, s, lo, hi, &v) != 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int vu_daemon_check_args(const char *prog, int argc, char **argv, int optind_,
			 const char *socket_path, int fd)
{
	if (optind_ < argc) {
		fprintf(stderr, "%s: unexpected argument %s\n", prog, argv[optind_]);
		return -1;
	}
	if ((socket_path == NULL) == (fd < 0)) {
		fprintf(stderr, "%s: give exactly one of --socket-path and --fd\n", prog);
		return -1;
	}
	return 0;
}

static struct vdev_vhost_user *volatile stop_me;

static void on_signal(int sig)
{
	struct vdev_vhost_user *vu = stop_me;

	(void)sig;
	if (vu != NULL)
		vdev_vhost_user_stop(vu);
}

void vu_daemon_catch_signals(struct vdev_vhost_user *vu)
{
	struct sigaction sa = {.sa_handler = on_signal};

	stop_me = vu;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void vu_daemon_release_signals(void)
{
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	stop_me = NULL;
}

int vu_daemon_signal_fd(int sig)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

unsigned vu_daemon_signal_take(int fd)
{
	struct signalfd_siginfo si;
	unsigned n = 0;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		n++;
	return n;
}
