/* SPDX-License-Identifier: MIT */
/*
 * vdev-drm: the real guest's GPU probe (static, runs in the test
 * initramfs), using the kernel's DRM and virtio-gpu ioctls directly.
 *
 *   vdev-drm info         driver, connector state, physical size and
 *                         modes as the kernel parsed them from our EDID
 *   vdev-drm edid FILE    decode an EDID block (checksum, preferred
 *                         detailed timing, image size, monitor name)
 *   vdev-drm pattern [HOLD_SECONDS | HOLD_UNTIL_PATH]
 *                         draw gpu_pattern.h's pattern in a buffer whose
 *                         pitch is width * 4 + 64 and scan it out at the
 *                         connector's preferred mode: a guest blob
 *                         (RESOURCE_CREATE_BLOB, VIRTGPU_BLOB_MEM_GUEST,
 *                         so the kernel sends SET_SCANOUT_BLOB with the
 *                         stride) when the device offers RESOURCE_BLOB,
 *                         else a dumb buffer (RESOURCE_CREATE_2D of the
 *                         pitch's width, TRANSFER_TO_HOST_2D, SET_SCANOUT
 *                         of the mode's rectangle); then prints
 *                         "VDEV-SNAP pattern" and keeps it on screen
 *                         for HOLD_SECONDS, or until the file
 *                         HOLD_UNTIL_PATH exists (the host's word that it
 *                         has looked; at most 10 minutes)
 *
 * Output lines are "key value" pairs for the scenario scripts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/drm_mode.h>
#include <drm/virtgpu_drm.h>

#include "gpu_pattern.h"

#define XRGB8888 0x34325258u /* DRM_FORMAT_XRGB8888: 'X' 'R' '2' '4' */

static int die(const char *what)
{
	printf("error %s: %s\n", what, strerror(errno));
	return 1;
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;
	do {
		r = ioctl(fd, req, arg);
	} while (r < 0 && (errno == EINTR || errno == EAGAIN));
	return r;
}

struct output {
	uint32_t connector, crtc, mm_w, mm_h, nmodes, status;
	char name[32];
	struct drm_mode_modeinfo modes[32];
};

static const char *const conn_types[] = {"Unknown", "VGA", "DVI-I", "DVI-D", "DVI-A",
	"Composite", "SVIDEO", "LVDS", "Component", "DIN", "DP", "HDMI-A", "HDMI-B", "TV",
	"eDP", "Virtual", "DSI", "DPI", "Writeback", "SPI", "USB"};

static int find_output(int fd, struct output *o)
{
	struct drm_mode_card_res res = {0};
	uint32_t conns[8], crtcs[8], encs[8];

	if (xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res) != 0)
		return die("GETRESOURCES");
	if (res.count_connectors == 0 || res.count_crtcs == 0)
		return printf("error no connector or crtc\n"), 1;
	res.count_connectors = res.count_connectors > 8 ? 8 : res.count_connectors;
	res.count_crtcs = res.count_crtcs > 8 ? 8 : res.count_crtcs;
	res.count_encoders = res.count_encoders > 8 ? 8 : res.count_encoders;
	res.count_fbs = 0;
	res.connector_id_ptr = (uintptr_t)conns;
	res.crtc_id_ptr = (uintptr_t)crtcs;
	res.encoder_id_ptr = (uintptr_t)encs;
	if (xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res) != 0)
		return die("GETRESOURCES");
	struct drm_mode_get_connector c = {.connector_id = conns[0]};
	if (xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &c) != 0)
		return die("GETCONNECTOR");
	uint32_t want = c.count_modes > 32 ? 32 : c.count_modes;
	struct drm_mode_get_connector c2 = {.connector_id = conns[0], .count_modes = want,
					    .modes_ptr = (uintptr_t)o->modes};
	if (xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &c2) != 0)
		return die("GETCONNECTOR");
	o->connector = conns[0];
	o->crtc = crtcs[0];
	o->mm_w = c2.mm_width;
	o->mm_h = c2.mm_height;
	o->nmodes = c2.count_modes < want ? c2.count_modes : want;
	o->status = c2.connection;
	snprintf(o->name, sizeof(o->name), "%s-%u",
		 c2.connector_type < sizeof(conn_types) / sizeof(conn_types[0])
			 ? conn_types[c2.connector_type] : "Unknown",
		 c2.connector_type_id);
	return 0;
}

