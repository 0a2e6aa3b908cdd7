/* SPDX-License-Identifier: MIT */
/*
 * libvdev — vhost-user back-end adapter (POSIX, Linux).
 *
 * Puts any libvdev device model behind a vhost-user Unix socket, so QEMU,
 * crosvm, cloud-hypervisor or DPDK's virtio-user can drive it: the
 * front-end forwards the guest's feature negotiation, config space
 * accesses and ring set-up as messages; the guest's kicks and our
 * interrupts travel over eventfds.
 *
 * Supported: GET/SET_FEATURES, GET/SET_PROTOCOL_FEATURES (MQ, REPLY_ACK,
 * BACKEND_REQ, CONFIG, RESET_DEVICE), SET_OWNER, RESET_OWNER (stops the
 * rings), SET_MEM_TABLE (fds mmap'd into the struct vdev_mem the device
 * uses; unmapped on change or disconnect), SET_VRING_NUM/ADDR/BASE/KICK/
 * CALL/ERR/ENABLE, GET_VRING_BASE, split and packed rings, GET/SET_CONFIG
 * against the device's config space, GET_QUEUE_NUM, RESET_DEVICE, and
 * config-change notifications to the front-end over the back-end channel.
 * With cfg.inflight: INFLIGHT_SHMFD (GET/SET_INFLIGHT_FD), split and packed rings.
 * Not supported (not offered): dirty logging, IOMMU/IOTLB, postcopy,
 * in-band notifications, memory slots.
 * Requests it does not know go to the integrator's device_request
 * callback, if any (vhost-user-gpu's GPU_SET_SOCKET).
 *
 * Front-ends it is tested with: QEMU, and Linux's user-mode kernel
 * (virtio_uml: whole device incl. config space, a pipe as the back-end
 * channel and as call fds, SET_VRING_BASE 0 for new packed rings, no
 * device status). Messages to a front-end whose back-end channel is a
 * pipe are written with write(): ignore SIGPIPE in the process.
 *
 * Every message is validated (sizes, fd counts, ring indices, addresses
 * and sizes of memory regions against their files). A bad message closes
 * that connection; the adapter tears the session down (rings stopped,
 * device reset, memory unmapped, fds closed) and accepts the next one.
 *
 * Threads: by default one thread runs everything (vdev_vhost_user_run):
 * the socket, every ring's kick eventfd and the integrator's fds. With
 * thread_per_queue each ring gets a thread of its own for its kick fd and
 * the fds registered for it; the control thread takes a ring's lock before
 * changing it, so device callbacks for a queue never run concurrently
 * with reconfiguration of that queue. Only for devices whose queues are
 * independent (virtio-blk): a model that processes several queues in one
 * call (vsock, console, whose headers ask for one thread per device; any
 * queue given a peer with vdev_vq_set_feeds()) must run single-threaded.
 */
#ifndef VDEV_VHOST_USER_H
#define VDEV_VHOST_USER_H

#include "vdev/common.h"
#include "vdev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most memory regions accepted in SET_MEM_TABLE (the protocol's limit). */
#define VDEV_VHOST_USER_MAX_REGIONS 8

struct vdev_vhost_user;

struct vdev_vhost_user_config {
	/* Unix socket path to listen on (created; an existing socket file is
	 * replaced). Ignored if listen_fd >= 0. */
	const char *socket_path;
	/* An already listening socket (--fd), or -1. */
	int listen_fd;
	/* The device model's core, already initialised (vdev_blk_dev() ...). */
	struct vdev_dev *dev;
	/* The guest memory object the device model was initialised with; the
	 * adapter fills it from SET_MEM_TABLE. */
	struct vdev_mem *mem;
	/* One thread per ring instead of one for everything. */
	bool thread_per_queue;
	/* Optional: make the device finish (complete or cancel) every request
	 * of queue `qidx` it has in flight, before the ring stops. Called with
	 * the ring locked, from the control thread. */
	void (*drain)(void *opaque, uint16_t qidx);
	/* Optional: session start and end (connection accepted / closed). */
	void (*connected)(void *opaque);
	void (*disconnected)(void *opaque);
	void *opaque;
	/* Diagnostics: called with a line of text for protocol errors and
	 * session events; NULL: stderr. */
	void (*log)(void *opaque, const char *msg);
	/* Stop after the first session ends (tests); default: serve forever. */
	bool single_session;
	/*
	 * Optional: a front-end request the adapter does not know itself, for
	 * device-specific messages such as vhost-user-gpu's
	 * VHOST_USER_GPU_SET_SOCKET (33, one fd: the display channel).
	 * `payload` holds `size` bytes (at most 4096); `fds` the `nfds` file
	 * descriptors the message carried. To keep an fd, the callback takes
	 * it and stores -1 in its slot; the adapter closes the others. Return
	 * 0 if the request was handled (with REPLY_ACK negotiated, the
	 * front-end is answered "success"), or a negative VDEV_E* to refuse
	 * it (VDEV_ENOTSUP for an unknown request): a refused request is a bad
	 * message and closes the session. Without this callback every unknown
	 * request is refused. No reply payload: requests answered with data
	 * are not supported. Context: the control thread; no ring lock held.
	 */
	int (*device_request)(void *opaque, uint32_t request, const void *payload, uint32_t size,
			      int *fds, unsigned nfds);
	/*
	 * Offer VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD: GET_INFLIGHT_FD creates
	 * a zeroed region (memfd) for the queues the front-end names, which
	 * the front-end keeps and hands back with SET_INFLIGHT_FD after a
	 * reconnect (sized for the packed layout when RING_PACKED is
	 * negotiated or no features are set yet, else for the split one; a
	 * region of either size is taken back). Every ring then logs the chains it takes and
	 * completes (vdev/inflight.h); a new instance of the daemon finds
	 * those a dead one had in flight and the device gets them again,
	 * first, in the order they were taken. For devices whose requests
	 * may be repeated safely (block). A description that does not fit
	 * (queue count above the device's, queue size 0 or above 32768, size
	 * other than GET_INFLIGHT_FD would make, outside its file) is a bad
	 * message; a region whose contents do not add up is counted in
	 * stats.inflight_errors and ignored. A packed ring resumes where the
	 * region says (the positions a front-end sends after a crash are
	 * stale), not where SET_VRING_BASE does.
	 */
	bool inflight;
};

