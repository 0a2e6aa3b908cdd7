/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-gpu: libvdev's virtio-gpu device model (2D, and 3D with
 * --virgl) as a vhost-user back-end daemon for QEMU's vhost-user-gpu-pci:
 *
 *   vhost-user-gpu --socket-path=/tmp/gpu.sock --png=/tmp/screen.png \
 *       --width=1280 --height=800 --width-mm=300 --height-mm=190
 *   qemu-system-x86_64 ... -object memory-backend-memfd,id=mem,size=1G,share=on \
 *     -machine memory-backend=mem -chardev socket,id=gpu,path=/tmp/gpu.sock \
 *     -device vhost-user-gpu-pci,chardev=gpu
 *
 * The daemon runs both queues and answers every command itself: the
 * display's preferred mode and its EDID (physical size, refresh) are its
 * options. What the guest shows goes to QEMU over the vhost-user-gpu
 * display channel (QEMU's window, VNC, `screendump`) and, with --png or
 * --ppm, to an image file rewritten at most every --interval-ms (and once
 * more at exit). The host memory the guest can make us allocate is
 * bounded by --max-host-mb and --max-resources.
 *
 * 3D (--virgl, built when pkg-config found virglrenderer and egl): the
 * device offers VIRTIO_GPU_F_VIRGL with the virgl and virgl2 capsets and
 * forwards contexts, 3D resources, transfers and SUBMIT_3D to
 * virglrenderer (examples/backends/gpu_virgl.c), headless on EGL's
 * surfaceless platform; --virgl-software forces Mesa's llvmpipe (no GPU
 * needed). Fenced commands are answered when virglrenderer retires their
 * fence: its fence eventfd (VIRGL_RENDERER_THREAD_SYNC) is watched on the
 * daemon's loop, or, if virglrenderer gives none, a 1 ms timerfd runs
 * while fences are outstanding. --max-host-mb also bounds the renderer's
 * resources (charged as the device model estimates them, see
 * vdev_gpu_init()), and --max-resources counts them. A scanout showing a 3D
 * resource is read back after each flush, so the display channel and the
 * image file show 3D output as pixels (no dmabuf scanouts).
 * Not offered yet: the host visible shared memory region (shmid 1), so
 * RESOURCE_MAP_BLOB is refused and the guest's driver sees no
 * host-visible memory (Linux: no mappable host blobs; Mesa's virgl driver
 * then uses guest-backed resources and transfers); host blobs themselves
 * can be created. In QEMU: -device vhost-user-gpu-pci,chardev=gpu (QEMU
 * negotiates VIRGL with the back-end) and a Mesa with virgl in the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "gpu_file.h"
#ifdef VDEV_HAVE_VIRGL
#include "gpu_virgl.h"
#endif
#include "gpu_vugpu.h"
#include "vdev/gpu.h"
#include "vdev/vhost_user.h"
#include "vu_daemon.h"

#define PROG "vhost-user-gpu"

#define IOV_PER_CHAIN 64
#define NUM_CONTEXTS 64
#define NUM_FENCES 64                /* held fenced responses (3D) */
#define SUBMIT_BUF_SIZE (1u << 20)   /* largest SUBMIT_3D stream (3D) */

struct options {
	struct vu_daemon_opts com; /* --socket-path, --fd, --queue-size, ... */
	const char *png, *ppm;
	unsigned width, height, refresh_mhz, width_mm, height_mm;
	unsigned max_host_mb, max_resources, interval_ms;
	bool no_channel, virgl, virgl_software;
};

