/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-blk: libvdev's virtio-blk device model as a vhost-user
 * back-end daemon, for QEMU and other front-ends:
 *
 *   vhost-user-blk --socket-path=/tmp/blk.sock --blk-file=disk.img
 *   qemu-system-x86_64 ... -object memory-backend-memfd,id=mem,size=1G,share=on \
 *     -numa node,memdev=mem -chardev socket,id=c0,path=/tmp/blk.sock \
 *     -device vhost-user-blk-pci,chardev=c0
 *
 * Follows the vhost-user back-end program conventions (--socket-path,
 * --fd, --print-capabilities, --blk-file, --read-only, ends on SIGTERM).
 * Offers INFLIGHT_SHMFD: started again after a crash (SIGKILL, an
 * upgrade) on the same socket, it completes the requests the old one had
 * in flight when QEMU reconnects (-chardev socket,...,reconnect-ms=N);
 * split rings only.
 * SIGUSR1: the image was resized; the device takes its new size and
 * tells the driver (a configuration change).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_file.h"
#include "pcidev.h"
#include "vdev/blk.h"
#include "vdev/vhost_user.h"
#include "vu_daemon.h"

#define PROG "vhost-user-blk"
#ifdef VDEV_HAVE_LIBURING
#include "blk_uring.h"
#endif

#define MAX_QUEUES 64

struct options {
	struct vu_daemon_opts com; /* --socket-path, --fd, --queue-size, ... */
	const char *blk_file, *serial, *backend;
	unsigned long long null_size;
	bool read_only, writeback, thread_per_queue;
	unsigned num_queues, seg_max, num_reqs;
	unsigned discard_max_sectors, discard_max_seg, discard_alignment;
	unsigned wz_max_sectors, wz_max_seg;
};

struct daemon {
	struct options o;
	struct vdev_mem mem;
	struct vdev_blk blk;
	struct vdev_vq *queues;
	uint64_t *queue_held;
	struct vdev_blk_req *reqs;
	struct vdev_iov *iovs;
	struct vdev_blk_range *ranges;
	struct file_blk file;
#ifdef VDEV_HAVE_LIBURING
	struct uring_blk *rings; /* one per queue */
	struct vdev_blk_backend_ops dispatch;
#endif
	struct pcidev bus; /* --pcidev */
	int resize_fd;     /* SIGUSR1 */
	struct vdev_vhost_user *vu;
};

static struct daemon D;

#define STR_(x) #x
#define STR(x) STR_(x)

static const struct vu_daemon_spec SPEC = {
	.prog = PROG,
	.synopsis =
		"usage: vhost-user-blk (--socket-path=PATH | --fd=N) --blk-file=PATH [options]\n",
	.help =
		"  --blk-file=PATH           disk image or block device\n"
		"  --read-only               offer a read-only disk\n"
		"  --backend=uring|file|null I/O engine (default: uring if built in); null\n"
		"                            completes every request at once without I/O\n"
		"                            (benchmarks; needs --size instead of --blk-file)\n"
		"  --size=BYTES              disk size for --backend=null\n"
		"  --num-queues=N            request queues, 1.." STR(MAX_QUEUES) " (default 1)\n"
		"  --seg-max=N               data segments per request (default 126)\n"
		"  --requests=N              requests in flight per device (default 256)\n"
		"  --serial=STRING           GET_ID serial, up to 20 bytes\n"
		"  --writeback               start with a write-back cache (default write-through)\n"
		"  --discard-max-sectors=N   (default 32768)\n"
		"  --discard-max-seg=N       (default 16)\n"
		"  --discard-granularity=N   discard alignment in sectors (default 8)\n"
		"  --write-zeroes-max-sectors=N (default 32768)\n"
		"  --write-zeroes-max-seg=N  (default 16)\n"
		"  --thread-per-queue        one thread per ring\n",
	.type = "block",
	.features = "[\n    \"read-only\",\n    \"blk-file\"\n  ]",
	.flags = VU_DAEMON_NO_PACKED | VU_DAEMON_PCIDEV,
	.queue_size = 1024,
	.fd_max = INT_MAX,
	.col = 26,
};

/* An option's number, lo..hi (vu_daemon_u32 says what is wrong). */
static bool num(const char *opt, const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	return vu_daemon_u32(PROG, opt, s, lo, hi, out) == 0;
}

