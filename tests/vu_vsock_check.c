/* SPDX-License-Identifier: MIT */
/*
 * End-to-end check of the vhost-user-vsock daemon and its Unix-socket
 * bridge: starts it, connects the in-process front-end, and plays the
 * guest's vsock driver with the driver simulator while this process is
 * also the host's Unix-socket programs:
 *   - GET_CONFIG gives the guest CID;
 *   - a host "CONNECT 7000" becomes a REQUEST; the guest's RESPONSE gives
 *     "OK <port>"; host data reaches the guest only as far as the guest's
 *     credit goes, the rest after its CREDIT_UPDATE, in order;
 *   - guest data reaches the host; a host peer that does not read stalls
 *     the guest (no more credit) instead of being buffered without bound,
 *     while another connection of the guest moves a MiB meanwhile, and
 *     everything arrives once it reads;
 *   - a guest REQUEST to port 5000 reaches the listener at <uds>_5000,
 *     data both ways, the guest's SHUTDOWN is EOF on the host socket;
 *     port 5999 (nothing listening) gets RST;
 *   - malformed CONNECT lines are closed without a REQUEST; a CONNECT the
 *     guest refuses is closed without "OK";
 *   - seqpacket through <uds>.seqpacket: boundaries (EOM) both ways;
 *   - a clean close the guest never answers ends with the device's RST
 *     after --close-timeout (the daemon's timer);
 *   - the daemon ends cleanly on SIGTERM and counted what it should.
 *
 * usage: vu_vsock_check [--packed] DAEMON [daemon args...]
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

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE };
#define CID 3u
#define HDR 44u
#define RXN 64
#define RXSZ 4096u
#define TXN 64
#define TXSZ 8192u
#define EOM 1u

static char sock[128], uds[128];

static struct sim_mem m;
static struct vu_front fe;
static uint64_t rx_arena, tx_arena;
static int rx_tok[RXN], tx_tok[TXN];
static bool tx_busy[TXN];

struct pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
	uint8_t data[RXSZ];
};

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void post_rx(int i)
{
	struct drv_buf b = {rx_arena + (uint64_t)i * RXSZ, RXSZ, true};
	CHECK(drv_add(&fe.q[0], &b, 1, false, &rx_tok[i]) == 0, "rx ring full");
	if (drv_kick_prepare(&fe.q[0]))
		vu_front_kick(&fe, 0);
}

/* The next packet the device sent, within timeout_ms. */
static bool get_pkt(struct pkt *p, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint32_t len;
		int *tok = drv_get_used(&fe.q[0], &len);
		if (tok != NULL) {
			int i = (int)(tok - rx_tok);
			const uint8_t *r = sim_ptr(&m, rx_arena + (uint64_t)i * RXSZ);
			CHECK(len >= HDR && len <= RXSZ, "rx used length %u", len);
			memcpy(&p->src_cid, r, 8), memcpy(&p->dst_cid, r + 8, 8);
			memcpy(&p->src_port, r + 16, 4), memcpy(&p->dst_port, r + 20, 4);
			memcpy(&p->len, r + 24, 4), memcpy(&p->type, r + 28, 2);
			memcpy(&p->op, r + 30, 2), memcpy(&p->flags, r + 32, 4);
			memcpy(&p->buf_alloc, r + 36, 4), memcpy(&p->fwd_cnt, r + 40, 4);
			CHECK(p->len == len - HDR, "hdr.len %u, used %u", p->len, len);
			memcpy(p->data, r + HDR, p->len);
			CHECK(p->src_cid == 2 && p->dst_cid == CID, "addresses %llu -> %llu",
			      (unsigned long long)p->src_cid, (unsigned long long)p->dst_cid);
			post_rx(i);
			CHECK(fe.q[0].errors == 0, "driver saw: %s", fe.q[0].last_error);
			return true;
		}
		uint64_t t = now_ms();
		if (t >= end)
			return false;
		vu_front_wait_call(&fe, 0, (int)(end - t < 20 ? end - t : 20));
	}
}

