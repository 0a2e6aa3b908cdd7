/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for the part of Criterion's API that libvdev's unit tests use,
 * for hosts where Debian has no Criterion (s390x, armhf) or where it cannot
 * run (its BoxFort sandbox re-executes the test binary, which qemu-user
 * without binfmt_misc cannot do). Only the cross builds (scripts/cross.sh)
 * use it; the native suite keeps the real Criterion.
 *
 * Each Test(suite, name, .init = f, .fini = g) runs in a forked child:
 * suite init, test init, body, test fini, suite fini. cr_expect_* records a
 * failure and goes on, cr_assert_* ends the test, cr_skip_test() skips it.
 * The runner prints Criterion's closing "Synthesis" line and exits 0 only
 * if every test passed or was skipped. Supported arguments: --filter
 * 'suite/name' (shell glob), anything else Criterion takes is ignored.
 */
#ifndef VDEV_CROSS_CRITERION_H
#define VDEV_CROSS_CRITERION_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct criterion_test_extra_data {
	void (*init)(void);
	void (*fini)(void);
	bool disabled;
	const char *description;
	double timeout;
	int signal;
	int exit_code;
};

struct vdevcr_test {
	const char *suite, *name, *file;
	void (*fn)(void);
	struct criterion_test_extra_data data;
	struct vdevcr_test *next;
};

struct vdevcr_suite {
	const char *name, *file;
	struct criterion_test_extra_data data;
	struct vdevcr_suite *next;
};

void vdevcr_register_test(struct vdevcr_test *t);
void vdevcr_register_suite(struct vdevcr_suite *s);
void vdevcr_check(bool fatal, bool ok, const char *file, int line, const char *expr,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void vdevcr_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void vdevcr_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define Test(suite, name, ...)                                                           \
	static void suite##_##name##_impl(void);                                         \
	static struct vdevcr_test suite##_##name##_desc = {                              \
		#suite, #name, __FILE__, suite##_##name##_impl, {__VA_ARGS__}, NULL};     \
	__attribute__((constructor)) static void suite##_##name##_reg(void)              \
	{                                                                                \
		vdevcr_register_test(&suite##_##name##_desc);                            \
	}                                                                                \
	static void suite##_##name##_impl(void)

#define TestSuite(suite, ...)                                                            \
	static struct vdevcr_suite vdevcr_suite_##suite = {#suite, __FILE__, {__VA_ARGS__}, \
							   NULL};                        \
	__attribute__((constructor)) static void vdevcr_suite_##suite##_reg(void)        \
	{                                                                                \
		vdevcr_register_suite(&vdevcr_suite_##suite);                            \
	}                                                                                \
	struct vdevcr_suite_##suite##_unused

/* The message (optional) is a format string and its arguments. */
#define VDEVCR_CHECK(fatal, ok, expr, ...)                                               \
	vdevcr_check((fatal), (ok), __FILE__, __LINE__, expr, " " __VA_ARGS__)

#define cr_skip_test(...) vdevcr_skip(" " __VA_ARGS__)
#define cr_log_info(...) vdevcr_log(__VA_ARGS__)

#define cr_assert(c, ...) VDEVCR_CHECK(true, (c) ? true : false, #c, __VA_ARGS__)
#define cr_expect(c, ...) VDEVCR_CHECK(false, (c) ? true : false, #c, __VA_ARGS__)
#define cr_assert_not(c, ...) VDEVCR_CHECK(true, !(c), "!(" #c ")", __VA_ARGS__)
#define cr_expect_not(c, ...) VDEVCR_CHECK(false, !(c), "!(" #c ")", __VA_ARGS__)

#define VDEVCR_CMP(fatal, a, op, b, ...)                                                 \
	VDEVCR_CHECK(fatal, ((a)op(b)) ? true : false, #a " " #op " " #b, __VA_ARGS__)
#define cr_assert_eq(a, b, ...) VDEVCR_CMP(true, a, ==, b, __VA_ARGS__)
#define cr_expect_eq(a, b, ...) VDEVCR_CMP(false, a, ==, b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) VDEVCR_CMP(true, a, !=, b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...) VDEVCR_CMP(false, a, !=, b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) VDEVCR_CMP(true, a, <, b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...) VDEVCR_CMP(false, a, <, b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) VDEVCR_CMP(true, a, <=, b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...) VDEVCR_CMP(false, a, <=, b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) VDEVCR_CMP(true, a, >, b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...) VDEVCR_CMP(false, a, >, b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) VDEVCR_CMP(true, a, >=, b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...) VDEVCR_CMP(false, a, >=, b, __VA_ARGS__)

#define cr_assert_null(p, ...) VDEVCR_CHECK(true, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_null(p, ...) VDEVCR_CHECK(false, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) VDEVCR_CHECK(true, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...) VDEVCR_CHECK(false, (p) != NULL, #p " != NULL", __VA_ARGS__)

#define cr_assert_arr_eq(a, b, n, ...)                                                   \
	VDEVCR_CHECK(true, memcmp((a), (b), (n)) == 0, "memcmp(" #a ", " #b ", " #n ") == 0", \
		     __VA_ARGS__)
#define cr_expect_arr_eq(a, b, n, ...)                                                   \
	VDEVCR_CHECK(false, memcmp((a), (b), (n)) == 0, "memcmp(" #a ", " #b ", " #n ") == 0", \
		     __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                                      \
	VDEVCR_CHECK(true, strcmp((a), (b)) == 0, "strcmp(" #a ", " #b ") == 0", __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...)                                                      \
	VDEVCR_CHECK(false, strcmp((a), (b)) == 0, "strcmp(" #a ", " #b ") == 0", __VA_ARGS__)

#endif
