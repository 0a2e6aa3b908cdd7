/* SPDX-License-Identifier: MIT */
/*
 * Internal: portability layer of the freestanding core. Byte order, guest
 * field access (read once, explicit endianness), memory barriers and the
 * few atomics the core needs. Nothing here is public API.
 */
#ifndef VDEV_LIB_COMPILER_H
#define VDEV_LIB_COMPILER_H

#include <stdbool.h>
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

/* ---- read-modify-write atomics ---------------------------------------------
 * Loads, stores and fences are inline instructions on every target. A
 * read-modify-write (fetch_add/or/and, exchange, compare-exchange) is too
 * where the CPU has one (x86, ARMv7-A/R, ARMv7-M and later, AArch64 with
 * -mno-outline-atomics); the core uses them through these macros:
 *   vdev__atomic_fetch_add/or/and(p, v, order), vdev__atomic_exchange(p, v,
 *   order), vdev__atomic_cas(p, &expected, desired, order, fail_order)
 * on uint8_t, uint16_t and uint32_t objects.
 *
 * ARMv6-M (Cortex-M0/M0+/M1) has no exclusive loads/stores: gcc would call
 * __atomic_*_N library functions, which a bare-metal image does not have.
 * There each RMW is a critical section with interrupts masked (PRIMASK
 * saved, CPSID I, restored), between full fences (DMB) that give every
 * memory order. That is atomic on a single-core part against the
 * integrator's interrupt handlers, as long as the library runs privileged
 * (unprivileged, CPSID is ignored: then every call into one device and its
 * transport must come from one execution context, as on any target without
 * threads). gcc only: clang turns even atomic loads and stores into
 * library calls on ARMv6-M. No other target without lock-free RMW is
 * supported.
 */
#if __GCC_ATOMIC_CHAR_LOCK_FREE == 2 && __GCC_ATOMIC_SHORT_LOCK_FREE == 2 &&                  \
	__GCC_ATOMIC_INT_LOCK_FREE == 2
#define vdev__atomic_fetch_add(p, v, mo) __atomic_fetch_add((p), (v), (mo))
#define vdev__atomic_fetch_or(p, v, mo) __atomic_fetch_or((p), (v), (mo))
#define vdev__atomic_fetch_and(p, v, mo) __atomic_fetch_and((p), (v), (mo))
#define vdev__atomic_exchange(p, v, mo) __atomic_exchange_n((p), (v), (mo))
#define vdev__atomic_cas(p, expected, desired, mo, mo_fail)                                  \
	__atomic_compare_exchange_n((p), (expected), (desired), false, (mo), (mo_fail))
#elif defined(__ARM_ARCH_6M__) && defined(__clang__)
#error "ARMv6-M: build the core with gcc (clang makes every atomic load and store an __atomic_* library call there)"
#elif defined(__ARM_ARCH_6M__)
static inline uint32_t vdev__irq_save(void)
{
	uint32_t primask;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
	return primask;
}
static inline void vdev__irq_restore(uint32_t primask)
{
	__asm__ volatile("msr primask, %0" : : "r"(primask) : "memory");
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
#define VDEV__RMW(name, T, expr)                                                             \
	static inline T vdev__rmw_##name(T *p, T v)                                          \
	{                                                                                    \
		uint32_t s = vdev__irq_save();                                               \
		T old = *(volatile T *)p;                                                    \
		*(volatile T *)p = (T)(expr);                                                \
		vdev__irq_restore(s);                                                        \
		return old;                                                                  \
	}
#define VDEV__RMW_ALL(n, T)                                                                  \
	VDEV__RMW(add##n, T, old + v)                                                        \
	VDEV__RMW(or##n, T, old | v)                                                         \
	VDEV__RMW(and##n, T, old & v)                                                        \
	VDEV__RMW(xchg##n, T, v)                                                             \
	static inline bool vdev__rmw_cas##n(T *p, T *expected, T desired)                    \
	{                                                                                    \
		uint32_t s = vdev__irq_save();                                               \
		T cur = *(volatile T *)p;                                                    \
		bool ok = cur == *expected;                                                  \
		if (ok)                                                                      \
			*(volatile T *)p = desired;                                          \
		else                                                                         \
			*expected = cur;                                                     \
		vdev__irq_restore(s);                                                        \
		return ok;                                                                   \
	}
VDEV__RMW_ALL(8, uint8_t)
VDEV__RMW_ALL(16, uint16_t)
VDEV__RMW_ALL(32, uint32_t)
#define VDEV__RMW_PICK(p, op)                                                                \
	_Generic((p), uint8_t *: vdev__rmw_##op##8, uint16_t *: vdev__rmw_##op##16,          \
		 uint32_t *: vdev__rmw_##op##32)
#define vdev__atomic_fetch_add(p, v, mo) VDEV__RMW_PICK(p, add)((p), (v))
#define vdev__atomic_fetch_or(p, v, mo) VDEV__RMW_PICK(p, or)((p), (v))
#define vdev__atomic_fetch_and(p, v, mo) VDEV__RMW_PICK(p, and)((p), (v))
#define vdev__atomic_exchange(p, v, mo) VDEV__RMW_PICK(p, xchg)((p), (v))
#define vdev__atomic_cas(p, expected, desired, mo, mo_fail)                                  \
	VDEV__RMW_PICK(p, cas)((p), (expected), (desired))
#else
#error "libvdev needs lock-free 8/16/32-bit atomic read-modify-write (or ARMv6-M, see compiler.h)"
#endif

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
	return vdev__atomic_exchange(p, v, __ATOMIC_ACQ_REL);
}

/* ---- misc ---------------------------------------------------------------- */
static inline int vdev__is_pow2(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

#endif /* VDEV_LIB_COMPILER_H */
