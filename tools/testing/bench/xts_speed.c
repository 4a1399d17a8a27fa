// SPDX-License-Identifier: GPL-2.0
/*
 * xts_speed: the speed of libvde's AES-256-XTS (OpenSSL, as the helper
 * runs it) alone, one thread, in place, in calls of 32 data units of 4096
 * bytes, each unit with its own tweak, as the helper decrypts a 128 KiB
 * read.
 *
 *   xts_speed [SECONDS]
 *
 * Times decryption, then encryption, SECONDS (default 2) each, and prints
 * one line per direction, the rate in MB/s (10^6 bytes per second):
 *
 *   decrypt MB_S
 *   encrypt MB_S
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"

#define UNITS	32

static uint8_t buf[UNITS * VDE_XTS_UNIT_SIZE];

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* MB/s in one direction over @secs seconds. */
static int rate(struct vde_xts *x, bool encrypt, double secs, double *mb_s)
{
	double t0 = now(), t;
	uint64_t n = 0;
	int ret;

	do {
		ret = encrypt ? vde_xts_encrypt(x, n * sizeof(buf), buf, buf, sizeof(buf)) :
				vde_xts_decrypt(x, n * sizeof(buf), buf, buf, sizeof(buf));
		if (ret)
			return ret;
		n++;
		t = now() - t0;
	} while (t < secs);
	*mb_s = (double)(n * sizeof(buf)) / t / 1e6;
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t key[VDE_XTS_KEY_SIZE];
	double secs = argc > 1 ? atof(argv[1]) : 2;
	double mb_s[2];
	struct vde_xts *x = NULL;
	int ret, dir;

	if (argc > 2 || !(secs > 0)) {
		fprintf(stderr, "usage: xts_speed [SECONDS]\n");
		return 2;
	}
	ret = vde_random_bytes(key, sizeof(key));
	if (!ret)
		ret = vde_random_bytes(buf, sizeof(buf));
	if (!ret)
		ret = vde_xts_new(key, &x);
	vde_cleanse(key, sizeof(key));
	for (dir = 0; !ret && dir < 2; dir++)
		ret = rate(x, dir, secs, &mb_s[dir]);
	vde_xts_free(x);
	if (ret) {
		fprintf(stderr, "xts_speed: %s\n", strerror(-ret));
		return 1;
	}
	printf("decrypt %.1f\nencrypt %.1f\n", mb_s[0], mb_s[1]);
	return 0;
}
