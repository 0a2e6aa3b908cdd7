/* SPDX-License-Identifier: MIT */
/*
 * What the vhost-user example daemons share (POSIX, not part of the
 * library): option numbers and the signal handling around the adapter's
 * event loop.
 */
#ifndef VDEV_EXAMPLES_VU_DAEMON_H
#define VDEV_EXAMPLES_VU_DAEMON_H

#include "vdev/vhost_user.h"

/*
 * vu_daemon_uint() - parse option --opt's value `s`: a whole decimal
 * number, or hexadecimal with 0x, from lo to hi. On anything else prints
 * "<prog>: --<opt>=<s>: expected lo..hi" and returns -1; 0 with *out set.
 * vu_daemon_u32() is the same for an unsigned.
 */
int vu_daemon_uint(const char *prog, const char *opt, const char *s, unsigned long long lo,
		   unsigned long long hi, unsigned long long *out);
int vu_daemon_u32(const char *prog, const char *opt, const char *s, unsigned lo, unsigned hi,
		  unsigned *out);

/*
 * vu_daemon_check_args() - after getopt_long(): nothing may follow the
 * options (argv[optind...]), and exactly one of --socket-path (socket_path
 * non-NULL) and --fd (fd >= 0) was given. Prints why and returns -1, else 0.
 */
int vu_daemon_check_args(const char *prog, int argc, char **argv, int optind_,
			 const char *socket_path, int fd);

/*
 * vu_daemon_catch_signals() - SIGTERM and SIGINT stop `vu`'s event loop
 * (vdev_vhost_user_stop(), which is async-signal-safe), so
 * vdev_vhost_user_run() returns and the daemon tears down cleanly;
 * SIGPIPE is ignored (a front-end that went away is an error return, not
 * a death). vu_daemon_release_signals() ignores SIGTERM/SIGINT and
 * forgets `vu`: call it before destroying the adapter, so that a late
 * signal cannot reach it.
 * Context: the main thread, once each.
 */
void vu_daemon_catch_signals(struct vdev_vhost_user *vu);
void vu_daemon_release_signals(void);

/*
 * vu_daemon_signal_fd() - receive `sig` (e.g. SIGUSR1, an operator's
 * "the disk was resized") as a readable fd instead of a handler: blocks it
 * in the calling thread (call from main before the adapter starts threads,
 * which inherit the mask) and returns a non-blocking signalfd, or -1.
 * Watch it with vdev_vhost_user_add_fd(); vu_daemon_signal_take() reads
 * every pending instance and returns how many there were.
 */
int vu_daemon_signal_fd(int sig);
unsigned vu_daemon_signal_take(int fd);

#endif
