/* SPDX-License-Identifier: MIT */
/*
 * A display sink for the virtio-gpu device model that speaks the
 * vhost-user-gpu display protocol (QEMU docs/interop/vhost-user-gpu.rst)
 * to the front-end, so a VMM such as QEMU (-device vhost-user-gpu-pci)
 * shows the guest's screen in its own UI and its `screendump` works.
 *
 * The front-end hands the channel over with the vhost-user request
 * VHOST_USER_GPU_SET_SOCKET (GPU_VUGPU_SET_SOCKET_REQUEST; pass it on with
 * gpu_vugpu_sink_set_socket() from the adapter's device_request callback).
 * Over it the sink sends, as the back-end:
 *   GET_PROTOCOL_FEATURES / SET_PROTOCOL_FEATURES  on connect (we enable
 *       none: the display's mode and EDID are the daemon's own, so
 *       GET_DISPLAY_INFO / GET_EDID are never asked)
 *   SCANOUT (id, width, height; 0x0 disables)      on a scanout change
 *   UPDATE (id, rectangle, x8r8g8b8 pixels inline) on every flush
 *   CURSOR_UPDATE / CURSOR_POS / CURSOR_POS_HIDE   for the cursor
 * Replies are read without blocking before each send (nothing waits for
 * the front-end: QEMU may itself be waiting for this back-end). Sends
 * block for at most 2 s; a channel that stays full or fails is closed
 * and the display output stops until the front-end gives a new one. An
 * UPDATE is only ever sent for a scanout announced with SCANOUT on the
 * same channel, clipped to the announced size (QEMU has no surface
 * before). A new channel first gets the current state of every scanout
 * (vdev_gpu_scanout_state), so a reconnecting front-end sees the screen.
 */
#ifndef VDEV_EXAMPLES_GPU_VUGPU_H
#define VDEV_EXAMPLES_GPU_VUGPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev/gpu.h"

/* The vhost-user front-end request that carries the channel (one fd). */
#define GPU_VUGPU_SET_SOCKET_REQUEST 33u

struct gpu_vugpu_sink {
	int fd;                      /* the display channel, or -1 */
	struct vdev_gpu *gpu;        /* for the state of a new channel */
	uint32_t num_scanouts;
	uint32_t shown_w[VDEV_GPU_MAX_SCANOUTS], shown_h[VDEV_GPU_MAX_SCANOUTS]; /* 0: not announced */
	uint64_t protocol_features;  /* the front-end's, once its reply came */
	bool features_known;
	uint8_t rx[12 + 64];         /* a reply being received */
	size_t rx_len;
	uint8_t *buf;                /* the message being sent */
	size_t buf_cap;
	uint8_t *row;                /* one row: raw, RGBA */
	size_t row_cap;
	uint64_t channels, scanouts, updates, update_bytes, cursors, failures;
	void (*log)(void *opaque, const char *msg); /* NULL: stderr */
	void *log_opaque;
};

/* Set up a sink (no channel yet) for `gpu`'s first `num_scanouts`. */
void gpu_vugpu_sink_init(struct gpu_vugpu_sink *s, struct vdev_gpu *gpu, uint32_t num_scanouts);
/* Close the channel and free the buffers. */
void gpu_vugpu_sink_destroy(struct gpu_vugpu_sink *s);

/* A new channel (the sink owns `fd` from now on; an old one is closed):
 * starts the protocol and sends the current state. Context: the device's
 * thread. */
void gpu_vugpu_sink_set_socket(struct gpu_vugpu_sink *s, int fd);
/* Drop the channel (the front-end session ended). */
void gpu_vugpu_sink_close(struct gpu_vugpu_sink *s);

/* The ops table (sink_opaque: the struct gpu_vugpu_sink). */
extern const struct vdev_gpu_sink_ops gpu_vugpu_sink_ops;

#endif
