/* SPDX-License-Identifier: MIT */
/*
 * vdev-gl3d: the real guest's 3D client (guest_gpu3d). Built on the host
 * against Debian's EGL/GLES/GBM/libdrm headers and linked dynamically; it
 * runs in the guest on Debian's Mesa (virgl driver), so every GL call
 * below becomes virgl commands our vhost-user-gpu daemon hands to
 * virglrenderer.
 *
 *   vdev-gl3d CARD HOLD_TTY
 *
 * On CARD (/dev/dri/card0): EGL on GBM, a GLES 2 context; checks that
 * GL_RENDERER names virgl; draws gpu_gl3d_scene.h's scene into a
 * framebuffer object (colour texture + depth renderbuffer) and compares
 * glReadPixels with the expected image (exact, except within
 * GL3D_MARGIN pixels of an edge); draws it again into a GBM window
 * surface, compares that too, swaps, and scans the front buffer out
 * (drmModeAddFB2 of the GBM bo, drmModeSetCrtc at the connector's
 * preferred mode). Then prints "VDEV-SNAP gl3d" and keeps the frame on
 * screen until a line arrives on HOLD_TTY (the host's word that it has
 * looked; at most 10 minutes).
 *
 * Output: "check NAME PASS" / "check NAME FAIL reason" lines for the
 * scenario script, and "key value" facts.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <gbm.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "gpu_gl3d_scene.h"

static int failures;

static void check(const char *name, int ok, const char *why)
{
	if (ok)
		printf("check %s PASS\n", name);
	else {
		printf("check %s FAIL %s\n", name, why);
		failures++;
	}
	fflush(stdout);
}

static const char vs_src[] = "attribute vec3 a_pos;\n"
			     "attribute vec2 a_uv;\n"
			     "varying vec2 v_uv;\n"
			     "void main() { v_uv = a_uv; gl_Position = vec4(a_pos, 1.0); }\n";
static const char fs_src[] = "precision mediump float;\n"
			     "uniform vec4 u_color;\n"
			     "uniform float u_tex;\n"
			     "uniform sampler2D u_sampler;\n"
			     "varying vec2 v_uv;\n"
			     "void main() { gl_FragColor = mix(u_color, texture2D(u_sampler, v_uv), u_tex); }\n";

static GLuint shader(GLenum type, const char *src)
{
	GLuint s = glCreateShader(type);
	GLint ok = 0;
	glShaderSource(s, 1, &src, NULL);
	glCompileShader(s);
	glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
	if (!ok) {
		char log[512] = "";
		glGetShaderInfoLog(s, sizeof(log), NULL, log);
		printf("shader-log %s\n", log);
	}
	return s;
}

struct scene {
	GLuint prog, tex;
	GLint a_pos, a_uv, u_color, u_tex, u_sampler;
};

static int scene_init(struct scene *sc)
{
	GLint ok = 0;
	uint8_t texels[4 * 4 * 4];

	sc->prog = glCreateProgram();
	glAttachShader(sc->prog, shader(GL_VERTEX_SHADER, vs_src));
	glAttachShader(sc->prog, shader(GL_FRAGMENT_SHADER, fs_src));
	glLinkProgram(sc->prog);
	glGetProgramiv(sc->prog, GL_LINK_STATUS, &ok);
	if (!ok)
		return -1;
	sc->a_pos = glGetAttribLocation(sc->prog, "a_pos");
	sc->a_uv = glGetAttribLocation(sc->prog, "a_uv");
	sc->u_color = glGetUniformLocation(sc->prog, "u_color");
	sc->u_tex = glGetUniformLocation(sc->prog, "u_tex");
	sc->u_sampler = glGetUniformLocation(sc->prog, "u_sampler");

	/* the texture upload: row j = 0 first (the quad's bottom) */
	for (unsigned j = 0; j < 4; j++)
		for (unsigned i = 0; i < 4; i++) {
			uint32_t c = gl3d_texel(i, j);
			uint8_t *t = texels + (j * 4 + i) * 4;
			t[0] = (uint8_t)(c >> 16), t[1] = (uint8_t)(c >> 8), t[2] = (uint8_t)c, t[3] = 0xff;
		}
	glGenTextures(1, &sc->tex);
	glBindTexture(GL_TEXTURE_2D, sc->tex);
	glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
	glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, 4, 4, 0, GL_RGBA, GL_UNSIGNED_BYTE, texels);
	glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
	glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
	glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
	glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
	return glGetError() == GL_NO_ERROR ? 0 : -1;
}

