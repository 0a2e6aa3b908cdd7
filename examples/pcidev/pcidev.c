/* SPDX-License-Identifier: MIT */
/*
 * pcidev: one function on user-mode Linux's PCI-over-virtio bus (see
 * pcidev.h). Read top-down: the slot's virtio device, interrupts to the
 * driver, the shell function, message execution, set-up.
 */
#include "pcidev.h"

#include <stdio.h>
#include <string.h>

/* Header fields, native byte order (virtio_pcidev.h). */
#define MSG_OP 0
#define MSG_BAR 1
#define MSG_SIZE 4
#define MSG_ADDR 8

#define CMD_QUEUE 0
#define IRQ_QUEUE 1
/* The MSI address UML composes for every vector (virt-pci.c); it does not
 * look at it, but it is what a real function would write to. */
#define UML_MSI_ADDR 0xa0000u
#define MMIO_INTERRUPT_STATUS 0x060u
#define MMIO_INTERRUPT_ACK 0x064u

static void bad(struct pcidev *p, const char *why, uint8_t op, uint64_t addr)
{
	char line[128];

	p->stats.bad++;
	if (p->log == NULL)
		return;
	snprintf(line, sizeof(line), "pcidev: ignored message (op %u, addr 0x%llx): %s", op,
		 (unsigned long long)addr, why);
	p->log(p->log_opaque, line);
}

/* ---- interrupts to the driver (irq queue) ---------------------------------- */

/* Send one INT/MSI message in the next irq-queue buffer; false if the
 * driver has posted none. */
static bool post_irq(struct pcidev *p, uint8_t op, uint64_t addr, uint32_t data)
{
	struct vdev_vq *vq = &p->bus_queues[IRQ_QUEUE];
	struct vdev_vq_elem e;
	struct vdev_iov iov[4];
	uint8_t msg[PCIDEV_HDR_SIZE + 4] = {0};
	uint32_t size = op == PCIDEV_OP_MSI ? 4u : 0u;

	msg[MSG_OP] = op;
	memcpy(msg + MSG_SIZE, &size, 4);
	memcpy(msg + MSG_ADDR, &addr, 8);
	/* MSI data travels little-endian, like a memory write on the bus. */
	msg[16] = (uint8_t)data;
	msg[17] = (uint8_t)(data >> 8);
	msg[18] = (uint8_t)(data >> 16);
	msg[19] = (uint8_t)(data >> 24);
	for (;;) {
		if (vdev_vq_pop(vq, &e, iov, 4) != 1)
			return false;
		if (e.error != 0 || e.in_bytes < sizeof(msg)) {
			/* unusable buffer: give it back empty (UML ignores it) */
			vdev_vq_push(vq, &e, 0);
			vdev_vq_flush(vq);
			continue;
		}
		vdev_iov_from_buf(e.iov + e.n_out, e.n_in, 0, msg, sizeof(msg));
		vdev_vq_push(vq, &e, sizeof(msg));
		vdev_vq_flush(vq);
		p->stats.irqs++;
		return true;
	}
}

static void irq(struct pcidev *p, uint8_t op, uint64_t addr, uint32_t data)
{
	if (p->npending == 0 && post_irq(p, op, addr, data))
		return;
	for (unsigned i = 0; i < p->npending; i++) {
		if (p->pending[i].op == op && p->pending[i].data == data) {
			p->stats.coalesced++;
			return;
		}
	}
	if (p->npending == PCIDEV_PENDING) {
		/* more distinct interrupts than the function has: cannot happen
		 * with PCIDEV_MAX_VECTORS < PCIDEV_PENDING; keep the oldest */
		p->stats.coalesced++;
		return;
	}
	p->pending[p->npending].op = op;
	p->pending[p->npending].addr = addr;
	p->pending[p->npending].data = data;
	p->npending++;
}

/* The driver posted irq buffers: send what waited, in order. */
static void flush_pending(struct pcidev *p)
{
	unsigned sent = 0;

	while (sent < p->npending &&
	       post_irq(p, p->pending[sent].op, p->pending[sent].addr, p->pending[sent].data))
		sent++;
	p->stats.held += sent;
	memmove(p->pending, p->pending + sent, (p->npending - sent) * sizeof(p->pending[0]));
	p->npending -= sent;
}

/* Transport hooks: MSI-X messages pass through; lines become edges. */
static void fn_msi(void *opaque, uint64_t addr, uint32_t data)
{
	irq(opaque, PCIDEV_OP_MSI, addr, data);
}

