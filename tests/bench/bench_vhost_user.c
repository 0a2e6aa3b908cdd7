/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-blk back-ends compared in one run: our daemon (null backend)
 * and qemu-storage-daemon's vhost-user-blk export of a null-co device,
 * both driven by the same in-process front-end (tests/support/vu_front:
 * guest RAM in a memfd, the driver simulator on the rings, eventfd kicks
 * and interrupts, as QEMU does). 4 KiB reads at queue depth 1 and 32:
 * IOPS, the back-end's CPU time per request (its process CPU clock, all
 * threads) and per-request latency (submit to reap) p50/p99; medians of
 * alternating runs and the ratios ours/qsd.
 *
 * Placement: the front-end runs on one CPU and both back-ends on another
 * (default CPUs 0 and 1; --fe-cpu/--be-cpu), so neither back-end competes
 * with the front-end for a CPU. qemu-storage-daemon runs in its
 * performance set-up: the export in a dedicated iothread
 * (fixed-iothread=on). Both command lines are printed.
 *
 * usage: bench_vhost_user --daemon PATH [--runs N] [--requests N]
 *                         [--fe-cpu N] [--be-cpu N]
 * qemu-storage-daemon is found on PATH; without it the comparison is
 * SKIPPED (our figures are still printed).
 */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "drvsim.h"
#include "vdev/device.h"
#include "vu_front.h"

#define QSIZE 256
#define MAXQD 32

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct backend {
	const char *name;
	pid_t pid;
	clockid_t cpu_clock; /* the back-end process's CPU time, all threads */
	char sock[64];
	struct sim_mem m;
	struct vu_front fe;
	uint64_t arena;
};

static int pin(pid_t pid, int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET((size_t)cpu, &set);
	return sched_setaffinity(pid, sizeof(set), &set);
}

static void print_cmd(const char *who, int cpu, char **argv)
{
	printf("%s (taskset -c %d):", who, cpu);
	for (char **a = argv; *a != NULL; a++)
		printf(" %s", *a);
	printf("\n");
}

