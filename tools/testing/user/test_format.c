// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of libvde's image reader: validation of every field and
 * table, the errno and diagnosis of each refusal, the region map, the
 * names, and the fsck-style check.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "format.h"
#include "kselftest_harness.h"

#define BS 4096
/* Minimal profile, 2048 blocks: 7 regions, a DataRegion at 1099. */
#define TOTAL 2048
#define SLOT_DATA 6

/* ---- image helpers ------------------------------------------------------ */

static int make_image(const char *path, enum vde_profile profile,
		      uint64_t total, uint32_t bs)
{
	struct vde_create_opts o;
	int ret = vde_create_opts_init(&o, profile);

	if (ret < 0)
		return ret;
	o.total_blocks = total;
	o.block_size = bs;
	o.force = true;
	memset(o.uuid, 0xab, sizeof(o.uuid));
	o.timestamp = 638000000000000000LL;
	return vde_image_create(path, &o, NULL);
}

static void rw_block(const char *path, uint64_t block, void *buf, bool write)
{
	int fd = open(path, O_RDWR);
	ssize_t n;

	if (fd < 0)
		abort();
	n = write ? pwrite(fd, buf, BS, (off_t)(block * BS)) :
		    pread(fd, buf, BS, (off_t)(block * BS));
	if (n != BS)
		abort();
	close(fd);
}

/* Patch bytes of a block and, if asked, recompute its trailer hash. */
static void patch(const char *path, uint64_t block, unsigned int off,
		  const void *bytes, size_t len, bool reseal)
{
	uint8_t b[BS];

	rw_block(path, block, b, false);
	memcpy(b + off, bytes, len);
	if (reseal)
		vde_put_le64(b + BS - 8, vde_block_hash(b, BS));
	rw_block(path, block, b, true);
}

static void patch32(const char *path, uint64_t block, unsigned int off,
		    uint32_t v, bool reseal)
{
	uint8_t le[4];

	vde_put_le32(le, v);
	patch(path, block, off, le, 4, reseal);
}

/* A superblock field in both copies, trailers recomputed. */
static void sb_patch(const char *path, unsigned int off, const void *bytes,
		     size_t len)
{
	patch(path, 0, off, bytes, len, true);
	patch(path, 4, off, bytes, len, true);
}

static void sb_patch32(const char *path, unsigned int off, uint32_t v)
{
	uint8_t le[4];

	vde_put_le32(le, v);
	sb_patch(path, off, le, 4);
}

static void sb_patch64(const char *path, unsigned int off, uint64_t v)
{
	uint8_t le[8];

	vde_put_le64(le, v);
	sb_patch(path, off, le, 8);
}

static void get_slot(const char *path, uint64_t block, unsigned int i,
		     struct vde_slot *s)
{
	uint8_t b[BS];

	rw_block(path, block, b, false);
	vde_slot_decode(b + i * VDE_SLOT_SIZE, s);
}

/* Rewrite slot i of the RD (block 8) and keep its header hash right. */
static void rd_set_slot(const char *path, unsigned int i,
			const struct vde_slot *s)
{
	uint8_t b[BS], le[8];

	rw_block(path, 8, b, false);
	vde_slot_encode(s, b + i * VDE_SLOT_SIZE);
	vde_put_le64(b + BS - 8, vde_block_hash(b, BS));
	rw_block(path, 8, b, true);
	vde_put_le64(le, vde_block_hash(b, BS));
	patch(path, 9, 8, le, 8, true);
}

/* Rewrite slot i of the RPT in both superblock groups. */
static void rpt_set_slot(const char *path, unsigned int i,
			 const struct vde_slot *s)
{
	uint8_t raw[VDE_SLOT_SIZE];

	vde_slot_encode(s, raw);
	patch(path, 1, i * VDE_SLOT_SIZE, raw, sizeof(raw), true);
	patch(path, 5, i * VDE_SLOT_SIZE, raw, sizeof(raw), true);
}

static void set_slot(const char *path, unsigned int i, const struct vde_slot *s)
{
	rpt_set_slot(path, i, s);
	rd_set_slot(path, i, s);
}

struct seen {
	unsigned int n;
	enum vde_severity sev[32];
	struct vde_diag d[32];
};

static void collect(enum vde_severity sev, const struct vde_diag *d, void *arg)
{
	struct seen *s = arg;

	if (s->n < 32) {
		s->sev[s->n] = sev;
		s->d[s->n] = *d;
	}
	s->n++;
}

FIXTURE(img) {
	char dir[64];
	char path[96];
	struct vde_image img;
	struct vde_diag d;
};

FIXTURE_SETUP(img)
{
	strcpy(self->dir, "/tmp/vde-test-format.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/a.vde", self->dir);
	ASSERT_EQ(0, make_image(self->path, VDE_PROFILE_MINIMAL, TOTAL, BS));
	self->img.fd = -1;
}

FIXTURE_TEARDOWN(img)
{
	char p[128];

	vde_image_close(&self->img);
	unlink(self->path);
	snprintf(p, sizeof(p), "%s/b.vde", self->dir);
	unlink(p);
	rmdir(self->dir);
}

#define OPEN(s) vde_image_open((s)->path, O_RDONLY, &(s)->img, &(s)->d)

/* ---- a good image ------------------------------------------------------- */

TEST_F(img, open_fresh_image)
{
	static const uint32_t tags[] = {
		VDE_TAG_SUPB, VDE_TAG_SUPB, VDE_TAG_RMAP, VDE_TAG_BMAP,
		VDE_TAG_INOD, VDE_TAG_MWAL, VDE_TAG_DATA,
	};
	static const uint64_t start[] = { 0, 4, 8, 10, 11, 1035, 1099 };
	static const uint64_t count[] = { 4, 4, 2, 1, 1024, 64, 949 };
	unsigned int i;

	ASSERT_EQ(0, OPEN(self));
	EXPECT_EQ(0, self->d.err);
	EXPECT_LE(0, self->img.fd);
	EXPECT_EQ(VDE_SB_PRIMARY, self->img.sb_copy);
	EXPECT_EQ(0, self->img.base);
	EXPECT_FALSE(self->img.has_preamble);
	EXPECT_EQ(BS, self->img.block_size);
	EXPECT_EQ(TOTAL, self->img.nr_blocks);
	EXPECT_EQ((uint64_t)TOTAL * BS, self->img.file_size);
	EXPECT_FALSE(self->img.read_only_forced);
	EXPECT_EQ(2, self->img.sb.major);
	EXPECT_EQ(0, self->img.sb.minor);
	EXPECT_EQ(1, self->img.sb.revision);
	EXPECT_EQ(949, self->img.sb.free_blocks);
	EXPECT_EQ(1099, self->img.sb.total_allocated_blocks);
	EXPECT_EQ(320, self->img.sb.inode_size);
	EXPECT_EQ(1, self->img.sb.checkpoint_seq);
	EXPECT_EQ(0xab, self->img.sb.uuid[15]);
	EXPECT_EQ(1, self->img.rd_generation);
	EXPECT_EQ(7, self->img.rd_active_count);
	ASSERT_EQ(7, self->img.nr_regions);
	for (i = 0; i < 7; i++) {
		EXPECT_EQ(i, self->img.regions[i].slot);
		EXPECT_EQ(tags[i], self->img.regions[i].tag);
		EXPECT_EQ(start[i], self->img.regions[i].start);
		EXPECT_EQ(count[i], self->img.regions[i].count);
		EXPECT_EQ(VDE_RF_ACTIVE, self->img.regions[i].flags);
		EXPECT_EQ(0, self->img.regions[i].notes);
	}
	EXPECT_STREQ("DATA", self->img.regions[6].name);
}

TEST_F(img, lookups)
{
	uint64_t first, nr;

	ASSERT_EQ(0, OPEN(self));
	EXPECT_EQ(&self->img.regions[0], vde_image_region_for_block(&self->img, 0));
	EXPECT_EQ(&self->img.regions[2], vde_image_region_for_block(&self->img, 9));
	EXPECT_EQ(&self->img.regions[4], vde_image_region_for_block(&self->img, 1034));
	EXPECT_EQ(&self->img.regions[6], vde_image_region_for_block(&self->img, 2047));
	EXPECT_EQ(NULL, vde_image_region_for_block(&self->img, 2048));
	EXPECT_EQ(&self->img.regions[6], vde_image_find_region(&self->img, "DATA"));
	EXPECT_EQ(&self->img.regions[6], vde_image_find_region(&self->img, "data"));
	EXPECT_EQ(&self->img.regions[0], vde_image_find_region(&self->img, "SUPB"));
	EXPECT_EQ(NULL, vde_image_find_region(&self->img, "ENCR"));
	EXPECT_EQ(NULL, vde_image_find_region(&self->img, "DAT"));
	ASSERT_EQ(0, vde_image_region_view(&self->img, "DATA", &first, &nr));
	EXPECT_EQ(1099, first);
	EXPECT_EQ(949, nr);
	EXPECT_EQ(-ENOENT, vde_image_region_view(&self->img, "POLV", &first, &nr));
}