static void rgb_f(uint32_t c, GLfloat f[4])
{
	f[0] = (GLfloat)((c >> 16) & 0xffu) / 255.0f;
	f[1] = (GLfloat)((c >> 8) & 0xffu) / 255.0f;
	f[2] = (GLfloat)(c & 0xffu) / 255.0f;
	f[3] = 1.0f;
}

static void triangle(const struct scene *sc, const double v[3][2], GLfloat z, uint32_t colour)
{
	GLfloat pos[9], uv[6] = {0}, f[4];
	for (int i = 0; i < 3; i++)
		pos[i * 3] = (GLfloat)v[i][0], pos[i * 3 + 1] = (GLfloat)v[i][1], pos[i * 3 + 2] = z;
	rgb_f(colour, f);
	glUniform4fv(sc->u_color, 1, f);
	glUniform1f(sc->u_tex, 0.0f);
	glVertexAttribPointer((GLuint)sc->a_pos, 3, GL_FLOAT, GL_FALSE, 0, pos);
	glVertexAttribPointer((GLuint)sc->a_uv, 2, GL_FLOAT, GL_FALSE, 0, uv);
	glDrawArrays(GL_TRIANGLES, 0, 3);
}

/* Draw the scene into the bound framebuffer (w x h). */
static void scene_draw(const struct scene *sc, GLsizei w, GLsizei h)
{
	GLfloat f[4];
	const GLfloat x0 = (GLfloat)gl3d_quad[0][0], y0 = (GLfloat)gl3d_quad[0][1];
	const GLfloat x1 = (GLfloat)gl3d_quad[1][0], y1 = (GLfloat)gl3d_quad[1][1];
	const GLfloat qpos[] = {x0, y0, 0, x1, y0, 0, x0, y1, 0, x1, y1, 0};
	const GLfloat quv[] = {0, 0, 1, 0, 0, 1, 1, 1};

	glViewport(0, 0, w, h);
	rgb_f(GL3D_CLEAR, f);
	glClearColor(f[0], f[1], f[2], 1.0f);
	glClearDepthf(1.0f);
	glClear(GL_COLOR_BUFFER_BIT | GL_DEPTH_BUFFER_BIT);
	glEnable(GL_DEPTH_TEST);
	glDepthFunc(GL_LESS);
	glUseProgram(sc->prog);
	glActiveTexture(GL_TEXTURE0);
	glBindTexture(GL_TEXTURE_2D, sc->tex);
	glUniform1i(sc->u_sampler, 0);
	glEnableVertexAttribArray((GLuint)sc->a_pos);
	glEnableVertexAttribArray((GLuint)sc->a_uv);
	triangle(sc, gl3d_tri_a, -0.5f, GL3D_RED);  /* near, first */
	triangle(sc, gl3d_tri_b, 0.5f, GL3D_GREEN); /* far, later: hidden where A is */
	glUniform1f(sc->u_tex, 1.0f);
	glVertexAttribPointer((GLuint)sc->a_pos, 3, GL_FLOAT, GL_FALSE, 0, qpos);
	glVertexAttribPointer((GLuint)sc->a_uv, 2, GL_FLOAT, GL_FALSE, 0, quv);
	glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
}

/* Read the bound framebuffer back and compare it with the scene. */
static void scene_compare(const char *name, uint32_t w, uint32_t h)
{
	uint8_t *px = malloc((size_t)w * h * 4u);
	unsigned long n[GL3D_TEXEL + 1] = {0}, bad = 0;
	char why[256] = "";

	if (px == NULL) {
		check(name, 0, "out of memory");
		return;
	}
	glPixelStorei(GL_PACK_ALIGNMENT, 4);
	glReadPixels(0, 0, (GLsizei)w, (GLsizei)h, GL_RGBA, GL_UNSIGNED_BYTE, px);
	GLenum err = glGetError();
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			uint32_t want = 0;
			enum gl3d_kind k = gl3d_expect(x, y, w, h, &want);
			n[k]++;
			if (k == GL3D_EDGE)
				continue;
			/* GL's rows go bottom up */
			const uint8_t *p = px + ((size_t)(h - 1 - y) * w + x) * 4u;
			uint32_t got = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
			if (got != want && bad++ == 0)
				snprintf(why, sizeof(why), "first mismatch at (%u,%u): %06x, expected %06x", x, y,
					 got, want);
		}
	free(px);
	printf("%s %lu-mismatches background %lu red %lu red-over-green %lu green %lu texel %lu "
	       "edge-skipped %lu\n",
	       name, bad, n[GL3D_BACKGROUND], n[GL3D_A_ONLY], n[GL3D_A_OVER_B], n[GL3D_B_ONLY],
	       n[GL3D_TEXEL], n[GL3D_EDGE]);
	if (err != GL_NO_ERROR)
		snprintf(why, sizeof(why), "glReadPixels: GL error 0x%x", err);
	else if (bad != 0) {
		size_t l = strlen(why);
		snprintf(why + l, sizeof(why) - l, " (%lu pixels differ)", bad);
	}
	check(name, err == GL_NO_ERROR && bad == 0, why);
}

