/* SPDX-License-Identifier: MIT */
/* Driver simulator: see drvsim.h. */
#include "drvsim.h"
#include "sim_le.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- little-endian guest accessors (driver side) ------------------------- */
static inline uint16_t ld16(const void *p) { return sim_get_le16(p); }
static inline uint32_t ld32(const void *p) { return sim_get_le32(p); }
static inline void st16(void *p, uint16_t v) { sim_put_le16(p, v); }
static inline void st32(void *p, uint32_t v) { sim_put_le32(p, v); }
static inline void st64(void *p, uint64_t v) { sim_put_le64(p, v); }
/* volatile single accesses for fields the device races on */
static inline uint16_t vld16(const void *p) { return sim_le16(*(const volatile uint16_t *)p); }
static inline void vst16(void *p, uint16_t v) { *(volatile uint16_t *)p = sim_le16(v); }

#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

#define F_NEXT 1u
#define F_WRITE 2u
#define F_INDIRECT 4u
#define F_AVAIL (1u << 7)
#define F_USED (1u << 15)

static void die(const char *what)
{
	fprintf(stderr, "drvsim: %s\n", what);
	abort();
}

static void proto_error(struct drv_vq *q, const char *what)
{
	q->errors++;
	snprintf(q->last_error, sizeof(q->last_error), "%s", what);
}

/* ---- memory ---------------------------------------------------------------- */

void sim_mem_init(struct sim_mem *m, size_t region_size, bool single)
{
	if (m->nregions != 0) /* re-initialising: free the old one */
		sim_mem_destroy(m);
	memset(m, 0, sizeof(*m));
	m->nregions = single ? 1 : 3;
	for (unsigned i = 0; i < m->nregions; i++) {
		/* 4 KiB-aligned host buffers; region 1 is a separate one. */
		if (posix_memalign((void **)&m->host[i], 4096, region_size) != 0)
			die("out of memory");
		memset(m->host[i], 0, region_size);
		m->regions[i].hva = m->host[i];
		m->regions[i].size = region_size;
	}
	m->regions[0].gpa = SIM_R0_GPA;
	if (!single) {
		m->regions[1].gpa = SIM_R0_GPA + region_size;
		m->regions[2].gpa = SIM_RO_GPA;
		m->regions[2].flags = VDEV_MEM_F_READONLY;
		if (m->regions[1].gpa + region_size > SIM_HOLE_GPA)
			die("regions too large for the layout");
	}
	if (vdev_mem_init(&m->mem, m->regions, m->nregions) != 0)
		die("vdev_mem_init refused the simulated layout");
}

void sim_mem_destroy(struct sim_mem *m)
{
	if (m->memfd_len != 0) {
		munmap(m->host[0], m->memfd_len);
		close(m->memfd);
	} else {
		for (unsigned i = 0; i < m->nregions; i++)
			free(m->host[i]);
	}
	memset(m, 0, sizeof(*m));
}

void sim_mem_init_memfd(struct sim_mem *m, size_t region_size)
{
	if (m->nregions != 0)
		sim_mem_destroy(m);
	memset(m, 0, sizeof(*m));
	m->memfd = memfd_create("vdev-guest-ram", MFD_CLOEXEC);
	m->memfd_len = 2 * region_size;
	if (m->memfd < 0 || ftruncate(m->memfd, (off_t)m->memfd_len) != 0)
		die("memfd");
	m->host[0] = mmap(NULL, m->memfd_len, PROT_READ | PROT_WRITE, MAP_SHARED, m->memfd, 0);
	if (m->host[0] == MAP_FAILED)
		die("mmap memfd");
	m->host[1] = m->host[0] + region_size;
	m->nregions = 2;
	for (unsigned i = 0; i < 2; i++) {
		m->regions[i].hva = m->host[i];
		m->regions[i].size = region_size;
		m->regions[i].gpa = SIM_R0_GPA + i * (uint64_t)region_size;
	}
	if (vdev_mem_init(&m->mem, m->regions, m->nregions) != 0)
		die("vdev_mem_init refused the simulated layout");
}

void sim_mem_reset_alloc(struct sim_mem *m)
{
	for (unsigned i = 0; i < 3; i++)
		m->next[i] = 0;
}

