/* SPDX-License-Identifier: MIT */
/*
 * End-to-end check of a vhost-user-blk back-end process: starts it on a
 * temporary image, connects the in-process front-end over its socket,
 * writes, reads back, flushes, discards and write-zeroes through split or
 * packed rings, then checks the image file itself and that the daemon
 * ends cleanly on SIGTERM.
 *
 * usage: vu_blk_check [--packed] DAEMON [daemon args...]
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drvsim.h"
#include "vdev/blk.h"
#include "vdev/device.h"
#include "vu_front.h"

#define DISK (16u << 20)

#define CHECK(c, ...)                                                                     \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);              \
			fprintf(stderr, __VA_ARGS__);                                     \
			fputc('\n', stderr);                                              \
			cleanup();                                                        \
			exit(1);                                                          \
		}                                                                         \
	} while (0)

static char img[] = "/tmp/vdev-vu-blk-XXXXXX";
static char sock[64];
static pid_t daemon_pid = -1;

static void cleanup(void)
{
	if (daemon_pid > 0)
		kill(daemon_pid, SIGKILL);
	unlink(img);
	unlink(sock);
}

static struct sim_mem m;
static struct vu_front fe;
static int tok[64];
static uint64_t arena;

/* One request; returns the status byte. */
static int rq(int t, uint32_t type, uint64_t sector, uint32_t len, bool din)
{
	uint64_t h = arena + (uint64_t)t * 16384u;
	uint8_t *hp = sim_ptr(&m, h);
	memset(hp, 0, 16);
	hp[0] = (uint8_t)type;
	memcpy(hp + 8, &sector, 8);
	hp[64] = 0xee;
	struct drv_buf b[3] = {{h, 16, false}, {h + 4096, len, din}, {h + 64, 1, true}};
	if (len == 0)
		b[1] = b[2];
	CHECK(drv_add(&fe.q[0], b, len ? 3 : 2, (t & 1) != 0, &tok[t]) == 0, "ring full");
	if (drv_kick_prepare(&fe.q[0]))
		vu_front_kick(&fe, 0);
	uint32_t used;
	void *got = NULL;
	for (int i = 0; i < 500 && got == NULL; i++) {
		got = drv_get_used(&fe.q[0], &used);
		if (got == NULL)
			vu_front_wait_call(&fe, 0, 10);
	}
	CHECK(got == &tok[t], "request %d (type %u) never completed", t, type);
	CHECK(fe.q[0].errors == 0, "driver saw: %s", fe.q[0].last_error);
	return hp[64];
}

static uint8_t *data(int t) { return sim_ptr(&m, arena + (uint64_t)t * 16384u + 4096); }

