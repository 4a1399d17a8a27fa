/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the host unit tests.
 */
#ifndef VDE_TEST_UTIL_H
#define VDE_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Lower-case hex text to bytes.  Returns the number of bytes, or 0 for an
 * odd length, a bad digit or more than @max bytes.
 */
static inline size_t unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex) / 2, i;

	if (strlen(hex) % 2 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned int hi, lo;
		char c;

		c = hex[2 * i];
		hi = c >= 'a' ? c - 'a' + 10 : c - '0';
		c = hex[2 * i + 1];
		lo = c >= 'a' ? c - 'a' + 10 : c - '0';
		if (hi > 15 || lo > 15)
			return 0;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return n;
}

#endif /* VDE_TEST_UTIL_H */