static int parse(int argc, char **argv, struct options *o)
{
	enum { O_FILE = 1, O_RO, O_BACKEND, O_NQ, O_SEG, O_REQS, O_SERIAL, O_WB, O_DMS, O_DSEG,
	       O_DGRAN, O_WZS, O_WZSEG, O_TPQ, O_SIZE };
	static const struct option own[] = {
		{"blk-file", required_argument, NULL, O_FILE},
		{"read-only", no_argument, NULL, O_RO},
		{"backend", required_argument, NULL, O_BACKEND},
		{"num-queues", required_argument, NULL, O_NQ},
		{"seg-max", required_argument, NULL, O_SEG},
		{"requests", required_argument, NULL, O_REQS},
		{"serial", required_argument, NULL, O_SERIAL},
		{"writeback", no_argument, NULL, O_WB},
		{"discard-max-sectors", required_argument, NULL, O_DMS},
		{"discard-max-seg", required_argument, NULL, O_DSEG},
		{"discard-granularity", required_argument, NULL, O_DGRAN},
		{"write-zeroes-max-sectors", required_argument, NULL, O_WZS},
		{"write-zeroes-max-seg", required_argument, NULL, O_WZSEG},
		{"thread-per-queue", no_argument, NULL, O_TPQ},
		{"size", required_argument, NULL, O_SIZE},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct options){.num_queues = 1, .seg_max = 126, .num_reqs = 256,
			      .serial = "vdev-blk", .discard_max_sectors = 32768,
			      .discard_max_seg = 16, .discard_alignment = 8,
			      .wz_max_sectors = 32768, .wz_max_seg = 16};
	while ((c = vu_daemon_getopt(&SPEC, &o->com, argc, argv, own)) > 0) {
		bool ok = true;
		switch (c) {
		case O_FILE: o->blk_file = optarg; break;
		case O_RO: o->read_only = true; break;
		case O_BACKEND:
			if (strcmp(optarg, "uring") != 0 && strcmp(optarg, "file") != 0 &&
			    strcmp(optarg, "null") != 0) {
				fprintf(stderr, "vhost-user-blk: --backend=%s: expected uring, file or null\n",
					optarg);
				return -1;
			}
			o->backend = optarg;
			break;
		case O_NQ: ok = num("num-queues", optarg, 1, MAX_QUEUES, &o->num_queues); break;
		case O_SEG: ok = num("seg-max", optarg, 1, 1022, &o->seg_max); break;
		case O_REQS: ok = num("requests", optarg, 1, 65536, &o->num_reqs); break;
		case O_SERIAL:
			if (strlen(optarg) > VDEV_BLK_ID_BYTES) {
				fprintf(stderr, "vhost-user-blk: --serial: at most %u bytes\n",
					VDEV_BLK_ID_BYTES);
				return -1;
			}
			o->serial = optarg;
			break;
		case O_WB: o->writeback = true; break;
		case O_DMS: ok = num("discard-max-sectors", optarg, 1, UINT_MAX, &o->discard_max_sectors); break;
		case O_DSEG: ok = num("discard-max-seg", optarg, 1, 256, &o->discard_max_seg); break;
		case O_DGRAN: ok = num("discard-granularity", optarg, 1, 1u << 20, &o->discard_alignment); break;
		case O_WZS: ok = num("write-zeroes-max-sectors", optarg, 1, UINT_MAX, &o->wz_max_sectors); break;
		case O_WZSEG: ok = num("write-zeroes-max-seg", optarg, 1, 256, &o->wz_max_seg); break;
		case O_TPQ: o->thread_per_queue = true; break;
		case O_SIZE: {
			char *end;
			errno = 0;
			o->null_size = strtoull(optarg, &end, 0);
			if (errno || *end || o->null_size == 0 || o->null_size % 512) {
				fprintf(stderr, "vhost-user-blk: --size=%s: expected a multiple of 512\n",
					optarg);
				return -1;
			}
			break;
		}
		}
		if (!ok)
			return -1;
	}
	if (c < 0)
		return -1;
	bool null = o->backend != NULL && strcmp(o->backend, "null") == 0;
	if (null ? o->null_size == 0 : o->blk_file == NULL) {
		fprintf(stderr, null ? "vhost-user-blk: --backend=null needs --size\n"
				     : "vhost-user-blk: --blk-file is required\n");
		return -1;
	}
	if (null)
		o->blk_file = "null";
	if (o->com.pcidev.mode != NULL && o->thread_per_queue) {
		fprintf(stderr, "vhost-user-blk: --pcidev serves everything on one thread\n");
		return -1;
	}
	return 0;
}