uint64_t sim_alloc_in(struct sim_mem *m, unsigned r, size_t len, size_t align)
{
	uint64_t off;

	if (r >= m->nregions)
		die("no such region");
	if (align == 0)
		align = 1;
	off = (m->next[r] + align - 1) / align * align;
	if (off + len > m->regions[r].size)
		die("simulated guest memory exhausted");
	m->next[r] = off + len;
	memset(m->host[r] + off, 0, len);
	return m->regions[r].gpa + off;
}

size_t sim_room(const struct sim_mem *m)
{
	return (size_t)(m->regions[0].size - m->next[0]);
}

size_t drv_vq_footprint(uint16_t size, bool packed, uint16_t max_indirect)
{
	/* the rings, each with its alignment's worst padding */
	size_t n = packed ? 16u * size + 15u + 4u + 3u + 4u + 3u
			  : 16u * size + 15u + 6u + 2u * size + 1u + 6u + 8u * size + 3u;
	return n + (size_t)size * max_indirect * 16u + 15u;
}

uint64_t sim_straddle_gpa(const struct sim_mem *m, size_t before)
{
	return m->regions[0].gpa + m->regions[0].size - before;
}

void *sim_ptr(const struct sim_mem *m, uint64_t gpa)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct vdev_mem_region *r = &m->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return (uint8_t *)r->hva + (gpa - r->gpa);
	}
	die("driver touched unmapped guest memory");
	return NULL;
}

/* ---- queue set-up ---------------------------------------------------------- */

void drv_vq_init(struct drv_vq *q, struct sim_mem *m, uint16_t size, bool packed,
		 bool event_idx, bool indirect_ok, uint16_t max_indirect)
{
	if (q->token != NULL) /* re-initialising: free the old one */
		drv_vq_destroy(q);
	memset(q, 0, sizeof(*q));
	q->m = m;
	q->packed = packed;
	q->event_idx = event_idx;
	q->indirect_ok = indirect_ok;
	q->size = size;
	q->num_free = size;
	q->token = calloc(size, sizeof(void *));
	q->chain_len = calloc(size, sizeof(uint16_t));
	if (q->token == NULL || q->chain_len == NULL)
		die("out of memory");
	if (!packed) {
		q->desc_gpa = sim_alloc(m, 16u * size, 16);
		q->driver_gpa = sim_alloc(m, 6u + 2u * size, 2);
		q->device_gpa = sim_alloc(m, 6u + 8u * size, 4);
		q->next_free = calloc(size, sizeof(uint16_t));
		if (q->next_free == NULL)
			die("out of memory");
		for (uint16_t i = 0; i < size; i++)
			q->next_free[i] = (uint16_t)(i + 1);
		q->free_head = 0;
	} else {
		q->desc_gpa = sim_alloc(m, 16u * size, 16);
		q->driver_gpa = sim_alloc(m, 4, 4);
		q->device_gpa = sim_alloc(m, 4, 4);
		q->id_next = calloc(size, sizeof(uint16_t));
		if (q->id_next == NULL)
			die("out of memory");
		for (uint16_t i = 0; i < size; i++)
			q->id_next[i] = (uint16_t)(i + 1);
		q->free_id = 0;
		q->avail_wrap = true;
		q->used_wrap = true;
	}
	q->desc = sim_ptr(m, q->desc_gpa);
	q->driver = sim_ptr(m, q->driver_gpa);
	q->device = sim_ptr(m, q->device_gpa);
	if (indirect_ok && max_indirect > 0) {
		q->max_indirect = max_indirect;
		q->indirect_pool = sim_alloc(m, (size_t)size * max_indirect * 16u, 16);
	}
}

void drv_vq_destroy(struct drv_vq *q)
{
	free(q->token);
	free(q->chain_len);
	free(q->next_free);
	free(q->id_next);
	memset(q, 0, sizeof(*q));
}

unsigned drv_outstanding(const struct drv_vq *q)
{
	unsigned n = 0;
	for (unsigned i = 0; i < q->size; i++)
		n += q->token[i] != NULL;
	return n;
}

