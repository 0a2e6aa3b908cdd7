/* SPDX-License-Identifier: MIT */
/*
 * A 3D renderer for the virtio-gpu device model (POSIX, not part of the
 * library): struct vdev_gpu_renderer_ops on virglrenderer (Debian:
 * libvirglrenderer-dev, 0.10.x), headless. virglrenderer draws with EGL on
 * Mesa's surfaceless platform (VIRGL_RENDERER_USE_EGL |
 * VIRGL_RENDERER_USE_SURFACELESS), so no display server is needed; with
 * `software` set (or no GPU render node) that is llvmpipe and no GPU is
 * needed either.
 *
 * What it offers the device: the capsets VIRGL (1) and VIRGL2 (2) as
 * virglrenderer lists them, contexts, 3D resources, backing, transfers,
 * SUBMIT_3D, fences, host blobs (create, map, unmap) and read_rect (the
 * pixels of a 3D resource a scanout or the cursor shows).
 *
 * Fences. The device-wide timeline (virgl_renderer_create_fence) has 32-bit
 * ids in virglrenderer and 64-bit ids in virtio-gpu: the adapter gives
 * virglrenderer its own increasing 32-bit ids and keeps a table from them
 * to the guest's (GPU_VIRGL_MAX_FENCES outstanding at most; more make
 * create_fence fail with VDEV_ENOMEM, which the device answers at once).
 * Per-context timelines (VIRTIO_GPU_FLAG_INFO_RING_IDX) go to
 * virgl_renderer_context_create_fence with the guest's 64-bit id. Retired
 * fences come through virglrenderer's write_fence / write_context_fence
 * callbacks, which run inside virgl_renderer_poll() (the poll op, i.e.
 * vdev_gpu_poll()) on the device's thread; they are noted and passed on
 * with vdev_gpu_fence_retired() once virgl_renderer_poll() returned (the
 * device may then run stalled commands, which must not re-enter
 * virglrenderer from its own callback). The integrator calls vdev_gpu_poll() when
 * gpu_virgl_poll_fd() is readable or, if it is -1, on a timer (every
 * millisecond or so) while the device holds fences (stats.fences_pending).
 *
 * Not done: exporting blobs as dmabufs (blob_map gives a host pointer only,
 * handle_type 0) and scanouts by dmabuf (read_rect copies the pixels).
 *
 * One per process: virglrenderer keeps global state, so gpu_virgl_init()
 * fails with a message if an adapter is already live.
 * Context: every call, and every op of the table, on the device's thread.
 */
#ifndef VDEV_EXAMPLES_GPU_VIRGL_H
#define VDEV_EXAMPLES_GPU_VIRGL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev/gpu.h"

/* Device-wide fences outstanding at most (give the device no more fence
 * slots than this). */
#define GPU_VIRGL_MAX_FENCES 256u
/* Context timelines whose retirement one poll notes (more are reported
 * from inside virglrenderer's callback). */
#define GPU_VIRGL_MAX_RETIRED 64u

struct gpu_virgl_config {
	/* Force Mesa's software rasteriser (sets LIBGL_ALWAYS_SOFTWARE=1
	 * unless the environment has it). */
	bool software;
	/* Ask virglrenderer for a fence thread and an eventfd
	 * (VIRGL_RENDERER_THREAD_SYNC; gpu_virgl_poll_fd() says if it took). */
	bool thread_sync;
	/* Pass virglrenderer's own messages on to `log` (else only the last
	 * one is kept, for error messages). */
	bool verbose;
	void (*log)(void *opaque, const char *msg); /* NULL: stderr */
	void *log_opaque;
};

struct gpu_virgl_fence_map {
	uint32_t virgl_id;  /* what virglrenderer knows */
	uint64_t fence_id;  /* the guest's */
};

struct gpu_virgl_retired {
	uint32_t ctx_id, ring_idx;
	uint64_t fence_id;
};

struct gpu_virgl_stats {
	uint64_t fences_created, fences_retired; /* both timelines */
	uint64_t submits, submit_bytes, reads, read_bytes;
};

struct gpu_virgl {
	struct gpu_virgl_config cfg;
	struct vdev_gpu *gpu;            /* gpu_virgl_set_device() */
	bool initialised;
	uint32_t next_virgl_id;          /* device-wide timeline */
	/* outstanding device-wide fences, oldest first (a ring) */
	struct gpu_virgl_fence_map fences[GPU_VIRGL_MAX_FENCES];
	unsigned fence_head, fence_count;
	/* retirements noted during virgl_renderer_poll(), reported after it */
	bool in_poll, global_retired;
	uint32_t global_virgl_id;
	struct gpu_virgl_retired retired[GPU_VIRGL_MAX_RETIRED];
	unsigned nretired;
	/* capsets virglrenderer offers, listed at init */
	struct vdev_gpu_capset_info capsets[2];
	unsigned num_capsets;
	struct gpu_virgl_stats stats;
};

/*
 * gpu_virgl_init() - initialise virglrenderer (EGL, surfaceless) for a
 * device. Returns 0, or -1 with a message in err: virglrenderer already
 * in use, EGL or the GL context could not be set up (no Mesa EGL, no
 * usable driver; the message names what to install or set), no virgl
 * capset.
 * Ownership: cfg is copied (NULL: defaults); v is the caller's until
 * gpu_virgl_fini().
 * Context: before vdev_gpu_init() (which lists the capsets).
 */
int gpu_virgl_init(struct gpu_virgl *v, const struct gpu_virgl_config *cfg, char *err,
		   size_t errlen);

/*
 * gpu_virgl_set_device() - the device retired fences are reported to
 * (vdev_gpu_fence_retired()). Call after vdev_gpu_init() succeeded, before
 * the guest runs; NULL (before vdev_gpu_fini()) drops later reports.
 */
void gpu_virgl_set_device(struct gpu_virgl *v, struct vdev_gpu *gpu);

/*
 * gpu_virgl_poll_fd() - an fd that becomes readable when fences may have
 * retired (virgl_renderer_get_poll_fd(), with thread_sync), or -1: poll on
 * a timer instead. Either way the integrator then calls vdev_gpu_poll().
 * The fd belongs to virglrenderer (do not close or read it).
 */
int gpu_virgl_poll_fd(const struct gpu_virgl *v);

/*
 * gpu_virgl_fini() - tear virglrenderer down (virgl_renderer_cleanup).
 * Call after vdev_gpu_fini() (which destroyed every context and resource
 * through the ops).
 */
void gpu_virgl_fini(struct gpu_virgl *v);

/* The renderer ops (renderer_opaque: the struct gpu_virgl). */
extern const struct vdev_gpu_renderer_ops gpu_virgl_renderer_ops;

#endif