/*
 * vdev_vhost_user_create() - set up an adapter (allocates it; POSIX code).
 * Returns NULL with *err set to a negative VDEV_E* (EINVAL for a bad
 * config, or the socket error) and a message in errbuf.
 */
VDEV_API struct vdev_vhost_user *vdev_vhost_user_create(const struct vdev_vhost_user_config *cfg,
							int *err, char *errbuf, size_t errlen);
VDEV_API void vdev_vhost_user_destroy(struct vdev_vhost_user *vu);

/*
 * vdev_vhost_user_add_fd() - watch `fd` on the loop that serves ring
 * `qidx` (its thread with thread_per_queue) and call `cb(opaque, fd)`
 * when it is readable, with that ring locked. For a backend's completion
 * eventfd (io_uring), timers, packet sockets. Returns 0 or a negative
 * VDEV_E*. Call before vdev_vhost_user_run().
 */
VDEV_API int vdev_vhost_user_add_fd(struct vdev_vhost_user *vu, uint16_t qidx, int fd,
				    void (*cb)(void *opaque, int fd), void *opaque);

/*
 * vdev_vhost_user_watch_fd() - pause (`on` false) or resume watching an fd
 * added with vdev_vhost_user_add_fd(): a packet backend whose device has no
 * receive buffers stops reading its socket until the guest posts some.
 * Returns 0 or VDEV_ENOENT (fd not added) / VDEV_EIO. Context: the thread
 * of the ring the fd was added for (e.g. from its callback or a device op
 * running there).
 */
VDEV_API int vdev_vhost_user_watch_fd(struct vdev_vhost_user *vu, int fd, bool on);

/*
 * vdev_vhost_user_run() - accept front-end connections and serve them
 * until vdev_vhost_user_stop() (or, with single_session, until the first
 * session ends). Returns 0, or a negative VDEV_E* for a fatal error of
 * the listening socket or the event loop.
 */
VDEV_API int vdev_vhost_user_run(struct vdev_vhost_user *vu);

/* vdev_vhost_user_stop() - make run() return. Async-signal-safe. */
VDEV_API void vdev_vhost_user_stop(struct vdev_vhost_user *vu);

/*
 * For tests and fuzzers: serve an already connected socket without the
 * listening side. attach() starts a session on `fd` (the adapter owns it
 * from then on); process() handles the messages ready on it and the kicks
 * that are pending, without blocking, and returns 0 while the session
 * lives, or VDEV_EPROTO / VDEV_EIO once it was closed (bad message or
 * peer gone). One call does a bounded amount of work (64 rounds of ready
 * events; a round is one message and the pending kicks), so a front-end
 * that is never done (streaming messages, or whose completions are new
 * kicks) cannot keep the caller's thread: what is left keeps the poll fd
 * readable, and the next call goes on.
 */
VDEV_API int vdev_vhost_user_attach(struct vdev_vhost_user *vu, int fd);
VDEV_API int vdev_vhost_user_process(struct vdev_vhost_user *vu);

/*
 * vdev_vhost_user_poll_fd() - for an integrator that serves several
 * adapters from one thread of its own (e.g. a switch serving several
 * guests' sockets): an fd that polls readable whenever
 * vdev_vhost_user_process() has something to do (a front-end to accept on
 * the listening socket, a message, a kick, a watched fd). Wait on it with
 * poll()/epoll beside the others, then call vdev_vhost_user_process(),
 * which with a listening socket also accepts the next front-end after a
 * session ends (its VDEV_EPROTO return then only means "no session now").
 * Returns -1 with thread_per_queue (the rings have loops of their own).
 * The adapter owns the fd; valid until vdev_vhost_user_destroy().
 */
VDEV_API int vdev_vhost_user_poll_fd(const struct vdev_vhost_user *vu);

/* Counters, for diagnostics. */
struct vdev_vhost_user_stats {
	uint64_t sessions, messages, bad_messages, kicks, calls;
	/* INFLIGHT_SHMFD: inconsistencies found in a region (ignored), and
	 * requests handed to the device again after a restart */
	uint64_t inflight_errors, inflight_resubmitted;
};
VDEV_API void vdev_vhost_user_get_stats(const struct vdev_vhost_user *vu,
					struct vdev_vhost_user_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_VHOST_USER_H */
