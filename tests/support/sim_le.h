/* SPDX-License-Identifier: MIT */
/*
 * Little-endian conversions for the test side (driver simulator, front-ends,
 * tests): virtio's rings, headers and configuration space are little-endian
 * whatever the host, so code playing the driver converts like a real one
 * (scripts/cross.sh runs the tests on big-endian s390x).
 */
#ifndef VDEV_TESTS_SIM_LE_H
#define VDEV_TESTS_SIM_LE_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
static inline uint16_t sim_le16(uint16_t v) { return __builtin_bswap16(v); }
static inline uint32_t sim_le32(uint32_t v) { return __builtin_bswap32(v); }
static inline uint64_t sim_le64(uint64_t v) { return __builtin_bswap64(v); }
#else
static inline uint16_t sim_le16(uint16_t v) { return v; }
static inline uint32_t sim_le32(uint32_t v) { return v; }
static inline uint64_t sim_le64(uint64_t v) { return v; }
#endif

/* Unaligned little-endian loads and stores. */
static inline uint16_t sim_get_le16(const void *p) { uint16_t v; memcpy(&v, p, 2); return sim_le16(v); }
static inline uint32_t sim_get_le32(const void *p) { uint32_t v; memcpy(&v, p, 4); return sim_le32(v); }
static inline uint64_t sim_get_le64(const void *p) { uint64_t v; memcpy(&v, p, 8); return sim_le64(v); }
static inline void sim_put_le16(void *p, uint16_t v) { v = sim_le16(v); memcpy(p, &v, 2); }
static inline void sim_put_le32(void *p, uint32_t v) { v = sim_le32(v); memcpy(p, &v, 4); }
static inline void sim_put_le64(void *p, uint64_t v) { v = sim_le64(v); memcpy(p, &v, 8); }

#endif
