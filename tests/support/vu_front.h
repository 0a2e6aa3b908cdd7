/* SPDX-License-Identifier: MIT */
/*
 * An in-process vhost-user front-end (the part of QEMU that talks to a
 * back-end), for tests and benchmarks: the guest's RAM is a memfd
 * (sim_mem_init_memfd) that the driver simulator drives; the front-end
 * shares it and the rings with a back-end over a Unix socket, the way QEMU
 * does. It can talk to libvdev's adapter in the same thread (set `pump` to
 * make the adapter run while the front-end waits for a reply) or to
 * another process (qemu-storage-daemon, our daemons).
 */
#ifndef VDEV_TESTS_VU_FRONT_H
#define VDEV_TESTS_VU_FRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "drvsim.h"

#define VU_FRONT_MAX_QUEUES 8

struct vu_front {
	int sock;
	struct sim_mem *m;
	uint64_t features;          /* negotiated device features */
	uint64_t protocol_features; /* negotiated protocol features */
	unsigned nq;
	struct drv_vq q[VU_FRONT_MAX_QUEUES];
	int kick[VU_FRONT_MAX_QUEUES], call[VU_FRONT_MAX_QUEUES];
	int backend_chan;           /* our end of the back-end request channel, or -1 */
	void (*pump)(void *ctx);    /* run an in-process back-end */
	void *pump_ctx;
	char last_error[160];
	/* INFLIGHT_SHMFD: set want_inflight before start to negotiate it; the
	 * region (from GET_INFLIGHT_FD) is kept across reattach/resume */
	bool want_inflight;
	int inflight_fd, reply_fd;
	uint64_t inflight_size;
	uint16_t inflight_nq, inflight_qsize;
};

/* Connect to a back-end's socket (retries for up to `timeout_ms`). */
int vu_front_connect(struct vu_front *f, const char *path, int timeout_ms);
/* Use an already connected socket. */
void vu_front_attach(struct vu_front *f, int sock);
void vu_front_close(struct vu_front *f);
/* A reconnect: drop the old session's socket and fds, keep the rings, the
 * features and the inflight region; then vu_front_resume() starts it on
 * `sock` again (SET_INFLIGHT_FD with the kept region, rings at their used
 * index), as QEMU does after its back-end died. */
void vu_front_reattach(struct vu_front *f, int sock);
int vu_front_resume(struct vu_front *f);

/*
 * The QEMU-like start sequence: GET_FEATURES, GET/SET_PROTOCOL_FEATURES,
 * SET_OWNER, SET_FEATURES (want & offered), SET_MEM_TABLE, and for each
 * of `nq` queues SET_VRING_NUM/BASE/ADDR/KICK/CALL/ENABLE, with the rings
 * allocated in `m` by the driver simulator. Returns 0 or -1 (last_error).
 */
int vu_front_start(struct vu_front *f, struct sim_mem *m, uint64_t want, unsigned nq,
		   uint16_t qsize);

/* Stop ring q (GET_VRING_BASE); returns the base or -1. */
int64_t vu_front_stop_ring(struct vu_front *f, unsigned q);
/* GET_CONFIG of `len` bytes at `off`; returns 0 or -1. */
int vu_front_get_config(struct vu_front *f, uint32_t off, void *buf, uint32_t len);
int vu_front_set_config(struct vu_front *f, uint32_t off, const void *buf, uint32_t len);

void vu_front_kick(struct vu_front *f, unsigned q);
/* Wait up to `timeout_ms` for a used-buffer notification on q (consumes it). */
bool vu_front_wait_call(struct vu_front *f, unsigned q, int timeout_ms);

/*
 * Send an arbitrary message (header fields as given) with `nfds` fds.
 * If `want_reply`, read the reply payload into reply (up to *reply_len,
 * updated). Returns 0, or -1 if sending failed or no reply came (the
 * back-end closed the connection).
 */
int vu_front_send(struct vu_front *f, uint32_t request, uint32_t flags, const void *payload,
		  uint32_t size, const int *fds, unsigned nfds, bool want_reply, void *reply,
		  uint32_t *reply_len);

#endif