static struct {
	struct options o;
	struct vdev_mem mem;
	struct vdev_gpu gpu;
	struct vdev_vq queues[VDEV_GPU_NUM_QUEUES];
	uint64_t *queue_held;
	struct vdev_iov iovs[VDEV_GPU_NUM_QUEUES * IOV_PER_CHAIN];
	struct vdev_gpu_resource *resources;
	struct vdev_gpu_context contexts[NUM_CONTEXTS];
	struct gpu_file_sink file;
	bool have_file;
	struct gpu_vugpu_sink chan;
	struct vdev_vhost_user *vu;
	/* 3D */
	struct vdev_gpu_fence fences[NUM_FENCES];
	void *submit_buf;
	int fence_timer;                   /* -1: none (poll fd, or 2D) */
	bool fence_timer_armed;
#ifdef VDEV_HAVE_VIRGL
	struct gpu_virgl virgl;
	struct vdev_gpu_renderer_ops renderer; /* gpu_virgl's, create_fence wrapped */
	bool have_virgl;
#endif
} D = {.fence_timer = -1,
       .o = {.width = 1024, .height = 768, .refresh_mhz = 60000,
	     .max_host_mb = 256, .max_resources = 256, .interval_ms = 200}};

#ifdef VDEV_HAVE_VIRGL
#define VIRGL_NOTE ""
#else
#define VIRGL_NOTE " (not in this build)"
#endif

static const struct vu_daemon_spec SPEC = {
	.prog = PROG,
	.synopsis =
		"usage: vhost-user-gpu (--socket-path=PATH | --fd=N) [options]\n",
	.help =
		"  --png=FILE             write the screen to FILE (PNG) as it changes\n"
		"  --ppm=FILE             the same as binary PPM (P6)\n"
		"  --interval-ms=N        write the file at most every N ms, 0..60000 (default 200)\n"
		"  --width=N --height=N   the display's preferred mode, 1..16384 (default 1024x768)\n"
		"  --refresh=HZ           its refresh rate, e.g. 60 or 59.94 (default 60)\n"
		"  --width-mm=N --height-mm=N  its physical size for the EDID (default: 96 DPI)\n"
		"  --max-host-mb=N        host memory the guest may make us allocate, 3D resources\n"
		"                         included (default 256)\n"
		"  --max-resources=N      most resources at once, 1..65536 (default 256)\n"
		"  --no-display-channel   ignore the front-end's display channel (files only)\n"
		"  --virgl                3D: VIRGL with virglrenderer (EGL, headless)" VIRGL_NOTE "\n"
		"  --virgl-software       3D on Mesa's llvmpipe (no GPU needed)\n",
	.type = "gpu",
#ifdef VDEV_HAVE_VIRGL
	.features = "[\"virgl\"]",
#endif
	.queue_size = 256,
};

static int parse_refresh(const char *s, unsigned *mhz)
{
	char *end;
	double hz;

	errno = 0;
	hz = strtod(s, &end);
	if (errno || *end || *s == '\0' || !(hz >= 1.0 && hz <= 1000.0)) {
		fprintf(stderr, "vhost-user-gpu: --refresh=%s: expected 1..1000 Hz\n", s);
		return -1;
	}
	*mhz = (unsigned)(hz * 1000.0 + 0.5);
	return 0;
}

/* An option's number, lo..hi (vu_daemon_u32 says what is wrong). */
static int num(const char *opt, const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	return vu_daemon_u32(PROG, opt, s, lo, hi, out);
}

