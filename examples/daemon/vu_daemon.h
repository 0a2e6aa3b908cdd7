/* SPDX-License-Identifier: MIT */
/*
 * What the vhost-user example daemons share (POSIX, not part of the
 * library): the options they all take, option numbers and the signal
 * handling around the adapter's event loop.
 */
#ifndef VDEV_EXAMPLES_VU_DAEMON_H
#define VDEV_EXAMPLES_VU_DAEMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "pcidev.h"
#include "vdev/vhost_user.h"

/*
 * The options every daemon takes. A daemon describes itself in a
 * struct vu_daemon_spec, embeds struct vu_daemon_opts in its own options
 * (set up with vu_daemon_opts_init()) and reads its command line with
 * vu_daemon_getopt(), which takes the common options itself:
 *
 *   --socket-path=PATH (and --socket=PATH with VU_DAEMON_SOCKET), --fd=N,
 *   --queue-size=N, --no-packed (VU_DAEMON_NO_PACKED), --pcidev=MODE and
 *   --mmio-irq=N (VU_DAEMON_PCIDEV), --quiet, --stats,
 *   --print-capabilities, --help.
 *
 * A daemon takes none of the optional ones it does not name in `flags`.
 * Context: the main thread, before any other (getopt_long() is not
 * reentrant).
 */
#define VU_DAEMON_SOCKET 0x1u    /* --socket as well as --socket-path */
#define VU_DAEMON_NO_PACKED 0x2u /* --no-packed */
#define VU_DAEMON_PCIDEV 0x4u    /* --pcidev, --mmio-irq (examples/pcidev) */

#define VU_DAEMON_QUEUE_SIZE_MAX 32768u
#define VU_DAEMON_MMIO_IRQ_MAX 127u

struct vu_daemon_spec {
	const char *prog;     /* "vhost-user-blk": starts every message */
	const char *synopsis; /* --help's first line(s), each ending in \n */
	/* The daemon's own --help lines (between --fd and --queue-size),
	 * each ending in \n, or "". */
	const char *help;
	const char *type;     /* --print-capabilities: {"type": "<type>"} */
	const char *features; /* NULL, or the JSON array after "features": */
	unsigned flags;       /* VU_DAEMON_* */
	unsigned queue_size;  /* --queue-size's default */
	unsigned fd_max;      /* --fd=0..fd_max; 0: 1 << 20 */
	int col;              /* where descriptions start in --help; 0: 23 */
};

struct vu_daemon_opts {
	const char *socket_path;   /* --socket-path, NULL without */
	int fd;                    /* --fd, -1 without */
	unsigned queue_size;       /* --queue-size, 1..VU_DAEMON_QUEUE_SIZE_MAX */
	bool quiet, stats;         /* --quiet, --stats */
	bool no_packed;            /* --no-packed */
	struct pcidev_opts pcidev; /* --pcidev, --mmio-irq (1..VU_DAEMON_MMIO_IRQ_MAX) */
};

/* The getopt_long() codes of the common options: a daemon's own codes
 * stay below VU_OPT_FIRST (vu_daemon_getopt() aborts otherwise). */
enum {
	VU_OPT_FIRST = 0x1000,
	VU_OPT_SOCKET = VU_OPT_FIRST,
	VU_OPT_FD,
	VU_OPT_QUEUE_SIZE,
	VU_OPT_NO_PACKED,
	VU_OPT_PCIDEV,
	VU_OPT_MMIO_IRQ,
	VU_OPT_QUIET,
	VU_OPT_STATS,
	VU_OPT_CAPS,
	VU_OPT_HELP,
	VU_OPT_END
};

/* The most own options vu_daemon_getopt() takes. */
#define VU_DAEMON_OWN_MAX 48

/* vu_daemon_opts_init() - the defaults: no socket, fd -1, the spec's
 * queue size, every flag off. */
void vu_daemon_opts_init(const struct vu_daemon_spec *s, struct vu_daemon_opts *o);

/*
 * vu_daemon_getopt() - getopt_long() over the daemon's own options `own`
 * (at most VU_DAEMON_OWN_MAX, ended by an all-zero entry, codes from 1 to
 * below VU_OPT_FIRST but not '?' or ':') and the common ones the spec
 * takes, which it takes itself into `o`; the first call (optind still 1,
 * or 0 to start again) sets `o` to the defaults (vu_daemon_opts_init()).
 * Returns the next own option's code (its argument in optarg); 0 at the
 * end, when nothing follows the options and exactly one of --socket-path
 * and --fd was given (vu_daemon_check_args()); -1 after printing what is
 * wrong (and the usage, for an unknown option).
 * --print-capabilities and --help print and exit(0).
 */
int vu_daemon_getopt(const struct vu_daemon_spec *s, struct vu_daemon_opts *o, int argc,
		     char **argv, const struct option *own);

/*
 * vu_daemon_option() - take one common option: getopt_long()'s code `c`
 * with its argument `arg` (optarg). Returns 1 when it was a common option
 * the spec takes (--print-capabilities and --help print and exit(0)), 0
 * when it is not one (nothing printed), -1 on a bad value (printed as
 * "<prog>: --<opt>=<arg>: expected lo..hi").
 */
int vu_daemon_option(const struct vu_daemon_spec *s, struct vu_daemon_opts *o, int c,
		     const char *arg);

/* vu_daemon_where() - for messages: the socket path, or "the given fd". */
const char *vu_daemon_where(const struct vu_daemon_opts *o);

/* vu_daemon_usage() - the --help text: the synopsis, --socket-path and
 * --fd, the daemon's own lines, then the other common options. */
void vu_daemon_usage(FILE *out, const struct vu_daemon_spec *s);

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
