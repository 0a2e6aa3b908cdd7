/* SPDX-License-Identifier: MIT */
/*
 * The options every vhost-user daemon shares (examples/daemon/vu_daemon.h):
 * values and ranges, which optional options a daemon takes, the daemon's
 * own options handed back, the end checks, --print-capabilities' JSON
 * and --help.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vu_daemon.h"

/* A daemon with every optional option, and one with none (like vhost-user-gpu). */
static const struct vu_daemon_spec ALL = {
	.prog = "all",
	.synopsis = "usage: all\n",
	.help = "  --own=N                own\n",
	.type = "all",
	.features = "[\"x\"]",
	.flags = VU_DAEMON_SOCKET | VU_DAEMON_NO_PACKED | VU_DAEMON_PCIDEV,
	.queue_size = 64,
	.fd_max = 100,
};
static const struct vu_daemon_spec NONE = {
	.prog = "none",
	.synopsis = "usage: none\n",
	.help = "",
	.type = "none",
	.queue_size = 256,
};

enum { O_OWN = 1, O_FLAG };
static const struct option OWN[] = {
	{"own", required_argument, NULL, O_OWN},
	{"flag", no_argument, NULL, O_FLAG},
	{NULL, 0, NULL, 0},
};

struct seen {
	unsigned own, flags, calls;
};