static void reap_tx(void)
{
	uint32_t len;
	int *tok;
	while ((tok = drv_get_used(&fe.q[1], &len)) != NULL)
		tx_busy[tok - tx_tok] = false;
	CHECK(fe.q[1].errors == 0, "driver saw: %s", fe.q[1].last_error);
}

/* Queue one packet from the guest (not waiting for its completion). */
static void send_pkt(uint16_t type, uint16_t op, uint32_t sport, uint32_t dport, uint32_t flags,
		     uint32_t buf_alloc, uint32_t fwd_cnt, const void *data, uint32_t len)
{
	int s = -1;
	for (int tries = 0; s < 0 && tries < 500; tries++) {
		reap_tx();
		for (int i = 0; i < TXN && s < 0; i++)
			if (!tx_busy[i])
				s = i;
		if (s < 0)
			vu_front_wait_call(&fe, 1, 10);
	}
	CHECK(s >= 0 && len <= TXSZ - HDR, "no free tx slot");
	uint8_t *h = sim_ptr(&m, tx_arena + (uint64_t)s * TXSZ);
	uint64_t src = CID, dst = 2;
	memcpy(h, &src, 8), memcpy(h + 8, &dst, 8);
	memcpy(h + 16, &sport, 4), memcpy(h + 20, &dport, 4), memcpy(h + 24, &len, 4);
	memcpy(h + 28, &type, 2), memcpy(h + 30, &op, 2), memcpy(h + 32, &flags, 4);
	memcpy(h + 36, &buf_alloc, 4), memcpy(h + 40, &fwd_cnt, 4);
	if (len)
		memcpy(h + HDR, data, len);
	/* header and payload in separate descriptors, as Linux does */
	struct drv_buf b[2] = {{tx_arena + (uint64_t)s * TXSZ, HDR, false},
			       {tx_arena + (uint64_t)s * TXSZ + HDR, len, false}};
	tx_busy[s] = true;
	CHECK(drv_add(&fe.q[1], b, len ? 2 : 1, false, &tx_tok[s]) == 0, "tx ring full");
	if (drv_kick_prepare(&fe.q[1]))
		vu_front_kick(&fe, 1);
}

static int unix_connect(const char *path, int type)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %s",
	      path, strerror(errno));
	return fd;
}

static int unix_listen(const char *path, int type)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 4) == 0,
	      "listen %s", path);
	return fd;
}

/* recv with a timeout: bytes, 0 at EOF, -1 on timeout */
static ssize_t recv_to(int fd, void *buf, size_t len, int timeout_ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, timeout_ms) != 1) {
		errno = ETIMEDOUT;
		return -1;
	}
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* A malformed line: closed, and no REQUEST reaches the guest. */
static void malformed(const char *line)
{
	char buf[64];
	int fd = unix_connect(uds, SOCK_STREAM);
	struct pkt p;
	CHECK(write(fd, line, strlen(line)) == (ssize_t)strlen(line), "write");
	ssize_t r = recv_to(fd, buf, sizeof(buf), 3000);
	/* closed with our bytes unread: a Unix stream peer sees ECONNRESET */
	CHECK(r == 0 || (r < 0 && errno == ECONNRESET), "malformed line \"%s\" not closed", line);
	close(fd);
	CHECK(!get_pkt(&p, 50), "a malformed line sent op %u", p.op);
}

/* The device's credit for the guest -> host direction, from its packets:
 * the connection from guest port 7000, and a second one from port 1300. */
static uint32_t dev_alloc = 4096, dev_fwd;
static uint32_t dev_alloc2 = 4096, dev_fwd2;