/* The preferred mode (the first one if none is flagged). */
static const struct drm_mode_modeinfo *preferred(const struct output *o)
{
	for (uint32_t i = 0; i < o->nmodes; i++)
		if (o->modes[i].type & DRM_MODE_TYPE_PREFERRED)
			return &o->modes[i];
	return o->nmodes ? &o->modes[0] : NULL;
}

static int get_param(int fd, uint64_t param, uint64_t *v)
{
	int val = 0;
	struct drm_virtgpu_getparam gp = {.param = param, .value = (uintptr_t)&val};
	if (xioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) != 0)
		return -1;
	*v = (uint64_t)val;
	return 0;
}

static int cmd_info(int fd)
{
	char name[64] = {0};
	struct drm_version v = {.name_len = sizeof(name) - 1, .name = name};
	struct output o;
	uint64_t blob = 0;

	if (xioctl(fd, DRM_IOCTL_VERSION, &v) != 0)
		return die("VERSION");
	printf("driver %s\n", name);
	if (find_output(fd, &o) != 0)
		return 1;
	printf("connector %s\n", o.name);
	printf("status %s\n", o.status == 1 ? "connected" : o.status == 2 ? "disconnected" : "unknown");
	printf("mm %ux%u\n", o.mm_w, o.mm_h);
	printf("modes %u\n", o.nmodes);
	const struct drm_mode_modeinfo *m = preferred(&o);
	if (m != NULL)
		printf("preferred %ux%u@%u\n", m->hdisplay, m->vdisplay, m->vrefresh);
	printf("blob %d\n", get_param(fd, VIRTGPU_PARAM_RESOURCE_BLOB, &blob) == 0 ? (int)blob : -1);
	return 0;
}