int main(int argc, char **argv)
{
	char why[256];

	if (argc != 3) {
		fprintf(stderr, "usage: vdev-gl3d CARD HOLD_TTY\n");
		return 2;
	}
	int fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, sizeof(why), "%s: %s", argv[1], strerror(errno));
		check("open-card", 0, why);
		return 1;
	}
	drmVersionPtr ver = drmGetVersion(fd);
	printf("driver %s\n", ver ? ver->name : "?");
	drmFreeVersion(ver);

	/* the connector, its preferred mode and a CRTC */
	drmModeResPtr res = drmModeGetResources(fd);
	drmModeConnectorPtr conn = NULL;
	for (int i = 0; res && i < res->count_connectors && conn == NULL; i++) {
		conn = drmModeGetConnector(fd, res->connectors[i]);
		if (conn && (conn->connection != DRM_MODE_CONNECTED || conn->count_modes == 0)) {
			drmModeFreeConnector(conn);
			conn = NULL;
		}
	}
	check("connector", conn != NULL && res->count_crtcs > 0, "no connected connector with modes");
	if (conn == NULL || res->count_crtcs == 0)
		return 1;
	drmModeModeInfo mode = conn->modes[0];
	for (int i = 0; i < conn->count_modes; i++)
		if (conn->modes[i].type & DRM_MODE_TYPE_PREFERRED) {
			mode = conn->modes[i];
			break;
		}
	uint32_t w = mode.hdisplay, h = mode.vdisplay, crtc = res->crtcs[0];
	printf("mode %ux%u\n", w, h);

	/* EGL on GBM, GLES 2 */
	struct gbm_device *gbm = gbm_create_device(fd);
	EGLDisplay dpy = gbm ? eglGetPlatformDisplay(EGL_PLATFORM_GBM_KHR, gbm, NULL) : EGL_NO_DISPLAY;
	EGLint major = 0, minor = 0;
	if (dpy == EGL_NO_DISPLAY || !eglInitialize(dpy, &major, &minor)) {
		snprintf(why, sizeof(why), "gbm %p, EGL error 0x%x", (void *)gbm, eglGetError());
		check("egl-init", 0, why);
		return 1;
	}
	printf("egl %d.%d %s\n", major, minor, eglQueryString(dpy, EGL_VENDOR));
	eglBindAPI(EGL_OPENGL_ES_API);
	static const EGLint cfg_attrs[] = {EGL_SURFACE_TYPE, EGL_WINDOW_BIT, EGL_RED_SIZE, 8,
					   EGL_GREEN_SIZE, 8, EGL_BLUE_SIZE, 8, EGL_DEPTH_SIZE, 16,
					   EGL_RENDERABLE_TYPE, EGL_OPENGL_ES2_BIT, EGL_NONE};
	EGLConfig cfgs[64], cfg = NULL;
	EGLint ncfg = 0;
	eglChooseConfig(dpy, cfg_attrs, cfgs, 64, &ncfg);
	for (EGLint i = 0; i < ncfg && cfg == NULL; i++) {
		EGLint id = 0;
		if (eglGetConfigAttrib(dpy, cfgs[i], EGL_NATIVE_VISUAL_ID, &id) && id == GBM_FORMAT_XRGB8888)
			cfg = cfgs[i];
	}
	static const EGLint ctx_attrs[] = {EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE};
	EGLContext ctx = cfg ? eglCreateContext(dpy, cfg, EGL_NO_CONTEXT, ctx_attrs) : EGL_NO_CONTEXT;
	struct gbm_surface *gs =
		gbm_surface_create(gbm, w, h, GBM_FORMAT_XRGB8888, GBM_BO_USE_SCANOUT | GBM_BO_USE_RENDERING);
	EGLSurface surf = ctx != EGL_NO_CONTEXT && gs ? eglCreatePlatformWindowSurface(dpy, cfg, gs, NULL)
						      : EGL_NO_SURFACE;
	if (surf == EGL_NO_SURFACE || !eglMakeCurrent(dpy, surf, surf, ctx)) {
		snprintf(why, sizeof(why), "%d configs, XRGB8888 one %s, context %s, EGL error 0x%x",
			 (int)ncfg, cfg ? "found" : "missing", ctx != EGL_NO_CONTEXT ? "made" : "failed",
			 eglGetError());
		check("egl-context", 0, why);
		return 1;
	}
	check("egl-context", 1, "");

	const char *renderer = (const char *)glGetString(GL_RENDERER);
	printf("gl-renderer %s\n", renderer ? renderer : "?");
	printf("gl-version %s\n", (const char *)glGetString(GL_VERSION));
	snprintf(why, sizeof(why), "GL_RENDERER is '%s'", renderer ? renderer : "");
	check("renderer-is-virgl", renderer && strstr(renderer, "virgl"), why);

	struct scene sc;
	check("scene-setup", scene_init(&sc) == 0, "shader, program or texture failed");

	/* 1: a framebuffer object */
	GLuint fbo, colour, depth;
	glGenTextures(1, &colour);
	glBindTexture(GL_TEXTURE_2D, colour);
	glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, (GLsizei)w, (GLsizei)h, 0, GL_RGBA, GL_UNSIGNED_BYTE,
		     NULL);
	glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
	glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
	glGenRenderbuffers(1, &depth);
	glBindRenderbuffer(GL_RENDERBUFFER, depth);
	glRenderbufferStorage(GL_RENDERBUFFER, GL_DEPTH_COMPONENT16, (GLsizei)w, (GLsizei)h);
	glGenFramebuffers(1, &fbo);
	glBindFramebuffer(GL_FRAMEBUFFER, fbo);
	glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, colour, 0);
	glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_DEPTH_ATTACHMENT, GL_RENDERBUFFER, depth);
	GLenum fbs = glCheckFramebufferStatus(GL_FRAMEBUFFER);
	snprintf(why, sizeof(why), "status 0x%x", fbs);
	check("fbo-complete", fbs == GL_FRAMEBUFFER_COMPLETE, why);
	scene_draw(&sc, (GLsizei)w, (GLsizei)h);
	scene_compare("fbo-readback", w, h);

	/* 2: the window surface, then onto the screen */
	glBindFramebuffer(GL_FRAMEBUFFER, 0);
	scene_draw(&sc, (GLsizei)w, (GLsizei)h);
	scene_compare("surface-readback", w, h);
	glFinish();
	eglSwapBuffers(dpy, surf);
	struct gbm_bo *bo = gbm_surface_lock_front_buffer(gs);
	uint32_t fb = 0;
	int rc = -1;
	if (bo) {
		uint32_t handles[4] = {gbm_bo_get_handle(bo).u32}, pitches[4] = {gbm_bo_get_stride(bo)};
		uint32_t offsets[4] = {0};
		printf("scanout-bo %ux%u pitch %u\n", gbm_bo_get_width(bo), gbm_bo_get_height(bo),
		       pitches[0]);
		rc = drmModeAddFB2(fd, w, h, GBM_FORMAT_XRGB8888, handles, pitches, offsets, &fb, 0);
		if (rc == 0)
			rc = drmModeSetCrtc(fd, crtc, fb, 0, 0, &conn->connector_id, 1, &mode);
	}
	snprintf(why, sizeof(why), "bo %s, %s", bo ? "locked" : "not locked",
		 rc ? strerror(-rc > 0 ? -rc : errno) : "");
	check("kms-scanout", rc == 0, why);

	if (rc == 0) {
		int tty = open(argv[2], O_RDWR | O_NOCTTY);
		if (tty < 0) {
			snprintf(why, sizeof(why), "%s: %s", argv[2], strerror(errno));
			check("hold", 0, why);
		} else {
			printf("VDEV-SNAP gl3d\n");
			fflush(stdout);
			struct pollfd p = {.fd = tty, .events = POLLIN};
			int r;
			do
				r = poll(&p, 1, 600 * 1000);
			while (r < 0 && errno == EINTR);
			char line[64];
			ssize_t got = r > 0 ? read(tty, line, sizeof(line)) : -1;
			check("hold", got > 0, "no word from the host within 10 minutes");
			close(tty);
		}
		drmModeRmFB(fd, fb);
	}
	if (bo)
		gbm_surface_release_buffer(gs, bo);
	eglMakeCurrent(dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
	eglDestroySurface(dpy, surf);
	eglDestroyContext(dpy, ctx);
	eglTerminate(dpy);
	gbm_surface_destroy(gs);
	gbm_device_destroy(gbm);
	drmModeFreeConnector(conn);
	drmModeFreeResources(res);
	close(fd);
	return failures ? 1 : 0;
}