static int parse(int argc, char **argv, struct options *o)
{
	enum { O_PNG = 1, O_PPM, O_INTERVAL, O_W, O_H, O_REFRESH, O_WMM, O_HMM, O_MAXMB,
	       O_MAXRES, O_NOCHAN, O_VIRGL, O_VIRGL_SW };
	static const struct option own[] = {
		{"png", required_argument, NULL, O_PNG},
		{"ppm", required_argument, NULL, O_PPM},
		{"interval-ms", required_argument, NULL, O_INTERVAL},
		{"width", required_argument, NULL, O_W},
		{"height", required_argument, NULL, O_H},
		{"refresh", required_argument, NULL, O_REFRESH},
		{"width-mm", required_argument, NULL, O_WMM},
		{"height-mm", required_argument, NULL, O_HMM},
		{"max-host-mb", required_argument, NULL, O_MAXMB},
		{"max-resources", required_argument, NULL, O_MAXRES},
		{"no-display-channel", no_argument, NULL, O_NOCHAN},
		{"virgl", no_argument, NULL, O_VIRGL},
		{"virgl-software", no_argument, NULL, O_VIRGL_SW},
		{NULL, 0, NULL, 0},
	};
	int c, rc = 0;

	while ((c = vu_daemon_getopt(&SPEC, &o->com, argc, argv, own)) > 0) {
		switch (c) {
		case O_PNG: o->png = optarg; break;
		case O_PPM: o->ppm = optarg; break;
		case O_INTERVAL: rc = num("interval-ms", optarg, 0, 60000, &o->interval_ms); break;
		case O_W: rc = num("width", optarg, 1, 16384, &o->width); break;
		case O_H: rc = num("height", optarg, 1, 16384, &o->height); break;
		case O_REFRESH: rc = parse_refresh(optarg, &o->refresh_mhz); break;
		case O_WMM: rc = num("width-mm", optarg, 0, 4095, &o->width_mm); break;
		case O_HMM: rc = num("height-mm", optarg, 0, 4095, &o->height_mm); break;
		case O_MAXMB: rc = num("max-host-mb", optarg, 1, 1u << 20, &o->max_host_mb); break;
		case O_MAXRES: rc = num("max-resources", optarg, 1, 65536, &o->max_resources); break;
		case O_NOCHAN: o->no_channel = true; break;
		case O_VIRGL: o->virgl = true; break;
		case O_VIRGL_SW: o->virgl = o->virgl_software = true; break;
		}
		if (rc != 0)
			return -1;
	}
	if (c < 0)
		return -1;
	if (o->png != NULL && o->ppm != NULL) {
		fprintf(stderr, "vhost-user-gpu: give at most one of --png and --ppm\n");
		return -1;
	}
#ifndef VDEV_HAVE_VIRGL
	if (o->virgl) {
		fprintf(stderr, "vhost-user-gpu: --virgl: this build has no 3D renderer "
				"(virglrenderer or EGL was not found by pkg-config at build time; "
				"Debian: libvirglrenderer-dev libegl-dev)\n");
		return -1;
	}
#endif
	if ((o->width_mm == 0) != (o->height_mm == 0)) {
		fprintf(stderr, "vhost-user-gpu: give both --width-mm and --height-mm, or neither\n");
		return -1;
	}
	return 0;
}

/* ---- the display: both sinks behind one ops table ---- */

static void t_scanout(void *opaque, uint32_t n, const struct vdev_gpu_scanout *s)
{
	(void)opaque;
	if (D.have_file)
		gpu_file_sink_ops.scanout(&D.file, n, s);
	gpu_vugpu_sink_ops.scanout(&D.chan, n, s);
}

static void t_update(void *opaque, uint32_t n, const struct vdev_gpu_scanout *s,
		     const struct vdev_gpu_rect *r)
{
	(void)opaque;
	if (D.have_file)
		gpu_file_sink_ops.update(&D.file, n, s, r);
	gpu_vugpu_sink_ops.update(&D.chan, n, s, r);
}

static void t_cursor(void *opaque, const struct vdev_gpu_cursor *c)
{
	(void)opaque;
	gpu_vugpu_sink_ops.cursor(&D.chan, c);
}

static void t_cursor_move(void *opaque, const struct vdev_gpu_cursor *c)
{
	(void)opaque;
	gpu_vugpu_sink_ops.cursor_move(&D.chan, c);
}

static const struct vdev_gpu_sink_ops tee_ops = {
	.size = sizeof(struct vdev_gpu_sink_ops),
	.scanout = t_scanout,
	.update = t_update,
	.cursor = t_cursor,
	.cursor_move = t_cursor_move,
};

static void *hm_alloc(void *opaque, size_t bytes)
{
	(void)opaque;
	return malloc(bytes);
}

static void hm_free(void *opaque, void *p, size_t bytes)
{
	(void)opaque, (void)bytes;
	free(p);
}

static const struct vdev_gpu_host_mem_ops hm_ops = {
	.size = sizeof(struct vdev_gpu_host_mem_ops),
	.alloc = hm_alloc,
	.free = hm_free,
};

/* ---- the front-end: the display channel comes as a device request ---- */

