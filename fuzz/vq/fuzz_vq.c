/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtqueue (both layouts) driven by an operation
 * stream from the input, against guest memory the input also shapes.
 *
 * Input: [flags][size lo][size hi] then operations, each an opcode byte
 * followed by its argument bytes (missing bytes read as 0):
 *   driver adds a chain (addresses chosen among good, straddling, hole,
 *   read-only, wrapping and arbitrary ones), raw writes of ring bytes (a
 *   hostile or racing guest), the driver offering a buffer the device
 *   holds once more, device pop / batch pop / push / push of a chain it no
 *   longer holds / unpop / publish / notify enable and disable /
 *   stop-start / notification data, and the driver reaping used buffers.
 * After every pop the returned segments are checked to lie inside guest
 * memory (writable ones outside the read-only region) and to add up.
 * One buffer, one used element: a shadow of the buffers the device holds
 * (from what pop, push and unpop returned) checks that a pop never returns
 * a buffer the device holds already, that a push writes exactly one used
 * element, for its buffer, only if the device held it, and that a push of
 * a buffer it does not hold writes none.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drvsim.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "sim_le.h"
#include "vdev/device.h"

#define REGION (256u * 1024u) /* rings + 64-entry indirect pool per slot */
#define MAX_PENDING 64
#define IOV_CAP 16
#define MAX_STALE 16
#define MAX_QSIZE 128

/*
 * With flags bit 64, guest addresses in a window outside every region are
 * resolved by a translate callback (an IOMMU, or memory the integrator maps
 * on demand): the first half read-write, the second read-only, handed out
 * in pieces of at most tr_piece bytes (so a buffer there takes several
 * segments); in some inputs the callback refuses everything, answers 0
 * bytes or a NULL address. Segments must then lie inside the window.
 */
#define TW_GPA 0x4000000000000ull
#define TW_SIZE 8192u
static uint8_t tw[TW_SIZE];
static bool tr_on;
static unsigned tr_mode;
static uint32_t tr_piece;

static int fz_translate(void *o, uint64_t addr, uint64_t len, unsigned access, void **hva,
			uint64_t *mapped)
{
	uint64_t off, n;

	(void)o;
	FUZZ_CHECK(len > 0 && (access & (VDEV_MEM_READ | VDEV_MEM_WRITE)) != 0);
	if (addr < TW_GPA || addr - TW_GPA >= TW_SIZE || tr_mode == 1)
		return VDEV_EFAULT;
	off = addr - TW_GPA;
	if ((access & VDEV_MEM_WRITE) && off >= TW_SIZE / 2u)
		return VDEV_EROFS;
	n = ((access & VDEV_MEM_WRITE) ? TW_SIZE / 2u : TW_SIZE) - off;
	if (n > tr_piece)
		n = tr_piece;
	*hva = tr_mode == 3 ? NULL : tw + off;
	*mapped = tr_mode == 2 ? 0 : n;
	return 0;
}

/* Is [p, p+len) inside one host buffer of the simulated guest? */
static int seg_ok(const struct sim_mem *m, const struct vdev_iov *s, int write)
{
	const uint8_t *b = s->base;

	if (tr_on && b >= tw && b < tw + TW_SIZE)
		return s->len <= (size_t)(tw + (write ? TW_SIZE / 2u : TW_SIZE) - b);
	for (unsigned r = 0; r < m->nregions; r++) {
		const uint8_t *lo = m->host[r], *hi = lo + m->regions[r].size;
		if (b >= lo && b < hi && s->len <= (size_t)(hi - b))
			return !(write && (m->regions[r].flags & VDEV_MEM_F_READONLY));
	}
	return 0;
}

static void check_elem(const struct sim_mem *m, const struct vdev_vq_elem *e, unsigned cap)
{
	uint64_t out = 0, in = 0;

	FUZZ_CHECK(e->n_out + e->n_in <= cap);
	if (e->error != 0) {
		FUZZ_CHECK(e->n_out == 0 && e->n_in == 0 && e->out_bytes == 0 && e->in_bytes == 0);
		return;
	}
	for (unsigned i = 0; i < (unsigned)(e->n_out + e->n_in); i++) {
		FUZZ_CHECK(e->iov[i].len > 0);
		FUZZ_CHECK(seg_ok(m, &e->iov[i], i >= e->n_out));
		if (i < e->n_out)
			out += e->iov[i].len;
		else
			in += e->iov[i].len;
	}
	FUZZ_CHECK(out == e->out_bytes && in == e->in_bytes);
	/* touch every byte: ASan catches anything outside guest memory */
	for (unsigned i = 0; i < (unsigned)(e->n_out + e->n_in); i++) {
		volatile uint8_t *b = e->iov[i].base;
		b[0] = b[0];
		b[e->iov[i].len - 1] = b[e->iov[i].len - 1];
	}
}