static void fn_intx(void *opaque, bool level)
{
	struct pcidev *p = opaque;

	if (level && !p->intx_level)
		irq(p, PCIDEV_OP_INT, 1 /* INTA */, 0);
	p->intx_level = level;
}

static void mmio_line(void *opaque, bool level)
{
	struct pcidev *p = opaque;

	if (level && !p->mmio_level)
		irq(p, PCIDEV_OP_MSI, UML_MSI_ADDR, p->mmio_irq);
	p->mmio_level = level;
}

/* ---- the shell function: a plain header and BAR0 with the window --------- */

static uint32_t shell_dword(const struct pcidev *p, uint32_t off)
{
	switch (off) {
	case 0x00:
	case 0x2c: /* subsystem ids */
		return PCIDEV_SHELL_VENDOR | PCIDEV_SHELL_DEVICE << 16;
	case 0x04: return p->shell_command; /* status 0: no capabilities */
	case 0x08: return 0x08800000u | 1u; /* class 08 80 00, revision 1 */
	case 0x10: return p->shell_bar0 & ~(p->shell_bar_size - 1u); /* 32-bit memory */
	default: return 0; /* header type 0, other BARs absent, no interrupt pin */
	}
}

static uint64_t shell_cfg_read(const struct pcidev *p, uint32_t off, unsigned size)
{
	uint32_t v = shell_dword(p, off & ~3u) >> ((off & 3u) * 8u);
	return size == 4 ? v : v & ((1u << (size * 8u)) - 1u);
}

static void shell_cfg_write(struct pcidev *p, uint32_t off, unsigned size, uint32_t val)
{
	uint32_t base = off & ~3u, shift = (off & 3u) * 8u;
	uint32_t mask = (size == 4 ? 0xffffffffu : (1u << (size * 8u)) - 1u) << shift;
	uint32_t v = (shell_dword(p, base) & ~mask) | ((val << shift) & mask);

	if (base == 0x04)
		p->shell_command = (uint16_t)(v & 0x0407u); /* io, memory, bus master, INTx off */
	else if (base == 0x10)
		p->shell_bar0 = v; /* sizing: all ones reads back ~(size - 1) */
}

/* Used-buffer notifications the function's queues have asked for so far. */
static uint64_t fn_notifications(struct pcidev *p)
{
	struct vdev_vq_stats st;
	uint64_t n = 0;

	for (uint16_t q = 0; q < vdev_dev_num_queues(p->fn_dev); q++) {
		vdev_vq_get_stats(vdev_dev_queue(p->fn_dev, q), &st);
		n += st.notifications;
	}
	return n;
}

static uint64_t shell_bar_read(struct pcidev *p, unsigned bar, uint64_t off, unsigned size)
{
	if (bar != 0 || off >= vdev_mmio_window_size(&p->mmio))
		return 0;
	if (off == MMIO_INTERRUPT_STATUS)
		p->notified_at_read = fn_notifications(p);
	return vdev_mmio_read(&p->mmio, off, size);
}

static void shell_bar_write(struct pcidev *p, unsigned bar, uint64_t off, unsigned size,
			    uint64_t val)
{
	if (bar != 0 || off >= vdev_mmio_window_size(&p->mmio))
		return;
	vdev_mmio_write(&p->mmio, off, size, val);
	/* The window's line is level, the bus's MSI an edge, and the ACK a
	 * posted write that may arrive long after the driver went on to look
	 * at its rings. Two cases need another message, or the event would
	 * wait for the next one (forever, if the driver waits for it): bits
	 * the driver did not acknowledge (they came after it read the status),
	 * and used buffers published after its status read, whose VRING bit
	 * was already set and has just been cleared by this ACK: that bit
	 * must be set again, not just signalled, since the driver's handler
	 * reads the status first. */
	if (off != MMIO_INTERRUPT_ACK)
		return;
	if (fn_notifications(p) != p->notified_at_read)
		/* set the VRING bit again (the driver's handler reads the
		 * status and looks at its rings only if the bit is there);
		 * raising it sends the message */
		vdev_dev_notify_queue(p->fn_dev, 0);
	else if (vdev_mmio_interrupt_status(&p->mmio) != 0)
		irq(p, PCIDEV_OP_MSI, UML_MSI_ADDR, p->mmio_irq);
}

/* ---- message execution --------------------------------------------------- */

