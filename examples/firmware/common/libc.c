/* SPDX-License-Identifier: MIT */
/*
 * The four functions libvdev references (and gcc may emit calls to for
 * struct copies): there is no C library in the image. Byte loops, kept
 * out of gcc's loop-to-memcpy idiom recognition, which would make them
 * call themselves.
 */
#include "fw.h"

#define NO_IDIOM __attribute__((optimize("no-tree-loop-distribute-patterns")))

NO_IDIOM void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
	unsigned char *o = d;
	const unsigned char *i = s;

	while (n--)
		*o++ = *i++;
	return d;
}

NO_IDIOM void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *o = d;
	const unsigned char *i = s;

	if (o < i) {
		while (n--)
			*o++ = *i++;
	} else {
		o += n;
		i += n;
		while (n--)
			*--o = *--i;
	}
	return d;
}

NO_IDIOM void *memset(void *d, int c, size_t n)
{
	unsigned char *o = d;

	while (n--)
		*o++ = (unsigned char)c;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}
