/* SPDX-License-Identifier: MIT */
/*
 * End-to-end check of the vhost-user-rng daemon: starts it on a known
 * --source stream, connects the in-process front-end and plays Linux's
 * virtio-rng driver (one 64-byte buffer out at a time, on a 4-entry ring
 * as QEMU's vhost-user-rng-pci has it):
 *   - the bytes that come back are the stream, in order;
 *   - with --rate the answers come no faster than the rate allows (plus
 *     one bucket); whole buffers by default, and with --short-answers
 *     short ones (the bucket holds less than a buffer);
 *   - a buffer the driver marked readable comes back empty and the
 *     stream goes on where it was;
 *   - with --drain (at 1 B/s, so a buffer waits once the first bucket is
 *     spent) stopping the ring (GET_VRING_BASE) answers the waiting buffer
 *     first, with the next bytes of the stream;
 *   - the daemon ends cleanly on SIGTERM and counted what it did.
 *
 * usage: vu_rng_check DAEMON RATE [--short-answers | --drain]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drvsim.h"
#include "vdev/device.h"
#include "vu_check.h"
#include "vu_front.h"

#define CHECK VU_CHECK

#define STREAM (64u << 10)
#define WANT_MAX 16384u
#define BUF 64u

static uint8_t stream[STREAM];

static struct sim_mem m;
static struct vu_front fe;
static int tok;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Post one buffer, wait (up to 30 s) for it to come back; returns its used length. */
static uint32_t one(uint64_t gpa, uint32_t len, bool writable)
{
	struct drv_buf b = {gpa, len, writable};
	uint32_t used = 0;

	CHECK(drv_add(&fe.q[0], &b, 1, false, &tok) == 0, "ring full");
	if (drv_kick_prepare(&fe.q[0]))
		vu_front_kick(&fe, 0);
	/* as Linux's driver: it sleeps until the used-buffer notification */
	CHECK(vu_front_wait_call(&fe, 0, 30000), "no notification within 30 s (%s)",
	      drv_get_used(&fe.q[0], &used) != NULL ? "the buffer was used" : "nor an answer");
	CHECK(drv_get_used(&fe.q[0], &used) != NULL, "notified, but no used buffer");
	CHECK(fe.q[0].errors == 0, "driver saw: %s", fe.q[0].last_error);
	return used;
}