static void write_split_desc(void *at, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = at;
	st64(d, addr);
	st32(d + 8, len);
	st16(d + 12, flags);
	st16(d + 14, next);
}

static void write_packed_desc_body(void *at, uint64_t addr, uint32_t len, uint16_t id)
{
	uint8_t *d = at;
	st64(d, addr);
	st32(d + 8, len);
	st16(d + 12, id);
}

/* Fill an indirect table for buffer `slot`; returns its gpa. */
static uint64_t fill_indirect(struct drv_vq *q, uint16_t slot, const struct drv_buf *bufs,
			      unsigned n)
{
	uint64_t tbl = q->indirect_pool + (uint64_t)slot * q->max_indirect * 16u;
	uint8_t *p = sim_ptr(q->m, tbl);

	for (unsigned i = 0; i < n; i++) {
		uint16_t flags = bufs[i].write ? F_WRITE : 0;
		if (!q->packed) {
			if (i + 1 < n)
				flags |= F_NEXT;
			write_split_desc(p + 16u * i, bufs[i].gpa, bufs[i].len, flags,
					 (uint16_t)(i + 1 < n ? i + 1 : 0));
		} else {
			write_packed_desc_body(p + 16u * i, bufs[i].gpa, bufs[i].len, 0);
			st16(p + 16u * i + 14, flags);
		}
	}
	return tbl;
}

/* ---- split driver ------------------------------------------------------------ */

static uint8_t *split_desc(struct drv_vq *q, uint16_t i) { return (uint8_t *)q->desc + 16u * i; }
static uint8_t *avail_idx_p(struct drv_vq *q) { return (uint8_t *)q->driver + 2; }
static uint8_t *avail_ring_p(struct drv_vq *q, uint16_t slot)
{
	return (uint8_t *)q->driver + 4 + 2u * slot;
}
static uint8_t *used_event_p(struct drv_vq *q) { return (uint8_t *)q->driver + 4 + 2u * q->size; }
static uint8_t *used_idx_p(const struct drv_vq *q) { return (uint8_t *)q->device + 2; }
static uint8_t *used_elem_p(struct drv_vq *q, uint16_t slot)
{
	return (uint8_t *)q->device + 4 + 8u * slot;
}
static uint8_t *avail_event_p(struct drv_vq *q) { return (uint8_t *)q->device + 4 + 8u * q->size; }

static int split_add(struct drv_vq *q, const struct drv_buf *bufs, unsigned n, bool indirect,
		     void *token)
{
	uint16_t head, i;
	unsigned need = indirect ? 1 : n;

	/* spec: no chain longer than the queue size, indirect or not */
	if (n == 0 || n > q->size || need > q->num_free)
		return -1;
	if (indirect && (!q->indirect_ok || n > q->max_indirect))
		return -1;
	head = q->free_head;
	if (indirect) {
		uint64_t tbl = fill_indirect(q, head, bufs, n);
		write_split_desc(split_desc(q, head), tbl, (uint32_t)(16u * n), F_INDIRECT, 0);
		q->free_head = q->next_free[head];
	} else {
		i = head;
		for (unsigned k = 0; k < n; k++) {
			uint16_t flags = bufs[k].write ? F_WRITE : 0;
			uint16_t nxt = q->next_free[i];
			if (k + 1 < n)
				flags |= F_NEXT;
			write_split_desc(split_desc(q, i), bufs[k].gpa, bufs[k].len, flags,
					 k + 1 < n ? nxt : 0);
			i = nxt;
		}
		q->free_head = i;
	}
	q->num_free = (uint16_t)(q->num_free - need);
	q->chain_len[head] = (uint16_t)need;
	q->token[head] = token;
	st16(avail_ring_p(q, (uint16_t)(q->avail_idx & (q->size - 1))), head);
	q->avail_idx++;
	q->num_added++;
	/* Descriptors and the ring entry before the index (spec: "a suitable
	 * memory barrier before the idx update"). */
	wmb();
	vst16(avail_idx_p(q), q->avail_idx);
	return 0;
}