static void poll_credit(int timeout_ms)
{
	struct pkt p;
	while (get_pkt(&p, timeout_ms)) {
		CHECK(p.op == OP_CREDIT_UPDATE || p.op == OP_RW, "op %u", p.op);
		CHECK(p.dst_port == 7000 || p.dst_port == 1300, "port %u", p.dst_port);
		if (p.dst_port == 7000)
			dev_alloc = p.buf_alloc, dev_fwd = p.fwd_cnt;
		else
			dev_alloc2 = p.buf_alloc, dev_fwd2 = p.fwd_cnt;
		timeout_ms = 0;
	}
}

/* The next packet that is not a credit update: after data moved, the device
 * may still send CREDIT_UPDATEs (its reader caught up) ahead of the control
 * packet a check waits for; they update the credit and are otherwise fine. */
static bool get_ctl(struct pkt *p, int timeout_ms)
{
	while (get_pkt(p, timeout_ms)) {
		if (p->op != OP_CREDIT_UPDATE)
			return true;
		if (p->dst_port == 7000)
			dev_alloc = p->buf_alloc, dev_fwd = p->fwd_cnt;
		else if (p->dst_port == 1300)
			dev_alloc2 = p->buf_alloc, dev_fwd2 = p->fwd_cnt;
	}
	return false;
}

static uint8_t pat(uint64_t i) { return (uint8_t)(i * 7u + (i >> 9)); }