static uint64_t cfg_read(struct pcidev *p, uint32_t off, unsigned size)
{
	if (p->kind == PCIDEV_FN_MMIO_SHELL)
		return shell_cfg_read(p, off, size);
	return vdev_pci_config_read(&p->pci, off, size);
}

static void cfg_write(struct pcidev *p, uint32_t off, unsigned size, uint32_t val)
{
	if (p->kind == PCIDEV_FN_MMIO_SHELL)
		shell_cfg_write(p, off, size, val);
	else
		vdev_pci_config_write(&p->pci, off, size, val);
}

static uint64_t bar_read(struct pcidev *p, unsigned bar, uint64_t off, unsigned size)
{
	if (p->kind == PCIDEV_FN_MMIO_SHELL)
		return shell_bar_read(p, bar, off, size);
	return vdev_pci_bar_read(&p->pci, bar, off, size);
}

static void bar_write(struct pcidev *p, unsigned bar, uint64_t off, unsigned size, uint64_t val)
{
	if (p->kind == PCIDEV_FN_MMIO_SHELL)
		shell_bar_write(p, bar, off, size, val);
	else
		vdev_pci_bar_write(&p->pci, bar, off, size, val);
}

static uint64_t get_le(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = n; i-- > 0;)
		v = v << 8 | b[i];
	return v;
}

static void put_le(uint8_t *b, unsigned n, uint64_t v)
{
	for (unsigned i = 0; i < n; i++, v >>= 8)
		b[i] = (uint8_t)v;
}

/* The largest naturally aligned access (8, 4, 2 or 1 bytes) at addr that
 * fits in left bytes. */
static unsigned piece(uint64_t addr, size_t left)
{
	unsigned n = 8;
	while (n > 1 && (addr % n != 0 || n > left))
		n /= 2;
	return n;
}

/* A configuration access of 1, 2, 4 or 8 bytes (two dwords), in range. */
static bool cfg_ok(uint64_t addr, uint32_t size)
{
	return (size == 1 || size == 2 || size == 4 || size == 8) && addr % size == 0 &&
	       addr < PCIDEV_CFG_SIZE && addr + size <= PCIDEV_CFG_SIZE;
}

size_t pcidev_exec(struct pcidev *p, const uint8_t *msg, size_t len, uint8_t *reply, size_t cap)
{
	uint8_t op, barno;
	uint32_t size;
	uint64_t addr;
	const uint8_t *data = msg + PCIDEV_HDR_SIZE;
	size_t dlen = len > PCIDEV_HDR_SIZE ? len - PCIDEV_HDR_SIZE : 0;

	p->stats.messages++;
	if (len < PCIDEV_HDR_SIZE) {
		bad(p, "shorter than a header", 0, 0);
		memset(reply, 0xff, cap);
		return cap;
	}
	/* Read every header field once. */
	op = msg[MSG_OP];
	barno = msg[MSG_BAR];
	memcpy(&size, msg + MSG_SIZE, 4);
	memcpy(&addr, msg + MSG_ADDR, 8);

	switch (op) {
	case PCIDEV_OP_CFG_READ: {
		size_t n = size < cap ? size : cap;
		if (!cfg_ok(addr, size)) {
			bad(p, "configuration read size or offset", op, addr);
			memset(reply, 0xff, n);
			return n;
		}
		uint64_t v = size == 8 ? cfg_read(p, (uint32_t)addr, 4) |
						 cfg_read(p, (uint32_t)addr + 4, 4) << 32
				       : cfg_read(p, (uint32_t)addr, size);
		uint8_t tmp[8];
		put_le(tmp, size, v);
		memcpy(reply, tmp, n);
		p->stats.cfg_reads++;
		return n;
	}
	case PCIDEV_OP_CFG_WRITE:
		if (!cfg_ok(addr, size) || dlen < size) {
			bad(p, "configuration write size, offset or data", op, addr);
			return 0;
		}
		if (size == 8) {
			cfg_write(p, (uint32_t)addr, 4, (uint32_t)get_le(data, 4));
			cfg_write(p, (uint32_t)addr + 4, 4, (uint32_t)get_le(data + 4, 4));
		} else {
			cfg_write(p, (uint32_t)addr, size, (uint32_t)get_le(data, size));
		}
		p->stats.cfg_writes++;
		return 0;
	case PCIDEV_OP_MMIO_READ: {
		size_t n = size < cap ? size : cap;
		if (barno >= VDEV_PCI_NUM_BARS || size == 0 || size > PCIDEV_MAX_DATA ||
		    size > cap || addr + size < addr) {
			bad(p, "BAR read: bar, size or reply space", op, addr);
			memset(reply, 0xff, n);
			return n;
		}
		for (size_t pos = 0; pos < size;) {
			unsigned k = piece(addr + pos, size - pos);
			put_le(reply + pos, k, bar_read(p, barno, addr + pos, k));
			pos += k;
		}
		p->stats.bar_reads++;
		return size;
	}
	case PCIDEV_OP_MMIO_WRITE:
		if (barno >= VDEV_PCI_NUM_BARS || size == 0 || size > PCIDEV_MAX_DATA ||
		    dlen < size || addr + size < addr) {
			bad(p, "BAR write: bar, size or data", op, addr);
			return 0;
		}
		for (size_t pos = 0; pos < size;) {
			unsigned k = piece(addr + pos, size - pos);
			bar_write(p, barno, addr + pos, k, get_le(data + pos, k));
			pos += k;
		}
		p->stats.bar_writes++;
		return 0;
	case PCIDEV_OP_MMIO_MEMSET: {
		if (barno >= VDEV_PCI_NUM_BARS || size > PCIDEV_MAX_MEMSET || dlen < 1 ||
		    addr + size < addr) {
			bad(p, "BAR memset: bar, size or data", op, addr);
			return 0;
		}
		uint64_t fill = data[0] * UINT64_C(0x0101010101010101);
		for (size_t pos = 0; pos < size;) {
			unsigned k = piece(addr + pos, size - pos);
			bar_write(p, barno, addr + pos, k, fill);
			pos += k;
		}
		p->stats.memsets++;
		return 0;
	}
	default:
		/* INT, MSI and PME go the other way; anything else is unknown */
		bad(p, "not a driver-to-device operation", op, addr);
		memset(reply, 0xff, cap);
		return cap;
	}
}

