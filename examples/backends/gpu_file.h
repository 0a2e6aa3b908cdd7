/* SPDX-License-Identifier: MIT */
/*
 * A display sink for the virtio-gpu device model (POSIX) that writes what
 * each scanout shows to an image file: PNG (libpng) or binary PPM (P6,
 * no library; what tests compare byte for byte).
 *
 * The sink keeps its own RGB copy of every enabled scanout, updated on
 * each flushed rectangle (update op). A flush writes the file at most once
 * every `interval_ms`: a flush inside the interval marks the scanout dirty
 * and arms a timer (timerfd) that writes it when the interval is over, so
 * the file always catches up with the last flush. gpu_file_sink_write_all()
 * is the final write at exit. Files are replaced atomically (written as
 * PATH.tmp, then renamed), so a reader never sees half a frame.
 *
 * Scanout 0 goes to PATH itself, scanout N > 0 to PATH with "-N" before
 * its extension (shot.png, shot-1.png ...). A disabled scanout keeps its
 * last file. The cursor is not drawn (QEMU's screendump leaves it out
 * too).
 */
#ifndef VDEV_EXAMPLES_GPU_FILE_H
#define VDEV_EXAMPLES_GPU_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev/gpu.h"

enum gpu_file_format { GPU_FILE_PNG, GPU_FILE_PPM };

struct gpu_file_frame {
	uint32_t width, height;
	uint8_t *rgb;        /* width * height * 3 */
	bool dirty;          /* flushed since the last write */
	uint64_t last_write; /* ms, CLOCK_MONOTONIC */
};

struct gpu_file_sink {
	char path[1024];
	enum gpu_file_format format;
	unsigned interval_ms;
	int timer_fd;         /* readable when a delayed write is due */
	bool timer_armed;
	uint8_t *row;         /* one row in the scanout's format and as RGBA */
	size_t row_cap;
	struct gpu_file_frame frames[VDEV_GPU_MAX_SCANOUTS];
	uint64_t writes, write_errors, updates, read_errors;
	char last_error[256];
};

/* Set up a sink writing `path`. Returns 0, or -1 with a message in err
 * (no PNG support built in, no timerfd). */
int gpu_file_sink_init(struct gpu_file_sink *s, const char *path, enum gpu_file_format format,
		       unsigned interval_ms, char *err, size_t errlen);
void gpu_file_sink_destroy(struct gpu_file_sink *s);

/* The ops table (sink_opaque: the struct gpu_file_sink). */
extern const struct vdev_gpu_sink_ops gpu_file_sink_ops;

/* Call when s->timer_fd is readable: writes the scanouts that are due. */
void gpu_file_sink_on_timer(struct gpu_file_sink *s);
/* Write every dirty scanout now. Returns 0 or -1 (s->last_error). */
int gpu_file_sink_write_all(struct gpu_file_sink *s);

/* Whether PNG output was built in (libpng found at build time). */
bool gpu_file_png_supported(void);

#endif