/* The used element at position `pos` of the device's ring, if any. */
static uint16_t used_id_at(const struct sim_pair *s, bool packed, uint16_t pos, uint16_t qsize)
{
	const uint8_t *p;

	if (packed) {
		p = (const uint8_t *)s->drv.desc + 16u * (pos % qsize) + 12;
	} else {
		p = (const uint8_t *)s->drv.device + 4 + 8u * (pos & (qsize - 1u));
	}
	return sim_get_le16(p);
}

/*
 * Push n pending chains (n == 1: one push; else a batch) and check the
 * used ring against the shadow of held buffers: success needs every one
 * held and writes one used element each, for its own id; failure writes
 * none.
 */
static int push_checked(struct sim_pair *s, bool packed, uint16_t qsize, uint8_t *holds,
			const struct vdev_vq_elem *e, const uint32_t *lens, unsigned n)
{
	struct vdev_vq_state before, after;
	unsigned all_held = 1, slots = 0;
	int rc;

	vdev_vq_get_state(&s->vq, &before);
	for (unsigned i = 0; i < n; i++) {
		all_held &= e[i].id < qsize && holds[e[i].id];
		for (unsigned j = 0; j < i; j++)
			all_held &= e[j].id != e[i].id;
		slots += packed ? e[i].ndescs : 1u;
	}
	rc = n == 1 ? vdev_vq_push(&s->vq, e, lens[0]) : vdev_vq_push_batch(&s->vq, e, lens, n);
	vdev_vq_get_state(&s->vq, &after);
	if (rc != 0) {
		FUZZ_CHECK(after.used_idx == before.used_idx);
		return rc;
	}
	FUZZ_CHECK(all_held); /* never a used element for a buffer not held */
	if (packed)
		FUZZ_CHECK((uint32_t)(after.used_idx + (after.used_wrap != before.used_wrap ? qsize : 0u)) ==
			   before.used_idx + slots);
	else
		FUZZ_CHECK((uint16_t)(after.used_idx - before.used_idx) == n);
	for (unsigned i = 0, pos = before.used_idx; i < n; i++) {
		FUZZ_CHECK(used_id_at(s, packed, (uint16_t)pos, qsize) == e[i].id);
		holds[e[i].id] = 0;
		pos += packed ? e[i].ndescs : 1u;
	}
	return rc;
}

static uint64_t pick_addr(struct sim_pair *s, uint64_t arena, struct input *in)
{
	uint8_t k = take(in);
	switch (k % 8) {
	case 0: case 1: case 2:
		return arena + take16(in) % 8192u;
	case 3:
		return sim_straddle_gpa(&s->m, 1 + take(in) % 64u);
	case 4: {
		uint8_t b = take(in);
		if (tr_on && (b & 1))
			return TW_GPA + (uint64_t)b * 33u % (TW_SIZE + 64u); /* some past it */
		return SIM_HOLE_GPA + b;
	}
	case 5:
		return SIM_RO_GPA + take16(in) % 4096u;
	case 6:
		return UINT64_MAX - take(in);
	default:
		return take64(in);
	}
}

/*
 * sim_pair_init() with the guest memory kept from the previous input and
 * handed back all-zero (fuzz_mem.h), so an input starts from the same state
 * as with a fresh pair at a fraction of the cost.
 */