#ifdef VDEV_HAVE_LIBURING
/* One io_uring per queue; the device's ops dispatch on the queue. */
#define RING(io) (&D.rings[(io)->queue])
static int d_read(void *o, struct vdev_blk_io *io) { (void)o; return RING(io)->ops.read(RING(io), io); }
static int d_write(void *o, struct vdev_blk_io *io) { (void)o; return RING(io)->ops.write(RING(io), io); }
static int d_flush(void *o, struct vdev_blk_io *io) { (void)o; return RING(io)->ops.flush(RING(io), io); }
static int d_discard(void *o, struct vdev_blk_io *io) { (void)o; return RING(io)->ops.discard(RING(io), io); }
static int d_wz(void *o, struct vdev_blk_io *io) { (void)o; return RING(io)->ops.write_zeroes(RING(io), io); }
static int d_erase(void *o, struct vdev_blk_io *io) { (void)o; return RING(io)->ops.secure_erase(RING(io), io); }
static void d_commit(void *o, uint16_t q) { (void)o; D.rings[q].ops.commit(&D.rings[q], q); }

static void on_completion(void *opaque, int fd)
{
	(void)fd;
	uring_blk_reap(opaque, false);
}

static void drain(void *opaque, uint16_t q)
{
	(void)opaque;
	/* On the PCI bus the adapter's rings are the slot's, not the disk's:
	 * whichever stops, finish everything the disk has in flight. */
	bool bus = D.o.com.pcidev.mode != NULL;

	for (unsigned r = bus ? 0 : q; r < (bus ? D.o.num_queues : q + 1u); r++)
		while (D.rings[r].inflight > 0)
			uring_blk_reap(&D.rings[r], true);
}
#endif

/* The null backend: every request succeeds at once, no data moves. */
static int null_op(void *o, struct vdev_blk_io *io)
{
	(void)o, (void)io;
	return 0;
}
static const struct vdev_blk_backend_ops null_ops = {
	.size = sizeof(struct vdev_blk_backend_ops),
	.read = null_op,
	.write = null_op,
	.flush = null_op,
};

/* SIGUSR1: the image's new size becomes the disk's capacity. */
static void on_resize(void *opaque, int fd)
{
	struct stat st;

	(void)opaque;
	if (vu_daemon_signal_take(fd) == 0 || D.o.null_size != 0)
		return;
	if (stat(D.o.blk_file, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "vhost-user-blk: resize: cannot stat %s\n", D.o.blk_file);
		return;
	}
	uint64_t sectors = (uint64_t)st.st_size / VDEV_BLK_SECTOR_SIZE;
	D.file.size = sectors * VDEV_BLK_SECTOR_SIZE;
#ifdef VDEV_HAVE_LIBURING
	for (unsigned q = 0; D.rings != NULL && q < D.o.num_queues; q++)
		D.rings[q].file.size = D.file.size;
#endif
	vdev_blk_set_capacity(&D.blk, sectors);
	fprintf(stderr, "vhost-user-blk: %s resized: %llu sectors\n", D.o.blk_file,
		(unsigned long long)sectors);
}

/* Session events on stderr (unless --quiet): a supervisor or a test sees
 * when a front-end came and went, e.g. QEMU reconnecting after a restart. */
static void on_connected(void *opaque)
{
	(void)opaque;
	if (!D.o.com.quiet)
		fprintf(stderr, "vhost-user-blk: front-end connected\n");
}

static void on_disconnected(void *opaque)
{
	(void)opaque;
	if (!D.o.com.quiet)
		fprintf(stderr, "vhost-user-blk: front-end disconnected\n");
}

