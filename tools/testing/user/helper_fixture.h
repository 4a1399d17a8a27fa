/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the helper's tests share: a small device with plain, hidden and
 * encrypted extents over a temporary backing file, a test key, and an
 * independent AES-256-XTS (OpenSSL's EVP interface directly, tweak = VDE
 * offset / 4096 as a 128-bit little-endian integer) to check against.
 */
#ifndef VDE_HELPER_FIXTURE_H
#define VDE_HELPER_FIXTURE_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "helper.h"

#define BS		4096u
#define NR_BLOCKS	16u
/*
 * Backing file offset of device block 0, and its VDE offset (the tweak
 * origin): a preamble of IMAGE_BASE bytes, and a view from VDE block 3.
 */
#define DATA_OFF	(5 * BS)
#define VDE_BASE	(3 * BS)
#define IMAGE_BASE	(DATA_OFF - VDE_BASE)
/* Small buffers, so that write-zeroes needs several chunks. */
#define BUF_SIZE	(2 * BS)
#define DEPTH		4
#define NR_QUEUES	2

/*
 * The device: blocks 0-3 plain, 4-5 hidden (key slots), 6-11 encrypted,
 * 12-15 plain.
 */
static const struct vde_region_entry test_map[] = {
	{ 0, 4, 0, 0 },
	{ 4, 2, VDE_REGION_HIDDEN, 0 },
	{ 6, 6, VDE_REGION_ENCRYPTED, 0 },
	{ 12, 4, 0, 0 },
};

static inline void test_key(uint8_t key[VDE_XTS_KEY_SIZE])
{
	unsigned int i;

	for (i = 0; i < VDE_XTS_KEY_SIZE; i++)
		key[i] = (uint8_t)(i * 37 + 11);
}

/* Independent AES-256-XTS over whole 4096-byte units at VDE offset @off. */
static inline int oracle(uint64_t off, const uint8_t *in, uint8_t *out, size_t len,
		  int enc)
{
	uint8_t key[VDE_XTS_KEY_SIZE], iv[16];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	size_t done;
	int i, l, ok = 1;

	test_key(key);
	for (done = 0; c && ok && done < len; done += BS) {
		uint64_t unit = (off + done) / BS;

		memset(iv, 0, sizeof(iv));
		for (i = 0; i < 8; i++)
			iv[i] = (uint8_t)(unit >> (8 * i));
		ok = EVP_CipherInit_ex(c, EVP_aes_256_xts(), NULL, key, iv, enc) == 1 &&
		     EVP_CipherUpdate(c, out + done, &l, in + done, BS) == 1 &&
		     l == (int)BS;
	}
	EVP_CIPHER_CTX_free(c);
	return c && ok ? 0 : -1;
}

/* The test device's geometry. */
static inline void test_geom(struct vde_hgeom *g)
{
	memset(g, 0, sizeof(*g));
	g->data_offset = DATA_OFF;
	g->vde_base = VDE_BASE;
	g->dev_bytes = NR_BLOCKS * BS;
	g->block_size = BS;
	g->buf_size = BUF_SIZE;
	g->nr_regions = sizeof(test_map) / sizeof(test_map[0]);
	memcpy(g->regions, test_map, sizeof(test_map));
}

/* A temporary backing file holding the device and one block more. */
static inline int test_file(char path[64])
{
	int fd;

	strcpy(path, "/tmp/vde-test-helper-XXXXXX");
	fd = mkstemp(path);
	if (fd >= 0 && ftruncate(fd, DATA_OFF + NR_BLOCKS * BS + BS)) {
		close(fd);
		unlink(path);
		fd = -1;
	}
	return fd;
}

static inline void pattern(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + seed * 101 + (i >> 9));
}

#endif /* VDE_HELPER_FIXTURE_H */
