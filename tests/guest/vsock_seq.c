/* SPDX-License-Identifier: MIT */
/*
 * vsock-seq: a guest helper for the vsock-seqpacket scenario (socat cannot
 * do AF_VSOCK SOCK_SEQPACKET). Built static and added to the guest's
 * initramfs by run-guest-vsock.sh.
 *
 *   vsock-seq connect CID PORT   connect, then for each size in SIZES send
 *                                one message and read its echo: the echo
 *                                must be one message of exactly that size
 *                                and content
 *   vsock-seq listen PORT        accept one connection and echo every
 *                                message until the peer closes; prints the
 *                                sizes it got
 * Exit 0 when every boundary held.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static const size_t sizes[] = {1, 2, 3, 100, 1000, 4095, 4096, 4097, 30000, 65536, 100000, 200000};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define BUF (256u << 10)

static unsigned char out[BUF], in[BUF + 1];

static int do_connect(unsigned cid, unsigned port)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
	int fd = socket(AF_VSOCK, SOCK_SEQPACKET, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("vsock-seq: connect");
		return 1;
	}
	for (size_t i = 0; i < NSIZES; i++) {
		for (size_t j = 0; j < sizes[i]; j++)
			out[j] = (unsigned char)(i * 37u + j * 11u);
		ssize_t w = send(fd, out, sizes[i], 0);
		if (w != (ssize_t)sizes[i]) {
			fprintf(stderr, "vsock-seq: send %zu: %zd\n", sizes[i], w);
			return 1;
		}
		struct iovec v = {in, sizeof(in)};
		struct msghdr mh = {.msg_iov = &v, .msg_iovlen = 1};
		ssize_t r = recvmsg(fd, &mh, 0);
		if (r != (ssize_t)sizes[i] || (mh.msg_flags & MSG_TRUNC) ||
		    memcmp(in, out, sizes[i]) != 0) {
			fprintf(stderr, "vsock-seq: echo of %zu came back as %zd bytes (flags %#x)\n",
				sizes[i], r, (unsigned)mh.msg_flags);
			return 1;
		}
	}
	close(fd);
	printf("vsock-seq: %zu messages, boundaries kept\n", NSIZES);
	return 0;
}

static int do_listen(unsigned port)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
	int lfd = socket(AF_VSOCK, SOCK_SEQPACKET, 0), fd, n = 0;

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 1) != 0 ||
	    (fd = accept(lfd, NULL, NULL)) < 0) {
		perror("vsock-seq: listen");
		return 1;
	}
	for (;;) {
		ssize_t r = recv(fd, in, sizeof(in), 0);
		if (r <= 0)
			break;
		if (send(fd, in, (size_t)r, 0) != r) {
			perror("vsock-seq: send");
			return 1;
		}
		printf("%s%zd", n++ ? " " : "vsock-seq: got ", r);
	}
	printf("\n");
	close(fd);
	close(lfd);
	return n > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "connect"))
		return do_connect((unsigned)strtoul(argv[2], NULL, 10),
				  (unsigned)strtoul(argv[3], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "listen"))
		return do_listen((unsigned)strtoul(argv[2], NULL, 10));
	fprintf(stderr, "usage: vsock-seq connect CID PORT | listen PORT\n");
	return 2;
}