static int cmd_edid(const char *path)
{
	uint8_t e[256];
	FILE *f = fopen(path, "rb");
	size_t n;
	uint8_t sum = 0;

	if (f == NULL)
		return die(path);
	n = fread(e, 1, sizeof(e), f);
	fclose(f);
	printf("edid-bytes %zu\n", n);
	if (n < 128)
		return printf("error EDID shorter than 128 bytes\n"), 1;
	static const uint8_t magic[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
	printf("edid-header %s\n", memcmp(e, magic, 8) == 0 ? "ok" : "bad");
	for (int i = 0; i < 128; i++)
		sum = (uint8_t)(sum + e[i]);
	printf("edid-checksum %s\n", sum == 0 ? "ok" : "bad");
	printf("edid-version %u.%u\n", e[18], e[19]);
	printf("edid-size-cm %ux%u\n", e[21], e[22]);
	/* the first detailed timing descriptor (bytes 54..71) */
	const uint8_t *d = e + 54;
	unsigned clk = (unsigned)(d[0] | d[1] << 8); /* 10 kHz units */
	if (clk == 0)
		return printf("error no detailed timing\n"), 1;
	unsigned ha = d[2] | (d[4] & 0xf0u) << 4, hb = d[3] | (d[4] & 0x0fu) << 8;
	unsigned va = d[5] | (d[7] & 0xf0u) << 4, vb = d[6] | (d[7] & 0x0fu) << 8;
	unsigned wmm = d[12] | (d[14] & 0xf0u) << 4, hmm = d[13] | (d[14] & 0x0fu) << 8;
	double hz = (double)clk * 10000.0 / ((double)(ha + hb) * (double)(va + vb));
	printf("edid-mode %ux%u\n", ha, va);
	printf("edid-refresh %u\n", (unsigned)(hz + 0.5));
	printf("edid-mm %ux%u\n", wmm, hmm);
	for (int i = 0; i < 4; i++) {
		const uint8_t *x = e + 54 + 18 * i;
		if (x[0] == 0 && x[1] == 0 && x[3] == 0xfc) {
			char nm[14] = {0};
			memcpy(nm, x + 5, 13);
			for (int k = 0; k < 13; k++)
				if (nm[k] == '\n' || nm[k] == ' ')
					nm[k] = 0;
			printf("edid-name %s\n", nm);
		}
	}
	return 0;
}

static void draw(uint8_t *p, uint32_t w, uint32_t h, uint32_t pitch)
{
	for (uint32_t y = 0; y < h; y++) {
		uint32_t *row = (uint32_t *)(void *)(p + (size_t)y * pitch);
		for (uint32_t x = 0; x < w; x++)
			row[x] = gpu_pattern_rgb(x, y); /* XRGB8888, X = 0 */
		/* the padding past the visible width: a colour the check would catch */
		memset(p + (size_t)y * pitch + (size_t)w * 4u, 0xee, pitch - w * 4u);
	}
}

static int cmd_pattern(int fd, unsigned hold, const char *until)
{
	struct output o;
	uint64_t blob = 0;
	uint32_t handle, fb_id;
	uint64_t map_offset;
	size_t size;

	if (find_output(fd, &o) != 0)
		return 1;
	const struct drm_mode_modeinfo *m = preferred(&o);
	if (m == NULL)
		return printf("error no mode\n"), 1;
	uint32_t w = m->hdisplay, h = m->vdisplay, pitch = w * 4u + 64u;
	size = (size_t)pitch * h;
	if (get_param(fd, VIRTGPU_PARAM_RESOURCE_BLOB, &blob) != 0)
		blob = 0;
	if (blob) {
		struct drm_virtgpu_resource_create_blob cb = {
			.blob_mem = VIRTGPU_BLOB_MEM_GUEST,
			.blob_flags = VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
			.size = (size + 4095u) & ~(size_t)4095u,
		};
		if (xioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &cb) != 0)
			return die("RESOURCE_CREATE_BLOB");
		struct drm_virtgpu_map mp = {.handle = cb.bo_handle};
		if (xioctl(fd, DRM_IOCTL_VIRTGPU_MAP, &mp) != 0)
			return die("VIRTGPU_MAP");
		handle = cb.bo_handle;
		map_offset = mp.offset;
		size = cb.size;
		printf("path blob\n");
	} else {
		/* a dumb buffer as wide as the pitch: its host resource has that stride */
		struct drm_mode_create_dumb cd = {.width = pitch / 4u, .height = h, .bpp = 32};
		if (xioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &cd) != 0)
			return die("CREATE_DUMB");
		if (cd.pitch != pitch)
			return printf("error dumb pitch %u, wanted %u\n", cd.pitch, pitch), 1;
		struct drm_mode_map_dumb md = {.handle = cd.handle};
		if (xioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &md) != 0)
			return die("MAP_DUMB");
		handle = cd.handle;
		map_offset = md.offset;
		size = cd.size;
		printf("path dumb\n");
	}
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)map_offset);
	if (p == MAP_FAILED)
		return die("mmap");
	draw(p, w, h, pitch);
	struct drm_mode_fb_cmd2 fb = {.width = w, .height = h, .pixel_format = XRGB8888};
	fb.handles[0] = handle;
	fb.pitches[0] = pitch;
	if (xioctl(fd, DRM_IOCTL_MODE_ADDFB2, &fb) != 0)
		return die("ADDFB2");
	fb_id = fb.fb_id;
	struct drm_mode_crtc crtc = {
		.crtc_id = o.crtc,
		.fb_id = fb_id,
		.set_connectors_ptr = (uintptr_t)&o.connector,
		.count_connectors = 1,
		.mode = *m,
		.mode_valid = 1,
	};
	if (xioctl(fd, DRM_IOCTL_MODE_SETCRTC, &crtc) != 0)
		return die("SETCRTC");
	/* a full-frame flush as well (RESOURCE_FLUSH of the whole buffer) */
	struct drm_mode_fb_dirty_cmd dirty = {.fb_id = fb_id};
	(void)xioctl(fd, DRM_IOCTL_MODE_DIRTYFB, &dirty);
	printf("pattern %ux%u pitch %u\n", w, h, pitch);
	printf("VDEV-SNAP pattern\n");
	fflush(stdout);
	if (until == NULL)
		sleep(hold);
	for (unsigned i = 0; until != NULL && access(until, F_OK) != 0 && i < 12000; i++)
		usleep(50000);
	munmap(p, size);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "edid") == 0)
		return cmd_edid(argv[2]);
	if (argc < 2 || (strcmp(argv[1], "info") != 0 && strcmp(argv[1], "pattern") != 0)) {
		fprintf(stderr, "usage: vdev-drm info | edid FILE | pattern [HOLD_SECONDS | HOLD_UNTIL_PATH]\n");
		return 2;
	}
	int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return die("/dev/dri/card0");
	int rc = strcmp(argv[1], "info") == 0
			 ? cmd_info(fd)
			 : argc >= 3 && (argv[2][0] < '0' || argv[2][0] > '9')
				   ? cmd_pattern(fd, 0, argv[2])
				   : cmd_pattern(fd, argc >= 3 ? (unsigned)atoi(argv[2]) : 4u, NULL);
	close(fd);
	return rc;
}
