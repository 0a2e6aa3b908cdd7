/* SPDX-License-Identifier: MIT */
/*
 * Internal: ring layouts and flags, written from the VIRTIO 1.4 spec
 * ("Split Virtqueues", "Packed Virtqueues"). Spec names kept.
 */
#ifndef VDEV_LIB_RING_H
#define VDEV_LIB_RING_H

#include "compiler.h"

/* Descriptor flags (both layouts). */
#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u
#define VIRTQ_DESC_F_INDIRECT 4u
/* Packed only. */
#define VIRTQ_DESC_F_AVAIL (1u << 7)
#define VIRTQ_DESC_F_USED (1u << 15)

/* Split ring suppression flags. */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY 1u

/* Packed event suppression flags. */
#define RING_EVENT_FLAGS_ENABLE 0x0u
#define RING_EVENT_FLAGS_DISABLE 0x1u
#define RING_EVENT_FLAGS_DESC 0x2u
#define RING_EVENT_FLAGS_MASK 0x3u
#define RING_EVENT_WRAP_SHIFT 15

/* Split ring. */
struct virtq_desc {
	struct vdev__le64 addr;
	struct vdev__le32 len;
	struct vdev__le16 flags;
	struct vdev__le16 next;
};

struct virtq_avail {
	struct vdev__le16 flags;
	struct vdev__le16 idx;
	struct vdev__le16 ring[]; /* [size], then le16 used_event */
};

struct virtq_used_elem {
	struct vdev__le32 id;
	struct vdev__le32 len;
};

struct virtq_used {
	struct vdev__le16 flags;
	struct vdev__le16 idx;
	struct virtq_used_elem ring[]; /* [size], then le16 avail_event */
};

/* Packed ring. */
struct pvirtq_desc {
	struct vdev__le64 addr;
	struct vdev__le32 len;
	struct vdev__le16 id;
	struct vdev__le16 flags;
};

struct pvirtq_event_suppress {
	struct vdev__le16 off_wrap;
	struct vdev__le16 flags;
};

/* Sizes of the three split areas for a queue of `n` entries. */
static inline uint64_t virtq_desc_bytes(uint32_t n) { return 16u * (uint64_t)n; }
static inline uint64_t virtq_avail_bytes(uint32_t n) { return 6u + 2u * (uint64_t)n; }
static inline uint64_t virtq_used_bytes(uint32_t n) { return 6u + 8u * (uint64_t)n; }

/*
 * The event-index test of the spec: true if `event` lies in the window of
 * indices [old, new) that were just published (all arithmetic mod 2^16).
 */
static inline int vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

#endif /* VDEV_LIB_RING_H */