static pid_t spawn(char **argv, int cpu)
{
	pid_t p = fork();
	if (p == 0) {
		if (pin(0, cpu) != 0)
			_exit(126);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return p;
}

static int connect_backend(struct backend *b)
{
	if (vu_front_connect(&b->fe, b->sock, 10000) != 0)
		return -1;
	sim_mem_init_memfd(&b->m, 8u << 20);
	uint64_t want = ~(VDEV_BIT(VDEV_F_RING_PACKED));
	if (vu_front_start(&b->fe, &b->m, want, 1, QSIZE) != 0) {
		fprintf(stderr, "bench: %s: %s\n", b->name, b->fe.last_error);
		return -1;
	}
	b->arena = sim_alloc(&b->m, MAXQD * 8192u, 4096);
	return 0;
}

static int tok[MAXQD];
static uint64_t submitted_at[MAXQD];

static void submit(struct backend *b, int t, uint64_t sector)
{
	uint64_t h = b->arena + (uint64_t)t * 8192u;
	uint8_t *hp = sim_ptr(&b->m, h);
	memset(hp, 0, 16);
	memcpy(hp + 8, &sector, 8); /* type 0: read */
	struct drv_buf d[3] = {{h, 16, false}, {h + 4096, 4096, true}, {h + 64, 1, true}};
	if (drv_add(&b->fe.q[0], d, 3, false, &tok[t]) != 0) {
		fprintf(stderr, "bench: ring full\n");
		exit(1);
	}
	submitted_at[t] = now_ns();
}

/* Run `total` reads keeping `qd` in flight; fills lat[] (ns). Returns ns. */
static uint64_t run(struct backend *b, unsigned qd, unsigned total, uint64_t *lat)
{
	unsigned issued = 0, done = 0;
	uint64_t t0 = now_ns();

	for (unsigned i = 0; i < qd && issued < total; i++)
		submit(b, (int)i, issued++ % 1024 * 8);
	if (drv_kick_prepare(&b->fe.q[0]))
		vu_front_kick(&b->fe, 0);
	while (done < total) {
		uint32_t len;
		void *tk;
		bool any = false;
		while ((tk = drv_get_used(&b->fe.q[0], &len)) != NULL) {
			int t = (int)((int *)tk - tok);
			lat[done++] = now_ns() - submitted_at[t];
			if (issued < total)
				submit(b, t, issued++ % 1024 * 8);
			any = true;
		}
		if (any) {
			if (drv_kick_prepare(&b->fe.q[0]))
				vu_front_kick(&b->fe, 0);
			continue;
		}
		if (!vu_front_wait_call(&b->fe, 0, 5000)) {
			fprintf(stderr, "bench: %s stopped answering\n", b->name);
			exit(1);
		}
	}
	return now_ns() - t0;
}

static uint64_t cpu_ns(clockid_t c)
{
	struct timespec ts;
	if (clock_gettime(c, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct result {
	double iops, p50, p99;
	double be_cpu; /* ns of the back-end's CPU time per request */
};

static struct result measure(struct backend *b, unsigned qd, unsigned total, uint64_t *lat)
{
	uint64_t be0 = cpu_ns(b->cpu_clock);
	uint64_t ns = run(b, qd, total, lat);
	uint64_t be1 = cpu_ns(b->cpu_clock);
	qsort(lat, total, sizeof(*lat), cmp_u64);
	return (struct result){(double)total * 1e9 / (double)ns, (double)lat[total / 2] / 1000.0,
			       (double)lat[total * 99 / 100] / 1000.0,
			       (double)(be1 - be0) / total};
}

static int parse_cpu(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	return *end == '\0' && v >= 0 && v < CPU_SETSIZE ? (int)v : -1;
}

int main(int argc, char **argv)
{
	char *daemon = NULL;
	unsigned runs = 5, total = 20000;
	int fe_cpu = 0, be_cpu = 1;
	static struct backend ours = {.name = "ours"}, qsd = {.name = "qsd"};

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--daemon") && i + 1 < argc)
			daemon = argv[++i];
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--requests") && i + 1 < argc)
			total = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--fe-cpu") && i + 1 < argc)
			fe_cpu = parse_cpu(argv[++i]);
		else if (!strcmp(argv[i], "--be-cpu") && i + 1 < argc)
			be_cpu = parse_cpu(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			i++; /* accepted for scripts/bench.sh; not used here */
		else {
			fprintf(stderr,
				"usage: %s --daemon PATH [--runs N] [--requests N] [--fe-cpu N] "
				"[--be-cpu N]\n",
				argv[0]);
			return 2;
		}
	}
	if (daemon == NULL || runs < 5 || runs > 64 || total < 100 || fe_cpu < 0 || be_cpu < 0) {
		fprintf(stderr, "bench: --daemon is required; 5..64 runs; >= 100 requests; "
				"CPUs are numbers\n");
		return 2;
	}
	if (pin(0, fe_cpu) != 0) {
		fprintf(stderr, "bench: cannot run on CPU %d\n", fe_cpu);
		return 1;
	}
	snprintf(ours.sock, sizeof(ours.sock), "/tmp/vdev-bench-ours-%d.sock", (int)getpid());
	snprintf(qsd.sock, sizeof(qsd.sock), "/tmp/vdev-bench-qsd-%d.sock", (int)getpid());
	char sockarg[96];
	snprintf(sockarg, sizeof(sockarg), "--socket-path=%s", ours.sock);
	char *oargv[] = {daemon, sockarg, "--backend=null", "--size=1073741824", "--quiet",
			 "--queue-size=256", NULL};
	/* qemu-storage-daemon as its documentation sets it up for speed: the
	 * export served by its own iothread, never moved (fixed-iothread). */
	char exp[256];
	snprintf(exp, sizeof(exp),
		 "type=vhost-user-blk,id=e0,node-name=n0,addr.type=unix,addr.path=%s,writable=on,"
		 "iothread=iot0,fixed-iothread=on",
		 qsd.sock);
	char *qargv[] = {"qemu-storage-daemon", "--object", "iothread,id=iot0", "--blockdev",
			 "driver=null-co,node-name=n0,size=1073741824", "--export", exp, NULL};
	bool have_qsd = system("command -v qemu-storage-daemon >/dev/null 2>&1") == 0;
	ours.pid = spawn(oargv, be_cpu);
	if (have_qsd)
		qsd.pid = spawn(qargv, be_cpu);
	if (connect_backend(&ours) != 0 || clock_getcpuclockid(ours.pid, &ours.cpu_clock) != 0) {
		fprintf(stderr, "bench: cannot start our daemon\n");
		return 1;
	}
	if (have_qsd && (connect_backend(&qsd) != 0 ||
			 clock_getcpuclockid(qsd.pid, &qsd.cpu_clock) != 0)) {
		fprintf(stderr, "bench: qemu-storage-daemon did not come up\n");
		have_qsd = false;
	}
	printf("vhost-user-blk back-ends, 4 KiB reads from a null device, one in-process\n"
	       "front-end (medians of %u alternating runs of %u requests)\n\n",
	       runs, total);
	char fe_cmd[512];
	snprintf(fe_cmd, sizeof(fe_cmd), "%s", argv[0]);
	char *feargv[] = {fe_cmd, NULL};
	print_cmd("front-end", fe_cpu, feargv);
	print_cmd("ours", be_cpu, oargv);
	if (have_qsd)
		print_cmd("qsd", be_cpu, qargv);
	else
		printf("qsd: SKIPPED (no qemu-storage-daemon on PATH)\n");
	printf("\nCPU ns/req: the back-end process's CPU time per request (all its threads)\n\n");
	printf("| qd | ours kIOPS | qsd kIOPS | IOPS ratio | ours CPU ns/req | qsd CPU ns/req | "
	       "CPU ratio | ours p50/p99 (us) | qsd p50/p99 (us) |\n");
	printf("|----|-----------:|----------:|-----------:|----------------:|---------------:|"
	       "----------:|-------------------|------------------|\n");
	uint64_t *lat = calloc(total, sizeof(*lat));
	static const unsigned qds[] = {1, 32};
	for (unsigned k = 0; k < 2; k++) {
		double oi[64], o50[64], o99[64], oc[64], qi[64], q50[64], q99[64], qc[64], r[64],
			rc[64];
		measure(&ours, qds[k], total / 10, lat); /* warm-up */
		if (have_qsd)
			measure(&qsd, qds[k], total / 10, lat);
		for (unsigned i = 0; i < runs; i++) {
			struct result a = measure(&ours, qds[k], total, lat);
			oi[i] = a.iops, o50[i] = a.p50, o99[i] = a.p99, oc[i] = a.be_cpu;
			if (have_qsd) {
				struct result c = measure(&qsd, qds[k], total, lat);
				qi[i] = c.iops, q50[i] = c.p50, q99[i] = c.p99, qc[i] = c.be_cpu;
				r[i] = a.iops / c.iops;
				rc[i] = a.be_cpu / c.be_cpu;
			}
		}
		if (have_qsd)
			printf("| %2u | %10.1f | %9.1f | %10.2f | %15.0f | %14.0f | %9.2f | "
			       "%8.1f / %-6.1f | %7.1f / %-6.1f |\n",
			       qds[k], median(oi, runs) / 1000, median(qi, runs) / 1000,
			       median(r, runs), median(oc, runs), median(qc, runs), median(rc, runs),
			       median(o50, runs), median(o99, runs), median(q50, runs),
			       median(q99, runs));
		else
			printf("| %2u | %10.1f | SKIPPED | | %15.0f | | | %8.1f / %-6.1f | |\n",
			       qds[k], median(oi, runs) / 1000, median(oc, runs), median(o50, runs),
			       median(o99, runs));
		fflush(stdout);
	}
	vu_front_close(&ours.fe);
	vu_front_close(&qsd.fe);
	kill(ours.pid, SIGTERM);
	waitpid(ours.pid, NULL, 0);
	if (qsd.pid > 0) {
		kill(qsd.pid, SIGTERM);
		waitpid(qsd.pid, NULL, 0);
	}
	unlink(ours.sock);
	unlink(qsd.sock);
	free(lat);
	return 0;
}