static int open_backend(const struct vdev_blk_backend_ops **ops, void **opaque, uint64_t *bytes)
{
	char err[256];
	bool uring = D.o.backend == NULL || strcmp(D.o.backend, "uring") == 0;

	if (D.o.backend != NULL && strcmp(D.o.backend, "null") == 0) {
		*ops = &null_ops;
		*opaque = NULL;
		*bytes = D.o.null_size;
		return 0;
	}

#ifdef VDEV_HAVE_LIBURING
	if (uring) {
		D.rings = calloc(D.o.num_queues, sizeof(*D.rings));
		if (D.rings == NULL)
			return -1;
		for (unsigned q = 0; q < D.o.num_queues; q++) {
			unsigned depth = D.o.num_reqs < 32768 ? D.o.num_reqs : 32768;
			if (uring_blk_open(&D.rings[q], D.o.blk_file, D.o.read_only, depth, err,
					   sizeof(err)) != 0) {
				if (q == 0 && D.o.backend == NULL)
					goto file; /* io_uring unavailable: fall back */
				fprintf(stderr, "vhost-user-blk: %s\n", err);
				return -1;
			}
			D.rings[q].blk = &D.blk;
			D.rings[q].queue = (uint16_t)q;
		}
		struct uring_blk *u = &D.rings[0];
		D.dispatch = (struct vdev_blk_backend_ops){.size = sizeof(D.dispatch), .read = d_read};
		D.dispatch.write = u->ops.write ? d_write : NULL;
		D.dispatch.flush = u->ops.flush ? d_flush : NULL;
		D.dispatch.discard = u->ops.discard ? d_discard : NULL;
		D.dispatch.write_zeroes = u->ops.write_zeroes ? d_wz : NULL;
		D.dispatch.secure_erase = u->ops.secure_erase ? d_erase : NULL;
		D.dispatch.commit = d_commit;
		*ops = &D.dispatch;
		*opaque = &D;
		*bytes = u->file.size;
		D.o.backend = "uring";
		return 0;
	}
file:
	free(D.rings);
	D.rings = NULL;
#else
	if (uring && D.o.backend != NULL) {
		fprintf(stderr, "vhost-user-blk: built without io_uring; use --backend=file\n");
		return -1;
	}
#endif
	if (file_blk_open(&D.file, D.o.blk_file, D.o.read_only, err, sizeof(err)) != 0) {
		fprintf(stderr, "vhost-user-blk: %s\n", err);
		return -1;
	}
	*ops = &D.file.ops;
	*opaque = &D.file;
	*bytes = D.file.size;
	D.o.backend = "file";
	return 0;
}