int main(int argc, char **argv)
{
	char src[160], sock[160], sockarg[180], srcarg[180], ratearg[64];

	if (argc < 3 || argc > 4 ||
	    (argc == 4 && strcmp(argv[3], "--short-answers") != 0 && strcmp(argv[3], "--drain") != 0)) {
		fprintf(stderr, "usage: %s DAEMON RATE [--short-answers | --drain]\n", argv[0]);
		return 2;
	}
	unsigned rate = (unsigned)atoi(argv[2]);
	bool short_answers = argc == 4 && strcmp(argv[3], "--short-answers") == 0;
	bool drain = argc == 4 && strcmp(argv[3], "--drain") == 0;
	/* whole answers: the bucket holds --max-request (4096) bytes to start */
	unsigned want = short_answers || drain ? 4096u : WANT_MAX;
	double burst = short_answers ? rate / 10.0 : 4096.0;
	signal(SIGPIPE, SIG_IGN);
	const char *dir = vu_check_dir("vu-rng");
	snprintf(sock, sizeof(sock), "%s/rng.sock", dir);
	snprintf(src, sizeof(src), "%s/stream", dir);
	uint32_t x = 12345;
	for (unsigned i = 0; i < STREAM; i++) {
		x = x * 1103515245u + 12345u;
		stream[i] = (uint8_t)(x >> 16);
	}
	int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, stream, STREAM) == (ssize_t)STREAM, "write the stream");
	close(fd);
	snprintf(sockarg, sizeof(sockarg), "--socket=%s", sock);
	snprintf(srcarg, sizeof(srcarg), "--source=%s", src);
	snprintf(ratearg, sizeof(ratearg), "--rate=%u", rate);
	char *args[] = {argv[1], sockarg, srcarg, ratearg, "--quiet", "--stats",
			short_answers ? "--short-answers" : NULL, NULL};
	const char *log_path = vu_check_spawn(args, 0);
	CHECK(vu_front_connect(&fe, sock, 5000) == 0, "%s", fe.last_error);
	sim_mem_init_memfd(&m, 1u << 20);
	CHECK(vu_front_start(&fe, &m, ~(uint64_t)0 & ~VDEV_BIT(VDEV_F_RING_PACKED), 1, 4) == 0,
	      "start: %s", fe.last_error);
	uint64_t buf = sim_alloc(&m, BUF, 64);
	static uint8_t got[WANT_MAX];
	unsigned n = 0, answers = 0, shorts = 0;
	bool refused = false;
	double t0 = now_s();
	while (n < want) {
		uint32_t len = one(buf, BUF, true);
		CHECK(len > 0 && len <= BUF, "used length %u", len);
		if (len > want - n)
			len = want - n;
		memcpy(got + n, sim_ptr(&m, buf), len);
		n += len;
		answers++;
		shorts += len < BUF;
		if (n >= want / 2 && !refused) {
			refused = true;
			/* a readable buffer: refused, the stream does not move */
			CHECK(one(buf, BUF, false) == 0, "a readable buffer must come back empty");
		}
	}
	double secs = now_s() - t0;
	CHECK(memcmp(got, stream, want) == 0, "the bytes are not the stream");
	/* never faster than the rate (a full bucket to start) */
	CHECK(want <= rate * secs + burst + BUF, "%u bytes in %.2f s at %u B/s", want, secs, rate);
	if (short_answers)
		CHECK(shorts > 0, "a bucket smaller than a buffer must give short answers");
	else
		CHECK(shorts == 0, "%u short answers without --short-answers", shorts);
	printf("vu_rng_check: %u bytes in %u answers (%u short) in %.2f s at --rate=%u\n", want,
	       answers, shorts, secs, rate);
	if (drain) {
		/* the bucket is spent: the next buffer waits (a minute at 1 B/s) */
		struct drv_buf b = {buf, BUF, true};
		uint32_t used = 0;
		memset(sim_ptr(&m, buf), 0, BUF);
		CHECK(drv_add(&fe.q[0], &b, 1, false, &tok) == 0, "ring full");
		vu_front_kick(&fe, 0);
		/* the device took it once it re-armed notifications behind it
		 * (EVENT_IDX: avail_event, after the used ring, reaches avail idx) */
		volatile uint16_t *avail_event =
			(volatile uint16_t *)((uint8_t *)fe.q[0].device + 4 + 8u * fe.q[0].size);
		for (int i = 0; *avail_event != fe.q[0].avail_idx; i++) {
			CHECK(i < 1000, "the daemon did not take the buffer");
			vu_front_wait_call(&fe, 0, 10);
		}
		CHECK(drv_get_used(&fe.q[0], &used) == NULL, "answered already, past the rate");
		CHECK(vu_front_stop_ring(&fe, 0) >= 0, "GET_VRING_BASE: %s", fe.last_error);
		CHECK(drv_get_used(&fe.q[0], &used) != NULL, "the waiting buffer was not answered");
		CHECK(used == BUF && memcmp(sim_ptr(&m, buf), stream + n, BUF) == 0,
		      "drained with %u bytes, not the next of the stream", used);
		printf("vu_rng_check: the waiting buffer was answered when the ring stopped\n");
	}
	vu_front_close(&fe);
	int st = vu_check_stop();
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "daemon exit status %d", st);
	char line[512] = "";
	FILE *lf = fopen(log_path, "r");
	CHECK(lf != NULL, "daemon log");
	bool counted = false;
	while (fgets(line, sizeof(line), lf))
		counted = counted || strstr(line, " 1 bad buffers") != NULL;
	fclose(lf);
	CHECK(counted, "the daemon's stats must count the readable buffer: %s", line);
	vu_check_cleanup();
	sim_mem_destroy(&m);
	return 0;
}