static bool split_kick_prepare(struct drv_vq *q)
{
	uint16_t new_idx = q->avail_idx, old = (uint16_t)(new_idx - q->num_added);
	bool kick;

	mb(); /* idx store before reading the device's suppression state */
	q->kick_checks++;
	if (q->event_idx) {
		uint16_t ev = vld16(avail_event_p(q));
		kick = (uint16_t)(new_idx - ev - 1) < (uint16_t)(new_idx - old);
	} else {
		kick = !(vld16(q->device) & 1u); /* VIRTQ_USED_F_NO_NOTIFY */
	}
	q->num_added = 0;
	if (kick)
		q->kicks++;
	return kick;
}

static void *split_get_used(struct drv_vq *q, uint32_t *len)
{
	uint16_t used = vld16(used_idx_p(q));
	uint32_t id;
	void *tok;
	uint16_t i;

	if (used == q->last_used)
		return NULL;
	if ((uint16_t)(used - q->last_used) > q->size) {
		proto_error(q, "used idx moved more than the queue size");
		return NULL;
	}
	rmb(); /* entries after the index */
	{
		uint8_t *e = used_elem_p(q, (uint16_t)(q->last_used & (q->size - 1)));
		id = ld32(e);
		*len = ld32(e + 4);
	}
	if (id >= q->size || q->token[id] == NULL) {
		proto_error(q, "used id not outstanding");
		q->last_used++;
		return NULL;
	}
	tok = q->token[id];
	q->token[id] = NULL;
	/* Free the chain. Its links are still in next_free[] from when it
	 * was taken off the free list (the ring's copy is not trusted). */
	i = (uint16_t)id;
	for (uint16_t k = 1; k < q->chain_len[id]; k++)
		i = q->next_free[i];
	q->next_free[i] = q->free_head;
	q->free_head = (uint16_t)id;
	q->num_free = (uint16_t)(q->num_free + q->chain_len[id]);
	q->last_used++;
	if (q->event_idx && !q->cb_disabled) {
		vst16(used_event_p(q), q->last_used);
		mb();
	}
	return tok;
}

/* ---- packed driver ----------------------------------------------------------- */

static uint8_t *pdesc(struct drv_vq *q, uint16_t i) { return (uint8_t *)q->desc + 16u * i; }

uint16_t drv_packed_avail_flags(bool wrap)
{
	return (uint16_t)(wrap ? F_AVAIL : F_USED);
}

static int packed_add(struct drv_vq *q, const struct drv_buf *bufs, unsigned n, bool indirect,
		      void *token)
{
	unsigned need = indirect ? 1 : n;
	uint16_t id, pos = q->next_avail, head = q->next_avail;
	uint16_t head_flags = 0;
	bool wrap = q->avail_wrap;

	if (n == 0 || n > q->size || need > q->num_free || q->free_id >= q->size)
		return -1;
	if (indirect && (!q->indirect_ok || n > q->max_indirect))
		return -1;
	id = q->free_id;
	q->free_id = q->id_next[id];
	for (unsigned k = 0; k < need; k++) {
		uint16_t flags = drv_packed_avail_flags(wrap);
		uint64_t addr;
		uint32_t len;
		if (indirect) {
			addr = fill_indirect(q, id, bufs, n);
			len = (uint32_t)(16u * n);
			flags |= F_INDIRECT;
		} else {
			addr = bufs[k].gpa;
			len = bufs[k].len;
			if (bufs[k].write)
				flags |= F_WRITE;
			if (k + 1 < need)
				flags |= F_NEXT;
		}
		write_packed_desc_body(pdesc(q, pos), addr, len, id);
		if (k == 0)
			head_flags = flags;
		else
			vst16(pdesc(q, pos) + 14, flags);
		if (++pos == q->size) {
			pos = 0;
			wrap = !wrap;
		}
	}
	q->next_avail = pos;
	q->avail_wrap = wrap;
	q->num_free = (uint16_t)(q->num_free - need);
	q->chain_len[id] = (uint16_t)need;
	q->token[id] = token;
	q->num_added = (uint16_t)(q->num_added + need);
	/* The rest of the list before the head's flags make it available. */
	wmb();
	vst16(pdesc(q, head) + 14, head_flags);
	return 0;
}