TEST_F(img, region_map_of_fresh_image)
{
	struct vde_region_entry m[VDE_MAX_REGIONS];
	unsigned int nr;

	ASSERT_EQ(0, OPEN(self));
	ASSERT_EQ(0, vde_image_region_map(&self->img, 0, TOTAL, m,
					  VDE_MAX_REGIONS, &nr));
	ASSERT_EQ(1, nr);
	EXPECT_EQ(0, m[0].first_block);
	EXPECT_EQ(TOTAL, m[0].nr_blocks);
	EXPECT_EQ(0, m[0].flags);
	EXPECT_EQ(0, m[0].reserved);
}

TEST_F(img, read_block)
{
	uint8_t b[BS];

	ASSERT_EQ(0, OPEN(self));
	ASSERT_EQ(0, vde_image_read_block(&self->img, 0, b));
	EXPECT_TRUE(vde_magic_ok(b));
	EXPECT_EQ(0, vde_image_read_block(&self->img, TOTAL - 1, b));
	EXPECT_EQ(-ENODATA, vde_image_read_block(&self->img, TOTAL, b));
}

/* ---- the superblock ------------------------------------------------------- */

TEST_F(img, bad_magic_in_both_copies_einval)
{
	sb_patch(self->path, 0, "XWVD", 4);
	EXPECT_EQ(-EINVAL, OPEN(self));
	EXPECT_EQ(-1, self->img.fd);
	EXPECT_EQ(-EINVAL, self->d.err);
	EXPECT_EQ(0, self->d.block);
	EXPECT_EQ(-1, self->d.slot);
	EXPECT_STREQ("Magic", self->d.field);
	EXPECT_STREQ("58 57 56 44 .. 64 77 3a 2f 2f 00 00 00", self->d.value);
	EXPECT_STREQ("block 0 (superblock): Magic = 58 57 56 44 .. 64 77 3a 2f 2f 00 00 00: not a VDE v2 image (DWVD ... dw://); "
		     "mirror: block 4 (mirror superblock): Magic = 58 57 56 44 .. 64 77 3a 2f 2f 00 00 00: not a VDE v2 image (DWVD ... dw://)",
		     self->d.msg);
}

TEST_F(img, bad_magic_in_primary_uses_mirror)
{
	patch(self->path, 0, 8, "DW", 2, true);
	ASSERT_EQ(0, OPEN(self));
	EXPECT_EQ(VDE_SB_MIRROR, self->img.sb_copy);
	EXPECT_EQ(-EINVAL, self->img.primary_diag.err);
	EXPECT_EQ(0, self->img.primary_diag.block);
	EXPECT_STREQ("Magic", self->img.primary_diag.field);
}

TEST_F(img, format_v1_eopnotsupp)
{
	uint8_t v1[8] = { 0x44, 0x56, 0x57, 0x44, 1, 0, 0, 0 };

	sb_patch(self->path, 0, v1, sizeof(v1));
	EXPECT_EQ(-EOPNOTSUPP, OPEN(self));
	EXPECT_EQ(0, self->d.block);
	EXPECT_STREQ("Magic", self->d.field);
	EXPECT_NE(NULL, strstr(self->d.msg, "format v1"));
}

TEST_F(img, bad_trailer_in_primary_uses_mirror)
{
	patch(self->path, 0, 0x98, "x", 1, false);
	ASSERT_EQ(0, OPEN(self));
	EXPECT_EQ(VDE_SB_MIRROR, self->img.sb_copy);
	EXPECT_EQ(-EPROTO, self->img.primary_diag.err);
	EXPECT_EQ(0, self->img.primary_diag.block);
	EXPECT_STREQ("trailer checksum", self->img.primary_diag.field);
	EXPECT_STREQ("", self->img.sb.label);
	EXPECT_EQ(7, self->img.nr_regions);
}

TEST_F(img, bad_trailer_of_block_3_uses_mirror)
{
	patch(self->path, 3, 100, "x", 1, false);
	ASSERT_EQ(0, OPEN(self));
	EXPECT_EQ(VDE_SB_MIRROR, self->img.sb_copy);
	EXPECT_EQ(3, self->img.primary_diag.block);
	EXPECT_EQ(0, strncmp(self->img.primary_diag.msg,
			     "block 3 (integrity anchor): trailer checksum = 0x", 49));
}

TEST_F(img, mirror_bad_primary_good_uses_primary)
{
	patch(self->path, 5, 100, "x", 1, false);
	ASSERT_EQ(0, OPEN(self));
	EXPECT_EQ(VDE_SB_PRIMARY, self->img.sb_copy);
}

TEST_F(img, both_copies_bad_eproto)
{
	patch(self->path, 0, 0x98, "x", 1, false);
	patch(self->path, 6, 0x98, "x", 1, false);
	EXPECT_EQ(-EPROTO, OPEN(self));
	EXPECT_EQ(0, self->d.block);
	EXPECT_STREQ("trailer checksum", self->d.field);
	EXPECT_NE(NULL, strstr(self->d.msg, "; mirror: block 6 (mirror extended metadata): trailer checksum"))
		TH_LOG("%s", self->d.msg);
}

TEST_F(img, block_size_1000_einval)
{
	sb_patch32(self->path, 0x34, 1000);
	EXPECT_EQ(-EINVAL, OPEN(self));
	EXPECT_EQ(0, self->d.block);
	EXPECT_STREQ("BlockSize", self->d.field);
	EXPECT_STREQ("1000", self->d.value);
	EXPECT_STREQ("block 0 (superblock): BlockSize = 1000: not a power of two between 4096 and 65536; "
		     "mirror: block 4 (mirror superblock): BlockSize = 1000: not a power of two between 4096 and 65536",
		     self->d.msg);
}

/* Without the primary's BlockSize the mirror's own defect is named. */
TEST_F(img, primary_bad_magic_mirror_bad_block_size)
{
	patch(self->path, 0, 0, "XWVD", 4, true);
	patch32(self->path, 4, 0x34, 1000, true);
	EXPECT_EQ(-EINVAL, OPEN(self));
	EXPECT_EQ(0, self->d.block);
	EXPECT_STREQ("Magic", self->d.field);
	EXPECT_NE(NULL, strstr(self->d.msg, "; mirror: block 4 (mirror superblock): BlockSize = 1000: not a power of two"))
		TH_LOG("%s", self->d.msg);
}

TEST_F(img, primary_bad_block_size_mirror_bad_magic)
{
	patch32(self->path, 0, 0x34, 1000, true);
	patch(self->path, 4, 0, "XWVD", 4, true);
	EXPECT_EQ(-EINVAL, OPEN(self));
	EXPECT_STREQ("BlockSize", self->d.field);
	EXPECT_NE(NULL, strstr(self->d.msg, "; mirror: block 4 (mirror superblock): Magic = 58 57 56 44 .. 64 77 3a 2f 2f 00 00 00: not a VDE v2 image"))
		TH_LOG("%s", self->d.msg);
}

TEST_F(img, primary_bad_magic_mirror_block_size_misplaced)
{
	/* Block 4 says 8192: at 8192 bytes a block, block 4 is block 8. */
	patch(self->path, 0, 0, "XWVD", 4, true);
	patch32(self->path, 4, 0x34, 8192, true);
	EXPECT_EQ(-EINVAL, OPEN(self));
	EXPECT_NE(NULL, strstr(self->d.msg, "; mirror: block 4 (mirror superblock): BlockSize = 8192: differs from 4096, the block size it was read at"))
		TH_LOG("%s", self->d.msg);
}

TEST_F(img, primary_bad_magic_mirror_trailer)
{
	patch(self->path, 0, 0, "XWVD", 4, true);
	patch(self->path, 6, 0x98, "x", 1, false);
	EXPECT_EQ(-EINVAL, OPEN(self));
	EXPECT_STREQ("Magic", self->d.field);
	EXPECT_NE(NULL, strstr(self->d.msg, "; mirror: block 6 (mirror extended metadata): trailer checksum = 0x"))
		TH_LOG("%s", self->d.msg);
}

