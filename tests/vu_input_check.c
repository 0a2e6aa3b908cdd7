/* SPDX-License-Identifier: MIT */
/*
 * End-to-end check of the vhost-user-input daemon: starts it as a touch
 * screen with the smallest backlog, connects the in-process front-end
 * (both queues, 4 entries each as QEMU's vhost-user-input-pci has them)
 * and plays the guest's driver while this process is also the host's
 * event clients:
 *   - the config space (through SET_CONFIG/GET_CONFIG, whole-struct writes
 *     as QEMU sends them) gives our name and multi-touch axes;
 *   - an update sent before the driver posts buffers waits and arrives in
 *     order, a few buffers at a time;
 *   - with no buffers the backlog fills: the update that does not fit is
 *     answered DROP and none of it arrives;
 *   - malformed lines, an overlong line and an update of more than 128
 *     events are answered ERR and send nothing;
 *   - a status event from the driver reaches every client as STATUS;
 *   - a ninth client is refused; the daemon ends cleanly on SIGTERM.
 *
 * usage: vu_input_check DAEMON
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drvsim.h"
#include "vdev/device.h"
#include "vu_check.h"
#include "vu_front.h"

#define CHECK VU_CHECK

static char sock[96], events[96];

static struct sim_mem m;
static struct vu_front fe;
static uint64_t arena;
static int tok[64];
static unsigned next_slot;

static int client(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", events);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s",
	      strerror(errno));
	return fd;
}

/* One answer line from the daemon (10 s at most). */
static void answer(int fd, char *line, size_t len)
{
	size_t n = 0;
	while (n + 1 < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		CHECK(poll(&p, 1, 10000) == 1, "no answer within 10 s");
		char c;
		CHECK(read(fd, &c, 1) == 1, "daemon closed the client");
		if (c == '\n')
			break;
		line[n++] = c;
	}
	line[n] = '\0';
}

static void say(int fd, const char *s)
{
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s), "write");
}

static void expect_answer(int fd, const char *want)
{
	char line[128];
	answer(fd, line, sizeof(line));
	CHECK(strncmp(line, want, strlen(want)) == 0, "answer '%s', want '%s'", line, want);
}

static void post_event_bufs(unsigned n)
{
	if (n == 0)
		return;
	for (unsigned i = 0; i < n; i++) {
		unsigned s = next_slot++ % 64u;
		struct drv_buf b = {arena + s * 64u, 8, true};
		CHECK(drv_add(&fe.q[0], &b, 1, false, &tok[s]) == 0, "eventq full");
	}
	if (drv_kick_prepare(&fe.q[0]))
		vu_front_kick(&fe, 0);
}

/* The next event the device delivered (10 s at most): its code. */
static unsigned next_code(void)
{
	uint32_t len;
	int *t;
	for (int i = 0; (t = drv_get_used(&fe.q[0], &len)) == NULL; i++) {
		CHECK(i < 500, "no event within 10 s");
		vu_front_wait_call(&fe, 0, 20);
	}
	CHECK(len == 8, "event length %u", len);
	const uint8_t *p = sim_ptr(&m, arena + (uint64_t)(t - tok) * 64u);
	return (unsigned)p[2] | (unsigned)p[3] << 8;
}

static void config_select(uint8_t sel, uint8_t sub, uint8_t *raw)
{
	/* as QEMU: read the whole struct, change select/subsel, write it all back */
	CHECK(vu_front_get_config(&fe, 0, raw, 136) == 0, "GET_CONFIG: %s", fe.last_error);
	raw[0] = sel, raw[1] = sub;
	raw[2] = 0x55; /* read-only: must not stick */
	CHECK(vu_front_set_config(&fe, 0, raw, 136) == 0, "SET_CONFIG: %s", fe.last_error);
	CHECK(vu_front_get_config(&fe, 0, raw, 136) == 0, "GET_CONFIG: %s", fe.last_error);
}

