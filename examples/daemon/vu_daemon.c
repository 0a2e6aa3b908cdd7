/* SPDX-License-Identifier: MIT */
#include "vu_daemon.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void vu_daemon_opts_init(const struct vu_daemon_spec *s, struct vu_daemon_opts *o)
{
	*o = (struct vu_daemon_opts){.fd = -1, .queue_size = s->queue_size};
}

/* The common options; `needs`: the VU_DAEMON_* flag a daemon takes it
 * with, 0 for every daemon. */
static const struct common_opt {
	unsigned needs;
	struct option opt;
} common[] = {
	{0, {"socket-path", required_argument, NULL, VU_OPT_SOCKET}},
	{VU_DAEMON_SOCKET, {"socket", required_argument, NULL, VU_OPT_SOCKET}},
	{0, {"fd", required_argument, NULL, VU_OPT_FD}},
	{0, {"queue-size", required_argument, NULL, VU_OPT_QUEUE_SIZE}},
	{VU_DAEMON_NO_PACKED, {"no-packed", no_argument, NULL, VU_OPT_NO_PACKED}},
	{VU_DAEMON_PCIDEV, {"pcidev", required_argument, NULL, VU_OPT_PCIDEV}},
	{VU_DAEMON_PCIDEV, {"mmio-irq", required_argument, NULL, VU_OPT_MMIO_IRQ}},
	{0, {"quiet", no_argument, NULL, VU_OPT_QUIET}},
	{0, {"stats", no_argument, NULL, VU_OPT_STATS}},
	{0, {"print-capabilities", no_argument, NULL, VU_OPT_CAPS}},
	{0, {"help", no_argument, NULL, VU_OPT_HELP}},
};
#define NCOMMON (sizeof(common) / sizeof(common[0]))

static bool offers(const struct vu_daemon_spec *s, const struct common_opt *co)
{
	return co->needs == 0 || (s->flags & co->needs) != 0;
}

/* Does the daemon take the common option `c`? */
static bool takes(const struct vu_daemon_spec *s, int c)
{
	for (size_t i = 0; i < NCOMMON; i++)
		if (common[i].opt.val == c && offers(s, &common[i]))
			return true;
	return false;
}

int vu_daemon_getopt(const struct vu_daemon_spec *s, struct vu_daemon_opts *o, int argc,
		     char **argv, const struct option *own)
{
	static struct option table[VU_DAEMON_OWN_MAX + NCOMMON + 1];
	size_t n = 0;
	int c, rc;

	for (; own[n].name != NULL; n++) {
		if (n == VU_DAEMON_OWN_MAX || own[n].val <= 0 || own[n].val >= VU_OPT_FIRST ||
		    own[n].val == '?' || own[n].val == ':') {
			fprintf(stderr, "%s: --%s: too many options or a bad code %d\n", s->prog,
				own[n].name, own[n].val);
			abort();
		}
		table[n] = own[n];
	}
	for (size_t i = 0; i < NCOMMON; i++)
		if (offers(s, &common[i]))
			table[n++] = common[i].opt;
	table[n] = (struct option){NULL, 0, NULL, 0};
	if (optind <= 1)
		vu_daemon_opts_init(s, o); /* the first call: nothing read yet */
	while ((c = getopt_long(argc, argv, "", table, NULL)) != -1) {
		if (c != '?' && c < VU_OPT_FIRST)
			return c; /* the daemon's own */
		rc = vu_daemon_option(s, o, c, optarg);
		if (rc == 0)
			vu_daemon_usage(stderr, s);
		if (rc <= 0)
			return -1;
	}
	return vu_daemon_check_args(s->prog, argc, argv, optind, o->socket_path, o->fd);
}

int vu_daemon_option(const struct vu_daemon_spec *s, struct vu_daemon_opts *o, int c,
		     const char *arg)
{
	unsigned fd;

	if (!takes(s, c))
		return 0;
	switch (c) {
	case VU_OPT_SOCKET: o->socket_path = arg; break;
	case VU_OPT_FD:
		if (vu_daemon_u32(s->prog, "fd", arg, 0, s->fd_max ? s->fd_max : 1u << 20,
				  &fd) != 0)
			return -1;
		o->fd = (int)fd;
		break;
	case VU_OPT_QUEUE_SIZE:
		if (vu_daemon_u32(s->prog, "queue-size", arg, 1, VU_DAEMON_QUEUE_SIZE_MAX,
				  &o->queue_size) != 0)
			return -1;
		break;
	case VU_OPT_NO_PACKED: o->no_packed = true; break;
	case VU_OPT_PCIDEV: o->pcidev.mode = arg; break;
	case VU_OPT_MMIO_IRQ:
		if (vu_daemon_u32(s->prog, "mmio-irq", arg, 1, VU_DAEMON_MMIO_IRQ_MAX,
				  &o->pcidev.mmio_irq) != 0)
			return -1;
		break;
	case VU_OPT_QUIET: o->quiet = true; break;
	case VU_OPT_STATS: o->stats = true; break;
	case VU_OPT_CAPS:
		printf("{\n  \"type\": \"%s\"", s->type);
		if (s->features != NULL)
			printf(",\n  \"features\": %s", s->features);
		printf("\n}\n");
		exit(0);
	case VU_OPT_HELP: vu_daemon_usage(stdout, s); exit(0);
	default: return 0;
	}
	return 1;
}

const char *vu_daemon_where(const struct vu_daemon_opts *o)
{
	return o->socket_path ? o->socket_path : "the given fd";
}

/* One option's --help entry: `text` starts at column 2 + col, its further
 * lines (after each \n) there too; an option as wide as col or wider
 * keeps two blanks before it. */
static void usage_line(FILE *out, int col, const char *opt, const char *text)
{
	int w = (int)strlen(opt);

	fprintf(out, "  %s%*s", opt, w < col ? col - w : 2, "");
	for (const char *nl; (nl = strchr(text, '\n')) != NULL; text = nl + 1)
		fprintf(out, "%.*s\n%*s", (int)(nl - text), text, col + 2, "");
	fprintf(out, "%s\n", text);
}

void vu_daemon_usage(FILE *out, const struct vu_daemon_spec *s)
{
	int col = s->col ? s->col : 23;
	char qs[64];

	fputs(s->synopsis, out);
	if (s->flags & VU_DAEMON_SOCKET)
		usage_line(out, col, "--socket=PATH",
			   "the vhost-user socket to listen on (or --socket-path)");
	else
		usage_line(out, col, "--socket-path=PATH", "listen on this Unix socket");
	usage_line(out, col, "--fd=N", "use this already listening socket");
	fputs(s->help, out);
	snprintf(qs, sizeof(qs), "largest ring size, 1..%u (default %u)", VU_DAEMON_QUEUE_SIZE_MAX,
		 s->queue_size);
	usage_line(out, col, "--queue-size=N", qs);
	if (s->flags & VU_DAEMON_NO_PACKED)
		usage_line(out, col, "--no-packed",
			   "do not offer packed rings (the driver uses split)");
	if (s->flags & VU_DAEMON_PCIDEV) {
		usage_line(out, col, "--pcidev=pci|pci-intx|mmio",
			   "serve the device as a function on user-mode\n"
			   "Linux's PCI-over-virtio bus (examples/pcidev)");
		usage_line(out, col, "--mmio-irq=N", "the IRQ of the window with --pcidev=mmio");
	}
	usage_line(out, col, "--quiet", "no start-up message");
	usage_line(out, col, "--stats", "print what the device did when it exits");
	usage_line(out, col, "--print-capabilities",
		   "print the back-end capabilities (JSON) and exit");
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
