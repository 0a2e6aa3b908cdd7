/* SPDX-License-Identifier: MIT */
/*
 * Internal: portability layer of the freestanding core. Byte order, guest
 * field access (read once, explicit endianness), memory barriers and the
 * few atomics the core needs. Nothing here is public API.
 */
#ifndef VDEV_LIB_COMPILER_H
#define VDEV_LIB_COMPILER_H

#include <stddef.h>
#include <stdint.h>

/*
 * The only library functions the core calls. Declared here rather than
 * taken from <string.h>, which a bare freestanding toolchain (arm-none-eabi
 * without newlib, an RTOS SDK) need not have; the declarations are
 * compatible with the standard ones where <string.h> is included too.
 */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#if defined(__GNUC__) || defined(__clang__)
#define VDEV__LIKELY(x) __builtin_expect(!!(x), 1)
#define VDEV__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define VDEV__INTERNAL __attribute__((visibility("hidden")))
#define VDEV__ADD_OVERFLOW(a, b, res) __builtin_add_overflow((a), (b), (res))
#else
#error "libvdev needs GCC or clang builtins (__builtin_add_overflow, __atomic_*)"
#endif

#define VDEV__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define VDEV__MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- byte order ---------------------------------------------------------- */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VDEV__BIG_ENDIAN 1
static inline uint16_t vdev__cpu_le16(uint16_t v) { return __builtin_bswap16(v); }
static inline uint32_t vdev__cpu_le32(uint32_t v) { return __builtin_bswap32(v); }
static inline uint64_t vdev__cpu_le64(uint64_t v) { return __builtin_bswap64(v); }
#else
static inline uint16_t vdev__cpu_le16(uint16_t v) { return v; }
static inline uint32_t vdev__cpu_le32(uint32_t v) { return v; }
static inline uint64_t vdev__cpu_le64(uint64_t v) { return v; }
#endif

/*
 * Little-endian guest fields. Wrapping them in structs means a missing
 * conversion does not compile.
 */
struct vdev__le16 { uint16_t v; };
struct vdev__le32 { uint32_t v; };
struct vdev__le64 { uint64_t v; };

/*
 * Read a guest-shared field exactly once (volatile: the compiler may
 * neither re-read it nor split it) and convert it to CPU order. The result
 * is a local the caller validates and uses; the guest may change the
 * field at any moment.
 */
static inline uint16_t vdev__rd16(const struct vdev__le16 *p)
{
	return vdev__cpu_le16(*(const volatile uint16_t *)&p->v);
}
static inline uint32_t vdev__rd32(const struct vdev__le32 *p)
{
	return vdev__cpu_le32(*(const volatile uint32_t *)&p->v);
}
static inline uint64_t vdev__rd64(const struct vdev__le64 *p)
{
	return vdev__cpu_le64(*(const volatile uint64_t *)&p->v);
}
static inline void vdev__wr16(struct vdev__le16 *p, uint16_t v)
{
	*(volatile uint16_t *)&p->v = vdev__cpu_le16(v);
}
static inline void vdev__wr32(struct vdev__le32 *p, uint32_t v)
{
	*(volatile uint32_t *)&p->v = vdev__cpu_le32(v);
}

/* Little-endian helpers for byte buffers (config spaces, headers). */
static inline uint16_t vdev__get_le16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return vdev__cpu_le16(v);
}
static inline uint32_t vdev__get_le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return vdev__cpu_le32(v);
}
static inline uint64_t vdev__get_le64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return vdev__cpu_le64(v);
}
static inline void vdev__put_le16(void *p, uint16_t v)
{
	v = vdev__cpu_le16(v);
	memcpy(p, &v, sizeof(v));
}
static inline void vdev__put_le32(void *p, uint32_t v)
{
	v = vdev__cpu_le32(v);
	memcpy(p, &v, sizeof(v));
}
static inline void vdev__put_le64(void *p, uint64_t v)
{
	v = vdev__cpu_le64(v);
	memcpy(p, &v, sizeof(v));
}

/* ---- barriers ------------------------------------------------------------
 * Device side of the virtio memory model (spec "Memory barriers"; Linux
 * virtio_ring.c's virtio_rmb/wmb/mb are the driver side we pair with).
 *   vdev__rmb(): loads before it are ordered before loads after it
 *                (acquire; after reading an index/flag, before the data).
 *   vdev__wmb(): stores before it are ordered before stores after it
 *                (release; before publishing an index/flag).
 *   vdev__mb():  full fence, orders a store before a later load (event
 *                index checks).
 * Guest memory may be accessed by another CPU or a DMA-coherent peer, so
 * these are real fences, not compiler barriers, on weakly ordered CPUs.
 */
static inline void vdev__rmb(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
static inline void vdev__wmb(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }
static inline void vdev__mb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

/* Small atomics for flags shared between a device's threads. */
static inline uint8_t vdev__atomic_load8(const uint8_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void vdev__atomic_store8(uint8_t *p, uint8_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline uint8_t vdev__atomic_xchg8(uint8_t *p, uint8_t v)
{
	return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL);
}

/* ---- misc ---------------------------------------------------------------- */
static inline int vdev__is_pow2(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

#endif /* VDEV_LIB_COMPILER_H */