int main(int argc, char **argv)
{
	const struct vdev_blk_backend_ops *ops;
	void *opaque;
	uint64_t bytes;
	char eb[256];
	int err;

	if (parse(argc, argv, &D.o) != 0)
		return 2;
	if (open_backend(&ops, &opaque, &bytes) != 0)
		return 1;
	D.resize_fd = vu_daemon_signal_fd(SIGUSR1); /* before any thread */
	unsigned n = D.o.num_reqs, ranges = D.o.discard_max_seg > D.o.wz_max_seg
						    ? D.o.discard_max_seg
						    : D.o.wz_max_seg;
	D.queues = calloc(D.o.num_queues, sizeof(*D.queues));
	D.queue_held = calloc((size_t)D.o.num_queues * VDEV_VQ_HELD_WORDS(D.o.com.queue_size),
			      sizeof(*D.queue_held));
	D.reqs = calloc(n, sizeof(*D.reqs));
	D.iovs = calloc((size_t)n * (D.o.seg_max + 2u), sizeof(*D.iovs));
	D.ranges = calloc((size_t)n * ranges, sizeof(*D.ranges));
	if (D.queues == NULL || D.queue_held == NULL || D.reqs == NULL || D.iovs == NULL ||
	    D.ranges == NULL) {
		fprintf(stderr, "vhost-user-blk: out of memory\n");
		return 1;
	}
	vdev_mem_init(&D.mem, NULL, 0);
	struct vdev_blk_config c = {
		.capacity = bytes / VDEV_BLK_SECTOR_SIZE,
		.read_only = D.o.read_only,
		.writeback = D.o.writeback,
		.ring_features = D.o.com.no_packed ? VDEV_BIT(VDEV_F_INDIRECT_DESC) |
							 VDEV_BIT(VDEV_F_EVENT_IDX) |
							 VDEV_BIT(VDEV_F_RING_RESET)
					       : 0,
		.num_queues = (uint16_t)D.o.num_queues,
		.queue_size = D.o.com.queue_size,
		.seg_max = D.o.seg_max,
		.blk_size = 512,
		.max_discard_sectors = D.o.discard_max_sectors,
		.max_discard_seg = D.o.discard_max_seg,
		.discard_sector_alignment = D.o.discard_alignment,
		.max_write_zeroes_sectors = D.o.wz_max_sectors,
		.max_write_zeroes_seg = D.o.wz_max_seg,
		.write_zeroes_may_unmap = ops->discard != NULL,
		.mem = &D.mem,
		.queues = D.queues,
		.queue_held = D.queue_held,
		.reqs = D.reqs,
		.num_reqs = n,
		.iovs = D.iovs,
		.iov_per_req = D.o.seg_max + 2u,
		.ranges = D.ranges,
		.backend = ops,
		.backend_opaque = opaque,
	};
	/* NUL-padded, not NUL-terminated: a 20-byte serial fills the field. */
	memcpy(c.serial, D.o.serial, strnlen(D.o.serial, sizeof(c.serial)));
	if ((err = vdev_blk_init(&D.blk, &c)) != 0) {
		fprintf(stderr, "vhost-user-blk: cannot set up the device: %s\n", vdev_strerror(err));
		return 1;
	}
	/* With --pcidev the disk is a PCI function (or a window in one) on the
	 * bus slot this socket serves: the front-end sees the slot. */
	struct vdev_dev *front =
		pcidev_daemon_front(PROG, &D.o.com.pcidev, &D.bus, vdev_blk_dev(&D.blk), &D.mem);
	if (front == NULL)
		return 1;
	struct vdev_vhost_user_config vc = {
		.socket_path = D.o.com.socket_path,
		.listen_fd = D.o.com.fd,
		.dev = front,
		.mem = &D.mem,
		.thread_per_queue = D.o.thread_per_queue,
		/* Requests in flight survive a crash or an upgrade of this
		 * daemon: the front-end keeps the log, a new instance submits
		 * them again (block requests may be repeated). Not on a PCI
		 * bus slot, whose rings are not the disk's. */
		.inflight = !D.o.com.pcidev.mode,
		.connected = on_connected,
		.disconnected = on_disconnected,
	};
#ifdef VDEV_HAVE_LIBURING
	if (D.rings != NULL)
		vc.drain = drain;
#endif
	D.vu = vdev_vhost_user_create(&vc, &err, eb, sizeof(eb));
	if (D.vu == NULL) {
		fprintf(stderr, "vhost-user-blk: %s\n", eb);
		return 1;
	}
#ifdef VDEV_HAVE_LIBURING
	for (unsigned q = 0; D.rings != NULL && q < D.o.num_queues; q++)
		vdev_vhost_user_add_fd(D.vu, D.o.com.pcidev.mode ? 0 : (uint16_t)q,
				       uring_blk_eventfd(&D.rings[q]),
				       on_completion, &D.rings[q]);
#endif
	if (D.resize_fd < 0 || vdev_vhost_user_add_fd(D.vu, 0, D.resize_fd, on_resize, NULL) != 0) {
		fprintf(stderr, "vhost-user-blk: cannot watch for SIGUSR1\n");
		return 1;
	}
	vu_daemon_catch_signals(D.vu);
	if (!D.o.com.quiet)
		fprintf(stderr,
			"vhost-user-blk: serving %s (%llu sectors%s, %s backend, %u queue%s) on %s\n",
			D.o.blk_file, (unsigned long long)c.capacity, D.o.read_only ? ", read-only" : "",
			D.o.backend, D.o.num_queues, D.o.num_queues > 1 ? "s" : "",
			vu_daemon_where(&D.o.com));
	err = vdev_vhost_user_run(D.vu);
	if (D.o.com.stats) {
		struct vdev_blk_stats st;
		struct vdev_vhost_user_stats vs;
		vdev_blk_get_stats(&D.blk, &st);
		vdev_vhost_user_get_stats(D.vu, &vs);
		fprintf(stderr,
			"vhost-user-blk: %s: %llu requests: %llu reads (%llu MiB), %llu writes "
			"(%llu MiB), %llu flushes, %llu discards, %llu write-zeroes, %llu get-id; "
			"%llu IOERR, %llu UNSUPP; %llu sessions, %llu kicks, %llu interrupts\n",
			D.o.blk_file, (unsigned long long)st.requests, (unsigned long long)st.reads,
			(unsigned long long)(st.bytes_read >> 20), (unsigned long long)st.writes,
			(unsigned long long)(st.bytes_written >> 20), (unsigned long long)st.flushes,
			(unsigned long long)st.discards, (unsigned long long)st.write_zeroes,
			(unsigned long long)st.get_id, (unsigned long long)st.ioerr,
			(unsigned long long)st.unsupp, (unsigned long long)vs.sessions,
			(unsigned long long)vs.kicks, (unsigned long long)vs.calls);
	}
	/* A late SIGTERM must not reach the adapter once it is gone. */
	vu_daemon_release_signals();
	struct vdev_vhost_user *vu = D.vu;
	D.vu = NULL;
	vdev_vhost_user_destroy(vu);
#ifdef VDEV_HAVE_LIBURING
	for (unsigned q = 0; D.rings != NULL && q < D.o.num_queues; q++)
		uring_blk_close(&D.rings[q]);
#endif
	file_blk_close(&D.file);
	return err == 0 ? 0 : 1;
}