int main(int argc, char **argv)
{
	char line[512];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DAEMON\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	const char *dir = vu_check_dir("vu-input");
	snprintf(sock, sizeof(sock), "%s/in.sock", dir);
	snprintf(events, sizeof(events), "%s/in.events", dir);
	char sockarg[160], evarg[160];
	snprintf(sockarg, sizeof(sockarg), "--socket=%s", sock);
	snprintf(evarg, sizeof(evarg), "--events=%s", events);
	char *args[] = {argv[1], sockarg, evarg, "--profile=touch", "--name=check touch",
			"--slots=3", "--backlog=128", "--quiet", "--stats", NULL};
	const char *log_path = vu_check_spawn(args, 0);
	CHECK(vu_front_connect(&fe, sock, 5000) == 0, "%s", fe.last_error);
	sim_mem_init_memfd(&m, 1u << 20);
	CHECK(vu_front_start(&fe, &m, ~(uint64_t)0 & ~VDEV_BIT(VDEV_F_RING_PACKED), 2, 4) == 0,
	      "start: %s", fe.last_error);
	arena = sim_alloc(&m, 2u * 64u * 64u, 64);

	/* config space */
	uint8_t raw[136];
	config_select(1, 0, raw);
	CHECK(raw[2] == strlen("check touch") && memcmp(raw + 8, "check touch", raw[2]) == 0,
	      "ID_NAME: size %u", raw[2]);
	config_select(0x12, 0x2f, raw);
	CHECK(raw[2] == 20 && raw[12] == 2, "ABS_INFO(MT_SLOT): size %u, max %u", raw[2], raw[12]);
	config_select(0x42, 0, raw);
	CHECK(raw[2] == 0, "an unknown select reads size %u", raw[2]);

	/* an update before there are buffers: it waits, then arrives in order */
	int c = client();
	say(c, "# a comment\n\n3 47 1\n3 57 9\n3 53 0x10\n3 54 -3\n0 0 0\n");
	expect_answer(c, "OK");
	post_event_bufs(2);
	CHECK(next_code() == 47 && next_code() == 57, "the first two events");
	post_event_bufs(4);
	CHECK(next_code() == 53 && next_code() == 54 && next_code() == 0, "the rest, in order");

	/* no buffers: 100 events fit the backlog of 128, the next 100 do not */
	char big[100 * 12 + 16] = "";
	for (int i = 0; i < 99; i++)
		strcat(big, "3 53 7\n");
	strcat(big, "0 0 0\n");
	say(c, big);
	expect_answer(c, "OK");
	say(c, big);
	expect_answer(c, "DROP");

	/* malformed: each answered ERR, nothing sent */
	say(c, "1 2\n");
	expect_answer(c, "ERR");
	say(c, "1 2 3 4\n");
	expect_answer(c, "ERR");
	say(c, "x y z\n");
	expect_answer(c, "ERR");
	say(c, "65536 0 0\n");
	expect_answer(c, "ERR");
	say(c, "1 2 4294967296\n");
	expect_answer(c, "ERR");
	memset(line, '1', sizeof(line));
	CHECK(write(c, line, 300) == 300, "write");
	expect_answer(c, "ERR line too long");
	say(c, "\n"); /* the 44 bytes after the cut are a line of their own: bad too */
	expect_answer(c, "ERR");
	char over[140 * 8 + 8] = "";
	for (int i = 0; i < 130; i++)
		strcat(over, "3 0 1\n");
	strcat(over, "0 0 0\n");
	say(c, over);
	expect_answer(c, "ERR update longer");

	/* drain: exactly the accepted 100 events come out */
	unsigned got = 0;
	while (got < 100) {
		post_event_bufs(4 - drv_outstanding(&fe.q[0])); /* keep the ring full */
		CHECK(next_code() == (got == 99 ? 0u : 53u), "event %u", got);
		got++;
	}
	uint32_t len;
	CHECK(drv_get_used(&fe.q[0], &len) == NULL, "nothing of the dropped or refused updates");
	CHECK(drv_outstanding(&fe.q[0]) > 0, "buffers left, and nothing to put in them");

	/* status from the driver reaches every client */
	int c2 = client();
	uint64_t st = sim_alloc(&m, 8, 8);
	uint8_t *p = sim_ptr(&m, st);
	p[0] = 0x11, p[1] = 0, p[2] = 1, p[3] = 0, p[4] = 1, p[5] = p[6] = p[7] = 0;
	struct drv_buf sb = {st, 8, false};
	CHECK(drv_add(&fe.q[1], &sb, 1, false, &tok[0]) == 0, "statusq");
	vu_front_kick(&fe, 1);
	expect_answer(c, "STATUS 17 1 1");
	expect_answer(c2, "STATUS 17 1 1");

	/* eight clients at most */
	int more[7];
	for (int i = 0; i < 6; i++)
		more[i] = client();
	more[6] = client();
	expect_answer(more[6], "ERR too many clients");
	for (int i = 0; i < 7; i++)
		close(more[i]);
	close(c);
	close(c2);

	vu_front_close(&fe);
	int stt = vu_check_stop();
	CHECK(WIFEXITED(stt) && WEXITSTATUS(stt) == 0, "daemon exit status %d", stt);
	FILE *lf = fopen(log_path, "r");
	CHECK(lf != NULL, "daemon log");
	bool counted = false;
	while (fgets(line, sizeof(line), lf))
		counted = counted ||
			  strstr(line, "2 updates accepted, 1 dropped, 8 bad lines; 105 events") != NULL;
	fclose(lf);
	CHECK(counted, "the daemon's stats: %s", line);
	printf("vu_input_check: config, order, backlog, drops, bad lines, status, clients: ok\n");
	vu_check_cleanup();
	sim_mem_destroy(&m);
	return 0;
}