static int on_device_request(void *opaque, uint32_t req, const void *payload, uint32_t size,
			     int *fds, unsigned nfds)
{
	(void)opaque, (void)payload, (void)size;
	if (req != GPU_VUGPU_SET_SOCKET_REQUEST || nfds != 1)
		return VDEV_ENOTSUP;
	if (D.o.no_channel)
		return 0; /* the adapter closes the fd */
	gpu_vugpu_sink_set_socket(&D.chan, fds[0]);
	fds[0] = -1;
	return 0;
}

static void on_disconnected(void *opaque)
{
	(void)opaque;
	gpu_vugpu_sink_close(&D.chan);
}

static void on_timer(void *opaque, int fd)
{
	(void)opaque, (void)fd;
	gpu_file_sink_on_timer(&D.file);
}

static void on_log(void *opaque, const char *msg)
{
	(void)opaque;
	fprintf(stderr, "vhost-user-gpu: %s\n", msg);
}

/* ---- 3D: fences retire when virglrenderer's fd fires, or on a timer ---- */

static void fence_timer_arm(bool on)
{
	struct itimerspec its = {{0, 0}, {0, 0}};

	if (D.fence_timer < 0 || D.fence_timer_armed == on)
		return;
	if (on)
		its.it_interval.tv_nsec = its.it_value.tv_nsec = 1000000; /* 1 ms */
	if (timerfd_settime(D.fence_timer, 0, &its, NULL) == 0)
		D.fence_timer_armed = on;
}