/* ---- the slot's virtio device ---------------------------------------------- */

static void serve_cmds(struct pcidev *p)
{
	struct vdev_vq *vq = &p->bus_queues[CMD_QUEUE];
	struct vdev_vq_elem e;
	uint8_t msg[PCIDEV_HDR_SIZE + PCIDEV_MAX_DATA];
	uint8_t reply[PCIDEV_MAX_DATA];

	while (vdev_vq_pop(vq, &e, p->iov, sizeof(p->iov) / sizeof(p->iov[0])) == 1) {
		size_t written = 0;
		if (e.error == 0) {
			/* Copied out once: the guest may change the buffer meanwhile. A
			 * message longer than msg is cut; its size field then asks for
			 * more data than there is and it is refused. */
			size_t len = vdev_iov_to_buf(e.iov, e.n_out, 0, msg, sizeof(msg));
			size_t cap = e.in_bytes < sizeof(reply) ? e.in_bytes : sizeof(reply);
			written = pcidev_exec(p, msg, len, reply, cap);
			vdev_iov_from_buf(e.iov + e.n_out, e.n_in, 0, reply, written);
		}
		vdev_vq_push(vq, &e, (uint32_t)written);
		/* one at a time: the driver spins on this reply */
		vdev_vq_flush(vq);
	}
}

static void bus_notify(void *opaque, uint16_t qidx)
{
	struct pcidev *p = opaque;

	if (qidx == CMD_QUEUE)
		serve_cmds(p);
	else
		flush_pending(p);
}

static int bus_reset(void *opaque)
{
	pcidev_reset_function(opaque);
	return 0;
}

static const struct vdev_dev_ops bus_ops = {
	.size = sizeof(struct vdev_dev_ops),
	.queue_notify = bus_notify,
	.reset = bus_reset,
};

void pcidev_reset_function(struct pcidev *p)
{
	if (p->kind == PCIDEV_FN_MMIO_SHELL) {
		vdev_dev_set_status(p->fn_dev, 0);
		p->shell_bar0 = 0;
		p->shell_command = 0;
	} else {
		vdev_pci_reset(&p->pci);
	}
	p->npending = 0;
	p->intx_level = p->mmio_level = false;
}

