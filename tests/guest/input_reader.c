/* SPDX-License-Identifier: MIT */
/*
 * vdev-evread: a guest helper for the input scenarios. Built static and
 * added to the guest's initramfs by run-guest-input.sh.
 *
 *   vdev-evread NAME COUNT TIMEOUT_S [LED_CODE]
 *
 * Opens the /dev/input/event* device whose name is NAME, prints
 * "DEVICE <path>", then for the absolute axes ABS_MT_SLOT and
 * ABS_MT_POSITION_X/Y, if it has them, "ABS <code> <min> <max>". With
 * LED_CODE it then turns that LED on (an EV_LED event written to the
 * device, which the driver sends to the device's status queue). Then it
 * prints "READY" and the next COUNT events as "EV <type> <code> <value>",
 * in the order read, and exits 0. Left out: EV_LED events (our own LED
 * write, and the console's keyboard handler setting the LEDs to its lock
 * state whenever it likes), the input core's autorepeat (EV_KEY value 2),
 * and the EV_SYN ending a frame of only those: they depend on timing, not
 * on what the host sent. Exit 1 (after "TIMEOUT <n>") if the
 * events do not come within TIMEOUT_S seconds of READY, 2 on other errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/input.h>

static int find_device(const char *name, char *path, size_t len)
{
	for (int i = 0; i < 64; i++) {
		char n[256] = "";
		snprintf(path, len, "/dev/input/event%d", i);
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl(fd, EVIOCGNAME(sizeof(n) - 1), n) >= 0 && strcmp(n, name) == 0)
			return fd;
		close(fd);
	}
	return -1;
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	char path[64];
	unsigned char absbits[ABS_CNT / 8 + 1] = {0};
	static const int axes[] = {ABS_MT_SLOT, ABS_MT_POSITION_X, ABS_MT_POSITION_Y};

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: vdev-evread NAME COUNT TIMEOUT_S [LED_CODE]\n");
		return 2;
	}
	int count = atoi(argv[2]);
	long long deadline_ms = atoll(argv[3]) * 1000;
	int fd = find_device(argv[1], path, sizeof(path));
	if (fd < 0) {
		printf("NODEVICE\n");
		return 2;
	}
	printf("DEVICE %s\n", path);
	if (ioctl(fd, EVIOCGBIT(EV_ABS, sizeof(absbits)), absbits) >= 0) {
		for (size_t i = 0; i < sizeof(axes) / sizeof(axes[0]); i++) {
			struct input_absinfo a;
			int ax = axes[i];
			if (!(absbits[ax / 8] & (1u << (ax % 8))) || ioctl(fd, EVIOCGABS(ax), &a) < 0)
				continue;
			printf("ABS %d %d %d\n", ax, a.minimum, a.maximum);
		}
	}
	if (argc == 5) {
		struct input_event led[2];
		memset(led, 0, sizeof(led));
		led[0].type = EV_LED;
		led[0].code = (unsigned short)atoi(argv[4]);
		led[0].value = 1;
		led[1].type = EV_SYN;
		led[1].code = SYN_REPORT;
		if (write(fd, led, sizeof(led)) != (ssize_t)sizeof(led)) {
			printf("LEDFAIL %s\n", strerror(errno));
			return 2;
		}
	}
	printf("READY\n");
	fflush(stdout);
	long long end = now_ms() + deadline_ms;
	int got = 0;
	bool in_frame = false; /* an event of this frame was printed */
	while (got < count) {
		long long left = end - now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			printf("TIMEOUT %d\n", got);
			return 1;
		}
		struct input_event ev[64];
		ssize_t r = read(fd, ev, sizeof(ev));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			printf("READFAIL %s\n", strerror(errno));
			return 2;
		}
		for (size_t i = 0; i < (size_t)r / sizeof(ev[0]) && got < count; i++) {
			bool syn = ev[i].type == EV_SYN && ev[i].code == SYN_REPORT;
			if (ev[i].type == EV_LED || (ev[i].type == EV_KEY && ev[i].value == 2))
				continue; /* LED state, autorepeat: not the host's */
			if (syn && !in_frame)
				continue; /* the end of a frame of only those */
			in_frame = !syn;
			printf("EV %u %u %d\n", ev[i].type, ev[i].code, ev[i].value);
			got++;
		}
		fflush(stdout);
	}
	return 0;
}