/* The renderer's poll fd is readable, or the fence timer fired. */
static void on_renderer_poll(void *opaque, int fd)
{
	struct vdev_gpu_stats st;
	uint64_t ticks;

	(void)opaque;
	if (fd == D.fence_timer && read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		fprintf(stderr, "vhost-user-gpu: fence timer: %s\n", strerror(errno));
	vdev_gpu_poll(&D.gpu); /* virglrenderer reads its own eventfd */
	vdev_gpu_get_stats(&D.gpu, &st);
	if (st.fences_pending == 0)
		fence_timer_arm(false);
}

#ifdef VDEV_HAVE_VIRGL
/* create_fence as gpu_virgl's, and the timer runs while fences wait. */
static int wrap_create_fence(void *opaque, uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id)
{
	int rc = gpu_virgl_renderer_ops.create_fence(opaque, ctx_id, ring_idx, fence_id);
	if (rc == 0)
		fence_timer_arm(true);
	return rc;
}

/* Set up virglrenderer and the device's 3D part of `c`. Returns 0 or -1
 * (message printed). */
static int setup_virgl(struct vdev_gpu_config *c)
{
	char eb[512];
	struct gpu_virgl_config vc = {
		.software = D.o.virgl_software,
		.thread_sync = true,
		.log = on_log,
	};

	if (gpu_virgl_init(&D.virgl, &vc, eb, sizeof(eb)) != 0) {
		fprintf(stderr, "vhost-user-gpu: --virgl: %s\n", eb);
		return -1;
	}
	D.have_virgl = true;
	D.submit_buf = malloc(SUBMIT_BUF_SIZE);
	if (D.submit_buf == NULL) {
		fprintf(stderr, "vhost-user-gpu: out of memory\n");
		return -1;
	}
	D.renderer = gpu_virgl_renderer_ops;
	if (gpu_virgl_poll_fd(&D.virgl) < 0) {
		D.fence_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (D.fence_timer < 0) {
			fprintf(stderr, "vhost-user-gpu: timerfd: %s\n", strerror(errno));
			return -1;
		}
		D.renderer.create_fence = wrap_create_fence;
	}
	c->renderer = &D.renderer;
	c->renderer_opaque = &D.virgl;
	c->fences = D.fences;
	c->num_fences = NUM_FENCES;
	c->submit_buf = D.submit_buf;
	c->submit_buf_size = SUBMIT_BUF_SIZE;
	/* No host visible region (host_visible_size 0): see the top comment. */
	return 0;
}
#endif

int main(int argc, char **argv)
{
	char eb[256];
	int err;

	if (parse(argc, argv, &D.o) != 0)
		return 2;
	D.resources = calloc(D.o.max_resources, sizeof(*D.resources));
	D.queue_held = calloc((size_t)VDEV_GPU_NUM_QUEUES * VDEV_VQ_HELD_WORDS(D.o.com.queue_size),
			      sizeof(*D.queue_held));
	if (D.resources == NULL || D.queue_held == NULL) {
		fprintf(stderr, "vhost-user-gpu: out of memory\n");
		return 1;
	}
	if (D.o.png != NULL || D.o.ppm != NULL) {
		if (gpu_file_sink_init(&D.file, D.o.png ? D.o.png : D.o.ppm,
				       D.o.png ? GPU_FILE_PNG : GPU_FILE_PPM, D.o.interval_ms, eb,
				       sizeof(eb)) != 0) {
			fprintf(stderr, "vhost-user-gpu: %s\n", eb);
			return 1;
		}
		D.have_file = true;
	}
	vdev_mem_init(&D.mem, NULL, 0);
	struct vdev_gpu_config c = {
		.num_scanouts = 1,
		.queue_size = D.o.com.queue_size,
		.max_host_bytes = (uint64_t)D.o.max_host_mb << 20,
		.mem = &D.mem,
		.queues = D.queues,
		.queue_held = D.queue_held,
		.iovs = D.iovs,
		.iov_per_chain = IOV_PER_CHAIN,
		.resources = D.resources,
		.num_resources = D.o.max_resources,
		.contexts = D.contexts,
		.num_contexts = NUM_CONTEXTS,
		.host_mem = &hm_ops,
		.sink = &tee_ops,
	};
	c.displays[0] = (struct vdev_gpu_display){
		.enabled = true,
		.width = D.o.width,
		.height = D.o.height,
		.refresh_millihz = D.o.refresh_mhz,
		.width_mm = D.o.width_mm,
		.height_mm = D.o.height_mm,
	};
	if (getrandom(c.uuid_base, sizeof(c.uuid_base), 0) != (ssize_t)sizeof(c.uuid_base))
		memset(c.uuid_base, 0x5a, sizeof(c.uuid_base));
#ifdef VDEV_HAVE_VIRGL
	if (D.o.virgl && setup_virgl(&c) != 0)
		return 1;
#endif
	if ((err = vdev_gpu_init(&D.gpu, &c)) != 0) {
		fprintf(stderr, "vhost-user-gpu: cannot set up the device: %s\n", vdev_strerror(err));
		return 1;
	}
#ifdef VDEV_HAVE_VIRGL
	if (D.have_virgl)
		gpu_virgl_set_device(&D.virgl, &D.gpu);
#endif
	gpu_vugpu_sink_init(&D.chan, &D.gpu, c.num_scanouts);
	D.chan.log = on_log;
	struct vdev_vhost_user_config vc = {
		.socket_path = D.o.com.socket_path,
		.listen_fd = D.o.com.fd,
		.dev = vdev_gpu_dev(&D.gpu),
		.mem = &D.mem,
		.disconnected = on_disconnected,
		.log = on_log,
		.device_request = on_device_request,
	};
	D.vu = vdev_vhost_user_create(&vc, &err, eb, sizeof(eb));
	if (D.vu == NULL) {
		fprintf(stderr, "vhost-user-gpu: %s\n", eb);
		return 1;
	}
	/* Delayed file writes fire on the (single) loop. */
	if (D.have_file && vdev_vhost_user_add_fd(D.vu, 0, D.file.timer_fd, on_timer, NULL) != 0) {
		fprintf(stderr, "vhost-user-gpu: cannot watch the file sink's timer\n");
		return 1;
	}
	/* 3D: fences are reported on the same loop as the queues. */
	int poll_fd = D.fence_timer;
#ifdef VDEV_HAVE_VIRGL
	if (D.have_virgl && poll_fd < 0)
		poll_fd = gpu_virgl_poll_fd(&D.virgl);
#endif
	if (poll_fd >= 0 && vdev_vhost_user_add_fd(D.vu, 0, poll_fd, on_renderer_poll, NULL) != 0) {
		fprintf(stderr, "vhost-user-gpu: cannot watch the renderer's fences\n");
		return 1;
	}
	vu_daemon_catch_signals(D.vu);
	if (!D.o.com.quiet && D.o.virgl)
		fprintf(stderr, "vhost-user-gpu: 3D: virglrenderer (%s%s), fences by %s\n",
			D.o.virgl_software ? "llvmpipe" : "EGL surfaceless",
			D.o.virgl_software ? "" : ", GPU if there is one",
			D.fence_timer >= 0 ? "a 1 ms timer" : "its eventfd");
	if (!D.o.com.quiet)
		fprintf(stderr,
			"vhost-user-gpu: display %ux%u@%u.%03u Hz, %s, budget %u MiB / %u resources%s%s, "
			"serving %s\n", D.o.width, D.o.height, D.o.refresh_mhz / 1000,
			D.o.refresh_mhz % 1000,
			D.o.width_mm ? "physical size from the options" : "96 DPI", D.o.max_host_mb,
			D.o.max_resources, D.have_file ? ", writing " : "",
			D.have_file ? D.file.path : "", vu_daemon_where(&D.o.com));
	err = vdev_vhost_user_run(D.vu);
	if (D.have_file && gpu_file_sink_write_all(&D.file) != 0)
		fprintf(stderr, "vhost-user-gpu: %s\n", D.file.last_error);
	if (D.o.com.stats) {
		struct vdev_gpu_stats st;
		struct vdev_vhost_user_stats vs;
		vdev_gpu_get_stats(&D.gpu, &st);
		vdev_vhost_user_get_stats(D.vu, &vs);
		fprintf(stderr,
			"vhost-user-gpu: %llu commands (%llu errors, %llu out of memory), %llu "
			"transfers (%llu KiB), %llu flushes; display channel: %llu channels, %llu "
			"scanouts, %llu updates (%llu KiB), %llu cursor messages, %llu failures; "
			"file: %llu updates, %llu writes, %llu errors; %llu sessions, %llu kicks, "
			"%llu interrupts\n",
			(unsigned long long)st.commands, (unsigned long long)st.errors,
			(unsigned long long)st.out_of_memory, (unsigned long long)st.transfers,
			(unsigned long long)(st.transfer_bytes >> 10), (unsigned long long)st.flushes,
			(unsigned long long)D.chan.channels, (unsigned long long)D.chan.scanouts,
			(unsigned long long)D.chan.updates,
			(unsigned long long)(D.chan.update_bytes >> 10),
			(unsigned long long)D.chan.cursors, (unsigned long long)D.chan.failures,
			(unsigned long long)D.file.updates, (unsigned long long)D.file.writes,
			(unsigned long long)(D.file.write_errors + D.file.read_errors),
			(unsigned long long)vs.sessions, (unsigned long long)vs.kicks,
			(unsigned long long)vs.calls);
		if (D.o.virgl)
			fprintf(stderr,
				"vhost-user-gpu: 3D: %llu submits (%llu KiB), %llu fenced commands, "
				"%llu fence stalls, %llu KiB of renderer resources now\n",
				(unsigned long long)st.submits,
				(unsigned long long)(st.submit_bytes >> 10),
				(unsigned long long)st.fences, (unsigned long long)st.fences_stalled,
				(unsigned long long)(st.renderer_bytes >> 10));
	}
	vu_daemon_release_signals();
	struct vdev_vhost_user *vu = D.vu;
	D.vu = NULL;
	vdev_vhost_user_destroy(vu);
	gpu_vugpu_sink_destroy(&D.chan);
#ifdef VDEV_HAVE_VIRGL
	if (D.have_virgl)
		gpu_virgl_set_device(&D.virgl, NULL);
#endif
	vdev_gpu_fini(&D.gpu);
#ifdef VDEV_HAVE_VIRGL
	if (D.have_virgl)
		gpu_virgl_fini(&D.virgl);
#endif
	if (D.fence_timer >= 0)
		close(D.fence_timer);
	free(D.submit_buf);
	if (D.have_file)
		gpu_file_sink_destroy(&D.file);
	free(D.resources);
	free(D.queue_held);
	return err == 0 ? 0 : 1;
}
