/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user-blk daemon killed with requests in flight: the in-process
 * front-end (with INFLIGHT_SHMFD, keeping the region as QEMU does) puts a
 * burst of writes on a split (or, with --packed, a packed) ring, the
 * daemon gets SIGKILL at once, a new daemon is started on the same socket
 * and image, the front-end reconnects (split rings resumed at their used
 * index, packed ones at the positions of the first start, as QEMU does:
 * the region decides) and every request must
 * complete exactly once (the driver simulator flags a second completion),
 * with status OK and its data in the image file. Cycles go on until
 * three restarts found requests in flight (the daemon logs them), at most
 * 30; at least one must have.
 *
 * usage: vu_blk_kill_check [--packed] DAEMON [daemon args...]
 * Exit 0 passed, 1 failed.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drvsim.h"
#include "vdev/device.h"
#include "vu_front.h"

#define NREQ 32
#define LEN 65536u
#define DISK (NREQ * LEN)

static char dir[] = "/tmp/vdev-blk-kill-XXXXXX";
static char sock[96], img[96];
static pid_t daemon_pid = -1;
static int ndaemons;
static struct sim_mem m;
static struct vu_front fe;
static int tok[NREQ];

static void cleanup(void)
{
	char cmd[160];

	if (daemon_pid > 0)
		kill(daemon_pid, SIGKILL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

#define CHECK(c, ...)                                                                      \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "vu_blk_kill_check: FAIL: " __VA_ARGS__);           \
			fputc('\n', stderr);                                                \
			cleanup();                                                           \
			exit(1);                                                             \
		}                                                                          \
	} while (0)

/* Start daemon instance n with its stderr in dir/daemon.n.log; wait until it listens. */
static void start_daemon(int argc, char **argv)
{
	char log[160];
	struct stat st;

	ndaemons++;
	snprintf(log, sizeof(log), "%s/daemon.%d.log", dir, ndaemons);
	unlink(sock); /* the dead one's: listening means a new file */
	daemon_pid = fork();
	if (daemon_pid == 0) {
		char **args = calloc((size_t)argc + 3, sizeof(char *));
		char a1[160], a2[160];
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		snprintf(a1, sizeof(a1), "--socket-path=%s", sock);
		snprintf(a2, sizeof(a2), "--blk-file=%s", img);
		args[0] = argv[0];
		args[1] = a1;
		args[2] = a2;
		for (int i = 1; i < argc; i++)
			args[i + 2] = argv[i];
		if (fd >= 0)
			dup2(fd, 2);
		execv(args[0], args);
		_exit(127);
	}
	for (int i = 0; i < 3000; i++) {
		if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
			return;
		CHECK(waitpid(daemon_pid, NULL, WNOHANG) == 0, "daemon %d died at start", ndaemons);
		usleep(10000);
	}
	CHECK(0, "daemon %d did not listen", ndaemons);
}

static bool log_says(int n, const char *what)
{
	char path[160], buf[4096];
	FILE *f;
	bool found = false;

	snprintf(path, sizeof(path), "%s/daemon.%d.log", dir, n);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	while (!found && fgets(buf, sizeof(buf), f) != NULL)
		found = strstr(buf, what) != NULL;
	fclose(f);
	return found;
}

static uint8_t pattern(int cycle, int t, uint32_t i) { return (uint8_t)(cycle * 31 + t * 7 + (int)(i >> 9)); }