static bool packed_kick_prepare(struct drv_vq *q)
{
	uint16_t new_pos = q->next_avail, old = (uint16_t)(new_pos - q->num_added);
	uint16_t flags, off_wrap, ev;
	bool kick;

	mb();
	q->kick_checks++;
	off_wrap = vld16(q->device);
	flags = vld16((uint8_t *)q->device + 2) & 3u;
	if (flags == 2u && q->event_idx) { /* RING_EVENT_FLAGS_DESC */
		ev = off_wrap & 0x7fffu;
		if ((off_wrap >> 15) != (q->avail_wrap ? 1u : 0u))
			ev = (uint16_t)(ev - q->size);
		kick = (uint16_t)(new_pos - ev - 1) < (uint16_t)(new_pos - old);
	} else {
		kick = flags != 1u; /* not DISABLE */
	}
	q->num_added = 0;
	if (kick)
		q->kicks++;
	return kick;
}

static bool packed_used_at(struct drv_vq *q, uint16_t pos, bool wrap)
{
	uint16_t f = vld16(pdesc(q, pos) + 14);
	bool a = (f & F_AVAIL) != 0, u = (f & F_USED) != 0;
	return a == u && u == wrap;
}

static void *packed_get_used(struct drv_vq *q, uint32_t *len)
{
	uint16_t pos = q->packed_last_used, id, n;
	void *tok;

	if (!packed_used_at(q, pos, q->used_wrap))
		return NULL;
	rmb(); /* id/len after the flags */
	id = ld16(pdesc(q, pos) + 12);
	*len = ld32(pdesc(q, pos) + 8);
	if (id >= q->size || q->token[id] == NULL) {
		proto_error(q, "packed used id not outstanding");
		return NULL;
	}
	tok = q->token[id];
	q->token[id] = NULL;
	n = q->chain_len[id];
	pos = (uint16_t)(pos + n);
	if (pos >= q->size) {
		pos = (uint16_t)(pos - q->size);
		q->used_wrap = !q->used_wrap;
	}
	q->packed_last_used = pos;
	q->num_free = (uint16_t)(q->num_free + n);
	q->id_next[id] = q->free_id;
	q->free_id = id;
	if (q->event_idx && !q->cb_disabled) {
		vst16(q->driver, (uint16_t)(pos | (q->used_wrap ? 0x8000u : 0u)));
		mb();
	}
	return tok;
}

/* ---- common -------------------------------------------------------------------- */

int drv_add(struct drv_vq *q, const struct drv_buf *bufs, unsigned n, bool indirect, void *token)
{
	if (token == NULL)
		die("drv_add needs a non-NULL token");
	return q->packed ? packed_add(q, bufs, n, indirect, token)
			 : split_add(q, bufs, n, indirect, token);
}

bool drv_kick_prepare(struct drv_vq *q)
{
	return q->packed ? packed_kick_prepare(q) : split_kick_prepare(q);
}

void *drv_get_used(struct drv_vq *q, uint32_t *len)
{
	return q->packed ? packed_get_used(q, len) : split_get_used(q, len);
}

static bool more_used(struct drv_vq *q)
{
	if (q->packed)
		return packed_used_at(q, q->packed_last_used, q->used_wrap);
	return vld16(used_idx_p(q)) != q->last_used;
}

bool drv_enable_cb(struct drv_vq *q)
{
	q->cb_disabled = false;
	if (q->packed) {
		if (q->event_idx) {
			vst16(q->driver, (uint16_t)(q->packed_last_used | (q->used_wrap ? 0x8000u : 0u)));
			wmb();
			vst16((uint8_t *)q->driver + 2, 2u); /* DESC */
		} else {
			vst16((uint8_t *)q->driver + 2, 0u); /* ENABLE */
		}
	} else {
		q->avail_flags_shadow = 0;
		vst16(q->driver, 0);
		if (q->event_idx)
			vst16(used_event_p(q), q->last_used);
	}
	mb();
	return more_used(q);
}