int main(int argc, char **argv)
{
	bool packed = false;
	int a = 1;

	if (a < argc && !strcmp(argv[a], "--packed"))
		packed = true, a++;
	if (a >= argc) {
		fprintf(stderr, "usage: %s [--packed] DAEMON [args]\n", argv[0]);
		return 2;
	}
	int fd = mkstemp(img);
	CHECK(fd >= 0 && ftruncate(fd, DISK) == 0, "image");
	close(fd);
	snprintf(sock, sizeof(sock), "/tmp/vdev-vu-blk-%d.sock", (int)getpid());
	char sockarg[96], filearg[96];
	snprintf(sockarg, sizeof(sockarg), "--socket-path=%s", sock);
	snprintf(filearg, sizeof(filearg), "--blk-file=%s", img);
	char *args[32] = {argv[a], sockarg, filearg, "--quiet"};
	int n = 4;
	for (int i = a + 1; i < argc && n < 30; i++)
		args[n++] = argv[i];
	daemon_pid = fork();
	if (daemon_pid == 0) {
		execv(args[0], args);
		perror("execv");
		_exit(127);
	}
	CHECK(vu_front_connect(&fe, sock, 5000) == 0, "%s", fe.last_error);
	sim_mem_init_memfd(&m, 4u << 20);
	uint64_t want = ~(uint64_t)0;
	if (!packed)
		want &= ~VDEV_BIT(VDEV_F_RING_PACKED);
	CHECK(vu_front_start(&fe, &m, want, 1, 128) == 0, "start: %s", fe.last_error);
	CHECK(((fe.features & VDEV_BIT(VDEV_F_RING_PACKED)) != 0) == packed, "ring layout");
	arena = sim_alloc(&m, 64u * 16384u, 4096);

	uint8_t cfg[60];
	CHECK(vu_front_get_config(&fe, 0, cfg, sizeof(cfg)) == 0, "GET_CONFIG");
	uint64_t cap;
	memcpy(&cap, cfg, 8);
	CHECK(cap == DISK / 512, "capacity %llu", (unsigned long long)cap);

	for (int t = 0; t < 32; t++) {
		for (int i = 0; i < 8192; i++)
			data(t)[i] = (uint8_t)(t * 31 + i);
		CHECK(rq(t, 1, (uint64_t)t * 16, 8192, false) == 0, "write %d", t);
	}
	CHECK(rq(40, 4, 0, 0, false) == 0, "flush");
	for (int t = 0; t < 32; t++) {
		memset(data(t), 0, 8192);
		CHECK(rq(t, 0, (uint64_t)(31 - t) * 16, 8192, true) == 0, "read %d", t);
		CHECK(data(t)[100] == (uint8_t)((31 - t) * 31 + 100), "data of block %d", 31 - t);
	}
	/* discard and write-zeroes, if offered */
	if (fe.features & VDEV_BIT(VDEV_BLK_F_DISCARD)) {
		uint64_t s = 0;
		uint32_t c = 16, f = 0;
		memcpy(data(41), &s, 8), memcpy(data(41) + 8, &c, 4), memcpy(data(41) + 12, &f, 4);
		CHECK(rq(41, 11, 0, 16, false) == 0, "discard");
	}
	if (fe.features & VDEV_BIT(VDEV_BLK_F_WRITE_ZEROES)) {
		uint64_t s = 16;
		uint32_t c = 16, f = 0;
		memcpy(data(42), &s, 8), memcpy(data(42) + 8, &c, 4), memcpy(data(42) + 12, &f, 4);
		CHECK(rq(42, 13, 0, 16, false) == 0, "write zeroes");
	}
	CHECK(vu_front_stop_ring(&fe, 0) >= 0, "GET_VRING_BASE");
	vu_front_close(&fe);

	/* the image itself */
	uint8_t b[8192];
	fd = open(img, O_RDONLY);
	CHECK(pread(fd, b, 8192, 5 * 16 * 512) == 8192, "pread");
	CHECK(b[7] == (uint8_t)(5 * 31 + 7), "block 5 on disk");
	if (fe.features & (VDEV_BIT(VDEV_BLK_F_DISCARD) | VDEV_BIT(VDEV_BLK_F_WRITE_ZEROES))) {
		CHECK(pread(fd, b, 8192, 0) == 8192, "pread");
		for (int i = 0; i < 8192; i++)
			CHECK(b[i] == 0 || !(fe.features & VDEV_BIT(VDEV_BLK_F_DISCARD)),
			      "discarded byte %d", i);
		CHECK(pread(fd, b, 8192, 16 * 512) == 8192, "pread");
		for (int i = 0; i < 8192; i++)
			CHECK(b[i] == 0 || !(fe.features & VDEV_BIT(VDEV_BLK_F_WRITE_ZEROES)),
			      "zeroed byte %d", i);
	}
	close(fd);
	int st;
	kill(daemon_pid, SIGTERM);
	CHECK(waitpid(daemon_pid, &st, 0) == daemon_pid, "waitpid");
	daemon_pid = -1;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "daemon exit status %d", st);
	printf("vhost-user-blk check (%s ring): ok\n", packed ? "packed" : "split");
	cleanup();
	return 0;
}