TEST_F(img, block_size_512_einval)
{
	sb_patch32(self->path, 0x34, 512);
	EXPECT_EQ(-EINVAL, OPEN(self));
	EXPECT_STREQ("BlockSize", self->d.field);
	EXPECT_STREQ("512", self->d.value);
}

TEST_F(img, block_size_8192_mismatch)
{
	/* The stored size does not match the layout: trailers fail. */
	sb_patch32(self->path, 0x34, 8192);
	EXPECT_EQ(-EPROTO, OPEN(self));
	EXPECT_EQ(0, self->d.block);
}

TEST_F(img, primary_block_size_damaged_mirror_found)
{
	struct vde_check_result r;
	struct seen s = { 0 };

	patch32(self->path, 0, 0x34, 8192, false);
	ASSERT_EQ(0, OPEN(self));
	EXPECT_EQ(VDE_SB_MIRROR, self->img.sb_copy);
	EXPECT_EQ(BS, self->img.block_size);
	EXPECT_EQ(0, self->img.primary_diag.block);
	EXPECT_EQ(-EPROTO, self->img.primary_diag.err);
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(0, r.fatal);
	EXPECT_EQ(1, r.errors);
	EXPECT_STREQ("block 0 (superblock): BlockSize = 8192: differs from the mirror's 4096",
		     s.d[0].msg);
}

TEST_F(img, major_version_3_eopnotsupp)
{
	sb_patch(self->path, 4, "\x03", 1);
	EXPECT_EQ(-EOPNOTSUPP, OPEN(self));
	EXPECT_STREQ("MajorVersion", self->d.field);
	EXPECT_STREQ("3", self->d.value);
}

TEST_F(img, min_reader_version_3_eopnotsupp)
{
	sb_patch(self->path, 0x10, "\x03\x00", 2);
	EXPECT_EQ(-EOPNOTSUPP, OPEN(self));
	EXPECT_EQ(0, self->d.block);
	EXPECT_STREQ("MinReaderVersion", self->d.field);
}

TEST_F(img, unknown_incompatible_bit_eopnotsupp)
{
	sb_patch32(self->path, 0x14, 0x2);
	EXPECT_EQ(-EOPNOTSUPP, OPEN(self));
	EXPECT_EQ(0, self->d.block);
	EXPECT_STREQ("IncompatibleFeatures", self->d.field);
	EXPECT_STREQ("0x2", self->d.value);
	EXPECT_STREQ("block 0 (superblock): IncompatibleFeatures = 0x2: unsupported feature WormRegionActive",
		     self->d.msg);
}

TEST_F(img, has_preamble_bit_accepted)
{
	sb_patch32(self->path, 0x14, VDE_INCOMPAT_HAS_PREAMBLE);
	EXPECT_EQ(0, OPEN(self));
}

TEST_F(img, unknown_ro_compat_bit_forces_read_only)
{
	sb_patch32(self->path, 0x18, 0x20);
	ASSERT_EQ(0, OPEN(self));
	EXPECT_TRUE(self->img.read_only_forced);
}

TEST_F(img, known_ro_compat_and_compat_bits_ignored)
{
	sb_patch32(self->path, 0x18, 0x1f);
	sb_patch32(self->path, 0x1c, 0xffffffff);
	ASSERT_EQ(0, OPEN(self));
	EXPECT_FALSE(self->img.read_only_forced);
}

TEST_F(img, encryption_with_other_algorithm_eopnotsupp)
{
	sb_patch32(self->path, 0x14, VDE_INCOMPAT_ENCRYPTION);
	EXPECT_EQ(-EOPNOTSUPP, OPEN(self));
	EXPECT_STREQ("DefaultEncryptionAlgo", self->d.field);
	EXPECT_STREQ("0", self->d.value);
	sb_patch(self->path, 0x79, "\x03", 1);
	EXPECT_EQ(0, OPEN(self));
}

TEST_F(img, total_blocks_zero_einval)
{
	sb_patch64(self->path, 0x38, 0);
	EXPECT_EQ(-EINVAL, OPEN(self));
	EXPECT_STREQ("TotalBlocks", self->d.field);
	sb_patch64(self->path, 0x38, (uint64_t)-5);
	EXPECT_EQ(-EINVAL, OPEN(self));
	EXPECT_STREQ("-5", self->d.value);
}

TEST_F(img, total_blocks_past_file_enodata)
{
	/* Blocks 2048-2049 would be device blocks in no region. */
	sb_patch64(self->path, 0x38, TOTAL + 2);
	EXPECT_EQ(-ENODATA, OPEN(self));
	EXPECT_EQ(0, self->d.block);
	EXPECT_STREQ("TotalBlocks", self->d.field);
	EXPECT_STREQ("block 0 (superblock): TotalBlocks = 2050: the file holds only 2048 blocks",
		     self->d.msg);
}

TEST_F(img, total_blocks_smaller_than_file)
{
	/* TotalBlocks, not the file, is the device size. */
	sb_patch64(self->path, 0x38, 1500);
	ASSERT_EQ(0, OPEN(self));
	EXPECT_EQ(1500, self->img.nr_blocks);
	EXPECT_EQ(VDE_RN_PAST_DEVICE, self->img.regions[SLOT_DATA].notes);
}

/* ---- the file ------------------------------------------------------------- */

TEST_F(img, truncated_before_rd_header_enodata)
{
	ASSERT_EQ(0, truncate(self->path, 9 * BS + 100));
	EXPECT_EQ(-ENODATA, OPEN(self));
	EXPECT_EQ(9, self->d.block);
	EXPECT_STREQ("file size", self->d.field);
	EXPECT_STREQ("block 9 (region directory header): file size = 36964: the file ends before this block",
		     self->d.msg);
}

TEST_F(img, truncated_to_100_bytes_enodata)
{
	ASSERT_EQ(0, truncate(self->path, 100));
	EXPECT_EQ(-ENODATA, OPEN(self));
	EXPECT_EQ(0, self->d.block);
	EXPECT_STREQ("file size", self->d.field);
	EXPECT_STREQ("100", self->d.value);
	EXPECT_STREQ("block 0 (superblock): file size = 100: the file ends before this block; "
		     "mirror: block 4 (mirror superblock): file size = 100: the file ends before this block",
		     self->d.msg);
}

TEST_F(img, empty_file_enodata)
{
	ASSERT_EQ(0, truncate(self->path, 0));
	EXPECT_EQ(-ENODATA, OPEN(self));
	EXPECT_EQ(0, self->d.block);
}

TEST_F(img, region_past_eof_inside_device_enodata)
{
	ASSERT_EQ(0, truncate(self->path, 1500 * BS));
	EXPECT_EQ(-ENODATA, OPEN(self));
	EXPECT_EQ(8, self->d.block);
	EXPECT_EQ(SLOT_DATA, self->d.slot);
	EXPECT_STREQ("BlockCount", self->d.field);
	EXPECT_STREQ("block 8 (region directory): slot 6 BlockCount = 949: DATA blocks 1099-2047 are in the device but the file ends at block 1500",
		     self->d.msg);
}

TEST_F(img, region_past_total_blocks_and_eof_tolerated)
{
	struct vde_slot s;

	get_slot(self->path, 8, SLOT_DATA, &s);
	s.count += 100;
	set_slot(self->path, SLOT_DATA, &s);
	ASSERT_EQ(0, OPEN(self));
	EXPECT_EQ(VDE_RN_PAST_DEVICE | VDE_RN_PAST_EOF,
		  self->img.regions[SLOT_DATA].notes);
	EXPECT_EQ(1049, self->img.regions[SLOT_DATA].count);
}

TEST_F(img, missing_file_enoent)
{
	strcat(self->path, ".missing");
	EXPECT_EQ(-ENOENT, OPEN(self));
	EXPECT_EQ(VDE_DIAG_FILE, self->d.block);
	EXPECT_STREQ("open", self->d.field);
	self->path[strlen(self->path) - 8] = '\0';
}

TEST_F(img, directory_einval)
{
	EXPECT_EQ(-EINVAL, vde_image_open(self->dir, O_RDONLY, &self->img,
					  &self->d));
	EXPECT_EQ(VDE_DIAG_FILE, self->d.block);
	EXPECT_STREQ("file: type: neither a regular file nor a block device",
		     self->d.msg);
}

TEST_F(img, bad_open_flags_einval)
{
	EXPECT_EQ(-EINVAL, vde_image_open(self->path, O_RDWR | O_CREAT,
					  &self->img, &self->d));
	EXPECT_EQ(-1, self->img.fd);
}