static int pair_reset(struct sim_pair *p, uint16_t size, uint64_t features)
{
	bool packed = (features & VDEV_BIT(VDEV_F_RING_PACKED)) != 0;

	p->features = features;
	memset(&p->vq, 0, sizeof(p->vq));
	memset(p->held, 0, sizeof(p->held));
	fuzz_mem_reset(&p->m, REGION, false);
	drv_vq_init(&p->drv, &p->m, size, packed, (features & VDEV_BIT(VDEV_F_EVENT_IDX)) != 0,
		    (features & VDEV_BIT(VDEV_F_INDIRECT_DESC)) != 0, 64);
	FUZZ_CHECK(vdev_vq_init(&p->vq, 0, size, p->held) == 0);
	vdev_vq_set_addrs(&p->vq, p->drv.desc_gpa, p->drv.driver_gpa, p->drv.device_gpa);
	return vdev_vq_start(&p->vq, &p->m.mem, features);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sim_pair s;
	static struct vdev_iov iov[MAX_PENDING * IOV_CAP];
	struct vdev_vq_elem pending[MAX_PENDING];
	unsigned npending = 0;
	/* buffers the device holds, as its API said; chains it no longer holds */
	uint8_t holds[MAX_QSIZE] = {0};
	struct vdev_vq_elem stale[MAX_STALE];
	unsigned nstale = 0;
	struct input in = {data, size};
	uint8_t flags = take(&in);
	uint16_t qsize = take16(&in);
	uint8_t qhi = (uint8_t)(qsize >> 8); /* unused by the size: shapes the translate callback */
	bool packed = flags & 1;
	uint64_t features = VDEV_BIT(VDEV_F_VERSION_1);
	static int tok[MAX_PENDING * 4];
	unsigned ntok = 0;

	if (packed) {
		features |= VDEV_BIT(VDEV_F_RING_PACKED);
		qsize = (uint16_t)(1 + qsize % 128);
	} else {
		qsize = (uint16_t)(1u << (qsize % 8)); /* 1..128 */
	}
	if (flags & 2)
		features |= VDEV_BIT(VDEV_F_EVENT_IDX);
	if (flags & 4)
		features |= VDEV_BIT(VDEV_F_INDIRECT_DESC);
	if (flags & 8)
		features |= VDEV_BIT(VDEV_F_IN_ORDER);
	tr_on = (flags & 64) != 0;
	tr_piece = 1u + qhi / 8u * 37u;
	tr_mode = qhi % 8u < 5u ? 0u : qhi % 8u - 4u;
	if (pair_reset(&s, qsize, features) != 0)
		return 0;
	memset(tw, 0, sizeof(tw));
	vdev_mem_set_translate(&s.m.mem, tr_on ? fz_translate : NULL, NULL);
	/* a device-reads-only queue (writable descriptors taken as readable) */
	if (flags & 32)
		vdev_vq_set_device_reads_only(&s.vq, true);
	/* the driver may be told it can use indirect even if not negotiated */
	if ((flags & 16) && !(features & VDEV_BIT(VDEV_F_INDIRECT_DESC))) {
		s.drv.indirect_ok = true;
		s.drv.max_indirect = 8;
		s.drv.indirect_pool = sim_alloc(&s.m, (size_t)qsize * 8u * 16u, 16);
	}
	uint64_t arena = sim_alloc_in(&s.m, 1, 9000, 16);
	size_t ring_bytes = packed ? 16u * qsize : 16u * qsize;

	while (in.n > 0) {
		uint8_t op = take(&in);
		switch (op % 16) {
		case 0: { /* driver adds a chain */
			struct drv_buf b[6];
			unsigned n = 1 + take(&in) % 6u, nw = take(&in) % (n + 1u);
			for (unsigned i = 0; i < n; i++) {
				b[i].gpa = pick_addr(&s, arena, &in);
				b[i].len = take(&in) % 4 == 0 ? (uint32_t)take64(&in) : take16(&in) % 512u;
				b[i].write = i >= n - nw;
			}
			if (ntok < sizeof(tok) / sizeof(tok[0]) &&
			    drv_add(&s.drv, b, n, take(&in) & 1, &tok[ntok]) == 0)
				ntok++;
			if (ntok == sizeof(tok) / sizeof(tok[0]))
				ntok = 0; /* tokens are just non-NULL markers */
			break;
		}
		case 1: { /* a hostile guest scribbles on the rings */
			uint16_t off = take16(&in);
			uint8_t v = take(&in);
			uint8_t area = take(&in) % 3;
			if (area == 0)
				((uint8_t *)s.drv.desc)[off % ring_bytes] = v;
			else if (area == 1)
				((uint8_t *)s.drv.driver)[off % (packed ? 4u : 6u + 2u * qsize)] = v;
			else
				((uint8_t *)s.drv.device)[off % (packed ? 4u : 6u + 8u * qsize)] = v;
			break;
		}
		case 2:
		case 3: { /* pop one / a batch */
			unsigned want = op % 16 == 2 ? 1 : 1 + take(&in) % 8u;
			unsigned cap = 1 + take(&in) % IOV_CAP;
			if (want > MAX_PENDING - npending)
				want = MAX_PENDING - npending;
			if (want == 0)
				break;
			int got = vdev_vq_pop_batch(&s.vq, &pending[npending], want,
						    &iov[npending * IOV_CAP], cap);
			FUZZ_CHECK(got <= (int)want);
			for (int i = 0; i < got; i++) {
				check_elem(&s.m, &pending[npending], cap);
				/* never a buffer the device holds already */
				FUZZ_CHECK(pending[npending].id < qsize && !holds[pending[npending].id]);
				holds[pending[npending].id] = 1;
				/* a device-reads-only queue never hands out writable parts */
				FUZZ_CHECK(!(flags & 32) || pending[npending].n_in == 0);
				npending++;
			}
			break;
		}
		case 4: { /* complete one, or a batch of the oldest */
			if (npending == 0)
				break;
			uint8_t how = take(&in);
			if (how & 1) {
				uint32_t lens[8];
				unsigned m = 1 + (how >> 1) % (npending < 8 ? npending : 8u);
				for (unsigned i = 0; i < m; i++)
					lens[i] = take16(&in);
				int rc = push_checked(&s, packed, qsize, holds, pending, lens, m);
				FUZZ_CHECK(rc == 0 || vdev_vq_is_broken(&s.vq) ||
					   !vdev_vq_is_live(&s.vq));
				memmove(&pending[0], &pending[m], (npending - m) * sizeof(pending[0]));
				npending -= m;
				break;
			}
			unsigned k = take(&in) % npending;
			if (features & VDEV_BIT(VDEV_F_IN_ORDER))
				k = 0;
			uint32_t len1 = take16(&in);
			int rc = push_checked(&s, packed, qsize, holds, &pending[k], &len1, 1);
			FUZZ_CHECK(rc == 0 || vdev_vq_is_broken(&s.vq) || !vdev_vq_is_live(&s.vq));
			if (nstale < MAX_STALE)
				stale[nstale++] = pending[k]; /* completed: a replay must fail */
			memmove(&pending[k], &pending[k + 1], (npending - k - 1) * sizeof(pending[0]));
			npending--;
			break;
		}
		case 5:
			(void)vdev_vq_publish(&s.vq);
			break;
		case 6:
			(void)vdev_vq_enable_notify(&s.vq);
			break;
		case 7:
			vdev_vq_disable_notify(&s.vq);
			break;
		case 8: { /* driver reaps */
			uint32_t len;
			for (int i = 0; i < 64 && drv_get_used(&s.drv, &len) != NULL; i++)
				;
			break;
		}
		case 9: { /* stop and restart where it left off; in-flight dropped */
			struct vdev_vq_state st;
			vdev_vq_stop(&s.vq);
			vdev_vq_get_state(&s.vq, &st);
			if (take(&in) & 1)
				st.avail_idx = take16(&in); /* migration from a liar */
			(void)vdev_vq_set_state(&s.vq, &st);
			(void)vdev_vq_start(&s.vq, &s.m.mem, features);
			/* what was in flight is forgotten, not to be pushed */
			for (unsigned i = 0; i < npending && nstale < MAX_STALE; i++)
				stale[nstale++] = pending[i];
			npending = 0;
			memset(holds, 0, sizeof(holds));
			break;
		}
		case 10:
			(void)vdev_vq_has_work(&s.vq);
			break;
		case 11:
			vdev_vq_note_notification(&s.vq, take16(&in));
			break;
		case 12:
			(void)vdev_vq_remap(&s.vq);
			break;
		case 13: { /* push a chain the device completed or forgot */
			if (nstale == 0)
				break;
			unsigned k = take(&in) % nstale;
			uint32_t len1 = take16(&in);
			if (stale[k].id < qsize && holds[stale[k].id])
				break; /* taken again since: a model must not, the queue cannot tell */
			FUZZ_CHECK(push_checked(&s, packed, qsize, holds, &stale[k], &len1, 1) != 0);
			break;
		}
		case 14: { /* the driver offers a buffer the device holds again */
			if (npending == 0)
				break;
			struct drv_buf b = {pick_addr(&s, arena, &in), take16(&in) % 512u,
					    (take(&in) & 1) != 0};
			drv_offer_again(&s.drv, pending[take(&in) % npending].id, &b);
			break;
		}
		default: { /* unpop the latest k chains */
			unsigned k = 1 + take(&in) % 4u;
			if (k > npending)
				break;
			if (vdev_vq_unpop(&s.vq, &pending[npending - k], k) == 0) {
				for (unsigned i = npending - k; i < npending; i++) {
					holds[pending[i].id] = 0;
					if (nstale < MAX_STALE)
						stale[nstale++] = pending[i]; /* given back */
				}
				npending -= k;
			}
			break;
		}
		}
	}
	return 0;
}