int main(int argc, char **argv)
{
	bool packed = false;
	int a = 1;
	struct pkt p;

	if (a < argc && !strcmp(argv[a], "--packed"))
		packed = true, a++;
	if (a >= argc) {
		fprintf(stderr, "usage: %s [--packed] DAEMON [args]\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	const char *dir = vu_check_dir("vu-vsock");
	snprintf(sock, sizeof(sock), "%s/vs.sock", dir);
	snprintf(uds, sizeof(uds), "%s/vm", dir);
	char sockarg[160], udsarg[160];
	snprintf(sockarg, sizeof(sockarg), "--socket=%s", sock);
	snprintf(udsarg, sizeof(udsarg), "--uds-path=%s", uds);
	/* a 4 KiB buffer per connection: the guest's credit is small */
	char *args[32] = {argv[a], sockarg, udsarg, "--guest-cid=3", "--buf-size=4", "--quiet",
			  "--stats", "--close-timeout=300"};
	int n = 8;
	for (int i = a + 1; i < argc && n < 30; i++)
		args[n++] = argv[i];
	const char *log_path = vu_check_spawn(args, 0);
	CHECK(vu_front_connect(&fe, sock, 5000) == 0, "%s", fe.last_error);
	sim_mem_init_memfd(&m, 8u << 20);
	uint64_t want = ~(uint64_t)0;
	if (!packed)
		want &= ~VDEV_BIT(VDEV_F_RING_PACKED);
	/* rx and tx, like QEMU's vhost-user-vsock (it keeps the event queue) */
	CHECK(vu_front_start(&fe, &m, want, 2, 128) == 0, "start: %s", fe.last_error);
	CHECK(((fe.features & VDEV_BIT(VDEV_F_RING_PACKED)) != 0) == packed, "ring layout");
	uint64_t cid = 0;
	CHECK(vu_front_get_config(&fe, 0, &cid, 8) == 0 && cid == CID, "guest_cid %llu",
	      (unsigned long long)cid);
	rx_arena = sim_alloc(&m, RXN * RXSZ, 4096);
	tx_arena = sim_alloc(&m, TXN * TXSZ, 4096);
	for (int i = 0; i < RXN; i++)
		post_rx(i);

	/* ---- malformed CONNECT lines ---- */
	malformed("CONNECT abc\n");
	malformed("CONNECT 4294967296\n");
	malformed("CONNECT \n");
	malformed("CONNECT -1\n");
	malformed("connect 7000\n");
	{
		/* no newline within the bound */
		char longline[64];
		memset(longline, '7', sizeof(longline) - 1);
		memcpy(longline, "CONNECT ", 8);
		longline[63] = '\0';
		malformed(longline);
	}

	/* ---- host CONNECT, credit-limited delivery to the guest ---- */
	int h = unix_connect(uds, SOCK_STREAM);
	CHECK(write(h, "CONNECT 7000\n", 13) == 13, "write");
	CHECK(get_pkt(&p, 3000) && p.op == OP_REQUEST && p.dst_port == 7000 && p.type == 1,
	      "no REQUEST for port 7000");
	uint32_t hport = p.src_port;
	CHECK(hport >= 0x40000000u, "host port %u", hport);
	send_pkt(1, OP_RESPONSE, 7000, hport, 0, 8192, 0, NULL, 0);
	char ok[64], want_ok[64];
	snprintf(want_ok, sizeof(want_ok), "OK %u\n", hport);
	ssize_t r = recv_to(h, ok, strlen(want_ok), 3000);
	CHECK(r == (ssize_t)strlen(want_ok) && !memcmp(ok, want_ok, (size_t)r), "OK line");
	static uint8_t big[1 << 16], got[1 << 16];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = pat(i);
	CHECK(write(h, big, sizeof(big)) == (ssize_t)sizeof(big), "host write");
	size_t total = 0;
	/* the credit's worth arrives (however slowly), then nothing more */
	while (total < 8192 && get_pkt(&p, 3000)) {
		CHECK(p.op == OP_RW && p.src_port == hport && p.dst_port == 7000, "op %u", p.op);
		CHECK(total + p.len <= 8192, "%zu bytes on 8192 of credit", total + p.len);
		memcpy(got + total, p.data, p.len);
		total += p.len;
	}
	CHECK(total == 8192, "the guest got %zu bytes on 8192 of credit", total);
	CHECK(!get_pkt(&p, 300), "op %u, %u bytes beyond the credit", p.op, p.len);
	send_pkt(1, OP_CREDIT_UPDATE, 7000, hport, 0, 65536, 8192, NULL, 0);
	while (total < sizeof(big) && get_pkt(&p, 3000)) {
		CHECK(p.op == OP_RW && total + p.len <= sizeof(got), "op %u", p.op);
		memcpy(got + total, p.data, p.len);
		total += p.len;
	}
	CHECK(total == sizeof(big) && !memcmp(got, big, sizeof(big)), "host->guest data (%zu)",
	      total);

	/* ---- guest -> host, and a host peer that does not read ---- */
	uint32_t sent = 0, limit = 4u << 20;
	static uint8_t chunk[1024];
	uint64_t stall_end = now_ms() + 1500;
	while (sent < limit && now_ms() < stall_end) {
		poll_credit(0);
		if (sent - dev_fwd + sizeof(chunk) > dev_alloc) {
			poll_credit(20);
			continue;
		}
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = pat(sent + i);
		send_pkt(1, OP_RW, 7000, hport, 0, 65536, (uint32_t)total, chunk, sizeof(chunk));
		sent += (uint32_t)sizeof(chunk);
	}
	CHECK(sent < limit, "the guest sent %u bytes to a peer that does not read", sent);
	CHECK(dev_alloc == 4096, "device buf_alloc %u", dev_alloc);
	{
		/* the stalled peer holds up only its own connection: another one
		 * (guest port 1300 -> <uds>_5100) moves a MiB meanwhile */
		char p2[160];
		snprintf(p2, sizeof(p2), "%s_5100", uds);
		int l2 = unix_listen(p2, SOCK_STREAM);
		send_pkt(1, OP_REQUEST, 1300, 5100, 0, 65536, 0, NULL, 0);
		CHECK(get_pkt(&p, 3000) && p.op == OP_RESPONSE && p.dst_port == 1300,
		      "no RESPONSE from 5100 during the stall (op %u)", p.op);
		dev_alloc2 = p.buf_alloc, dev_fwd2 = p.fwd_cnt;
		struct pollfd pl2 = {l2, POLLIN, 0};
		CHECK(poll(&pl2, 1, 3000) == 1, "nothing connected to %s", p2);
		int g2 = accept(l2, NULL, NULL);
		CHECK(g2 >= 0, "accept");
		uint32_t sent2 = 0, rcvd2 = 0, want2 = 1u << 20;
		static uint8_t rb2[1 << 16];
		uint64_t end2 = now_ms() + 20000;
		while (rcvd2 < want2 && now_ms() < end2) {
			poll_credit(0);
			if (sent2 < want2 && sent2 - dev_fwd2 + sizeof(chunk) <= dev_alloc2) {
				for (size_t i = 0; i < sizeof(chunk); i++)
					chunk[i] = pat(sent2 + i);
				send_pkt(1, OP_RW, 1300, 5100, 0, 65536, 0, chunk, sizeof(chunk));
				sent2 += (uint32_t)sizeof(chunk);
				continue;
			}
			ssize_t k = recv(g2, rb2, sizeof(rb2), MSG_DONTWAIT);
			for (ssize_t i = 0; i < k; i++)
				CHECK(rb2[i] == pat(rcvd2 + (uint32_t)i), "byte %u on the second connection",
				      rcvd2 + (uint32_t)i);
			if (k > 0)
				rcvd2 += (uint32_t)k;
			else
				poll_credit(5);
		}
		CHECK(rcvd2 == want2, "the second connection moved %u of %u bytes during the stall",
		      rcvd2, want2);
		send_pkt(1, OP_SHUTDOWN, 1300, 5100, 3, 65536, 0, NULL, 0);
		CHECK(get_ctl(&p, 3000) && p.op == OP_RST && p.dst_port == 1300, "RST for 1300 (op %u)",
		      p.op);
		CHECK(recv_to(g2, rb2, sizeof(rb2), 3000) == 0, "EOF on the second connection");
		close(g2);
		close(l2);
		/* the stalled connection got no credit meanwhile */
		poll_credit(0);
		CHECK(sent - dev_fwd + sizeof(chunk) > dev_alloc, "credit for a peer that did not read");
	}
	/* now read: everything arrives in order, and the guest gets going again */
	uint32_t rcvd = 0, target = sent + 65536;
	static uint8_t rb[1 << 16];
	uint64_t end = now_ms() + 10000;
	while (rcvd < target && now_ms() < end) {
		ssize_t k = recv(h, rb, sizeof(rb), MSG_DONTWAIT);
		for (ssize_t i = 0; i < k; i++)
			CHECK(rb[i] == pat(rcvd + (uint32_t)i), "byte %u from the guest",
			      rcvd + (uint32_t)i);
		if (k > 0)
			rcvd += (uint32_t)k;
		poll_credit(0);
		if (sent < target && sent - dev_fwd + sizeof(chunk) <= dev_alloc) {
			for (size_t i = 0; i < sizeof(chunk); i++)
				chunk[i] = pat(sent + i);
			send_pkt(1, OP_RW, 7000, hport, 0, 65536, (uint32_t)total, chunk, sizeof(chunk));
			sent += (uint32_t)sizeof(chunk);
		} else if (k <= 0) {
			poll_credit(5);
		}
	}
	CHECK(rcvd == target, "the host got %u of %u bytes", rcvd, target);
	/* the host closes: SHUTDOWN(send) reaches the guest */
	close(h);
	CHECK(get_ctl(&p, 3000) && p.op == OP_SHUTDOWN && (p.flags & 2),
	      "no SHUTDOWN after EOF (op %u)", p.op);
	send_pkt(1, OP_RST, 7000, hport, 0, 0, 0, NULL, 0);

	/* ---- a CONNECT the guest refuses ---- */
	h = unix_connect(uds, SOCK_STREAM);
	CHECK(write(h, "CONNECT 7100\n", 13) == 13, "write");
	CHECK(get_pkt(&p, 3000) && p.op == OP_REQUEST && p.dst_port == 7100, "REQUEST 7100");
	send_pkt(1, OP_RST, 7100, p.src_port, 0, 0, 0, NULL, 0);
	CHECK(recv_to(h, ok, sizeof(ok), 3000) == 0, "a refused CONNECT must close, no OK");
	close(h);

	/* ---- the guest connects to <uds>_5000 ---- */
	char lpath[160];
	snprintf(lpath, sizeof(lpath), "%s_5000", uds);
	int l = unix_listen(lpath, SOCK_STREAM);
	send_pkt(1, OP_REQUEST, 1234, 5000, 0, 65536, 0, NULL, 0);
	CHECK(get_pkt(&p, 3000) && p.op == OP_RESPONSE && p.src_port == 5000 && p.dst_port == 1234,
	      "no RESPONSE from 5000 (op %u)", p.op);
	struct pollfd pl = {l, POLLIN, 0};
	CHECK(poll(&pl, 1, 3000) == 1, "nothing connected to %s", lpath);
	int g = accept(l, NULL, NULL);
	CHECK(g >= 0, "accept");
	send_pkt(1, OP_RW, 1234, 5000, 0, 65536, 0, "hello", 5);
	char buf[64];
	CHECK(recv_to(g, buf, sizeof(buf), 3000) == 5 && !memcmp(buf, "hello", 5), "guest data");
	CHECK(write(g, "world", 5) == 5, "write");
	CHECK(get_pkt(&p, 3000) && p.op == OP_RW && p.len == 5 && !memcmp(p.data, "world", 5),
	      "host data to the guest");
	send_pkt(1, OP_SHUTDOWN, 1234, 5000, 3, 65536, 5, NULL, 0);
	CHECK(recv_to(g, buf, sizeof(buf), 3000) == 0, "the guest's SHUTDOWN is EOF");
	CHECK(get_pkt(&p, 3000) && p.op == OP_RST, "RST after a clean SHUTDOWN (op %u)", p.op);
	close(g);
	/* nothing listening at <uds>_5999 */
	send_pkt(1, OP_REQUEST, 1235, 5999, 0, 65536, 0, NULL, 0);
	CHECK(get_pkt(&p, 3000) && p.op == OP_RST && p.dst_port == 1235, "no RST for 5999");

	/* ---- seqpacket through <uds>.seqpacket ---- */
	char spath[160];
	snprintf(spath, sizeof(spath), "%s.seqpacket", uds);
	int s = unix_connect(spath, SOCK_SEQPACKET);
	CHECK(send(s, "CONNECT 7001\n", 13, 0) == 13, "send");
	CHECK(get_pkt(&p, 3000) && p.op == OP_REQUEST && p.type == 2 && p.dst_port == 7001,
	      "seqpacket REQUEST");
	hport = p.src_port;
	send_pkt(2, OP_RESPONSE, 7001, hport, 0, 65536, 0, NULL, 0);
	snprintf(want_ok, sizeof(want_ok), "OK %u\n", hport);
	r = recv_to(s, ok, sizeof(ok), 3000);
	CHECK(r == (ssize_t)strlen(want_ok) && !memcmp(ok, want_ok, (size_t)r), "seqpacket OK");
	static const uint32_t sizes[] = {10, 3000, 4096, 1}; /* <= --buf-size */
	for (unsigned i = 0; i < 4; i++)
		CHECK(send(s, big, sizes[i], 0) == (ssize_t)sizes[i], "send message");
	for (unsigned i = 0; i < 4; i++) {
		uint32_t msg = 0;
		for (;;) {
			CHECK(get_pkt(&p, 3000) && p.op == OP_RW && p.type == 2, "message %u", i);
			CHECK(!memcmp(p.data, big + msg, p.len), "message %u content", i);
			msg += p.len;
			if (p.flags & EOM)
				break;
			CHECK(msg < sizes[i], "message %u: no EOM at its end", i);
		}
		CHECK(msg == sizes[i], "message %u came as %u bytes", i, msg);
	}
	/* one message from the guest in two packets: one message on the host */
	send_pkt(2, OP_RW, 7001, hport, 0, 65536, 7107, big, 1500);
	send_pkt(2, OP_RW, 7001, hport, EOM, 65536, 7107, big + 1500, 700);
	send_pkt(2, OP_RW, 7001, hport, EOM, 65536, 7107, big, 33);
	r = recv_to(s, rb, sizeof(rb), 3000);
	CHECK(r == 2200 && !memcmp(rb, big, 2200), "guest message came as %zd bytes", r);
	r = recv_to(s, rb, sizeof(rb), 3000);
	CHECK(r == 33, "second guest message came as %zd bytes", r);
	close(s);
	/* (after the credit the bridge gave back as it wrote those messages) */
	do
		CHECK(get_pkt(&p, 3000), "seqpacket EOF: no SHUTDOWN");
	while (p.op == OP_CREDIT_UPDATE && p.dst_port == 7001);
	CHECK(p.op == OP_SHUTDOWN && p.type == 2 && p.dst_port == 7001, "seqpacket EOF: op %u",
	      p.op);

	/* ---- a clean close the guest never answers ---- */
	h = unix_connect(uds, SOCK_STREAM);
	CHECK(write(h, "CONNECT 7300\n", 13) == 13, "write");
	CHECK(get_pkt(&p, 3000) && p.op == OP_REQUEST && p.dst_port == 7300, "REQUEST 7300");
	hport = p.src_port;
	send_pkt(1, OP_RESPONSE, 7300, hport, 0, 65536, 0, NULL, 0);
	snprintf(want_ok, sizeof(want_ok), "OK %u\n", hport);
	r = recv_to(h, ok, strlen(want_ok), 3000);
	CHECK(r == (ssize_t)strlen(want_ok) && !memcmp(ok, want_ok, (size_t)r), "OK line 7300");
	/* both sides done sending: the bridge closes the vsock connection */
	send_pkt(1, OP_SHUTDOWN, 7300, hport, 2, 65536, 0, NULL, 0);
	CHECK(recv_to(h, ok, sizeof(ok), 3000) == 0, "the guest's SHUTDOWN(send) is EOF");
	close(h);
	uint64_t closed_at = 0;
	for (;;) {
		CHECK(get_pkt(&p, 3000) && p.dst_port == 7300, "nothing after the close (7300)");
		if (p.op == OP_RST)
			break;
		CHECK(p.op == OP_SHUTDOWN, "op %u on 7300", p.op);
		if (p.flags == 3)
			closed_at = now_ms();
	}
	CHECK(closed_at != 0, "no SHUTDOWN both ways on 7300");
	uint64_t waited = now_ms() - closed_at;
	/* --close-timeout=300 below; the timer ticks every 75 ms */
	CHECK(waited >= 200 && waited < 3000, "RST %llu ms after the close",
	      (unsigned long long)waited);

	reap_tx();
	CHECK(vu_front_stop_ring(&fe, 0) >= 0 && vu_front_stop_ring(&fe, 1) >= 0, "GET_VRING_BASE");
	vu_front_close(&fe);
	int st = vu_check_stop();
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "daemon exit status %d", st);
	/* its account: 6 bad lines, packets buffered for the peer that did not read */
	char line[1024] = "";
	FILE *lf = fopen(log_path, "r");
	CHECK(lf != NULL, "daemon log");
	size_t ln = fread(line, 1, sizeof(line) - 1, lf);
	line[ln] = '\0';
	fclose(lf);
	unsigned buffered = 0;
	const char *q = strstr(line, " bad CONNECT lines; ");
	CHECK(strstr(line, "; 6 bad CONNECT lines") != NULL && q != NULL &&
	      sscanf(q, " bad CONNECT lines; %u buffered", &buffered) == 1 && buffered > 0 &&
	      strstr(line, " 0 over credit;") != NULL && strstr(line, " 0 closes timed out") == NULL,
	      "daemon stats: %s", line);
	printf("vhost-user-vsock check (%s ring): ok\n", packed ? "packed" : "split");
	vu_check_cleanup();
	return 0;
}