TEST_F(img, null_diag_allowed)
{
	sb_patch32(self->path, 0x34, 1000);
	EXPECT_EQ(-EINVAL, vde_image_open(self->path, O_RDONLY, &self->img, NULL));
}

TEST_F(img, open_read_write)
{
	ASSERT_EQ(0, vde_image_open(self->path, O_RDWR | O_CLOEXEC, &self->img,
				    &self->d));
	EXPECT_EQ(O_RDWR, fcntl(self->img.fd, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(FD_CLOEXEC, fcntl(self->img.fd, F_GETFD) & FD_CLOEXEC);
	vde_image_close(&self->img);
	EXPECT_EQ(-1, self->img.fd);
	vde_image_close(&self->img);
}

/* ---- the Region Pointer Table and the Region Directory -------------------- */

TEST_F(img, rd_start_disagrees_with_rpt_euclean)
{
	struct vde_slot s;

	get_slot(self->path, 8, SLOT_DATA, &s);
	s.start++;
	s.count--;
	rd_set_slot(self->path, SLOT_DATA, &s);
	EXPECT_EQ(-EUCLEAN, OPEN(self));
	EXPECT_EQ(8, self->d.block);
	EXPECT_EQ(SLOT_DATA, self->d.slot);
	EXPECT_STREQ("StartBlock", self->d.field);
	EXPECT_STREQ("block 8 (region directory): slot 6 StartBlock = 1100: the region pointer table (block 1) says 1099",
		     self->d.msg);
}

TEST_F(img, rd_count_disagrees_with_rpt_euclean)
{
	struct vde_slot s;

	get_slot(self->path, 1, 4, &s);
	s.count = 1000;
	rpt_set_slot(self->path, 4, &s);
	EXPECT_EQ(-EUCLEAN, OPEN(self));
	EXPECT_EQ(4, self->d.slot);
	EXPECT_STREQ("BlockCount", self->d.field);
	EXPECT_STREQ("1024", self->d.value);
}

TEST_F(img, rd_flags_disagree_with_rpt_euclean)
{
	struct vde_slot s;

	sb_patch32(self->path, 0x14, VDE_INCOMPAT_ENCRYPTION);
	sb_patch(self->path, 0x79, "\x03", 1);
	get_slot(self->path, 8, SLOT_DATA, &s);
	s.flags |= VDE_RF_ENCRYPTED;
	rd_set_slot(self->path, SLOT_DATA, &s);
	EXPECT_EQ(-EUCLEAN, OPEN(self));
	EXPECT_STREQ("Flags", self->d.field);
	EXPECT_STREQ("0x3", self->d.value);
}

TEST_F(img, rd_active_slot_missing_from_rpt_euclean)
{
	struct vde_slot s = { VDE_TAG_DATA, VDE_RF_ACTIVE, 5000, 10, 0 };

	rd_set_slot(self->path, 20, &s);
	EXPECT_EQ(-EUCLEAN, OPEN(self));
	EXPECT_EQ(20, self->d.slot);
	EXPECT_STREQ("Flags", self->d.field);
}

TEST_F(img, rd_tag_disagrees_with_rpt_euclean)
{
	struct vde_slot s;

	get_slot(self->path, 8, SLOT_DATA, &s);
	s.tag = VDE_TAG_STRE;
	rd_set_slot(self->path, SLOT_DATA, &s);
	EXPECT_EQ(-EUCLEAN, OPEN(self));
	EXPECT_STREQ("RegionTypeId", self->d.field);
	EXPECT_STREQ("STRE", self->d.value);
}

TEST_F(img, inactive_slots_may_differ)
{
	struct vde_slot s = { VDE_TAG_DATA, 0, 5000, 10, 0 };

	rd_set_slot(self->path, 20, &s);
	EXPECT_EQ(0, OPEN(self));
	EXPECT_EQ(7, self->img.nr_regions);
}

TEST_F(img, rd_block_8_trailer_eproto)
{
	patch(self->path, 8, 4070, "x", 1, false);
	EXPECT_EQ(-EPROTO, OPEN(self));
	EXPECT_EQ(8, self->d.block);
	EXPECT_STREQ("trailer checksum", self->d.field);
}

TEST_F(img, rd_header_hash_eproto)
{
	patch(self->path, 9, 8, "\x01", 1, true);
	EXPECT_EQ(-EPROTO, OPEN(self));
	EXPECT_EQ(9, self->d.block);
	EXPECT_STREQ("Block0Hash", self->d.field);
}

TEST_F(img, rd_version_2_eopnotsupp)
{
	patch(self->path, 9, 0, "\x02", 1, true);
	EXPECT_EQ(-EOPNOTSUPP, OPEN(self));
	EXPECT_EQ(9, self->d.block);
	EXPECT_STREQ("Version", self->d.field);
	EXPECT_STREQ("2", self->d.value);
}

TEST_F(img, overlapping_regions_euclean)
{
	struct vde_slot s;

	get_slot(self->path, 8, 4, &s);
	s.start--;		/* INOD now starts inside BMAP */
	set_slot(self->path, 4, &s);
	EXPECT_EQ(-EUCLEAN, OPEN(self));
	EXPECT_EQ(8, self->d.block);
	EXPECT_EQ(4, self->d.slot);
	EXPECT_STREQ("StartBlock", self->d.field);
	EXPECT_STREQ("block 8 (region directory): slot 4 StartBlock = 10: INOD blocks 10-1033 overlap slot 3 (BMAP) blocks 10-10",
		     self->d.msg);
}

TEST_F(img, negative_start_einval)
{
	struct vde_slot s;

	get_slot(self->path, 8, SLOT_DATA, &s);
	s.start = -1;
	set_slot(self->path, SLOT_DATA, &s);
	EXPECT_EQ(-EINVAL, OPEN(self));
	EXPECT_STREQ("StartBlock", self->d.field);
	EXPECT_STREQ("-1", self->d.value);
}

TEST_F(img, huge_count_einval)
{
	struct vde_slot s;

	get_slot(self->path, 8, SLOT_DATA, &s);
	s.count = INT64_MAX;
	set_slot(self->path, SLOT_DATA, &s);
	EXPECT_EQ(-EINVAL, OPEN(self));
	EXPECT_STREQ("BlockCount", self->d.field);
}

TEST_F(img, encrypted_region_without_feature_euclean)
{
	struct vde_slot s;

	get_slot(self->path, 8, SLOT_DATA, &s);
	s.flags |= VDE_RF_ENCRYPTED;
	set_slot(self->path, SLOT_DATA, &s);
	EXPECT_EQ(-EUCLEAN, OPEN(self));
	EXPECT_EQ(SLOT_DATA, self->d.slot);
	EXPECT_STREQ("Flags", self->d.field);
	EXPECT_STREQ("block 8 (region directory): slot 6 Flags = 0x3: DATA is Encrypted but IncompatibleFeatures lacks EncryptionEnabled",
		     self->d.msg);
}

TEST_F(img, encrypted_region_with_feature)
{
	struct vde_region_entry m[4];
	struct vde_slot s;
	unsigned int nr;

	sb_patch32(self->path, 0x14, VDE_INCOMPAT_ENCRYPTION);
	sb_patch(self->path, 0x79, "\x03", 1);
	get_slot(self->path, 8, SLOT_DATA, &s);
	s.flags |= VDE_RF_ENCRYPTED;
	set_slot(self->path, SLOT_DATA, &s);
	ASSERT_EQ(0, OPEN(self));
	ASSERT_EQ(0, vde_image_region_map(&self->img, 0, TOTAL, m, 4, &nr));
	ASSERT_EQ(2, nr);
	EXPECT_EQ(0, m[0].first_block);
	EXPECT_EQ(1099, m[0].nr_blocks);
	EXPECT_EQ(0, m[0].flags);
	EXPECT_EQ(1099, m[1].first_block);
	EXPECT_EQ(949, m[1].nr_blocks);
	EXPECT_EQ(VDE_REGION_ENCRYPTED, m[1].flags);
}

/* ---- the preamble ---------------------------------------------------------- */

static void preamble_header(uint8_t h[64], uint64_t total, uint64_t off)
{
	uint8_t digest[VDE_SHA256_SIZE];

	memset(h, 0, 64);
	memcpy(h, VDE_PREAMBLE_MAGIC, 8);
	vde_put_le16(h + 8, 1);
	vde_put_le32(h + 12, 64);
	vde_put_le64(h + 16, total);
	vde_put_le64(h + 24, off);
	vde_put_le32(h + 32, 64);
	if (vde_sha256(h, 56, digest))
		abort();
	memcpy(h + 56, digest, 8);
}

/* b.vde = the preamble header, then a.vde from byte off. */
static void make_preamble_image(const char *src, char *dst, const uint8_t h[64],
				uint64_t off)
{
	int in = open(src, O_RDONLY), out;
	uint8_t b[BS];
	uint64_t i;

	strcpy(strrchr(dst, '/') + 1, "b.vde");
	out = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || out < 0 || pwrite(out, h, 64, 0) != 64)
		abort();
	for (i = 0; i < TOTAL; i++) {
		if (pread(in, b, BS, (off_t)(i * BS)) != BS)
			abort();
		if (pwrite(out, b, BS, (off_t)(off + i * BS)) != BS)
			abort();
	}
	close(in);
	close(out);
}

TEST_F(img, preamble_offsets_blocks)
{
	char path[96];
	uint8_t h[64];

	strcpy(path, self->path);
	preamble_header(h, 5000, 8192);
	make_preamble_image(self->path, path, h, 8192);
	ASSERT_EQ(0, vde_image_open(path, O_RDONLY, &self->img, &self->d))
		TH_LOG("%s", self->d.msg);
	EXPECT_TRUE(self->img.has_preamble);
	EXPECT_EQ(8192, self->img.base);
	EXPECT_EQ(5000, self->img.preamble.total_size);
	EXPECT_EQ(1, self->img.preamble.version);
	EXPECT_EQ(TOTAL, self->img.nr_blocks);
	EXPECT_EQ(7, self->img.nr_regions);
}

TEST_F(img, preamble_checksum_eproto)
{
	char path[96];
	uint8_t h[64];

	strcpy(path, self->path);
	preamble_header(h, 5000, 8192);
	h[56] ^= 1;
	make_preamble_image(self->path, path, h, 8192);
	EXPECT_EQ(-EPROTO, vde_image_open(path, O_RDONLY, &self->img, &self->d));
	EXPECT_EQ(VDE_DIAG_PREAMBLE, self->d.block);
	EXPECT_STREQ("HeaderChecksum", self->d.field);
	EXPECT_EQ(0, strncmp(self->d.msg, "preamble: HeaderChecksum = 0x", 29));
}

TEST_F(img, preamble_offset_unaligned_einval)
{
	char path[96];
	uint8_t h[64];

	strcpy(path, self->path);
	preamble_header(h, 100, 6144);
	make_preamble_image(self->path, path, h, 8192);
	EXPECT_EQ(-EINVAL, vde_image_open(path, O_RDONLY, &self->img, &self->d));
	EXPECT_EQ(VDE_DIAG_PREAMBLE, self->d.block);
	EXPECT_STREQ("preamble: VdeOffset = 6144: not a multiple of 4096",
		     self->d.msg);
}

TEST_F(img, preamble_offset_inside_preamble_einval)
{
	char path[96];
	uint8_t h[64];

	strcpy(path, self->path);
	preamble_header(h, 9000, 8192);
	make_preamble_image(self->path, path, h, 8192);
	EXPECT_EQ(-EINVAL, vde_image_open(path, O_RDONLY, &self->img, &self->d));
	EXPECT_STREQ("VdeOffset", self->d.field);
	EXPECT_STREQ("preamble: VdeOffset = 8192: inside the preamble (PreambleTotalSize 9000)",
		     self->d.msg);
}

TEST_F(img, preamble_offset_past_end_einval)
{
	char path[96];
	uint8_t h[64];

	strcpy(path, self->path);
	preamble_header(h, 64, 1ULL << 40);
	make_preamble_image(self->path, path, h, 8192);
	EXPECT_EQ(-EINVAL, vde_image_open(path, O_RDONLY, &self->img, &self->d));
	EXPECT_EQ(VDE_DIAG_PREAMBLE, self->d.block);
	EXPECT_STREQ("VdeOffset", self->d.field);
	EXPECT_STREQ("preamble: VdeOffset = 1099511627776: past the end of the file (8396800 bytes)",
		     self->d.msg);
}

TEST_F(img, preamble_version_2_eopnotsupp)
{
	uint8_t digest[VDE_SHA256_SIZE];
	char path[96];
	uint8_t h[64];

	strcpy(path, self->path);
	preamble_header(h, 64, 8192);
	vde_put_le16(h + 8, 2);
	ASSERT_EQ(0, vde_sha256(h, 56, digest));
	memcpy(h + 56, digest, 8);
	make_preamble_image(self->path, path, h, 8192);
	EXPECT_EQ(-EOPNOTSUPP, vde_image_open(path, O_RDONLY, &self->img, &self->d));
	EXPECT_STREQ("PreambleVersion", self->d.field);
}

/* ---- the region map, on hand-made region tables ----------------------------- */

static void mkimg(struct vde_image *img, uint64_t total)
{
	memset(img, 0, sizeof(*img));
	img->fd = -1;
	img->block_size = BS;
	img->nr_blocks = total;
}

static void add(struct vde_image *img, uint32_t tag, uint32_t flags,
		uint64_t start, uint64_t count)
{
	struct vde_region *r = &img->regions[img->nr_regions];

	r->slot = img->nr_regions++;
	r->tag = tag;
	vde_tag_name(tag, r->name);
	r->flags = VDE_RF_ACTIVE | flags;
	r->start = start;
	r->count = count;
}

struct ent {
	uint64_t first, nr;
	uint32_t flags;
};

#define E VDE_REGION_ENCRYPTED
#define H VDE_REGION_HIDDEN

static int map_is(struct __test_metadata *_metadata, const struct vde_image *img,
		  uint64_t first, uint64_t nr, const struct ent *want,
		  unsigned int n)
{
	struct vde_region_entry m[VDE_MAX_REGIONS];
	unsigned int got, i;

	memset(m, 0xee, sizeof(m));
	EXPECT_EQ(0, vde_image_region_map(img, first, nr, m, VDE_MAX_REGIONS, &got));
	EXPECT_EQ(n, got);
	if (got != n)
		return 0;
	for (i = 0; i < n; i++) {
		EXPECT_EQ(want[i].first, m[i].first_block) TH_LOG("entry %u", i);
		EXPECT_EQ(want[i].nr, m[i].nr_blocks) TH_LOG("entry %u", i);
		EXPECT_EQ(want[i].flags, m[i].flags) TH_LOG("entry %u", i);
		EXPECT_EQ(0, m[i].reserved);
	}
	return 1;
}

TEST(map_no_regions_is_plain)
{
	static const struct ent want[] = { { 0, 100, 0 } };
	struct vde_image img;

	mkimg(&img, 100);
	map_is(_metadata, &img, 0, 100, want, 1);
}

TEST(map_earlier_slot_wins)
{
	static const struct ent want[] = { { 0, 100, E }, { 100, 100, 0 } };
	static const struct ent want2[] = { { 0, 50, E }, { 50, 150, 0 } };
	struct vde_image img;

	mkimg(&img, 200);
	add(&img, VDE_TAG_DATA, VDE_RF_ENCRYPTED, 0, 100);
	add(&img, VDE_TAG_DATA, 0, 50, 100);
	map_is(_metadata, &img, 0, 200, want, 2);

	mkimg(&img, 200);
	add(&img, VDE_TAG_DATA, 0, 50, 100);
	add(&img, VDE_TAG_DATA, VDE_RF_ENCRYPTED, 0, 100);
	map_is(_metadata, &img, 0, 200, want2, 2);
}

TEST(map_gaps_are_plain)
{
	static const struct ent want[] = {
		{ 0, 10, 0 }, { 10, 10, E }, { 20, 10, 0 }, { 30, 10, E },
		{ 40, 10, 0 },
	};
	struct vde_image img;

	mkimg(&img, 50);
	add(&img, VDE_TAG_DATA, VDE_RF_ENCRYPTED, 30, 10);
	add(&img, VDE_TAG_DATA, VDE_RF_ENCRYPTED, 10, 10);
	map_is(_metadata, &img, 0, 50, want, 5);
}

TEST(map_encr_region_hidden_even_if_encrypted)
{
	static const struct ent want[] = {
		{ 0, 12, 0 }, { 12, 2, H }, { 14, 86, E },
	};
	struct vde_image img;

	mkimg(&img, 100);
	add(&img, VDE_TAG_SUPB, 0, 0, 4);
	add(&img, VDE_TAG_SUPB, 0, 4, 4);
	add(&img, VDE_TAG_RMAP, 0, 8, 2);
	add(&img, VDE_TAG_POLV, 0, 10, 2);
	add(&img, VDE_TAG_ENCR, VDE_RF_ENCRYPTED, 12, 2);
	add(&img, VDE_TAG_DATA, VDE_RF_ENCRYPTED, 14, 86);
	map_is(_metadata, &img, 0, 100, want, 3);
}

TEST(map_views_are_clipped_and_relative)
{
	static const struct ent data[] = { { 0, 36, E } };
	static const struct ent mid[] = { { 0, 2, 0 }, { 2, 2, H }, { 4, 6, E } };
	static const struct ent one[] = { { 0, 1, H } };
	uint64_t first, nr;
	struct vde_image img;

	mkimg(&img, 50);
	add(&img, VDE_TAG_POLV, 0, 10, 2);
	add(&img, VDE_TAG_ENCR, 0, 12, 2);
	add(&img, VDE_TAG_DATA, VDE_RF_ENCRYPTED, 14, 100);
	ASSERT_EQ(0, vde_image_region_view(&img, "DATA", &first, &nr));
	EXPECT_EQ(14, first);
	EXPECT_EQ(36, nr);
	map_is(_metadata, &img, first, nr, data, 1);
	map_is(_metadata, &img, 10, 10, mid, 3);
	map_is(_metadata, &img, 13, 1, one, 1);
}

TEST(map_merges_adjacent_equal_flags)
{
	static const struct ent want[] = { { 0, 20, E }, { 20, 30, 0 } };
	struct vde_image img;

	mkimg(&img, 50);
	add(&img, VDE_TAG_DATA, VDE_RF_ENCRYPTED, 0, 10);
	add(&img, VDE_TAG_STRE, VDE_RF_ENCRYPTED, 10, 10);
	add(&img, VDE_TAG_INOD, 0, 20, 10);
	add(&img, VDE_TAG_MWAL, VDE_RF_COMPRESSED, 30, 10);
	map_is(_metadata, &img, 0, 50, want, 2);
}

TEST(map_region_past_total_blocks_clipped)
{
	static const struct ent want[] = { { 0, 90, 0 }, { 90, 10, E } };
	struct vde_image img;

	mkimg(&img, 100);
	add(&img, VDE_TAG_DATA, VDE_RF_ENCRYPTED, 90, 200);
	add(&img, VDE_TAG_MWAL, VDE_RF_ENCRYPTED, 500, 20);
	map_is(_metadata, &img, 0, 100, want, 2);
}

TEST(map_empty_regions_ignored)
{
	static const struct ent want[] = { { 0, 100, 0 } };
	struct vde_image img;

	mkimg(&img, 100);
	add(&img, VDE_TAG_DATA, VDE_RF_ENCRYPTED, 10, 0);
	map_is(_metadata, &img, 0, 100, want, 1);
}

TEST(map_too_big_e2big)
{
	struct vde_region_entry m[VDE_MAX_REGIONS];
	struct vde_image img;
	unsigned int i, nr;

	mkimg(&img, 1000);
	for (i = 0; i < 100; i++)
		add(&img, VDE_TAG_DATA, VDE_RF_ENCRYPTED, 5 * i + 1, 2);
	/* 100 encrypted pieces and 101 plain ones. */
	EXPECT_EQ(-E2BIG, vde_image_region_map(&img, 0, 1000, m, 10, &nr));
	EXPECT_EQ(201, nr);
	EXPECT_EQ(-E2BIG, vde_image_region_map(&img, 0, 1000, m, 200, &nr));
	EXPECT_EQ(201, nr);
	EXPECT_EQ(0, vde_image_region_map(&img, 0, 1000, m, 201, &nr));
	EXPECT_EQ(201, nr);
	EXPECT_EQ(498, m[200].first_block);
	EXPECT_EQ(502, m[200].nr_blocks);
	EXPECT_EQ(0, m[200].flags);
	EXPECT_EQ(496, m[199].first_block);
	EXPECT_EQ(2, m[199].nr_blocks);
	EXPECT_EQ(E, m[199].flags);
	EXPECT_EQ(-E2BIG, vde_image_region_map(&img, 0, 1000, NULL, 0, &nr));
	EXPECT_EQ(201, nr);
}

TEST(map_most_regions_fit)
{
	struct vde_region_entry m[VDE_MAX_REGIONS];
	struct vde_image img;
	unsigned int i, nr;

	/* 127 separated encrypted regions: the largest possible map. */
	mkimg(&img, 1000);
	for (i = 0; i < VDE_NR_SLOTS; i++)
		add(&img, VDE_TAG_DATA, VDE_RF_ENCRYPTED, 3 * i + 1, 1);
	EXPECT_EQ(0, vde_image_region_map(&img, 0, 1000, m, VDE_MAX_REGIONS, &nr));
	EXPECT_EQ(255, nr);
}

TEST(map_bad_arguments)
{
	struct vde_region_entry m[4];
	struct vde_image img;
	unsigned int nr = 7;

	mkimg(&img, 100);
	EXPECT_EQ(-EINVAL, vde_image_region_map(&img, 0, 0, m, 4, &nr));
	EXPECT_EQ(0, nr);
	EXPECT_EQ(-EINVAL, vde_image_region_map(&img, 0, 10, NULL, 4, &nr));
	EXPECT_EQ(-ERANGE, vde_image_region_map(&img, 0, 101, m, 4, &nr));
	EXPECT_EQ(-ERANGE, vde_image_region_map(&img, 101, 1, m, 4, &nr));
	EXPECT_EQ(-ERANGE, vde_image_region_map(&img, 50, UINT64_MAX, m, 4, &nr));
	EXPECT_EQ(0, vde_image_region_map(&img, 99, 1, m, 4, &nr));
	EXPECT_EQ(1, nr);
}

TEST(map_view_of_missing_or_outside_region)
{
	struct vde_image img;
	uint64_t first, nr;

	mkimg(&img, 100);
	add(&img, VDE_TAG_MWAL, 0, 100, 64);
	add(&img, VDE_TAG_INOD, 0, 40, 0);
	EXPECT_EQ(-ENOENT, vde_image_region_view(&img, "DATA", &first, &nr));
	EXPECT_EQ(-ERANGE, vde_image_region_view(&img, "MWAL", &first, &nr));
	EXPECT_EQ(-ERANGE, vde_image_region_view(&img, "INOD", &first, &nr));
}

/* Any region table: the map agrees with the per-block rule everywhere. */
TEST(map_matches_per_block_rule)
{
	static const uint32_t tags[] = { VDE_TAG_DATA, VDE_TAG_ENCR, VDE_TAG_INOD };
	struct vde_region_entry m[VDE_MAX_REGIONS];
	unsigned int round, i, nr, e;
	struct vde_image img;
	uint64_t b, first, len;

	srandom(12345);
	for (round = 0; round < 300; round++) {
		mkimg(&img, 1 + random() % 400);
		for (i = random() % 40; i; i--)
			add(&img, tags[random() % 3],
			    random() % 2 ? VDE_RF_ENCRYPTED : 0,
			    random() % 450, random() % 60);
		first = random() % img.nr_blocks;
		len = 1 + random() % (img.nr_blocks - first);
		ASSERT_EQ(0, vde_image_region_map(&img, first, len, m,
						  VDE_MAX_REGIONS, &nr));
		ASSERT_LE(1, nr);
		b = 0;
		for (e = 0; e < nr; e++) {
			ASSERT_EQ(b, m[e].first_block);
			ASSERT_LT(0, m[e].nr_blocks);
			if (e)
				ASSERT_NE(m[e - 1].flags, m[e].flags);
			for (; b < m[e].first_block + m[e].nr_blocks; b++) {
				const struct vde_region *r =
					vde_image_region_for_block(&img, first + b);
				uint32_t want = !r ? 0 :
					r->tag == VDE_TAG_ENCR ? H :
					r->flags & VDE_RF_ENCRYPTED ? E : 0;

				ASSERT_EQ(want, m[e].flags);
			}
		}
		ASSERT_EQ(len, b);
	}
}

/* ---- names ------------------------------------------------------------------ */

TEST(tag_names)
{
	uint32_t tag;
	char n[5];

	EXPECT_EQ(0x53555042, VDE_TAG_SUPB);
	EXPECT_EQ(0x44415441, VDE_TAG_DATA);
	EXPECT_STREQ("ENCR", vde_tag_name(0x454E4352, n));
	EXPECT_STREQ("?A?B", vde_tag_name(0x01410042, n));
	EXPECT_EQ(0, vde_tag_parse("mwal", &tag));
	EXPECT_EQ(VDE_TAG_MWAL, tag);
	EXPECT_EQ(-EINVAL, vde_tag_parse("MWA", &tag));
	EXPECT_EQ(-EINVAL, vde_tag_parse("MWALS", &tag));
	EXPECT_EQ(-EINVAL, vde_tag_parse("MW\tL", &tag));
	EXPECT_STREQ("allocation bitmap", vde_tag_describe(VDE_TAG_BMAP));
	EXPECT_STREQ("encryption header (key slots)", vde_tag_describe(VDE_TAG_ENCR));
	EXPECT_EQ(NULL, vde_tag_describe(VDE_TAG('X', 'X', 'X', 'X')));
}

TEST(flag_names)
{
	char buf[128];

	EXPECT_STREQ("EncryptionEnabled", vde_flag_name(VDE_FLAGS_INCOMPAT, 0));
	EXPECT_STREQ("HasPreamble", vde_flag_name(VDE_FLAGS_INCOMPAT, 8));
	EXPECT_EQ(NULL, vde_flag_name(VDE_FLAGS_INCOMPAT, 7));
	EXPECT_EQ(NULL, vde_flag_name(VDE_FLAGS_INCOMPAT, 32));
	EXPECT_STREQ("IntelligenceCacheActive", vde_flag_name(VDE_FLAGS_ROCOMPAT, 4));
	EXPECT_STREQ("DirtyFlag", vde_flag_name(VDE_FLAGS_COMPAT, 6));
	EXPECT_STREQ("Migrating", vde_flag_name(VDE_FLAGS_REGION, 5));
	EXPECT_STREQ("Snapshot", vde_flag_name(VDE_FLAGS_MODULES, 12));
	EXPECT_EQ(39, vde_flags_describe(VDE_FLAGS_MODULES, 0x1C01, buf, sizeof(buf)));
	EXPECT_STREQ("Security Compression Integrity Snapshot", buf);
	EXPECT_EQ(21, vde_flags_describe(VDE_FLAGS_REGION, 0x43, buf, sizeof(buf)));
	EXPECT_STREQ("Active Encrypted bit6", buf);
	EXPECT_EQ(0, vde_flags_describe(VDE_FLAGS_COMPAT, 0, buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
	EXPECT_EQ(-ENOSPC, vde_flags_describe(VDE_FLAGS_REGION, 0x3, buf, 10));
	EXPECT_STREQ("Active En", buf);
}

TEST(block_roles)
{
	EXPECT_STREQ("superblock", vde_block_role(0));
	EXPECT_STREQ("mirror region pointer table", vde_block_role(5));
	EXPECT_STREQ("region directory header", vde_block_role(9));
	EXPECT_EQ(NULL, vde_block_role(10));
	EXPECT_STREQ("file", vde_block_role(VDE_DIAG_FILE));
	EXPECT_STREQ("preamble", vde_block_role(VDE_DIAG_PREAMBLE));
}

TEST(uuids)
{
	uint8_t u[16];
	char s[33], g[37];
	unsigned int i;

	ASSERT_EQ(0, vde_uuid_parse("00112233-4455-6677-8899-AABBCCDDEEFF", u));
	for (i = 0; i < 16; i++)
		EXPECT_EQ(0x11 * i, u[i]);
	EXPECT_STREQ("00112233445566778899aabbccddeeff", vde_uuid_format(u, s));
	EXPECT_STREQ("33221100-5544-7766-8899-aabbccddeeff", vde_guid_format(u, g));
	EXPECT_EQ(-EINVAL, vde_uuid_parse("00112233445566778899aabbccddeef", u));
	EXPECT_EQ(-EINVAL, vde_uuid_parse("00112233445566778899aabbccddeeff0", u));
	EXPECT_EQ(-EINVAL, vde_uuid_parse("00112233445566778899aabbccddeefg", u));
	EXPECT_EQ(-EINVAL, vde_uuid_parse("", u));
	EXPECT_EQ(0x11, u[1]);
}

TEST(tick_times)
{
	char buf[40];

	EXPECT_STREQ("1970-01-01T00:00:00.0000000Z",
		     vde_ticks_format(VDE_TICKS_UNIX_EPOCH, buf, sizeof(buf)));
	EXPECT_STREQ("2023-11-14T22:13:20.1234567Z",
		     vde_ticks_format(VDE_TICKS_UNIX_EPOCH +
				      1700000000LL * VDE_TICKS_PER_SEC + 1234567,
				      buf, sizeof(buf)));
	EXPECT_STREQ("0001-01-01T00:00:00.0000001Z", vde_ticks_format(1, buf, sizeof(buf)));
	EXPECT_STREQ("-", vde_ticks_format(0, buf, sizeof(buf)));
	EXPECT_STREQ("ticks -1", vde_ticks_format(-1, buf, sizeof(buf)));
}

TEST(le_helpers_and_slots)
{
	uint8_t raw[VDE_SLOT_SIZE];
	struct vde_slot s = { VDE_TAG_DATA, 3, 9382, 1039194, 7 }, t;

	vde_slot_encode(&s, raw);
	EXPECT_EQ(0x41, raw[0]);	/* "ATAD" on disk */
	EXPECT_EQ(0x54, raw[1]);
	EXPECT_EQ(0x41, raw[2]);
	EXPECT_EQ(0x44, raw[3]);
	EXPECT_EQ(3, raw[4]);
	EXPECT_EQ(0xa6, raw[8]);	/* 9382 = 0x24a6 */
	EXPECT_EQ(0x24, raw[9]);
	vde_slot_decode(raw, &t);
	EXPECT_EQ(0, memcmp(&s, &t, sizeof(s)));
}

/* ---- the check ----------------------------------------------------------- */

TEST_F(img, check_fresh_image_is_clean)
{
	struct vde_check_result r;
	struct seen s = { 0 };

	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(0, s.n) TH_LOG("%s", s.d[0].msg);
	EXPECT_EQ(0, r.fatal);
	EXPECT_EQ(0, r.errors);
	EXPECT_EQ(0, r.notes);
	/* 8 superblock blocks, 2 RD, 1 bitmap, INOD and MWAL headers */
	EXPECT_EQ(13, r.blocks_checked);
}

TEST_F(img, check_primary_damaged)
{
	struct vde_check_result r;
	struct seen s = { 0 };

	patch(self->path, 0, 0x98, "x", 1, false);
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(0, r.fatal);
	EXPECT_EQ(1, r.errors);
	EXPECT_EQ(1, r.notes);
	ASSERT_EQ(2, s.n);
	EXPECT_EQ(VDE_SEV_ERROR, s.sev[0]);
	EXPECT_EQ(0, s.d[0].block);
	EXPECT_STREQ("trailer checksum", s.d[0].field);
	/* vde_image_open() uses the mirror: no errno. */
	EXPECT_EQ(0, s.d[0].err);
	EXPECT_EQ(VDE_SEV_NOTE, s.sev[1]);
	EXPECT_EQ(0, s.d[1].err);
}

TEST_F(img, check_mirror_damaged_error_has_no_errno)
{
	struct vde_check_result r;
	struct seen s = { 0 };

	patch(self->path, 5, 100, "x", 1, false);
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(0, r.fatal);
	EXPECT_EQ(1, r.errors);
	ASSERT_EQ(1, s.n);
	EXPECT_EQ(VDE_SEV_ERROR, s.sev[0]);
	EXPECT_EQ(5, s.d[0].block);
	EXPECT_STREQ("trailer checksum", s.d[0].field);
	EXPECT_EQ(0, s.d[0].err);
}

TEST_F(img, check_primary_bad_magic_mirror_good)
{
	struct vde_check_result r;
	struct seen s = { 0 };

	patch(self->path, 0, 0, "XWVD", 4, true);
	ASSERT_EQ(0, OPEN(self));
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(0, r.fatal);
	EXPECT_EQ(1, r.errors);
	ASSERT_EQ(2, s.n);
	EXPECT_EQ(VDE_SEV_ERROR, s.sev[0]);
	EXPECT_EQ(0, s.d[0].err);
	EXPECT_STREQ(self->img.primary_diag.field, s.d[0].field);
	EXPECT_STREQ(self->img.primary_diag.value, s.d[0].value);
	EXPECT_STREQ(self->img.primary_diag.msg, s.d[0].msg);
}

TEST_F(img, check_both_copies_damaged)
{
	struct vde_check_result r;
	struct seen s = { 0 };

	patch(self->path, 0, 0x98, "x", 1, false);
	patch(self->path, 4, 0x98, "x", 1, false);
	patch(self->path, 6, 0x98, "x", 1, false);
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(3, r.fatal);
	EXPECT_EQ(0, r.errors);
	ASSERT_EQ(3, s.n);
	EXPECT_EQ(0, s.d[0].block);
	EXPECT_EQ(4, s.d[1].block);
	EXPECT_EQ(6, s.d[2].block);
	EXPECT_EQ(-EPROTO, s.d[2].err);
}

/* The check reports the superblock groups as vde_image_open() does. */
static void check_agrees_with_open(struct __test_metadata *_metadata,
				   const char *path, int err)
{
	struct vde_check_result r;
	struct seen s = { 0 };
	struct vde_image img;
	struct vde_diag d;
	char both[2 * sizeof(d.msg) + 16];
	int ret;

	ret = vde_image_open(path, O_RDONLY, &img, &d);
	if (!ret)
		vde_image_close(&img);
	ASSERT_EQ(err, ret);
	ASSERT_EQ(0, vde_image_check(path, collect, &s, &r));
	EXPECT_EQ(2, r.fatal);
	ASSERT_EQ(2, s.n);
	EXPECT_EQ(VDE_SEV_FATAL, s.sev[0]);
	EXPECT_EQ(d.err, s.d[0].err);
	EXPECT_EQ(d.block, s.d[0].block);
	EXPECT_STREQ(d.field, s.d[0].field);
	EXPECT_STREQ(d.value, s.d[0].value);
	EXPECT_EQ(VDE_SEV_FATAL, s.sev[1]);
	EXPECT_EQ(4, s.d[1].block);
	EXPECT_STRNE("", s.d[1].value);
	snprintf(both, sizeof(both), "%s; mirror: %s", s.d[0].msg, s.d[1].msg);
	EXPECT_STREQ(d.msg, both);
}

TEST_F(img, check_bad_magic_agrees_with_open)
{
	struct vde_check_result r;
	struct seen s = { 0 };

	sb_patch(self->path, 0, "XWVD", 4);
	check_agrees_with_open(_metadata, self->path, -EINVAL);
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(-EINVAL, s.d[0].err);
	EXPECT_STREQ("Magic", s.d[0].field);
	EXPECT_STREQ("58 57 56 44 .. 64 77 3a 2f 2f 00 00 00", s.d[0].value);
	EXPECT_STREQ("Magic", s.d[1].field);
	EXPECT_STREQ("58 57 56 44 .. 64 77 3a 2f 2f 00 00 00", s.d[1].value);
}

TEST_F(img, check_format_v1_agrees_with_open)
{
	uint8_t v1[8] = { 0x44, 0x56, 0x57, 0x44, 1, 0, 0, 0 };
	struct vde_check_result r;
	struct seen s = { 0 };

	sb_patch(self->path, 0, v1, sizeof(v1));
	check_agrees_with_open(_metadata, self->path, -EOPNOTSUPP);
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(-EOPNOTSUPP, s.d[0].err);
	EXPECT_STREQ("Magic", s.d[0].field);
	EXPECT_STREQ("44 56 57 44 .. 64 77 3a 2f 2f 00 00 00", s.d[0].value);
	EXPECT_NE(NULL, strstr(s.d[0].msg, "a format v1 container"));
}

TEST_F(img, check_block_size_1000_agrees_with_open)
{
	struct vde_check_result r;
	struct seen s = { 0 };

	sb_patch32(self->path, 0x34, 1000);
	check_agrees_with_open(_metadata, self->path, -EINVAL);
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_STREQ("block 4 (mirror superblock): BlockSize = 1000: not a power of two between 4096 and 65536",
		     s.d[1].msg);
}

TEST_F(img, check_truncated_groups_agree_with_open)
{
	ASSERT_EQ(0, truncate(self->path, 100));
	check_agrees_with_open(_metadata, self->path, -ENODATA);
}

TEST_F(img, check_mirror_defect_agrees_with_open)
{
	patch(self->path, 0, 0, "XWVD", 4, true);
	patch32(self->path, 4, 0x34, 8192, true);
	check_agrees_with_open(_metadata, self->path, -EINVAL);
}

TEST_F(img, check_mirror_differs)
{
	struct vde_check_result r;
	struct seen s = { 0 };

	patch(self->path, 4, 0x98, "x", 1, true);
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(0, r.fatal);
	EXPECT_EQ(1, r.errors);
	ASSERT_EQ(1, s.n);
	EXPECT_EQ(4, s.d[0].block);
	EXPECT_STREQ("block 4 (mirror superblock): mirror: differs from block 0 at byte 152",
		     s.d[0].msg);
}

TEST_F(img, check_bitmap_and_wal_trailers)
{
	struct vde_check_result r;
	struct seen s = { 0 };

	patch(self->path, 10, 2000, "x", 1, false);
	patch32(self->path, 1035, BS - 16, VDE_TAG_DATA, false);
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(0, r.fatal);
	EXPECT_EQ(2, r.errors);
	ASSERT_EQ(2, s.n);
	EXPECT_EQ(10, s.d[0].block);
	EXPECT_EQ(0, strncmp(s.d[0].msg,
			     "block 10 (allocation bitmap): slot 3 trailer checksum = 0x", 58));
	EXPECT_STREQ("block 1035 (metadata write-ahead log): slot 5 trailer tag = DATA: the region is MWAL",
		     s.d[1].msg);
}

TEST_F(img, check_reports_every_problem_once)
{
	struct vde_check_result r;
	struct seen s = { 0 };
	struct vde_slot a, b;

	get_slot(self->path, 8, 4, &a);
	a.start--;
	set_slot(self->path, 4, &a);
	get_slot(self->path, 8, SLOT_DATA, &b);
	b.start++;
	b.count--;
	rd_set_slot(self->path, SLOT_DATA, &b);
	sb_patch32(self->path, 0x14, 0x4);
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(3, r.fatal);
	ASSERT_EQ(4, s.n);
	EXPECT_STREQ("IncompatibleFeatures", s.d[0].field);
	EXPECT_EQ(SLOT_DATA, s.d[1].slot);
	EXPECT_STREQ("StartBlock", s.d[1].field);
	EXPECT_EQ(4, s.d[2].slot);
	EXPECT_EQ(-EUCLEAN, s.d[2].err);
	/* The moved INOD header block: error, not fatal. */
	EXPECT_EQ(VDE_SEV_ERROR, s.sev[3]);
	EXPECT_EQ(10, s.d[3].block);
}

TEST_F(img, check_truncated_device)
{
	struct vde_check_result r;
	struct seen s = { 0 };

	ASSERT_EQ(0, truncate(self->path, 1500 * BS));
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(1, r.fatal);
	EXPECT_EQ(1, r.notes);	/* ExpectedFileSize */
	EXPECT_EQ(SLOT_DATA, s.d[1].slot);
	EXPECT_EQ(-ENODATA, s.d[1].err);
}

TEST_F(img, check_missing_file_operational)
{
	struct vde_check_result r;

	strcat(self->path, ".missing");
	EXPECT_EQ(-ENOENT, vde_image_check(self->path, NULL, NULL, &r));
	self->path[strlen(self->path) - 8] = '\0';
}

TEST_F(img, check_not_an_image)
{
	struct vde_check_result r;
	struct seen s = { 0 };
	uint8_t z[BS] = { 0 };
	unsigned int i;

	for (i = 0; i < 10; i++)
		rw_block(self->path, i, z, true);
	ASSERT_EQ(0, vde_image_check(self->path, collect, &s, &r));
	EXPECT_EQ(2, r.fatal);
	EXPECT_STREQ("Magic", s.d[0].field);
}

TEST(check_quirk_image_has_notes_only)
{
	char dir[] = "/tmp/vde-test-format.XXXXXX", path[64];
	struct vde_check_result r;
	struct seen s = { 0 };
	unsigned int i;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/q.vde", dir);
	ASSERT_EQ(0, make_image(path, VDE_PROFILE_STANDARD, 1024, BS));
	ASSERT_EQ(0, vde_image_check(path, collect, &s, &r));
	EXPECT_EQ(0, r.fatal);
	EXPECT_EQ(0, r.errors);
	EXPECT_LT(0, r.notes);
	for (i = 0; i < s.n && i < 32; i++)
		EXPECT_EQ(VDE_SEV_NOTE, s.sev[i]) TH_LOG("%s", s.d[i].msg);
	unlink(path);
	rmdir(dir);
}

TEST_HARNESS_MAIN
