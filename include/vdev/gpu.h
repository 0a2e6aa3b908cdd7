/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-gpu device model, 2D (spec "GPU Device").
 *
 * Queues: 0 controlq, 1 cursorq. Commands: GET_DISPLAY_INFO (up to 16
 * scanouts), RESOURCE_CREATE_2D (every format of the spec), RESOURCE_UNREF,
 * SET_SCANOUT, RESOURCE_FLUSH, TRANSFER_TO_HOST_2D, RESOURCE_ATTACH_BACKING /
 * DETACH_BACKING (scatter lists in guest memory), GET_EDID (an EDID 1.4
 * block per scanout generated from its configured mode, refresh and
 * physical size), RESOURCE_ASSIGN_UUID, RESOURCE_CREATE_BLOB with
 * VIRTIO_GPU_BLOB_MEM_GUEST and SET_SCANOUT_BLOB (format, strides[0],
 * offsets[0] honoured), CTX_CREATE / CTX_DESTROY / CTX_ATTACH_RESOURCE /
 * CTX_DETACH_RESOURCE (bookkeeping, with context_init), GET_CAPSET_INFO /
 * GET_CAPSET (no capsets yet: num_capsets is 0), UPDATE_CURSOR and
 * MOVE_CURSOR. The other 3D commands get VIRTIO_GPU_RESP_ERR_UNSPEC until
 * a 3D renderer is plugged in (VIRGL is not offered).
 *
 * Features offered by default: EDID, RESOURCE_UUID, RESOURCE_BLOB,
 * CONTEXT_INIT, plus the ring features of the core. (The spec lists
 * CONTEXT_INIT as requiring VIRGL; Linux does not enforce that and uses it
 * for ring_idx fence timelines. An integrator that wants the strict
 * reading passes `features` without it.)
 *
 * Every command is processed synchronously when its chain is popped, so
 * responses, fenced or not, are returned in the order the commands were
 * queued: a fence is always answered after every command before it on the
 * same queue, hence in order per context and per ring_idx.
 *
 * Host memory. The core never allocates. A 2D resource needs a host copy
 * of stride * height bytes (stride = width * 4), and attached backing needs
 * a segment table (16 bytes per host segment). Both come from the
 * integrator's allocator (struct vdev_gpu_host_mem_ops), and the core
 * enforces a budget on top: at most `num_resources` resources (the
 * caller's resource table) and at most `max_host_bytes` bytes allocated
 * through the allocator at any time. Exceeding either, or the allocator
 * returning NULL, answers VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY; the host
 * never fails. Every size is computed in 64 bits with overflow checks
 * before it is compared with the budget or used.
 *
 * Guest input is hostile: every command is copied out of the chain once
 * (read once) before it is checked; ids, rectangles (x + width and
 * y + height in 64 bits), scanout ids, formats, strides, offsets and
 * backing entries are checked against the real allocation. Errors:
 *   chain shorter than the command          ERR_UNSPEC
 *   unknown / unsupported command           ERR_UNSPEC
 *   resource id 0, unknown, or in use       ERR_INVALID_RESOURCE_ID
 *   scanout id >= num_scanouts              ERR_INVALID_SCANOUT_ID
 *   unknown / existing context id           ERR_INVALID_CONTEXT_ID
 *   bad format, zero size, rectangle not inside the resource, bad
 *   strides/offsets, bad backing entries,
 *   nr_entries above max_backing_entries    ERR_INVALID_PARAMETER
 *   budget or resource table exhausted,
 *   dimensions too large for the budget     ERR_OUT_OF_MEMORY
 *   attach with backing already attached,
 *   detach/transfer without backing         ERR_UNSPEC
 * TRANSFER_TO_HOST_2D on a guest blob succeeds and does nothing (its
 * pixels are the guest's pages; Linux sends it for dumb-buffer blobs).
 * ATTACH_BACKING / CREATE_BLOB briefly hold a copy of the entries
 * (16 bytes each) from the budget while translating them.
 * Responses are built in full (every byte, padding included, is
 * initialised) and echo FLAG_FENCE, fence_id, ctx_id and, with
 * CONTEXT_INIT, FLAG_INFO_RING_IDX and ring_idx. On the controlq a chain
 * whose device-writable part is too small for the command's whole response
 * (or is missing, or lies in read-only memory: such a chain is rejected
 * by the queue) is not executed: it gets ERR_UNSPEC if a response header
 * fits, else nothing. The cursorq executes its commands even without a
 * response buffer (Linux sends none there).
 *
 * Display sink. What the guest shows is reported through an ops table
 * (struct vdev_gpu_sink_ops): a scanout was enabled / changed / disabled,
 * a rectangle of a scanout changed (RESOURCE_FLUSH), the cursor image or
 * position changed. Pixels are handed over as a struct vdev_gpu_image: for
 * 2D resources the host copy (contiguous), for blob scanouts the guest's
 * own pages as a list of host segments (possibly scattered), read with
 * vdev_gpu_image_read() which walks the segments with bounds checks.
 *
 * Context: every vdev_gpu_* call for a device, both queues' processing
 * and the sink ops it triggers run on one thread at a time (the usual
 * vhost-user single thread, or under the integrator's lock): the two
 * queues share the resource table.
 */
#ifndef VDEV_GPU_H
#define VDEV_GPU_H

#include "vdev/common.h"
#include "vdev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Feature bits (spec "GPU Device / Feature bits"). */
#define VDEV_GPU_F_VIRGL 0
#define VDEV_GPU_F_EDID 1
#define VDEV_GPU_F_RESOURCE_UUID 2
#define VDEV_GPU_F_RESOURCE_BLOB 3
#define VDEV_GPU_F_CONTEXT_INIT 4
#define VDEV_GPU_F_BLOB_ALIGNMENT 5

/* Device feature bits this model can offer. */
#define VDEV_GPU_SUPPORTED_FEATURES                                                       \
	(VDEV_BIT(VDEV_GPU_F_EDID) | VDEV_BIT(VDEV_GPU_F_RESOURCE_UUID) |                   \
	 VDEV_BIT(VDEV_GPU_F_RESOURCE_BLOB) | VDEV_BIT(VDEV_GPU_F_CONTEXT_INIT))

/* Queue indices. */
#define VDEV_GPU_CONTROLQ 0u
#define VDEV_GPU_CURSORQ 1u
#define VDEV_GPU_NUM_QUEUES 2u

#define VDEV_GPU_MAX_SCANOUTS 16u
/* Configuration space: events_read, events_clear, num_scanouts,
 * num_capsets, blob_alignment (little-endian le32 each). */
#define VDEV_GPU_CONFIG_SIZE 20u
/* events_read / events_clear bit */
#define VDEV_GPU_EVENT_DISPLAY 0x1u

/* Pixel formats (enum virtio_gpu_formats). All are 4 bytes per pixel; the
 * name gives the byte order in memory (B8G8R8A8: byte 0 is blue). */
#define VDEV_GPU_FORMAT_B8G8R8A8_UNORM 1u
#define VDEV_GPU_FORMAT_B8G8R8X8_UNORM 2u
#define VDEV_GPU_FORMAT_A8R8G8B8_UNORM 3u
#define VDEV_GPU_FORMAT_X8R8G8B8_UNORM 4u
#define VDEV_GPU_FORMAT_R8G8B8A8_UNORM 67u
#define VDEV_GPU_FORMAT_X8B8G8R8_UNORM 68u
#define VDEV_GPU_FORMAT_A8B8G8R8_UNORM 121u
#define VDEV_GPU_FORMAT_R8G8B8X8_UNORM 134u
#define VDEV_GPU_BYTES_PER_PIXEL 4u

/* The cursor image is a 64x64 2D resource (spec "Configure mouse cursor"). */
#define VDEV_GPU_CURSOR_SIZE 64u
/* Bytes of the EDID block vdev_gpu_edid() produces (base block, no
 * extensions). */
#define VDEV_GPU_EDID_SIZE 128u
/* Default per-resource limit of backing entries (as QEMU). */
#define VDEV_GPU_DEFAULT_MAX_BACKING_ENTRIES 16384u

/* A rectangle, in pixels; (0,0) is top left. */
struct vdev_gpu_rect {
	uint32_t x, y, width, height;
};

/*
 * One display (scanout) as the host configures it: what GET_DISPLAY_INFO
 * and GET_EDID report. The guest picks the mode it scans out itself
 * (SET_SCANOUT); this is the preferred one.
 */
struct vdev_gpu_display {
	bool enabled;            /* connected (GET_DISPLAY_INFO enabled) */
	uint32_t x, y;           /* position in the host's desktop */
	uint32_t width, height;  /* preferred mode in pixels, 1..16384 when enabled
				  * (0 allowed for a disabled display: 1024x768 in
				  * its EDID) */
	uint32_t refresh_millihz;/* refresh rate in mHz (60000 = 60 Hz); 0: 60 Hz */
	uint32_t width_mm;       /* physical size in mm (EDID); 0: from 96 DPI */
	uint32_t height_mm;
};

/*
 * Pixels handed to the sink. The pixel at (x, y) of the image, 0 <= x <
 * width, 0 <= y < height, is the 4 bytes (in `format`) at byte
 * offset + y * stride + x * 4 of the image's data; the core has checked
 * that every such pixel lies inside the data (`size` bytes).
 * The data is either contiguous host memory (`data` non-NULL: a 2D
 * resource's host copy) or, with `data` NULL, the concatenation of
 * `nsegs` host segments `segs` (a blob resource's guest pages, in the
 * order of its backing entries; a row may span segments).
 * Ownership: borrowed for the duration of the sink op that received it;
 * the pointers must not be kept (the guest may free the resource or its
 * backing afterwards). Blob data is guest memory the guest may write at
 * any time.
 */
struct vdev_gpu_image {
	uint32_t format;             /* VDEV_GPU_FORMAT_* */
	uint32_t width, height;      /* pixels */
	uint32_t stride;             /* bytes from one row to the next */
	uint64_t offset;             /* byte offset of pixel (0,0) in the data */
	uint64_t size;               /* bytes of data */
	const uint8_t *data;         /* contiguous data, or NULL: see segs */
	const struct vdev_iov *segs; /* data == NULL: the data as segments */
	unsigned nsegs;
};

/*
 * A scanout's state, as given to the sink's scanout op. When enabled, the
 * scanout shows the `src` rectangle of `image` (of resource `resource_id`)
 * at its full size: scanout pixel (dx, dy), 0 <= dx < src.width,
 * 0 <= dy < src.height, is image pixel (src.x + dx, src.y + dy).
 */
struct vdev_gpu_scanout {
	bool enabled;
	bool blob;                         /* image is a blob's guest pages */
	uint32_t resource_id;              /* 0 when disabled */
	uint32_t width, height;            /* = src.width, src.height; 0 when disabled */
	uint32_t format;                   /* = image->format; 0 when disabled */
	struct vdev_gpu_rect src;          /* part of the image shown */
	const struct vdev_gpu_image *image;/* NULL when disabled */
};

/*
 * The cursor as given to the sink. `image` is the cursor resource's host
 * copy (VDEV_GPU_CURSOR_SIZE square) or, for a blob cursor (Linux's dumb
 * cursor buffer when RESOURCE_BLOB is negotiated), its backing read as
 * 64x64 B8G8R8A8 with a stride of 256; NULL when the cursor is hidden
 * (resource_id 0). (x, y) is the position of the hot spot on scanout
 * `scanout`; the image's top left is at (x - hot_x, y - hot_y).
 */
struct vdev_gpu_cursor {
	uint32_t scanout;
	uint32_t x, y;      /* as the guest sent them (Linux sends negative
			     * values as two's complement: cast to int32_t) */
	uint32_t hot_x, hot_y;
	uint32_t resource_id;
	const struct vdev_gpu_image *image;
};

/*
 * The display sink: where the guest's output goes (a window, a PNG file,
 * a vhost-user-gpu front-end, a hardware plane). `size` first; every op
 * may be NULL (the event is dropped) and gets `sink_opaque` first.
 * Ownership: every pointer argument is borrowed for the call only.
 * Context: called from the controlq / cursorq processing (or from the
 * vdev_gpu_* call) that caused the event.
 */
struct vdev_gpu_sink_ops {
	uint32_t size; /* sizeof(struct vdev_gpu_sink_ops) */
	/* Scanout `scanout` was enabled or changed (SET_SCANOUT,
	 * SET_SCANOUT_BLOB: new resource, rectangle, size or format) or
	 * disabled (resource 0, its resource unreferenced or its backing
	 * detached, device reset): see struct vdev_gpu_scanout. The pixels
	 * are shown by the update op that normally follows. */
	void (*scanout)(void *opaque, uint32_t scanout, const struct vdev_gpu_scanout *s);
	/* `rect` (scanout coordinates, inside 0..s->width x 0..s->height, not
	 * empty) of scanout `scanout` changed (RESOURCE_FLUSH of a resource it
	 * shows): read the new pixels through s->image. */
	void (*update)(void *opaque, uint32_t scanout, const struct vdev_gpu_scanout *s,
		       const struct vdev_gpu_rect *rect);
	/* The cursor image changed (UPDATE_CURSOR; hidden: c->image NULL),
	 * with its position. */
	void (*cursor)(void *opaque, const struct vdev_gpu_cursor *c);
	/* The cursor moved (MOVE_CURSOR): c->image is NULL, the image is the
	 * one last given to the cursor op. */
	void (*cursor_move)(void *opaque, const struct vdev_gpu_cursor *c);
};

/*
 * Host memory for resources. `size` first; both ops required. alloc
 * returns `bytes` (> 0) of host memory aligned to at least 8 bytes, or
 * NULL (the guest then gets ERR_OUT_OF_MEMORY); its contents need not be
 * initialised (the core clears what it shows anyone). free gets back a
 * pointer from alloc with the same `bytes`. Neither may block if the
 * processing context must not. A bare-metal integrator hands out pieces
 * of a static arena; a POSIX one may use malloc.
 * Context: called from queue processing, device reset and vdev_gpu_fini().
 */
struct vdev_gpu_host_mem_ops {
	uint32_t size; /* sizeof(struct vdev_gpu_host_mem_ops) */
	void *(*alloc)(void *opaque, size_t bytes);
	void (*free)(void *opaque, void *ptr, size_t bytes);
};

/*
 * The seam for a 3D renderer (virgl, venus, gfxstream ...). Not used for
 * 2D: pass NULL and contexts are bookkeeping only, with no capsets. With a
 * renderer, CTX_CREATE / CTX_DESTROY are passed on; more ops (capsets,
 * SUBMIT_3D, 3D resources, host blobs, asynchronous fences) will be
 * appended to this table when 3D lands. `size` first, `renderer_opaque`
 * first argument. Context: controlq processing.
 */
struct vdev_gpu_renderer_ops {
	uint32_t size; /* sizeof(struct vdev_gpu_renderer_ops) */
	/* Create context `ctx_id` of type `context_init` (low 8 bits: capset
	 * id, 0: the renderer's default); `name` is the guest's debug name,
	 * `name_len` bytes, not NUL-terminated. Return 0 or a negative VDEV_E*
	 * (the guest gets ERR_INVALID_PARAMETER, ERR_OUT_OF_MEMORY for
	 * VDEV_ENOMEM). Optional. */
	int (*ctx_create)(void *opaque, uint32_t ctx_id, uint32_t context_init, const char *name,
			  size_t name_len);
	/* Context `ctx_id` is gone (CTX_DESTROY or device reset). Optional. */
	void (*ctx_destroy)(void *opaque, uint32_t ctx_id);
};

/* A resource slot. Caller-allocated array (the resource budget); fields
 * private. */
struct vdev_gpu_resource {
	uint32_t VDEV_PRIV(id);        /* 0: free slot */
	uint32_t VDEV_PRIV(format);
	uint32_t VDEV_PRIV(width);
	uint32_t VDEV_PRIV(height);
	uint32_t VDEV_PRIV(stride);
	uint32_t VDEV_PRIV(blob_mem);  /* 0: 2D resource */
	uint32_t VDEV_PRIV(blob_flags);
	uint32_t VDEV_PRIV(nsegs);
	uint64_t VDEV_PRIV(size);      /* 2D: host copy bytes; blob: blob size */
	uint64_t VDEV_PRIV(backing_bytes);
	uint8_t *VDEV_PRIV(host);      /* 2D host copy */
	struct vdev_iov *VDEV_PRIV(segs); /* backing, translated; NULL: none */
	size_t VDEV_PRIV(segs_bytes);
	uint16_t VDEV_PRIV(scanouts);  /* bit i: shown on scanout i */
	bool VDEV_PRIV(has_uuid);
	uint8_t VDEV_PRIV(uuid)[16];
};

/* A context slot. Caller-allocated array; fields private. */
struct vdev_gpu_context {
	uint32_t VDEV_PRIV(id);        /* 0: free slot */
	uint32_t VDEV_PRIV(context_init);
};

struct vdev_gpu_config {
	uint32_t num_scanouts;         /* 1..VDEV_GPU_MAX_SCANOUTS */
	struct vdev_gpu_display displays[VDEV_GPU_MAX_SCANOUTS]; /* initial state of each */
	uint64_t features;             /* 0: VDEV_GPU_SUPPORTED_FEATURES; else exactly
					* these, a subset of it */
	uint64_t ring_features;        /* 0: INDIRECT_DESC, EVENT_IDX, RING_PACKED,
					* RING_RESET */
	uint32_t queue_size;           /* max size of each queue, 1..32768 */
	uint64_t max_host_bytes;       /* budget for everything allocated through
					* host_mem (host copies, segment tables), > 0 */
	uint32_t max_backing_entries;  /* per resource: most backing entries, and
					* most host segments they translate to;
					* 0: VDEV_GPU_DEFAULT_MAX_BACKING_ENTRIES */
	uint8_t uuid_base[16];         /* RESOURCE_ASSIGN_UUID answers are this
					* with the resource's slot and a counter mixed
					* in (RFC 4122 version 4 layout); give each
					* device a random value for unique UUIDs */
	const struct vdev_mem *mem;
	/* Caller-owned storage (borrowed for the life of the device): */
	struct vdev_vq *queues;              /* VDEV_GPU_NUM_QUEUES queues */
	struct vdev_iov *iovs;               /* VDEV_GPU_NUM_QUEUES * iov_per_chain */
	unsigned iov_per_chain;              /* segments per chain, 2..65535 */
	struct vdev_gpu_resource *resources; /* resource table */
	unsigned num_resources;              /* > 0 */
	struct vdev_gpu_context *contexts;   /* may be NULL with num_contexts 0
					      * (every CTX_CREATE: OUT_OF_MEMORY) */
	unsigned num_contexts;
	const struct vdev_gpu_host_mem_ops *host_mem; /* required */
	void *host_mem_opaque;
	const struct vdev_gpu_sink_ops *sink; /* may be NULL: output dropped */
	void *sink_opaque;
	const struct vdev_gpu_renderer_ops *renderer; /* NULL for 2D */
	void *renderer_opaque;
};

/* Counters, for diagnostics (vdev_gpu_get_stats). */
struct vdev_gpu_stats {
	uint64_t commands;      /* commands answered (or executed, cursorq) */
	uint64_t errors;        /* answered with an ERR_* response */
	uint64_t no_response;   /* chains completed with nothing written */
	uint64_t fences;        /* fenced commands answered */
	uint64_t transfers, transfer_bytes, flushes;
	uint64_t resources;     /* live resources now */
	uint64_t host_bytes;    /* bytes allocated through host_mem now */
	uint64_t out_of_memory; /* ERR_OUT_OF_MEMORY answers */
};

/* Per-scanout state. Part of struct vdev_gpu; fields private. */
struct vdev_gpu_scanout_slot {
	struct vdev_gpu_display VDEV_PRIV(display);
	struct vdev_gpu_rect VDEV_PRIV(src);
	uint32_t VDEV_PRIV(resource_id); /* 0: disabled */
	/* SET_SCANOUT_BLOB framebuffer */
	uint32_t VDEV_PRIV(format);
	uint32_t VDEV_PRIV(width);
	uint32_t VDEV_PRIV(height);
	uint32_t VDEV_PRIV(stride);
	uint32_t VDEV_PRIV(offset);
	bool VDEV_PRIV(blob);
};

/* Device state. Caller-allocated; fields private. */
struct vdev_gpu {
	struct vdev_dev VDEV_PRIV(dev);
	const struct vdev_gpu_host_mem_ops *VDEV_PRIV(hm);
	void *VDEV_PRIV(hm_opaque);
	const struct vdev_gpu_sink_ops *VDEV_PRIV(sink);
	void *VDEV_PRIV(sink_opaque);
	const struct vdev_gpu_renderer_ops *VDEV_PRIV(renderer);
	void *VDEV_PRIV(renderer_opaque);
	const struct vdev_mem *VDEV_PRIV(mem);
	struct vdev_vq *VDEV_PRIV(queues);
	struct vdev_iov *VDEV_PRIV(iovs);
	struct vdev_gpu_resource *VDEV_PRIV(res);
	struct vdev_gpu_context *VDEV_PRIV(ctx);
	struct vdev_gpu_stats VDEV_PRIV(stats);
	uint64_t VDEV_PRIV(max_host_bytes);
	uint64_t VDEV_PRIV(uuid_counter);
	unsigned VDEV_PRIV(iov_per_chain);
	unsigned VDEV_PRIV(num_res);
	unsigned VDEV_PRIV(num_ctx);
	uint32_t VDEV_PRIV(max_entries);
	uint32_t VDEV_PRIV(num_scanouts);
	uint32_t VDEV_PRIV(cursor_scanout);
	uint32_t VDEV_PRIV(cursor_x), VDEV_PRIV(cursor_y);
	uint32_t VDEV_PRIV(cursor_hot_x), VDEV_PRIV(cursor_hot_y);
	uint32_t VDEV_PRIV(cursor_res);
	uint8_t VDEV_PRIV(uuid_base)[16];
	struct vdev_gpu_scanout_slot VDEV_PRIV(scanouts)[VDEV_GPU_MAX_SCANOUTS];
	struct vdev_gpu_display VDEV_PRIV(initial)[VDEV_GPU_MAX_SCANOUTS];
	uint8_t VDEV_PRIV(resp)[1056]; /* response scratch (largest: GET_EDID) */
	uint8_t VDEV_PRIV(config)[VDEV_GPU_CONFIG_SIZE];
};

/*
 * vdev_gpu_init() - set up a GPU device.
 * Returns 0 or VDEV_EINVAL: num_scanouts 0 or above 16; a display with
 * width or height above 16384, or enabled with 0; queue_size out of range;
 * iov_per_chain below 2 or above 65535; num_resources 0; max_host_bytes 0;
 * no host_mem or a missing alloc/free; contexts NULL with num_contexts > 0;
 * features not a subset of VDEV_GPU_SUPPORTED_FEATURES; NULL mem, queues,
 * iovs or resources.
 * Ownership: cfg is copied; its arrays and ops tables are borrowed.
 * Context: before the transport is set up.
 */
VDEV_API int vdev_gpu_init(struct vdev_gpu *gpu, const struct vdev_gpu_config *cfg);

/*
 * vdev_gpu_fini() - give every resource's host memory back through
 * host_mem->free (no sink calls). The device must not be used afterwards
 * except for another vdev_gpu_init(). Context: the device's thread, after
 * the transport stopped calling in.
 */
VDEV_API void vdev_gpu_fini(struct vdev_gpu *gpu);

/* vdev_gpu_dev() - the device core object, for vdev_mmio_init() & co. */
VDEV_API struct vdev_dev *vdev_gpu_dev(struct vdev_gpu *gpu);

/*
 * vdev_gpu_process() - take and answer the chains of queue `q`
 * (VDEV_GPU_CONTROLQ or VDEV_GPU_CURSORQ) until the ring is empty;
 * publish and notify. Also what a queue notification does. Returns the
 * number of chains taken, or a negative VDEV_E* (VDEV_ENOENT bad q, or the
 * queue not live or broken).
 * Context: the device's thread (see the file comment).
 */
VDEV_API int vdev_gpu_process(struct vdev_gpu *gpu, uint16_t q);

/*
 * vdev_gpu_set_display() - the host changed display `scanout` (hot-plug,
 * window resize, new physical size): GET_DISPLAY_INFO and GET_EDID report
 * the new values, VIRTIO_GPU_EVENT_DISPLAY is set in events_read and a
 * configuration change is signalled (after DRIVER_OK). What the guest
 * scans out is not changed; it reacts by itself. A later device reset
 * keeps the new display. Returns 0 or VDEV_EINVAL (scanout out of range,
 * display values as in vdev_gpu_init()).
 * Context: the device's thread.
 */
VDEV_API int vdev_gpu_set_display(struct vdev_gpu *gpu, uint32_t scanout,
				  const struct vdev_gpu_display *d);

/* vdev_gpu_get_display() - the display configuration of `scanout` as the
 * guest is told it. Returns 0 or VDEV_EINVAL. */
VDEV_API int vdev_gpu_get_display(const struct vdev_gpu *gpu, uint32_t scanout,
				  struct vdev_gpu_display *out);

/*
 * vdev_gpu_edid() - the EDID 1.4 base block (VDEV_GPU_EDID_SIZE bytes,
 * checksum included) for a display, as GET_EDID returns it: digital input,
 * 8 bits per colour, sRGB, the preferred mode as a detailed timing
 * (reduced-blanking timings at the configured refresh; omitted if the mode
 * exceeds 4095x4095 or a 655.35 MHz pixel clock), physical size in the
 * timing (mm) and the basic parameters (cm), a range-limits and a name
 * descriptor ("libvdev-<index>"), serial `index`. A pure function.
 * Context: any.
 */
VDEV_API void vdev_gpu_edid(const struct vdev_gpu_display *d, uint32_t index,
			    uint8_t out[VDEV_GPU_EDID_SIZE]);

/*
 * vdev_gpu_scanout_state() - what scanout `scanout` shows now, as the
 * sink's scanout op last saw it (image pointers valid until the next call
 * into the device). Returns 0 or VDEV_EINVAL. Lets a sink that comes late
 * (a vhost-user-gpu front-end connecting) fetch the state and pixels.
 * Context: the device's thread.
 */
VDEV_API int vdev_gpu_scanout_state(struct vdev_gpu *gpu, uint32_t scanout,
				    struct vdev_gpu_scanout *out, struct vdev_gpu_image *image);

/*
 * vdev_gpu_image_read() - copy `npix` pixels of row `y` starting at
 * column `x` of `img` into `dst` (npix * 4 bytes, the image's format),
 * across segment boundaries. Returns the number of pixels copied: npix,
 * or 0 if the span is not inside the image (x + npix > width, y >= height)
 * or not inside its data. Context: any (within the sink op that got img).
 */
VDEV_API uint32_t vdev_gpu_image_read(const struct vdev_gpu_image *img, uint32_t x, uint32_t y,
				      uint32_t npix, void *dst);

/*
 * vdev_gpu_to_rgba() - convert `npix` pixels of `format` at `src` into
 * R, G, B, A bytes at `dst` (4 * npix bytes; X formats give A = 255).
 * Returns 0 or VDEV_EINVAL (unknown format). Context: any.
 */
VDEV_API int vdev_gpu_to_rgba(uint32_t format, const void *src, uint8_t *dst, uint32_t npix);

/* vdev_gpu_format_valid() - true for the VDEV_GPU_FORMAT_* values. */
VDEV_API bool vdev_gpu_format_valid(uint32_t format);

VDEV_API void vdev_gpu_get_stats(const struct vdev_gpu *gpu, struct vdev_gpu_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_GPU_H */
