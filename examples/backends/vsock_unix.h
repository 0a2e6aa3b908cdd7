/* SPDX-License-Identifier: MIT */
/*
 * The host side of a virtio-vsock device on Unix sockets (POSIX, Linux),
 * the way Firecracker and vhost-device-vsock map vsock to the host:
 *
 *   host -> guest   a host program connects to the SOCK_STREAM socket at
 *                   <path> and writes "CONNECT <port>\n" (decimal port,
 *                   at most VSOCK_UNIX_LINE_MAX bytes up to and including
 *                   the newline). Once the guest's listener on <port>
 *                   accepts, it reads "OK <host_port>\n" (the host port
 *                   the guest sees) and the socket is a byte stream to the
 *                   guest. A guest that refuses, a malformed line (no
 *                   newline within the bound, a bad port, anything but
 *                   "CONNECT ") or a device that is not running closes the
 *                   socket. Seqpacket: the same exchange on the
 *                   SOCK_SEQPACKET socket at <path>.seqpacket, one message
 *                   "CONNECT <port>\n" and one "OK <host_port>\n", then
 *                   every message is one vsock message (EOM) both ways.
 *   guest -> host   a guest connecting to host port P reaches the Unix
 *                   socket <path>_<P>: SOCK_STREAM for stream vsock,
 *                   SOCK_SEQPACKET for seqpacket vsock. Nothing listening
 *                   there (or a full backlog) refuses the guest (RST).
 *
 * Backpressure, never unbounded buffering: each connection has one buffer
 * of buf_size bytes per direction, and buf_size is the budget the device
 * advertises to the guest (its buf_alloc). Guest -> host: the device's
 * fwd_cnt counts only bytes the bridge wrote to the Unix socket (it calls
 * vdev_vsock_consumed() for each write), so the guest never has more
 * than buf_size bytes on their way to a peer that does not read; the
 * bridge takes every packet (straight to the socket, the rest into its
 * buffer) and the device's tx queue never waits for one connection: the
 * guest's other connections keep flowing. Host -> guest: the bridge reads
 * the Unix socket only while its buffer is empty, and stops watching it
 * while the guest has no credit or rx buffers (until the writable op).
 * Per connection at most buf_size bytes wait each way.
 *
 * Seqpacket limits: a message larger than buf_size either way resets the
 * connection, and so do more than VSOCK_UNIX_SEQ_MSGS messages waiting
 * for a peer that does not read; empty messages from the host side read
 * as end of file.
 *
 * End of a stream: EOF from the Unix peer becomes SHUTDOWN(send) to the
 * guest once everything read was sent; the guest's SHUTDOWN(send) becomes
 * shutdown(SHUT_WR) once the buffer has drained; both done: a clean vsock
 * close. A connection the guest resets or closes still delivers what the
 * buffer holds, then the Unix socket is closed.
 *
 * Events: the bridge has one epoll fd of its own (vsock_unix_fd()) for its
 * listening and connection sockets; an integrator watches that one fd
 * (e.g. vdev_vhost_user_add_fd()) and calls vsock_unix_poll() when it is
 * readable. Context: one thread for the bridge and the device together.
 */
#ifndef VDEV_EXAMPLES_VSOCK_UNIX_H
#define VDEV_EXAMPLES_VSOCK_UNIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev/vsock.h"

#define VSOCK_UNIX_LINE_MAX 32u /* "CONNECT 4294967295\n" is 19 */
/* Host ports of host-initiated connections start here. */
#define VSOCK_UNIX_FIRST_PORT 0x40000000u
/* Complete guest messages a seqpacket connection may hold for its peer. */
#define VSOCK_UNIX_SEQ_MSGS 64u

struct vsock_unix_config {
	const char *path;   /* <path>; < 100 characters */
	bool seqpacket;     /* also listen at <path>.seqpacket */
	unsigned max_conns; /* most connections at a time (1..65535) */
	size_t buf_size;    /* per connection and direction; the device's
			     * buf_alloc (the budget it advertises), < 4 GiB */
	struct vdev_vsock *vs; /* the device; may be initialised after create */
};

struct vsock_unix_stats {
	uint64_t host_connects, guest_connects; /* established */
	uint64_t refused;   /* guest refused a CONNECT, or <path>_<P> not there */
	uint64_t bad_lines; /* malformed CONNECT lines */
	uint64_t to_guest, from_guest; /* bytes */
	uint64_t buffered;  /* guest packets (or messages) the Unix peer did not
			     * take at once: they waited in the buffer */
	uint64_t paused;    /* sends that waited for guest credit or buffers */
};

struct vsock_unix;

/*
 * vsock_unix_create() - listen at <path> (and <path>.seqpacket); stale
 * socket files there are replaced, anything else is an error. Returns the
 * bridge or NULL with a message in err.
 */
struct vsock_unix *vsock_unix_create(const struct vsock_unix_config *cfg, char *err,
				     size_t errlen);
/* Close every socket, remove the listening socket files, free. */
void vsock_unix_destroy(struct vsock_unix *b);

/* The device's host ops; give the bridge as host_opaque. */
extern const struct vdev_vsock_host_ops vsock_unix_host_ops;

/* The fd to watch for readability (an epoll fd). */
int vsock_unix_fd(const struct vsock_unix *b);
/* Handle whatever is ready on the bridge's sockets; never blocks. Not from
 * inside a device op. */
void vsock_unix_poll(struct vsock_unix *b);

unsigned vsock_unix_num_conns(const struct vsock_unix *b);
void vsock_unix_get_stats(const struct vsock_unix *b, struct vsock_unix_stats *out);

#endif