/* Parse the NULL-ended arguments after the program name. */
static int parse(const struct vu_daemon_spec *spec, struct vu_daemon_opts *o, struct seen *s,
		 ...)
{
	char *argv[16] = {"prog"};
	int argc = 1;
	va_list ap;

	va_start(ap, s);
	for (char *a; (a = va_arg(ap, char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	memset(s, 0, sizeof(*s));
	optind = 0; /* glibc: start again */
	opterr = 0;
	int c;
	while ((c = vu_daemon_getopt(spec, o, argc, argv, OWN)) > 0) {
		s->calls++;
		if (c == O_FLAG) {
			s->flags++;
			continue;
		}
		cr_assert_eq(c, O_OWN);
		if (vu_daemon_u32("all", "own", optarg, 1, 9, &s->own) != 0)
			return -1;
	}
	return c;
}

Test(vu_daemon, defaults)
{
	struct vu_daemon_opts o;
	struct seen s;

	cr_assert_eq(parse(&ALL, &o, &s, "--fd=3", NULL), 0);
	cr_assert_eq(o.fd, 3);
	cr_assert_null(o.socket_path);
	cr_assert_eq(o.queue_size, 64);
	cr_assert(!o.quiet && !o.stats && !o.no_packed);
	cr_assert_null(o.pcidev.mode);
	cr_assert_eq(o.pcidev.mmio_irq, 0);
	cr_assert_eq(parse(&NONE, &o, &s, "--socket-path=/x", NULL), 0);
	cr_assert_str_eq(o.socket_path, "/x");
	cr_assert_eq(o.fd, -1);
	cr_assert_eq(o.queue_size, 256);
}

Test(vu_daemon, every_common_option)
{
	struct vu_daemon_opts o;
	struct seen s;

	cr_assert_eq(parse(&ALL, &o, &s, "--socket=/s", "--queue-size=0x100", "--quiet", "--stats",
			   "--no-packed", "--pcidev=mmio", "--mmio-irq=127", NULL),
		     0);
	cr_assert_str_eq(o.socket_path, "/s");
	cr_assert_eq(o.queue_size, 256);
	cr_assert(o.quiet && o.stats && o.no_packed);
	cr_assert_str_eq(o.pcidev.mode, "mmio");
	cr_assert_eq(o.pcidev.mmio_irq, 127);
	cr_assert_eq(s.calls, 0);
}

Test(vu_daemon, ranges)
{
	struct vu_daemon_opts o;
	struct seen s;

	cr_assert_eq(parse(&ALL, &o, &s, "--fd=100", NULL), 0);
	cr_assert_eq(parse(&ALL, &o, &s, "--fd=101", NULL), -1, "the spec's fd_max");
	cr_assert_eq(parse(&NONE, &o, &s, "--fd=1048576", NULL), 0);
	cr_assert_eq(parse(&NONE, &o, &s, "--fd=1048577", NULL), -1, "1 << 20 by default");
	cr_assert_eq(parse(&NONE, &o, &s, "--fd=-1", NULL), -1);
	cr_assert_eq(parse(&NONE, &o, &s, "--fd=3", "--queue-size=32768", NULL), 0);
	cr_assert_eq(parse(&NONE, &o, &s, "--fd=3", "--queue-size=32769", NULL), -1);
	cr_assert_eq(parse(&NONE, &o, &s, "--fd=3", "--queue-size=0", NULL), -1);
	cr_assert_eq(parse(&ALL, &o, &s, "--fd=3", "--mmio-irq=0", NULL), -1);
	cr_assert_eq(parse(&ALL, &o, &s, "--fd=3", "--mmio-irq=128", NULL), -1);
	cr_assert_eq(parse(&ALL, &o, &s, "--fd=3", "--mmio-irq=1", NULL), 0);
}

Test(vu_daemon, optional_options_only_where_named)
{
	struct vu_daemon_opts o;
	struct seen s;

	cr_assert_eq(parse(&NONE, &o, &s, "--fd=3", "--no-packed", NULL), -1);
	cr_assert(!o.no_packed);
	cr_assert_eq(parse(&NONE, &o, &s, "--fd=3", "--pcidev=pci", NULL), -1);
	cr_assert_eq(parse(&NONE, &o, &s, "--fd=3", "--mmio-irq=5", NULL), -1);
	/* "--socket" is only an abbreviation of --socket-path there */
	cr_assert_eq(parse(&NONE, &o, &s, "--socket=/a", NULL), 0);
	cr_assert_str_eq(o.socket_path, "/a");
	/* and the option codes themselves are refused too */
	cr_assert_eq(vu_daemon_option(&NONE, &o, VU_OPT_NO_PACKED, NULL), 0);
	cr_assert_eq(vu_daemon_option(&NONE, &o, VU_OPT_PCIDEV, "pci"), 0);
	cr_assert_eq(vu_daemon_option(&NONE, &o, O_OWN, "1"), 0);
	cr_assert_eq(vu_daemon_option(&ALL, &o, VU_OPT_NO_PACKED, NULL), 1);
	cr_assert(o.no_packed);
}

Test(vu_daemon, own_options_and_the_end)
{
	struct vu_daemon_opts o;
	struct seen s;

	cr_assert_eq(parse(&ALL, &o, &s, "--own=7", "--fd=3", "--flag", "--flag", NULL), 0);
	cr_assert_eq(s.own, 7);
	cr_assert_eq(s.flags, 2);
	cr_assert_eq(s.calls, 3);
	cr_assert_eq(parse(&ALL, &o, &s, "--own=10", "--fd=3", NULL), -1, "own error");
	cr_assert_eq(parse(&ALL, &o, &s, "--bogus", "--fd=3", NULL), -1);
	cr_assert_eq(parse(&ALL, &o, &s, "--fd=3", "extra", NULL), -1);
	cr_assert_eq(parse(&ALL, &o, &s, NULL), -1, "neither socket nor fd");
	cr_assert_eq(parse(&ALL, &o, &s, "--fd=3", "--socket-path=/x", NULL), -1, "both");
}

/* What `spec`'s --print-capabilities (or --help) writes to stdout, and exit 0. */
static void child_output(const struct vu_daemon_spec *spec, int code, char *buf, size_t cap)
{
	int p[2], st;
	size_t n = 0;
	ssize_t r;

	cr_assert_eq(pipe(p), 0);
	fflush(stdout);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct vu_daemon_opts o;
		dup2(p[1], 1);
		vu_daemon_opts_init(spec, &o);
		vu_daemon_option(spec, &o, code, NULL);
		_exit(99); /* it must have exited */
	}
	close(p[1]);
	while (n + 1 < cap && (r = read(p[0], buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(p[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

Test(vu_daemon, capabilities_and_help)
{
	char buf[2048];

	child_output(&NONE, VU_OPT_CAPS, buf, sizeof(buf));
	cr_assert_str_eq(buf, "{\n  \"type\": \"none\"\n}\n");
	child_output(&ALL, VU_OPT_CAPS, buf, sizeof(buf));
	cr_assert_str_eq(buf, "{\n  \"type\": \"all\",\n  \"features\": [\"x\"]\n}\n");
	child_output(&ALL, VU_OPT_HELP, buf, sizeof(buf));
	cr_assert(starts(buf, "usage: all\n  --socket=PATH          the vhost-user socket"), "%s",
		  buf);
	cr_assert_not_null(strstr(buf, "\n  --own=N                own\n"));
	cr_assert_not_null(
		strstr(buf, "--queue-size=N         largest ring size, 1..32768 (default 64)\n"));
	cr_assert_not_null(strstr(buf, "\n  --pcidev=pci|pci-intx|mmio  serve the device as a "
				       "function on user-mode\n                         Linux's"));
	child_output(&NONE, VU_OPT_HELP, buf, sizeof(buf));
	cr_assert(starts(buf, "usage: none\n  --socket-path=PATH     listen"), "%s", buf);
	cr_assert_null(strstr(buf, "--no-packed"));
	cr_assert_null(strstr(buf, "--pcidev"));
	cr_assert_null(strstr(buf, "--mmio-irq"));
}