void drv_enable_cb_delayed(struct drv_vq *q, uint16_t n)
{
	q->cb_disabled = false;
	if (q->packed) {
		uint16_t pos = q->packed_last_used;
		bool wrap = q->used_wrap;
		/* n buffers of one descriptor each is what the tests use */
		for (uint16_t k = 0; k + 1 < n; k++) {
			if (++pos == q->size) {
				pos = 0;
				wrap = !wrap;
			}
		}
		vst16(q->driver, (uint16_t)(pos | (wrap ? 0x8000u : 0u)));
		wmb();
		vst16((uint8_t *)q->driver + 2, 2u);
	} else {
		vst16(q->driver, 0);
		vst16(used_event_p(q), (uint16_t)(q->last_used + n - 1));
	}
	mb();
}

void drv_disable_cb(struct drv_vq *q)
{
	q->cb_disabled = true;
	if (q->packed) {
		vst16((uint8_t *)q->driver + 2, 1u); /* DISABLE */
	} else if (q->event_idx) {
		/* An event index just behind us: the device only notifies after
		 * a full wrap of the index space. */
		vst16(used_event_p(q), (uint16_t)(q->last_used - 1));
	} else {
		q->avail_flags_shadow = 1;
		vst16(q->driver, 1u); /* VIRTQ_AVAIL_F_NO_INTERRUPT */
	}
}

/* ---- raw access for hostile tests ------------------------------------------------ */

void drv_split_write_desc(struct drv_vq *q, uint16_t i, const struct drv_split_desc *d)
{
	write_split_desc(split_desc(q, i), d->addr, d->len, d->flags, d->next);
}

void drv_split_set_avail(struct drv_vq *q, uint16_t slot, uint16_t head)
{
	st16(avail_ring_p(q, (uint16_t)(slot & (q->size - 1))), head);
}

void drv_offer_again(struct drv_vq *q, uint16_t id, const struct drv_buf *b)
{
	if (!q->packed) {
		st16(avail_ring_p(q, (uint16_t)(q->avail_idx & (q->size - 1))), id);
		q->avail_idx++;
		wmb();
		vst16(avail_idx_p(q), q->avail_idx);
		return;
	}
	uint16_t pos = q->next_avail;
	uint16_t flags = (uint16_t)(drv_packed_avail_flags(q->avail_wrap) |
				    (b->write ? F_WRITE : 0u));
	write_packed_desc_body(pdesc(q, pos), b->gpa, b->len, id);
	if (++q->next_avail == q->size) {
		q->next_avail = 0;
		q->avail_wrap = !q->avail_wrap;
	}
	wmb();
	vst16(pdesc(q, pos) + 14, flags);
}

void drv_split_set_avail_idx(struct drv_vq *q, uint16_t idx)
{
	wmb();
	vst16(avail_idx_p(q), idx);
	q->avail_idx = idx;
}

uint16_t drv_split_used_idx(const struct drv_vq *q)
{
	return vld16(used_idx_p(q));
}

void drv_packed_write_desc(struct drv_vq *q, uint16_t i, const struct drv_packed_desc *d)
{
	write_packed_desc_body(pdesc(q, i), d->addr, d->len, d->id);
	wmb();
	vst16(pdesc(q, i) + 14, d->flags);
}

/* ---- fixture --------------------------------------------------------------------- */

#include "vdev/device.h"

int sim_pair_init(struct sim_pair *p, uint16_t size, uint64_t features, size_t region_size,
		  bool single_region)
{
	bool packed = (features & VDEV_BIT(VDEV_F_RING_PACKED)) != 0;

	if (p->m.nregions != 0) /* re-initialising a fixture: free the old one */
		sim_pair_destroy(p);
	memset(p, 0, sizeof(*p));
	p->features = features;
	sim_mem_init(&p->m, region_size, single_region);
	drv_vq_init(&p->drv, &p->m, size, packed, (features & VDEV_BIT(VDEV_F_EVENT_IDX)) != 0,
		    (features & VDEV_BIT(VDEV_F_INDIRECT_DESC)) != 0, 64);
	if (vdev_vq_init(&p->vq, 0, size, p->held) != 0)
		die("vdev_vq_init");
	vdev_vq_set_addrs(&p->vq, p->drv.desc_gpa, p->drv.driver_gpa, p->drv.device_gpa);
	return vdev_vq_start(&p->vq, &p->m.mem, features);
}

void sim_pair_destroy(struct sim_pair *p)
{
	drv_vq_destroy(&p->drv);
	sim_mem_destroy(&p->m);
}
