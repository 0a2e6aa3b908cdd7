/* SPDX-License-Identifier: MIT */
/*
 * vdev-switch: the inter-VM L2 switch. Each vhost-user-net daemon started
 * with --switch=PATH is a port: one SOCK_SEQPACKET connection, one
 * Ethernet frame per message. The switch learns source MACs per port and
 * forwards known unicast to its port; broadcast, multicast and unknown
 * unicast go to every other port. A port that cannot keep up loses frames
 * (as on a real switch); the others are not held up.
 *
 *   vdev-switch --socket-path=/run/vdev/net0.switch [--max-ports=N] [--stats]
 *
 * Ends on SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME 65550
#define MAC_TABLE 1024
#define AGE_SECONDS 300

struct entry {
	uint8_t mac[6];
	int port; /* index into ports, -1: free */
	time_t seen;
};

static int *ports;
static unsigned max_ports = 64;
static struct entry table[MAC_TABLE];
static volatile sig_atomic_t stopping;
static uint64_t forwarded, flooded, dropped;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static unsigned hash(const uint8_t *mac)
{
	unsigned h = 2166136261u;
	for (int i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	return h % MAC_TABLE;
}

static void learn(const uint8_t *mac, int port)
{
	struct entry *e = &table[hash(mac)];
	if (mac[0] & 1)
		return; /* a multicast source is bogus */
	memcpy(e->mac, mac, 6);
	e->port = port;
	e->seen = time(NULL);
}

static int lookup(const uint8_t *mac)
{
	const struct entry *e = &table[hash(mac)];
	if (e->port >= 0 && memcmp(e->mac, mac, 6) == 0 && time(NULL) - e->seen < AGE_SECONDS)
		return e->port;
	return -1;
}

static void forget_port(int port)
{
	for (unsigned i = 0; i < MAC_TABLE; i++)
		if (table[i].port == port)
			table[i].port = -1;
}

static void send_to(int port, const uint8_t *f, size_t len)
{
	if (send(ports[port], f, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		dropped++;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool stats = false;
	static const struct option longopts[] = {
		{"socket-path", required_argument, NULL, 's'},
		{"max-ports", required_argument, NULL, 'm'},
		{"stats", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 2 || v > 1024) {
				fprintf(stderr, "vdev-switch: --max-ports=%s: expected 2..1024\n", optarg);
				return 2;
			}
			max_ports = (unsigned)v;
			break;
		}
		case 'S': stats = true; break;
		case 'h':
			printf("usage: vdev-switch --socket-path=PATH [--max-ports=N] [--stats]\n");
			return 0;
		default: return 2;
		}
	}
	if (path == NULL || optind != argc) {
		fprintf(stderr, "usage: vdev-switch --socket-path=PATH [--max-ports=N] [--stats]\n");
		return 2;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vdev-switch: %s: path too long\n", path);
		return 2;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ports = calloc(max_ports, sizeof(*ports));
	uint8_t *frame = malloc(MAX_FRAME);
	if (ports == NULL || frame == NULL)
		return 1;
	for (unsigned i = 0; i < max_ports; i++)
		ports[i] = -1;
	for (unsigned i = 0; i < MAC_TABLE; i++)
		table[i].port = -1;
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	unlink(path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 16) != 0) {
		fprintf(stderr, "vdev-switch: %s: %s\n", path, strerror(errno));
		return 1;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	struct sigaction sig = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sig, NULL);
	sigaction(SIGINT, &sig, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "vdev-switch: listening on %s\n", path);
	while (!stopping) {
		struct epoll_event evs[16];
		int n = epoll_wait(ep, evs, 16, 500);
		for (int i = 0; i < n; i++) {
			uint32_t id = evs[i].data.u32;
			if (id == UINT32_MAX) {
				int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				unsigned p;
				if (fd < 0)
					continue;
				for (p = 0; p < max_ports && ports[p] >= 0; p++)
					;
				if (p == max_ports) {
					fprintf(stderr, "vdev-switch: all %u ports in use\n", max_ports);
					close(fd);
					continue;
				}
				ports[p] = fd;
				ev = (struct epoll_event){.events = EPOLLIN, .data.u32 = p};
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			ssize_t len = recv(ports[id], frame, MAX_FRAME, MSG_DONTWAIT | MSG_TRUNC);
			if (len <= 0) {
				if (len < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				epoll_ctl(ep, EPOLL_CTL_DEL, ports[id], NULL);
				close(ports[id]);
				ports[id] = -1;
				forget_port((int)id);
				continue;
			}
			if (len < 14 || len > MAX_FRAME) {
				dropped++;
				continue;
			}
			learn(frame + 6, (int)id);
			int to = (frame[0] & 1) ? -1 : lookup(frame);
			if (to >= 0 && (uint32_t)to != id) {
				send_to(to, frame, (size_t)len);
				forwarded++;
			} else if (to < 0) {
				for (unsigned p = 0; p < max_ports; p++)
					if (ports[p] >= 0 && p != id)
						send_to((int)p, frame, (size_t)len);
				flooded++;
			}
		}
	}
	if (stats)
		fprintf(stderr, "vdev-switch: %llu forwarded, %llu flooded, %llu dropped\n",
			(unsigned long long)forwarded, (unsigned long long)flooded,
			(unsigned long long)dropped);
	unlink(path);
	for (unsigned i = 0; i < max_ports; i++)
		if (ports[i] >= 0)
			close(ports[i]);
	free(ports);
	free(frame);
	return 0;
}
