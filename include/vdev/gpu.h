/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-gpu device model, 2D and 3D (spec "GPU Device").
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
 * GET_CAPSET, UPDATE_CURSOR and MOVE_CURSOR. Without a renderer there are
 * no capsets (num_capsets 0), VIRGL is not offered and the 3D commands get
 * VIRTIO_GPU_RESP_ERR_UNSPEC.
 *
 * 3D mode. With a renderer ops table that has every op VIRGL needs
 * (struct vdev_gpu_renderer_ops), VIRTIO_GPU_F_VIRGL is offered and the
 * controlq also takes CTX_CREATE (context_init's capset id among the
 * renderer's capsets) / CTX_DESTROY / CTX_ATTACH_RESOURCE /
 * CTX_DETACH_RESOURCE, RESOURCE_CREATE_3D, TRANSFER_TO_HOST_3D /
 * TRANSFER_FROM_HOST_3D, SUBMIT_3D, GET_CAPSET_INFO / GET_CAPSET (the
 * renderer's capsets, listed once at init), RESOURCE_CREATE_BLOB with
 * HOST3D / HOST3D_GUEST memory, and, with a host visible memory region
 * (config host_visible_size + struct vdev_gpu_shm_ops; shmid 1, placed by
 * the transport), RESOURCE_MAP_BLOB / RESOURCE_UNMAP_BLOB with the map_info
 * the renderer gives. 2D, 3D and blob resources share one id space. A 2D
 * resource stays the model's own (the renderer never sees it;
 * CTX_ATTACH_RESOURCE of one is bookkeeping); a guest blob is shown by the
 * model from the guest's pages and, with the renderer's blob_create, also
 * created in the renderer (ctx_id 0 or a live context). A scanout or cursor
 * may show a 3D resource (a 2D or RECT texture in a format of the spec):
 * its pixels are read back through the renderer's read_rect op into a
 * shadow copy (from the budget) at SET_SCANOUT / UPDATE_CURSOR and for
 * every RESOURCE_FLUSH rectangle, so sinks see an ordinary contiguous
 * image. Before the renderer sees anything the model checks: context ids
 * (0, unknown, duplicate), resource ids, gallium targets and sizes (width,
 * height up to VDEV_GPU_MAX_DIM_3D, depth and layers per target, mip
 * levels up to log2 of the largest dimension, samples), transfer boxes
 * inside the resource at the level (64-bit sums) and offsets inside the
 * backing, SUBMIT_3D sizes (a multiple of 4, inside the request; copied
 * once into the caller's submit_buf or a budgeted buffer), blob sizes
 * (non-zero page multiples, charged to the budget), blob flags, MAP_BLOB
 * offsets (page aligned, inside the region, not overlapping another
 * mapping, only MAPPABLE host blobs, once), capset indexes and versions.
 * Renderer memory is charged to max_host_bytes as an estimate (see
 * vdev_gpu_init()) and refunded at unref.
 *
 * Features offered by default: EDID, RESOURCE_UUID, RESOURCE_BLOB,
 * CONTEXT_INIT (and VIRGL with a full renderer table), plus the ring
 * features of the core. (The spec lists CONTEXT_INIT as requiring VIRGL;
 * Linux does not enforce that and uses it for ring_idx fence timelines. An
 * integrator that wants the strict reading passes `features` without it.)
 *
 * Fences. Without a renderer (or one without create_fence) every command
 * is complete when its chain is processed, so responses, fenced or not,
 * go back in queue order. With create_fence, a fenced controlq command
 * that executed gets a renderer fence on its timeline: (ctx_id, ring_idx)
 * with VIRTIO_GPU_FLAG_INFO_RING_IDX, else the device-wide one
 * (VDEV_GPU_FENCE_GLOBAL). Its response is written into the chain at once
 * but the chain is held in a caller-sized fence slot (config fences /
 * num_fences) and completed only when the renderer reports the fence
 * retired (vdev_gpu_fence_retired(), typically from the renderer's poll op
 * run by vdev_gpu_poll()) and no command of its timeline with a smaller or
 * equal fence_id is still waiting (the driver signals every fence <= the
 * one it receives): with ascending fence ids, queue order per timeline.
 * Unfenced commands and other timelines go on meanwhile. A fenced command
 * that failed, or needs no renderer fence, is held the same way.
 * While every slot is in use the controlq is not popped (nothing is ever
 * dropped); a retirement resumes it. CTX_DESTROY completes the held chains
 * of the context's rings (before its own answer); a device reset or a
 * RING_RESET of the controlq forgets them with the queue (never completed
 * twice, never after the reset), and the renderer's reset op forgets the
 * fences.
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
 * and the sink, renderer and shm ops it triggers run on one thread at a
 * time (the usual vhost-user single thread, or under the integrator's
 * lock): the two queues share the resource table. Renderer callbacks
 * (virglrenderer's write_fence / write_context_fence) must therefore come
 * on that thread too: from the renderer's poll op (vdev_gpu_poll()) or a
 * renderer op, never from a renderer thread directly.
 */
#ifndef VDEV_GPU_H
#define VDEV_GPU_H

/* Absent from a build with VDEV_CONFIG_DEV_GPU 0 (vdev/config.h): the
 * functions below are declared there but not defined (a call does not
 * link). */

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

/* Device feature bits this model can offer without a renderer; VIRGL
 * (VDEV_BIT(VDEV_GPU_F_VIRGL)) in addition with a full renderer table. */
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

/* ---- 3D mode: the renderer seam ------------------------------------------------ */

/* Gallium texture targets (enum pipe_texture_target) RESOURCE_CREATE_3D
 * accepts. */
#define VDEV_GPU_TARGET_BUFFER 0u
#define VDEV_GPU_TARGET_1D 1u
#define VDEV_GPU_TARGET_2D 2u
#define VDEV_GPU_TARGET_3D 3u
#define VDEV_GPU_TARGET_CUBE 4u
#define VDEV_GPU_TARGET_RECT 5u
#define VDEV_GPU_TARGET_1D_ARRAY 6u
#define VDEV_GPU_TARGET_2D_ARRAY 7u
#define VDEV_GPU_TARGET_CUBE_ARRAY 8u

/* Limits RESOURCE_CREATE_3D enforces before the renderer sees anything. */
#define VDEV_GPU_MAX_DIM_3D 16384u   /* width, height of textures */
#define VDEV_GPU_MAX_DEPTH_3D 2048u  /* depth of 3D textures */
#define VDEV_GPU_MAX_LAYERS_3D 2048u /* array_size of array textures */
#define VDEV_GPU_MAX_SAMPLES_3D 32u
/* Capsets the device lists at most (GET_CAPSET_INFO indexes). */
#define VDEV_GPU_MAX_CAPSETS 16u
/* Largest capset a renderer may describe (capset_max_size). */
#define VDEV_GPU_MAX_CAPSET_SIZE 65536u
/* Host blobs and their mappings are in units of this (size, shm offset). */
#define VDEV_GPU_BLOB_PAGE 4096u
/* shmid of the host visible memory region (VIRTIO_GPU_SHM_ID_HOST_VISIBLE). */
#define VDEV_GPU_SHM_ID_HOST_VISIBLE 1u
/* blob_mem values (VIRTIO_GPU_BLOB_MEM_*). */
#define VDEV_GPU_BLOB_MEM_GUEST 1u
#define VDEV_GPU_BLOB_MEM_HOST3D 2u
#define VDEV_GPU_BLOB_MEM_HOST3D_GUEST 3u
/* blob_flags (VIRTIO_GPU_BLOB_FLAG_USE_*). */
#define VDEV_GPU_BLOB_FLAG_MAPPABLE 1u
#define VDEV_GPU_BLOB_FLAG_SHAREABLE 2u
#define VDEV_GPU_BLOB_FLAG_CROSS_DEVICE 4u
/* map_info caching types (VIRTIO_GPU_MAP_CACHE_*), low 4 bits. */
#define VDEV_GPU_MAP_CACHE_MASK 0x0fu
#define VDEV_GPU_MAP_CACHE_NONE 0u
#define VDEV_GPU_MAP_CACHE_CACHED 1u
#define VDEV_GPU_MAP_CACHE_UNCACHED 2u
#define VDEV_GPU_MAP_CACHE_WC 3u
/* The device-wide fence timeline: the ring_idx create_fence gets (and
 * vdev_gpu_fence_retired() takes) for a fenced command sent without
 * VIRTIO_GPU_FLAG_INFO_RING_IDX (virgl_renderer_create_fence()). */
#define VDEV_GPU_FENCE_GLOBAL UINT32_MAX

/* RESOURCE_CREATE_3D arguments, checked (virgl_renderer_resource_create_args
 * without the handle). */
struct vdev_gpu_resource_3d {
	uint32_t target;     /* VDEV_GPU_TARGET_* */
	uint32_t format;     /* renderer format (virgl: VIRGL_FORMAT_*), != 0 */
	uint32_t bind;       /* renderer bind flags, passed through */
	uint32_t width, height, depth, array_size;
	uint32_t last_level; /* highest mip level */
	uint32_t nr_samples;
	uint32_t flags;      /* passed through */
};

/* A box in texels (x, y, z origin; w, h, d size). */
struct vdev_gpu_box {
	uint32_t x, y, z, w, h, d;
};

/* TRANSFER_TO_HOST_3D / TRANSFER_FROM_HOST_3D: `box` of mip `level`
 * (already checked to lie inside the resource at that level) to or from
 * the resource's attached backing starting at byte `offset` (checked to be
 * inside it), rows `stride` and layers `layer_stride` bytes apart
 * (virgl_renderer_transfer_write_iov/read_iov with iov NULL: the backing
 * given to attach_backing). */
struct vdev_gpu_transfer {
	uint32_t ctx_id; /* the command's ctx_id (0: none) */
	uint32_t level;
	uint32_t stride, layer_stride;
	struct vdev_gpu_box box;
	uint64_t offset;
};

/* RESOURCE_CREATE_BLOB (virgl_renderer_resource_create_blob_args without
 * the handle): HOST3D / HOST3D_GUEST memory, and, with VIRGL negotiated,
 * GUEST memory too (the model keeps showing guest blobs itself; the
 * renderer gets them so a context can import guest memory). */
struct vdev_gpu_blob {
	uint32_t ctx_id;       /* an existing context (GUEST: 0 or an existing one) */
	uint32_t blob_mem;     /* VDEV_GPU_BLOB_MEM_* */
	uint32_t blob_flags;   /* VDEV_GPU_BLOB_FLAG_* */
	uint64_t blob_id;      /* the context's object, from SUBMIT_3D */
	uint64_t size;         /* > 0; for host memory a multiple of
				* VDEV_GPU_BLOB_PAGE */
	const struct vdev_iov *segs; /* GUEST / HOST3D_GUEST with entries: the
				      * guest pages (at least size bytes); else NULL.
				      * They count as attached backing:
				      * detach_backing comes before unref */
	unsigned nsegs;
};

/* What blob_map returns: the blob's host memory (virgl_renderer_resource_map
 * and _get_map_info), and optionally an exportable handle
 * (virgl_renderer_resource_export_blob: handle_type 0 none, else
 * the renderer's fd type and fd). */
struct vdev_gpu_blob_map {
	void *host;        /* host address of the blob; may be NULL if handle is set */
	uint64_t size;     /* bytes mapped, >= the blob's size */
	uint32_t map_info; /* VDEV_GPU_MAP_CACHE_* */
	uint32_t handle_type;
	int64_t handle;    /* owned by the renderer until blob_unmap */
};

/* GET_CAPSET_INFO entry. */
struct vdev_gpu_capset_info {
	uint32_t id;          /* VIRTIO_GPU_CAPSET_* (1 VIRGL, 2 VIRGL2, 4 VENUS ...), != 0 */
	uint32_t max_version; /* virgl_renderer_get_cap_set max_ver */
	uint32_t max_size;    /* bytes, 1..VDEV_GPU_MAX_CAPSET_SIZE */
};

/*
 * The seam for a 3D renderer (virglrenderer, venus, gfxstream ...): every
 * op gets `renderer_opaque` first; `size` first, members only appended.
 * Resource, context and capset ids are the guest's, already validated: a
 * resource id names a resource the renderer created (create_3d or
 * blob_create) and not yet unreferenced, a context id a live context.
 * Ops returning int return 0 or a negative VDEV_E*; the guest then gets
 * ERR_OUT_OF_MEMORY for VDEV_ENOMEM, else ERR_INVALID_PARAMETER (unless
 * said otherwise) and the model's state is unchanged.
 *
 * VIRTIO_GPU_F_VIRGL is offered only if the table has every op marked
 * "required for VIRGL" below. A shorter table (only ctx_create/destroy)
 * still sees contexts, as before 3D existed.
 *
 * Ownership: pointer arguments are borrowed for the call, except the
 * segment arrays of attach_backing and blob_create: the array and the
 * guest memory it points to stay valid until detach_backing (which comes
 * before resource_unref, device reset and fini), so a renderer may keep
 * them as virglrenderer keeps the iovecs of
 * virgl_renderer_resource_attach_iov (struct vdev_iov is layout-compatible
 * with struct iovec).
 * Context: the device's thread, from queue processing, device reset,
 * vdev_gpu_poll() and vdev_gpu_fini(). An op may call
 * vdev_gpu_fence_retired() (a renderer that retires fences synchronously),
 * nothing else of the device.
 */
struct vdev_gpu_renderer_ops {
	uint32_t size; /* sizeof(struct vdev_gpu_renderer_ops) */
	/* Create context `ctx_id` of type `context_init` (low 8 bits: capset
	 * id, 0: the renderer's default; with capsets listed it is one of
	 * them); `name` is the guest's debug name, `name_len` bytes (<= 64),
	 * not NUL-terminated (virgl_renderer_context_create_with_flags).
	 * Required for VIRGL. */
	int (*ctx_create)(void *opaque, uint32_t ctx_id, uint32_t context_init, const char *name,
			  size_t name_len);
	/* Context `ctx_id` is gone (CTX_DESTROY, device reset, fini); its
	 * held responses are answered now and its fences must not be reported
	 * afterwards (the id may be reused). Required for VIRGL. */
	void (*ctx_destroy)(void *opaque, uint32_t ctx_id);

	/* --- appended for 3D (VIRGL) --- */
	/* Capset number `index` (0, 1, ... until it returns non-zero; at most
	 * VDEV_GPU_MAX_CAPSETS are listed). Called at vdev_gpu_init() only:
	 * the list is fixed for the device's life. Required for VIRGL. */
	int (*capset_info)(void *opaque, uint32_t index, struct vdev_gpu_capset_info *out);
	/* Fill `buf` (`size` bytes = the capset's max_size, zeroed) with
	 * capset `id` at `version` (<= max_version) (virgl_renderer_fill_caps).
	 * Required for VIRGL. */
	int (*capset_get)(void *opaque, uint32_t id, uint32_t version, void *buf, uint32_t size);
	/* RESOURCE_CREATE_3D. Required for VIRGL. */
	int (*resource_create_3d)(void *opaque, uint32_t res_id, const struct vdev_gpu_resource_3d *a);
	/* A renderer resource (3D, or a blob given to blob_create) is gone:
	 * RESOURCE_UNREF, reset, fini. Its backing (if any) was detached and
	 * its mapping unmapped just before. Required for VIRGL. */
	void (*resource_unref)(void *opaque, uint32_t res_id);
	/* Guest backing for a renderer resource (RESOURCE_ATTACH_BACKING of a
	 * 3D resource or blob), as host segments
	 * (virgl_renderer_resource_attach_iov). Required for VIRGL. */
	int (*attach_backing)(void *opaque, uint32_t res_id, const struct vdev_iov *segs,
			      unsigned nsegs);
	/* The backing given to attach_backing is taken away (DETACH_BACKING,
	 * before resource_unref). Required for VIRGL. */
	void (*detach_backing)(void *opaque, uint32_t res_id);
	/* CTX_ATTACH_RESOURCE / CTX_DETACH_RESOURCE of a renderer resource
	 * (virgl_renderer_ctx_attach_resource). Optional. */
	void (*ctx_attach_resource)(void *opaque, uint32_t ctx_id, uint32_t res_id);
	void (*ctx_detach_resource)(void *opaque, uint32_t ctx_id, uint32_t res_id);
	/* TRANSFER_TO_HOST_3D / TRANSFER_FROM_HOST_3D (see struct
	 * vdev_gpu_transfer; the resource has backing). Required for VIRGL. */
	int (*transfer_to_host)(void *opaque, uint32_t res_id, const struct vdev_gpu_transfer *t);
	int (*transfer_from_host)(void *opaque, uint32_t res_id, const struct vdev_gpu_transfer *t);
	/* SUBMIT_3D: `size` bytes of command stream for context `ctx_id`,
	 * copied out of the guest's buffer (a stable host copy: scratch the
	 * caller gave in the config, or a budgeted allocation), 4-byte
	 * aligned; virgl: virgl_renderer_submit_cmd(cmd, ctx_id, size / 4).
	 * Required for VIRGL. */
	int (*submit)(void *opaque, uint32_t ctx_id, const void *cmd, uint32_t size);
	/* A fenced command of context `ctx_id` on timeline `ring_idx` (0..63,
	 * or VDEV_GPU_FENCE_GLOBAL for the device-wide timeline; virgl:
	 * virgl_renderer_context_create_fence(ctx_id, MERGEABLE, ring_idx, id)
	 * or virgl_renderer_create_fence(id, ctx_id)) was executed. Report its
	 * retirement later with vdev_gpu_fence_retired(). A failure answers
	 * the command at once (in timeline order). Optional: without it every
	 * command is complete when its op returns and fences are answered
	 * synchronously. */
	int (*create_fence)(void *opaque, uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id);
	/* Check for retired fences and report them (virgl_renderer_poll /
	 * _context_poll); called by vdev_gpu_poll(). Optional. */
	void (*poll)(void *opaque);
	/* RESOURCE_CREATE_BLOB (struct vdev_gpu_blob): host memory, and
	 * guest memory with VIRGL negotiated. Optional: without it host blobs
	 * get ERR_INVALID_PARAMETER, guest blobs stay the model's own and no
	 * host visible region may be configured. */
	int (*blob_create)(void *opaque, uint32_t res_id, const struct vdev_gpu_blob *b);
	/* RESOURCE_MAP_BLOB: the blob's host memory (struct vdev_gpu_blob_map,
	 * zeroed before the call). Optional (required with blob_create for a
	 * host visible region). */
	int (*blob_map)(void *opaque, uint32_t res_id, struct vdev_gpu_blob_map *out);
	/* The mapping blob_map made is no longer used (UNMAP_BLOB, unref,
	 * reset). */
	void (*blob_unmap)(void *opaque, uint32_t res_id);
	/* Read `rect` (level 0, layer 0, inside the resource, not empty) of
	 * 3D resource `res_id` into `dst`: pixel (rect->x + i, rect->y + j)
	 * goes to dst + j * dst_stride + i * 4, in the resource's format (one
	 * of VDEV_GPU_FORMAT_*); dst holds (height - 1) * dst_stride +
	 * width * 4 bytes. virgl: virgl_renderer_transfer_read_iov(res_id, 0,
	 * 0, dst_stride, 0, &box, 0, &iov, 1) with box {x, y, 0, w, h, 1} and
	 * one iovec over dst. This is how a scanout or cursor showing a 3D
	 * resource gets pixels for the sink.
	 * Optional: without it such SET_SCANOUT / UPDATE_CURSOR get
	 * ERR_INVALID_RESOURCE_ID. */
	int (*read_rect)(void *opaque, uint32_t res_id, const struct vdev_gpu_rect *rect, void *dst,
			 uint32_t dst_stride);
	/* Device reset: every context and resource was destroyed through the
	 * ops above; forget fences not yet reported (none of them may be
	 * reported afterwards). Optional. */
	void (*reset)(void *opaque);
};

/*
 * The host visible memory region (shmid VDEV_GPU_SHM_ID_HOST_VISIBLE,
 * `host_visible_size` bytes, placed by the transport: vdev_pci_shm_offset()
 * / the mmio SHM registers). The device decides where each mapped blob
 * goes; the integrator makes the guest see it there (mmap MAP_FIXED into
 * the region's host mapping, KVM memory slot, vhost-user shmem map
 * message). `size` first, ops get `shm_opaque` first; both required.
 * Context: the device's thread (queue processing, reset, fini).
 */
struct vdev_gpu_shm_ops {
	uint32_t size; /* sizeof(struct vdev_gpu_shm_ops) */
	/* Make bytes [offset, offset + size) of the region show `m`'s first
	 * `size` bytes, caching `m->map_info`. offset and size are multiples
	 * of VDEV_GPU_BLOB_PAGE, inside the region, not overlapping another
	 * mapping. Return 0 or a negative VDEV_E* (the guest gets ERR_UNSPEC,
	 * ERR_OUT_OF_MEMORY for VDEV_ENOMEM). */
	int (*map)(void *opaque, uint32_t res_id, uint64_t offset, uint64_t size,
		   const struct vdev_gpu_blob_map *m);
	/* Undo a map (the range reads as unmapped memory again). */
	void (*unmap)(void *opaque, uint32_t res_id, uint64_t offset, uint64_t size);
};

/* A held fenced response. Caller-allocated array (config `fences`);
 * fields private. */
struct vdev_gpu_fence {
	struct vdev_vq_elem VDEV_PRIV(elem); /* elem.iov unused (NULL) */
	uint64_t VDEV_PRIV(fence_id);
	uint64_t VDEV_PRIV(seq);       /* 0: free slot; else hold order */
	uint32_t VDEV_PRIV(ctx_id);
	uint32_t VDEV_PRIV(ring_idx);  /* VDEV_GPU_FENCE_GLOBAL or 0..63 */
	uint32_t VDEV_PRIV(written);   /* response bytes already in the chain */
	bool VDEV_PRIV(ready);         /* may be answered once first in line */
};

/* A resource slot. Caller-allocated array (the resource budget); fields
 * private. */
struct vdev_gpu_resource {
	uint32_t VDEV_PRIV(id);        /* 0: free slot */
	uint32_t VDEV_PRIV(format);
	uint32_t VDEV_PRIV(width);
	uint32_t VDEV_PRIV(height);
	uint32_t VDEV_PRIV(stride);
	uint32_t VDEV_PRIV(blob_mem);  /* 0: 2D or 3D resource */
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
	/* 3D mode */
	bool VDEV_PRIV(rend);          /* known to the renderer (3D or host blob) */
	bool VDEV_PRIV(mapped);        /* host blob mapped in the shm region */
	struct vdev_gpu_resource_3d VDEV_PRIV(r3d); /* 3D resource (blob_mem 0, rend) */
	uint64_t VDEV_PRIV(host_bytes);   /* bytes of `host` (2D copy, 3D shadow) */
	uint64_t VDEV_PRIV(charge);       /* renderer memory charged to the budget */
	uint64_t VDEV_PRIV(map_offset);
	uint64_t VDEV_PRIV(map_size);
};

/* A context slot. Caller-allocated array; fields private. */
struct vdev_gpu_context {
	uint32_t VDEV_PRIV(id);        /* 0: free slot */
	uint32_t VDEV_PRIV(context_init);
};

struct vdev_gpu_config {
	uint32_t num_scanouts;         /* 1..VDEV_GPU_MAX_SCANOUTS */
	struct vdev_gpu_display displays[VDEV_GPU_MAX_SCANOUTS]; /* initial state of each */
	uint64_t features;             /* 0: VDEV_GPU_SUPPORTED_FEATURES (| VIRGL with
					* a full renderer table); else exactly these,
					* a subset of that */
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
	uint64_t *queue_held;                /* VDEV_GPU_NUM_QUEUES *
					      * VDEV_VQ_HELD_WORDS(queue_size):
					      * buffers each queue holds (virtqueue.h) */
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
	/* --- 3D mode (all 0 / NULL without a renderer) --- */
	/* Held fenced responses (renderer with create_fence: >= 1). While all
	 * are in use the controlq is not popped until a fence retires. */
	struct vdev_gpu_fence *fences;
	unsigned num_fences;
	/* SUBMIT_3D copies the command stream here (`submit_buf_size` bytes,
	 * borrowed for the device's life); NULL: a temporary allocation from
	 * host_mem, within the budget. Larger streams: ERR_OUT_OF_MEMORY. */
	void *submit_buf;
	uint32_t submit_buf_size;
	/* Host visible memory region for RESOURCE_MAP_BLOB: bytes, a multiple
	 * of VDEV_GPU_BLOB_PAGE; 0: none. Needs shm ops and a renderer with
	 * blob_create, blob_map and blob_unmap. */
	uint64_t host_visible_size;
	const struct vdev_gpu_shm_ops *shm;
	void *shm_opaque;
	/* Budget charged per renderer resource: estimated bytes (see
	 * vdev_gpu_init()); 0: the estimate as documented. */
	uint32_t min_resource_charge;
};

/* Counters, for diagnostics (vdev_gpu_get_stats). */
struct vdev_gpu_stats {
	uint64_t commands;      /* commands answered (or executed, cursorq) */
	uint64_t errors;        /* answered with an ERR_* response */
	uint64_t no_response;   /* chains completed with nothing written */
	uint64_t fences;        /* fenced commands processed (answered at once or
				 * held until their fence retires) */
	uint64_t transfers, transfer_bytes, flushes;
	uint64_t resources;     /* live resources now */
	uint64_t host_bytes;    /* bytes allocated through host_mem now */
	uint64_t out_of_memory; /* ERR_OUT_OF_MEMORY answers */
	/* 3D mode */
	uint64_t renderer_bytes; /* budget charged for renderer resources now */
	uint64_t fences_pending; /* fenced responses held now */
	uint64_t fences_stalled; /* times the controlq stopped for lack of a slot */
	uint64_t submits, submit_bytes;
	uint64_t mapped_blobs;   /* blobs mapped in the host visible region now */
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
	struct vdev_gpu_fence *VDEV_PRIV(fences);
	const struct vdev_gpu_shm_ops *VDEV_PRIV(shm_ops);
	void *VDEV_PRIV(shm_opaque);
	uint8_t *VDEV_PRIV(submit_buf);
	struct vdev_gpu_stats VDEV_PRIV(stats);
	struct vdev_shm VDEV_PRIV(shm);
	struct vdev_gpu_capset_info VDEV_PRIV(capsets)[VDEV_GPU_MAX_CAPSETS];
	uint64_t VDEV_PRIV(fence_seq);
	uint64_t VDEV_PRIV(hv_size);
	uint32_t VDEV_PRIV(submit_buf_size);
	uint32_t VDEV_PRIV(min_charge);
	uint32_t VDEV_PRIV(num_capsets);
	unsigned VDEV_PRIV(num_fences);
	unsigned VDEV_PRIV(fences_used);
	bool VDEV_PRIV(virgl);         /* VIRGL offered (full renderer table) */
	bool VDEV_PRIV(busy);          /* inside vdev_gpu_process() */
	bool VDEV_PRIV(deferred);      /* fences answered while busy: publish */
	bool VDEV_PRIV(stalled);       /* controlq stopped: no free fence slot */
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
 * features not a subset of VDEV_GPU_SUPPORTED_FEATURES (VIRGL only with a
 * renderer table that has every op required for it); NULL mem, queues,
 * queue_held, iovs or resources; a renderer with create_fence and no
 * fence slots, or with VIRTIO_F_IN_ORDER in ring_features (held responses
 * complete out of order); host_visible_size not a page multiple, or set without shm ops or
 * the renderer's blob_create/blob_map/blob_unmap; a capset list with an id
 * 0, a duplicate id or a max_size of 0 or above VDEV_GPU_MAX_CAPSET_SIZE.
 * VDEV_ENOTSUP: a renderer in a build without the 3D mode
 * (VDEV_CONFIG_GPU_3D 0, vdev/config.h).
 * Budget charged per renderer resource (estimates: the renderer's memory is
 * not seen): a 3D resource width * height * depth * array_size * 4 bytes
 * (a buffer: width), times max(1, nr_samples), doubled if it has mip
 * levels; a host blob its size; each at least min_resource_charge
 * (0: VDEV_GPU_BLOB_PAGE). Refunded at unref.
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
 * vdev_gpu_fence_retired() - the renderer finished every fenced command of
 * timeline (ctx_id, ring_idx) up to `fence_id` (virgl write_context_fence;
 * for the device-wide timeline, ring_idx VDEV_GPU_FENCE_GLOBAL and ctx_id
 * ignored: virgl write_fence). Every held response of that timeline with a
 * fence_id <= `fence_id` is complete; each complete one is answered once no
 * response of the timeline with a smaller or equal fence_id is still
 * waiting, oldest first (ascending ids: queue order). Published and
 * notified at once; if the controlq was stalled for lack of a fence slot,
 * it is processed again (called from within queue processing, e.g. by a
 * renderer op, the processing does both when it ends). Unknown timelines
 * and stale ids are ignored (after CTX_DESTROY or reset).
 * Returns the number of responses answered (0..num_fences).
 * Context: the device's thread: from a renderer op (poll, create_fence) or
 * directly by the integrator, never concurrently with other vdev_gpu_*
 * calls for this device.
 */
VDEV_API unsigned vdev_gpu_fence_retired(struct vdev_gpu *gpu, uint32_t ctx_id, uint32_t ring_idx,
					 uint64_t fence_id);

/*
 * vdev_gpu_poll() - call the renderer's poll op (which reports retired
 * fences through vdev_gpu_fence_retired()), then process the controlq if
 * it was stalled. The integrator calls it when the renderer's poll fd is
 * readable or on a timer while stats.fences_pending != 0.
 * Context: the device's thread.
 */
VDEV_API void vdev_gpu_poll(struct vdev_gpu *gpu);

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