int main(int argc, char **argv)
{
	int fd, resumed = 0, cycle;
	uint64_t arena;
	bool packed = argc >= 2 && strcmp(argv[1], "--packed") == 0;

	if (packed)
		argc--, argv++;
	CHECK(argc >= 2, "usage: vu_blk_kill_check [--packed] DAEMON [args...]");
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	signal(SIGPIPE, SIG_IGN);
	snprintf(sock, sizeof(sock), "%s/blk.sock", dir);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, DISK) == 0, "image");
	sim_mem_init_memfd(&m, 8u << 20);
	arena = sim_alloc(&m, (size_t)NREQ * (LEN + 4096u), 4096);
	start_daemon(argc - 1, argv + 1);
	CHECK(vu_front_connect(&fe, sock, 5000) == 0, "connect: %s", fe.last_error);
	fe.want_inflight = true;
	CHECK(vu_front_start(&fe, &m, packed ? ~0ull : ~VDEV_BIT(VDEV_F_RING_PACKED), 1, 128) == 0,
	      "start: %s", fe.last_error);
	CHECK(((fe.features & VDEV_BIT(VDEV_F_RING_PACKED)) != 0) == packed,
	      "the ring layout asked for was not negotiated");
	CHECK(fe.inflight_fd >= 0, "the daemon did not offer INFLIGHT_SHMFD");
	for (cycle = 0; cycle < 30 && resumed < 3; cycle++) {
		int seen[NREQ] = {0}, done = 0;

		/* a burst of writes, then the daemon dies at once */
		for (int t = 0; t < NREQ; t++) {
			uint64_t h = arena + (uint64_t)t * (LEN + 4096u), sector = (uint64_t)t * LEN / 512;
			uint8_t *hp = sim_ptr(&m, h);
			memset(hp, 0, 16);
			hp[0] = 1; /* VIRTIO_BLK_T_OUT */
			memcpy(hp + 8, &sector, 8);
			hp[64] = 0xee;
			for (uint32_t i = 0; i < LEN; i++)
				hp[4096 + i] = pattern(cycle, t, i);
			struct drv_buf b[3] = {{h, 16, false}, {h + 4096, LEN, false}, {h + 64, 1, true}};
			CHECK(drv_add(&fe.q[0], b, 3, false, &tok[t]) == 0, "ring full");
		}
		vu_front_kick(&fe, 0);
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = -1;
		/* what the dead one completed */
		uint32_t len;
		int *got;
		while ((got = drv_get_used(&fe.q[0], &len)) != NULL)
			seen[got - tok]++, done++;
		start_daemon(argc - 1, argv + 1);
		/* the file appears at bind(), connections succeed from listen() */
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int s = -1;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		for (int i = 0; i < 500 && s < 0; i++) {
			s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
				close(s);
				s = -1;
				usleep(10000);
			}
		}
		CHECK(s >= 0, "reconnect to daemon %d", ndaemons);
		vu_front_reattach(&fe, s);
		CHECK(vu_front_resume(&fe) == 0, "resume: %s", fe.last_error);
		/* the rest, completed by the new daemon */
		for (int i = 0; i < 2000 && done < NREQ; i++) {
			while ((got = drv_get_used(&fe.q[0], &len)) != NULL)
				seen[got - tok]++, done++;
			if (done < NREQ)
				vu_front_wait_call(&fe, 0, 10);
		}
		CHECK(fe.q[0].errors == 0, "cycle %d: the driver saw: %s", cycle, fe.q[0].last_error);
		CHECK(done == NREQ, "cycle %d: %d of %d requests completed", cycle, done, NREQ);
		for (int t = 0; t < NREQ; t++) {
			uint8_t *hp = sim_ptr(&m, arena + (uint64_t)t * (LEN + 4096u));
			uint8_t d[LEN];
			CHECK(seen[t] == 1, "cycle %d: request %d completed %d times", cycle, t, seen[t]);
			CHECK(hp[64] == 0, "cycle %d: request %d status %u", cycle, t, hp[64]);
			CHECK(pread(fd, d, LEN, (off_t)t * LEN) == (ssize_t)LEN, "read the image");
			for (uint32_t i = 0; i < LEN; i++)
				CHECK(d[i] == pattern(cycle, t, i),
				      "cycle %d: request %d's data not in the image (byte %u)", cycle, t, i);
		}
		if (log_says(ndaemons, "submitted again"))
			resumed++;
		CHECK(!log_says(ndaemons, "inconsistencies"), "daemon %d found an inconsistent region",
		      ndaemons);
		CHECK(!log_says(ndaemons, "not covered by the inflight region"),
		      "daemon %d did not track the ring", ndaemons);
	}
	printf("vu_blk_kill_check: %s ring, %d kills, %d restarts found requests in flight\n",
	       packed ? "packed" : "split", cycle, resumed);
	CHECK(resumed >= 1, "no kill caught a request in flight (%d kills)", cycle);
	vu_front_close(&fe);
	int st;
	kill(daemon_pid, SIGTERM);
	CHECK(waitpid(daemon_pid, &st, 0) == daemon_pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "the last daemon did not exit cleanly");
	daemon_pid = -1;
	close(fd);
	sim_mem_destroy(&m);
	cleanup();
	printf("vu_blk_kill_check: PASS\n");
	return 0;
}
