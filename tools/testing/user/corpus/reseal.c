// SPDX-License-Identifier: GPL-2.0
/*
 * reseal: recompute the checksums of a hand-edited VDE v2 image, so that a
 * test image can carry one semantic defect behind valid checksums.
 *
 *   reseal [-s BLOCK_SIZE] [-o BASE] IMAGE OP...
 *
 * Block N is at byte BASE + N * BLOCK_SIZE (default 0 and 4096).  The OPs
 * are applied in order:
 *
 *   N          recompute the XXH64 of block N's universal trailer; its tag
 *              and generation are kept
 *   rd         store the XXH64 of block 8 as Block0Hash in the Region
 *              Directory header (block 9), then reseal block 9
 *   preamble   recompute the HeaderChecksum of the DWVD-BOO preamble at
 *              byte 0 (first 8 bytes of SHA-256 over bytes 0-55)
 *   v1         recompute the checksum of a format v1 superblock and of its
 *              mirror (XXH64 of bytes 0-107 of blocks 0 and 1, at 108)
 *
 * Exits 0, or 1 with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <xxhash.h>

#define TRAILER_SIZE	16
#define RD_BLOCK	8
#define RD_HEADER	9
#define MAX_BLOCK_SIZE	65536

static void put_le64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static int io(int fd, void *buf, size_t len, uint64_t off, int wr)
{
	ssize_t n;

	n = wr ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -ENODATA;
}

static void seal(uint8_t *b, size_t bs)
{
	put_le64(b + bs - 8, XXH64(b, bs - TRAILER_SIZE, 0));
}

static int reseal_block(int fd, uint64_t off, size_t bs)
{
	static uint8_t b[MAX_BLOCK_SIZE];
	int ret;

	ret = io(fd, b, bs, off, 0);
	if (ret < 0)
		return ret;
	seal(b, bs);
	return io(fd, b, bs, off, 1);
}

static int fix_rd_hash(int fd, uint64_t base, size_t bs)
{
	static uint8_t rd[2 * MAX_BLOCK_SIZE];
	int ret;

	ret = io(fd, rd, 2 * bs, base + RD_BLOCK * bs, 0);
	if (ret < 0)
		return ret;
	put_le64(rd + bs + 8, XXH64(rd, bs - TRAILER_SIZE, 0));
	seal(rd + bs, bs);
	return io(fd, rd + bs, bs, base + RD_HEADER * bs, 1);
}

static int fix_preamble(int fd)
{
	uint8_t h[64], digest[EVP_MAX_MD_SIZE];
	int ret;

	ret = io(fd, h, sizeof(h), 0, 0);
	if (ret < 0)
		return ret;
	if (!EVP_Digest(h, 56, digest, NULL, EVP_sha256(), NULL))
		return -EIO;
	memcpy(h + 56, digest, 8);
	return io(fd, h, sizeof(h), 0, 1);
}

static int fix_v1(int fd, uint64_t base, size_t bs)
{
	uint8_t sb[512];
	unsigned int i;
	int ret;

	for (i = 0; i < 2; i++) {
		ret = io(fd, sb, sizeof(sb), base + i * bs, 0);
		if (ret < 0)
			return ret;
		put_le64(sb + 108, XXH64(sb, 108, 0));
		ret = io(fd, sb, sizeof(sb), base + i * bs, 1);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: reseal [-s BLOCK_SIZE] [-o BASE] IMAGE N|rd|preamble|v1...\n");
	return 1;
}

int main(int argc, char **argv)
{
	unsigned long long base = 0, n;
	unsigned long bs = 4096;
	char *end;
	int fd, c, i, ret;

	while ((c = getopt(argc, argv, "s:o:")) != -1) {
		switch (c) {
		case 's':
			bs = strtoul(optarg, &end, 0);
			if (*end || bs < 4096 || bs > MAX_BLOCK_SIZE || (bs & (bs - 1)))
				return usage();
			break;
		case 'o':
			base = strtoull(optarg, &end, 0);
			if (*end)
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 2)
		return usage();
	fd = open(argv[optind], O_RDWR);
	if (fd < 0) {
		perror(argv[optind]);
		return 1;
	}
	for (i = optind + 1; i < argc; i++) {
		if (!strcmp(argv[i], "rd")) {
			ret = fix_rd_hash(fd, base, bs);
		} else if (!strcmp(argv[i], "preamble")) {
			ret = fix_preamble(fd);
		} else if (!strcmp(argv[i], "v1")) {
			ret = fix_v1(fd, base, bs);
		} else {
			n = strtoull(argv[i], &end, 0);
			if (*end || !*argv[i])
				return usage();
			ret = reseal_block(fd, base + n * bs, bs);
		}
		if (ret < 0) {
			fprintf(stderr, "reseal: %s: %s: %s\n", argv[optind],
				argv[i], strerror(-ret));
			return 1;
		}
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		perror(argv[optind]);
		return 1;
	}
	return 0;
}