int pcidev_init(struct pcidev *p, const struct pcidev_config *cfg)
{
	int err;

	if (p == NULL || cfg == NULL || cfg->fn_dev == NULL || cfg->mem == NULL ||
	    cfg->msix_vectors > PCIDEV_MAX_VECTORS ||
	    vdev_dev_num_queues(cfg->fn_dev) > PCIDEV_MAX_FN_QUEUES)
		return VDEV_EINVAL;
	memset(p, 0, sizeof(*p));
	p->kind = cfg->kind;
	p->fn_dev = cfg->fn_dev;
	p->mmio_irq = cfg->mmio_irq;
	p->log = cfg->log;
	p->log_opaque = cfg->log_opaque;

	if (cfg->kind == PCIDEV_FN_MMIO_SHELL) {
		const struct vdev_mmio_config mc = {.irq = mmio_line, .irq_opaque = p};
		if ((err = vdev_mmio_init(&p->mmio, cfg->fn_dev, &mc)) != 0)
			return err;
		p->shell_bar_size = 4096;
		while (p->shell_bar_size < vdev_mmio_window_size(&p->mmio))
			p->shell_bar_size *= 2;
	} else if (cfg->kind == PCIDEV_FN_VIRTIO_PCI) {
		const struct vdev_pci_config pc = {
			.msix_vectors = cfg->msix_vectors,
			.msix = cfg->msix_vectors ? p->msix : NULL,
			.queue_vectors = cfg->msix_vectors ? p->queue_vectors : NULL,
			.intx = fn_intx,
			.msi = fn_msi,
			.opaque = p,
		};
		if ((err = vdev_pci_init(&p->pci, cfg->fn_dev, &pc)) != 0)
			return err;
	} else {
		return VDEV_EINVAL;
	}

	const struct vdev_dev_config bc = {
		.device_id = PCIDEV_DEVICE_ID,
		.features = VDEV_BIT(VDEV_F_VERSION_1),
		.queues = p->bus_queues,
		.queue_held = p->bus_queue_held,
		.num_queues = 2,
		.queue_max_size = 1024, /* bus_queue_held is sized for it */
		.mem = cfg->mem,
		.ops = &bus_ops,
		.opaque = p,
	};
	return vdev_dev_init(&p->bus, &bc);
}

struct vdev_dev *pcidev_bus_dev(struct pcidev *p)
{
	return &p->bus;
}

void pcidev_get_stats(const struct pcidev *p, struct pcidev_stats *out)
{
	*out = p->stats;
}

int pcidev_daemon_config(const char *prog, const struct pcidev_opts *o, struct vdev_dev *fn,
			 const struct vdev_mem *mem, struct pcidev_config *out)
{
	unsigned vectors = vdev_dev_num_queues(fn) + 1u;

	*out = (struct pcidev_config){.fn_dev = fn, .mem = mem};
	if (strcmp(o->mode, "pci") == 0) {
		out->kind = PCIDEV_FN_VIRTIO_PCI;
		out->msix_vectors = (uint16_t)(vectors < PCIDEV_MAX_VECTORS ? vectors
									  : PCIDEV_MAX_VECTORS);
	} else if (strcmp(o->mode, "pci-intx") == 0) {
		out->kind = PCIDEV_FN_VIRTIO_PCI;
	} else if (strcmp(o->mode, "mmio") == 0) {
		if (o->mmio_irq == 0) {
			fprintf(stderr, "%s: --pcidev=mmio needs --mmio-irq\n", prog);
			return -1;
		}
		out->kind = PCIDEV_FN_MMIO_SHELL;
		out->mmio_irq = o->mmio_irq;
	} else {
		fprintf(stderr, "%s: --pcidev=%s: expected pci, pci-intx or mmio\n", prog, o->mode);
		return -1;
	}
	if (vdev_dev_num_queues(fn) > PCIDEV_MAX_FN_QUEUES) {
		fprintf(stderr, "%s: --pcidev: at most %u queues\n", prog, PCIDEV_MAX_FN_QUEUES);
		return -1;
	}
	return 0;
}

struct vdev_dev *pcidev_daemon_front(const char *prog, const struct pcidev_opts *o,
				     struct pcidev *p, struct vdev_dev *fn,
				     const struct vdev_mem *mem)
{
	struct pcidev_config pc;
	int err;

	if (o->mode == NULL)
		return fn;
	if (pcidev_daemon_config(prog, o, fn, mem, &pc) != 0)
		return NULL;
	if ((err = pcidev_init(p, &pc)) != 0) {
		fprintf(stderr, "%s: cannot set up the PCI function: %s\n", prog, vdev_strerror(err));
		return NULL;
	}
	return pcidev_bus_dev(p);
}
