// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of libvde's image creator against the DataWarehouse SDK's
 * VdeCreator: the worked layouts and the deterministic test vectors of the
 * format description (§7.3, §7.5), byte for byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"
#include "kselftest_harness.h"

#define BS 4096
#define TICKS 638000000000000000LL	/* 2022-09-07T04:26:40Z */

static const uint8_t test_uuid[16] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
};

static void opts(struct vde_create_opts *o, enum vde_profile p, uint64_t total,
		 uint32_t bs)
{
	if (vde_create_opts_init(o, p))
		abort();
	o->total_blocks = total;
	o->block_size = bs;
	memcpy(o->uuid, test_uuid, 16);
	o->timestamp = TICKS;
	o->force = true;
}

struct want_region {
	uint32_t tag;
	const char *name;
	int64_t start, count;
};

static void expect_layout(struct __test_metadata *_metadata,
			  const struct vde_layout *l,
			  const struct want_region *w, unsigned int n)
{
	unsigned int i;

	ASSERT_EQ(n, l->nr_regions);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(w[i].tag, l->regions[i].slot.tag) TH_LOG("slot %u", i);
		EXPECT_STREQ(w[i].name, l->regions[i].name);
		EXPECT_EQ(w[i].start, l->regions[i].slot.start) TH_LOG("slot %u", i);
		EXPECT_EQ(w[i].count, l->regions[i].slot.count) TH_LOG("slot %u", i);
		EXPECT_EQ(VDE_RF_ACTIVE, l->regions[i].slot.flags);
		EXPECT_EQ(0, l->regions[i].slot.used);
	}
}

#define T(a, b, c, d) VDE_TAG(a, b, c, d)

/* ---- hashes --------------------------------------------------------------- */

TEST(xxh64_of_zero_payloads)
{
	uint8_t *z = calloc(1, VDE_MAX_BLOCK_SIZE);

	ASSERT_NE(NULL, z);
	EXPECT_EQ(0x51F6BE6B0AE550F0ULL, vde_block_hash(z, 4096));
	EXPECT_EQ(0x90107C6B6B977D91ULL, vde_block_hash(z, 8192));
	EXPECT_EQ(0xC3C10178A974E35DULL, vde_block_hash(z, 65536));
	vde_trailer_seal(z, 4096, VDE_TAG_BMAP, 1);
	EXPECT_EQ(0, memcmp(z + 4080, "PAMB\x01\x00\x00\x00\xF0\x50\xE5\x0A\x6B\xBE\xF6\x51", 16));
	EXPECT_TRUE(vde_trailer_ok(z, 4096));
	z[0] = 1;
	EXPECT_FALSE(vde_trailer_ok(z, 4096));
	free(z);
}

/* ---- layouts ----------------------------------------------------------------- */

TEST(layout_minimal_1m)
{
	static const struct want_region w[] = {
		{ VDE_TAG_SUPB, "PrimarySuperblock", 0, 4 },
		{ VDE_TAG_SUPB, "MirrorSuperblock", 4, 4 },
		{ VDE_TAG_RMAP, "RegionDirectory", 8, 2 },
		{ VDE_TAG_BMAP, "AllocationBitmap", 10, 33 },
		{ VDE_TAG_INOD, "InodeTable", 43, 4096 },
		{ VDE_TAG_MWAL, "MetadataWAL", 4139, 5243 },
		{ VDE_TAG_DATA, "DataRegion", 9382, 1039194 },
	};
	struct vde_create_opts o;
	struct vde_layout l;

	opts(&o, VDE_PROFILE_MINIMAL, 1048576, BS);
	EXPECT_EQ(0, o.manifest);
	EXPECT_EQ(0, o.module_config);
	ASSERT_EQ(0, vde_layout_compute(&o, &l));
	expect_layout(_metadata, &l, w, 7);
	EXPECT_EQ(320, l.inode_size);
	EXPECT_EQ(16, l.inode_padding);
	EXPECT_EQ(0, l.nr_inode_fields);
	EXPECT_EQ(9382, l.metadata_blocks);
	EXPECT_EQ(1039194, l.data_blocks);
}

TEST(layout_standard_1m)
{
	static const struct want_region w[] = {
		{ VDE_TAG_SUPB, "PrimarySuperblock", 0, 4 },
		{ VDE_TAG_SUPB, "MirrorSuperblock", 4, 4 },
		{ VDE_TAG_RMAP, "RegionDirectory", 8, 2 },
		{ VDE_TAG_POLV, "PolicyVault", 10, 2 },
		{ VDE_TAG_ENCR, "EncryptionHeader", 12, 2 },
		{ VDE_TAG_BMAP, "AllocationBitmap", 14, 33 },
		{ VDE_TAG_INOD, "InodeTable", 47, 4096 },
		{ VDE_TAG_MWAL, "MetadataWAL", 4143, 5243 },
		{ T('D', 'I', 'C', 'T'), "DictionaryRegion", 9386, 64 },
		{ T('M', 'T', 'R', 'K'), "IntegrityTree", 9450, 64 },
		{ T('S', 'N', 'A', 'P'), "SnapshotTable", 9514, 64 },
		{ VDE_TAG_DATA, "DataRegion", 9578, 1038998 },
	};
	struct vde_create_opts o;
	struct vde_layout l;

	opts(&o, VDE_PROFILE_STANDARD, 1048576, BS);
	EXPECT_EQ(0x00001C01, o.manifest);
	EXPECT_EQ(0x0001220000000002ULL, o.module_config);
	ASSERT_EQ(0, vde_layout_compute(&o, &l));
	expect_layout(_metadata, &l, w, 12);
	EXPECT_EQ(384, l.inode_size);
	EXPECT_EQ(52, l.inode_padding);
	ASSERT_EQ(2, l.nr_inode_fields);
	EXPECT_EQ(0, l.inode_fields[0].module);
	EXPECT_EQ(304, l.inode_fields[0].offset);
	EXPECT_EQ(24, l.inode_fields[0].size);
	EXPECT_EQ(10, l.inode_fields[1].module);
	EXPECT_EQ(328, l.inode_fields[1].offset);
	EXPECT_EQ(4, l.inode_fields[1].size);
	EXPECT_EQ(9578, l.metadata_blocks);
	EXPECT_EQ(1038998, l.data_blocks);
}

/* §1.5: metadata of a 1024-block image runs past TotalBlocks. */
TEST(layout_minimal_1024_overflows)
{
	static const struct want_region w[] = {
		{ VDE_TAG_SUPB, "PrimarySuperblock", 0, 4 },
		{ VDE_TAG_SUPB, "MirrorSuperblock", 4, 4 },
		{ VDE_TAG_RMAP, "RegionDirectory", 8, 2 },
		{ VDE_TAG_BMAP, "AllocationBitmap", 10, 1 },
		{ VDE_TAG_INOD, "InodeTable", 11, 1024 },
		{ VDE_TAG_MWAL, "MetadataWAL", 1035, 64 },
	};
	struct vde_create_opts o;
	struct vde_layout l;

	opts(&o, VDE_PROFILE_MINIMAL, 1024, BS);
	ASSERT_EQ(0, vde_layout_compute(&o, &l));
	expect_layout(_metadata, &l, w, 6);
	EXPECT_EQ(1099, l.metadata_blocks);
	EXPECT_EQ(0, l.data_blocks);
}

/* Streaming places a data WAL after the metadata WAL and its append
 * region after the module regions.
 */
TEST(layout_streaming_and_modules)
{
	static const struct want_region w[] = {
		{ VDE_TAG_SUPB, "PrimarySuperblock", 0, 4 },
		{ VDE_TAG_SUPB, "MirrorSuperblock", 4, 4 },
		{ VDE_TAG_RMAP, "RegionDirectory", 8, 2 },
		{ VDE_TAG_BMAP, "AllocationBitmap", 10, 33 },
		{ VDE_TAG_INOD, "InodeTable", 43, 4096 },
		{ VDE_TAG_MWAL, "MetadataWAL", 4139, 5243 },
		{ VDE_TAG_DWAL, "DataWAL", 9382, 10486 },
		{ T('C', 'M', 'V', 'T'), "ComplianceVault", 19868, 64 },
		{ VDE_TAG_DATA, "ComplianceAuditLog", 19932, 64 },
		{ VDE_TAG_STRE, "StreamingAppend", 19996, 10485 },
		{ VDE_TAG_DATA, "DataRegion", 30481, 1018095 },
	};
	struct vde_create_opts o;
	struct vde_layout l;

	opts(&o, VDE_PROFILE_MINIMAL, 1048576, BS);
	o.manifest = 1 << 1 | 1 << 6;
	ASSERT_EQ(0, vde_layout_compute(&o, &l));
	expect_layout(_metadata, &l, w, 11);
	/* 304 + 12 (Compliance) + 8 (Streaming) = 324 -> 384 */
	EXPECT_EQ(384, l.inode_size);
	EXPECT_EQ(60, l.inode_padding);
}

TEST(layout_other_block_sizes)
{
	struct vde_create_opts o;
	struct vde_layout l;

	opts(&o, VDE_PROFILE_MINIMAL, 1048576, 65536);
	ASSERT_EQ(0, vde_layout_compute(&o, &l));
	/* 65520 * 8 bits per bitmap block */
	EXPECT_EQ(3, l.regions[3].slot.count);
	opts(&o, VDE_PROFILE_MINIMAL, 1048576, 8192);
	ASSERT_EQ(0, vde_layout_compute(&o, &l));
	EXPECT_EQ(17, l.regions[3].slot.count);
}

TEST(layout_refuses_bad_options)
{
	struct vde_create_opts o;
	struct vde_layout l;

	opts(&o, VDE_PROFILE_MINIMAL, 1048576, 1000);
	EXPECT_EQ(-EINVAL, vde_layout_compute(&o, &l));
	opts(&o, VDE_PROFILE_MINIMAL, 1048576, 2048);
	EXPECT_EQ(-EINVAL, vde_layout_compute(&o, &l));
	opts(&o, VDE_PROFILE_MINIMAL, 1048576, 131072);
	EXPECT_EQ(-EINVAL, vde_layout_compute(&o, &l));
	opts(&o, VDE_PROFILE_MINIMAL, 63, BS);
	EXPECT_EQ(-EINVAL, vde_layout_compute(&o, &l));
	opts(&o, VDE_PROFILE_MINIMAL, 64, BS);
	EXPECT_EQ(0, vde_layout_compute(&o, &l));
	opts(&o, VDE_PROFILE_MINIMAL, 1ULL << 62, BS);
	EXPECT_EQ(-EINVAL, vde_layout_compute(&o, &l));
	opts(&o, VDE_PROFILE_MINIMAL, 1048576, BS);
	o.manifest = 1U << 19;
	EXPECT_EQ(-EINVAL, vde_layout_compute(&o, &l));
}

TEST(profiles)
{
	enum vde_profile p;

	EXPECT_EQ(0, vde_profile_parse("minimal", &p));
	EXPECT_EQ(VDE_PROFILE_MINIMAL, p);
	EXPECT_EQ(0, vde_profile_parse("standard", &p));
	EXPECT_EQ(VDE_PROFILE_STANDARD, p);
	EXPECT_EQ(-EINVAL, vde_profile_parse("enterprise", &p));
	EXPECT_EQ(-EINVAL, vde_profile_parse("Standard", &p));
}

TEST(defaults_are_random_v4_and_now)
{
	struct vde_create_opts a, b;

	ASSERT_EQ(0, vde_create_opts_init(&a, VDE_PROFILE_STANDARD));
	ASSERT_EQ(0, vde_create_opts_init(&b, VDE_PROFILE_STANDARD));
	EXPECT_NE(0, memcmp(a.uuid, b.uuid, 16));
	/* .NET Guid layout: the version nibble is the top of byte 7. */
	EXPECT_EQ(0x40, a.uuid[7] & 0xf0);
	EXPECT_EQ(0x80, a.uuid[8] & 0xc0);
	EXPECT_EQ(BS, a.block_size);
	EXPECT_EQ(VDE_DEFAULT_TOTAL_BLOCKS, a.total_blocks);
	/* After 2020-01-01, before 2100-01-01 */
	EXPECT_LT(637134336000000000LL, a.timestamp);
	EXPECT_GT(662380416000000000LL, a.timestamp);
	EXPECT_EQ(NULL, a.encrypt_region);
	EXPECT_FALSE(a.force);
}

/* ---- created files ----------------------------------------------------------- */

FIXTURE(dir) {
	char dir[64];
	char path[96];
	char path2[96];
	int fd;
	uint8_t b[BS];
};

FIXTURE_SETUP(dir)
{
	strcpy(self->dir, "/tmp/vde-test-layout.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/a.vde", self->dir);
	snprintf(self->path2, sizeof(self->path2), "%s/b.vde", self->dir);
	self->fd = -1;
}

FIXTURE_TEARDOWN(dir)
{
	if (self->fd >= 0)
		close(self->fd);
	unlink(self->path);
	unlink(self->path2);
	rmdir(self->dir);
}

static uint8_t *blk(struct __test_metadata *_metadata, FIXTURE_DATA(dir) *self,
		    uint64_t block)
{
	if (self->fd < 0)
		self->fd = open(self->path, O_RDONLY);
	EXPECT_LE(0, self->fd);
	EXPECT_EQ(BS, pread(self->fd, self->b, BS, (off_t)(block * BS)));
	return self->b;
}

static uint64_t hash_of(struct __test_metadata *_metadata,
			FIXTURE_DATA(dir) *self, uint64_t block)
{
	uint8_t *b = blk(_metadata, self, block);

	/* The stored hash must be the hash of the block. */
	EXPECT_TRUE(vde_trailer_ok(b, BS)) TH_LOG("block %llu",
						   (unsigned long long)block);
	return vde_get_le64(b + BS - 8);
}

static bool zero(const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

TEST_F(dir, minimal_1m_vectors)
{
	static const uint8_t magic[16] = {
		0x44, 0x57, 0x56, 0x44, 0x02, 0x00, 0x01, 0x00,
		0x64, 0x77, 0x3A, 0x2F, 0x2F, 0x00, 0x00, 0x00,
	};
	static const uint8_t rd_hdr[16] = {
		0x01, 0x00, 0x7F, 0x00, 0x07, 0x00, 0x00, 0x00,
		0xBF, 0x30, 0xDB, 0x2F, 0x5F, 0x30, 0x1F, 0x14,
	};
	static const uint8_t inode_desc[8] = {
		0x40, 0x01, 0x30, 0x01, 0x00, 0x10, 0x00, 0x00,
	};
	uint8_t rpt[BS], sb[BS];
	struct vde_create_opts o;
	struct vde_layout l;
	struct stat st;
	uint8_t *b;
	uint64_t i;

	opts(&o, VDE_PROFILE_MINIMAL, 1048576, BS);
	ASSERT_EQ(0, vde_image_create(self->path, &o, &l));
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_EQ(4294967296LL, st.st_size);
	EXPECT_GT(4096, st.st_blocks);	/* sparse: under 2 MiB allocated */
	EXPECT_EQ(1048576, l.file_blocks);

	b = blk(_metadata, self, 0);
	EXPECT_EQ(0, memcmp(b, magic, 16));
	memcpy(sb, b, BS);
	EXPECT_EQ(0x0000000000000000ULL, vde_get_le64(sb + 0x14));	/* features */
	EXPECT_EQ(4096, vde_get_le32(sb + 0x34));
	EXPECT_EQ(1048576, vde_get_le64(sb + 0x38));
	EXPECT_EQ(1039194, vde_get_le64(sb + 0x40));
	EXPECT_EQ(4294967296ULL, vde_get_le64(sb + 0x48));
	EXPECT_EQ(9382, vde_get_le64(sb + 0x50));
	EXPECT_EQ(0, memcmp(sb + 0x58, test_uuid, 16));
	EXPECT_EQ(1, sb[0x7a]);
	EXPECT_EQ(320, vde_get_le16(sb + 0x7c));
	EXPECT_EQ(1, vde_get_le32(sb + 0x80));
	EXPECT_EQ((uint64_t)TICKS, vde_get_le64(sb + 0xd8));
	EXPECT_EQ((uint64_t)TICKS, vde_get_le64(sb + 0xe0));
	EXPECT_EQ(1, vde_get_le64(sb + 0xf0));
	EXPECT_EQ((uint64_t)TICKS, vde_get_le64(sb + 0x110));
	EXPECT_TRUE(zero(sb + 0x130, BS - 16 - 0x130));	/* reserved, seal */
	EXPECT_EQ(0, memcmp(sb + BS - 16, "BPUS\x01\x00\x00\x00", 8));
	EXPECT_TRUE(vde_trailer_ok(sb, BS));

	EXPECT_EQ(0x141F305F2FDB30BFULL, hash_of(_metadata, self, 1));
	memcpy(rpt, self->b, BS);
	EXPECT_EQ(0, memcmp(rpt + BS - 16, "PAMR\x01\x00\x00\x00", 8));
	EXPECT_EQ(0x51F6BE6B0AE550F0ULL, hash_of(_metadata, self, 2));
	EXPECT_EQ(0, memcmp(self->b + BS - 16, "DMXE", 4));
	EXPECT_EQ(0x51F6BE6B0AE550F0ULL, hash_of(_metadata, self, 3));
	EXPECT_EQ(0, memcmp(self->b + BS - 16, "TNAI", 4));
	/* The mirror is a byte copy. */
	EXPECT_EQ(0, memcmp(blk(_metadata, self, 4), sb, BS));
	EXPECT_EQ(0, memcmp(blk(_metadata, self, 5), rpt, BS));
	EXPECT_EQ(0x51F6BE6B0AE550F0ULL, hash_of(_metadata, self, 6));
	EXPECT_EQ(0x51F6BE6B0AE550F0ULL, hash_of(_metadata, self, 7));

	/* RD block 8 = RPT block 1; block 9 holds the header. */
	EXPECT_EQ(0, memcmp(blk(_metadata, self, 8), rpt, BS));
	EXPECT_EQ(0xC3BF8834729AA12AULL, hash_of(_metadata, self, 9));
	EXPECT_EQ(0, memcmp(self->b, rd_hdr, 16));
	EXPECT_TRUE(zero(self->b + 16, BS - 32));
	EXPECT_EQ(0, memcmp(self->b + BS - 16, "PAMR\x01\x00\x00\x00", 8));

	b = blk(_metadata, self, 10);
	for (i = 0; i < 1172; i++)
		ASSERT_EQ(0xff, b[i]) TH_LOG("byte %llu", (unsigned long long)i);
	EXPECT_EQ(0x3f, b[1172]);
	EXPECT_TRUE(zero(b + 1173, BS - 16 - 1173));
	EXPECT_EQ(0xE00BDDE82BAB4E49ULL, hash_of(_metadata, self, 10));
	EXPECT_EQ(0, memcmp(self->b + BS - 16, "PAMB\x01\x00\x00\x00", 8));
	for (i = 11; i < 43; i++)
		EXPECT_EQ(0x51F6BE6B0AE550F0ULL, hash_of(_metadata, self, i));

	b = blk(_metadata, self, 43);
	EXPECT_EQ(0, memcmp(b, inode_desc, 8));
	EXPECT_TRUE(zero(b + 8, BS - 24));
	EXPECT_EQ(0, memcmp(b + BS - 16, "DONI\x01\x00\x00\x00", 8));
	EXPECT_TRUE(vde_trailer_ok(b, BS));
	EXPECT_TRUE(zero(blk(_metadata, self, 44), BS));	/* a hole */

	b = blk(_metadata, self, 4139);
	EXPECT_EQ(0, b[0]);				/* metadata WAL */
	EXPECT_EQ(1, vde_get_le32(b + 2));		/* version */
	EXPECT_TRUE(zero(b + 6, 40));			/* sequences, offsets */
	EXPECT_EQ(5243, vde_get_le64(b + 46));		/* MaxBlocks */
	EXPECT_EQ(1, vde_get_le64(b + 54));		/* UsedBlocks */
	EXPECT_EQ((uint64_t)TICKS, vde_get_le64(b + 62));
	EXPECT_EQ(0, vde_get_le64(b + 70));
	EXPECT_EQ(1024, vde_get_le32(b + 78));
	EXPECT_EQ(1, b[82]);
	EXPECT_TRUE(zero(b + 83, BS - 16 - 83));
	EXPECT_EQ(0, memcmp(b + BS - 16, "LAWM\x01\x00\x00\x00", 8));
	EXPECT_TRUE(vde_trailer_ok(b, BS));
	EXPECT_TRUE(zero(blk(_metadata, self, 9382), BS));
	EXPECT_TRUE(zero(blk(_metadata, self, 1048575), BS));
}

TEST_F(dir, standard_1m_vectors)
{
	static const uint8_t inode_desc[22] = {
		0x80, 0x01, 0x30, 0x01, 0x02, 0x34, 0x00, 0x00,
		0x00, 0x30, 0x01, 0x18, 0x00, 0x01, 0x01,
		0x0a, 0x48, 0x01, 0x04, 0x00, 0x01, 0x01,
	};
	struct vde_create_opts o;
	uint64_t i;
	uint8_t *b;

	opts(&o, VDE_PROFILE_STANDARD, 1048576, BS);
	ASSERT_EQ(0, vde_image_create(self->path, &o, NULL));
	b = blk(_metadata, self, 0);
	EXPECT_EQ(0x00001C01, vde_get_le32(b + 0x20));
	EXPECT_EQ(0x0001220000000002ULL, vde_get_le64(b + 0x24));
	EXPECT_EQ(1038998, vde_get_le64(b + 0x40));
	EXPECT_EQ(9578, vde_get_le64(b + 0x50));
	EXPECT_EQ(384, vde_get_le16(b + 0x7c));

	EXPECT_EQ(0xE88832F5D134A854ULL, hash_of(_metadata, self, 1));
	EXPECT_EQ(0xE88832F5D134A854ULL, hash_of(_metadata, self, 8));
	EXPECT_EQ(0xA2A9A755D2674B97ULL, hash_of(_metadata, self, 9));
	EXPECT_EQ(12, vde_get_le16(self->b + 4));	/* ActiveCount */
	/* PolicyVault and EncryptionHeader: never written. */
	for (i = 10; i < 14; i++)
		EXPECT_TRUE(zero(blk(_metadata, self, i), BS));
	EXPECT_EQ(0x3338120AEFF9F25CULL, hash_of(_metadata, self, 14));
	EXPECT_EQ(0xff, self->b[1196]);
	EXPECT_EQ(0x03, self->b[1197]);	/* 9578 = 1197 * 8 + 2 */
	EXPECT_EQ(0, self->b[1198]);
	EXPECT_EQ(0xB4ABDD3F8C19E2F0ULL, hash_of(_metadata, self, 47));
	EXPECT_EQ(0, memcmp(self->b, inode_desc, sizeof(inode_desc)));
	/* Module regions: a zero header block with the region's tag. */
	EXPECT_EQ(0x51F6BE6B0AE550F0ULL, hash_of(_metadata, self, 9386));
	EXPECT_EQ(0, memcmp(self->b + BS - 16, "TCID\x01\x00\x00\x00", 8));
	EXPECT_EQ(0x51F6BE6B0AE550F0ULL, hash_of(_metadata, self, 9450));
	EXPECT_EQ(0, memcmp(self->b + BS - 16, "KRTM", 4));
	EXPECT_EQ(0x51F6BE6B0AE550F0ULL, hash_of(_metadata, self, 9514));
	EXPECT_EQ(0, memcmp(self->b + BS - 16, "PANS", 4));
	EXPECT_TRUE(zero(blk(_metadata, self, 9387), BS));
	EXPECT_TRUE(zero(blk(_metadata, self, 9578), BS));
}

TEST_F(dir, round_trip_standard)
{
	struct vde_region_entry m[VDE_MAX_REGIONS];
	struct vde_create_opts o;
	struct vde_image img;
	struct vde_diag d;
	unsigned int nr;
	uint64_t first, n;

	opts(&o, VDE_PROFILE_STANDARD, 1048576, BS);
	memcpy(o.label, "round trip", 10);
	ASSERT_EQ(0, vde_image_create(self->path, &o, NULL));
	ASSERT_EQ(0, vde_image_open(self->path, O_RDONLY, &img, &d)) TH_LOG("%s", d.msg);
	EXPECT_EQ(VDE_SB_PRIMARY, img.sb_copy);
	EXPECT_EQ(1048576, img.nr_blocks);
	EXPECT_EQ(12, img.nr_regions);
	EXPECT_EQ(0, memcmp(img.sb.uuid, test_uuid, 16));
	EXPECT_STREQ("round trip", img.sb.label);
	EXPECT_EQ(TICKS, img.sb.created);
	EXPECT_EQ(0x1C01, img.sb.manifest);
	ASSERT_EQ(0, vde_image_region_map(&img, 0, img.nr_blocks, m,
					  VDE_MAX_REGIONS, &nr));
	ASSERT_EQ(3, nr);
	EXPECT_EQ(0, m[0].first_block);
	EXPECT_EQ(12, m[0].nr_blocks);
	EXPECT_EQ(0, m[0].flags);
	EXPECT_EQ(12, m[1].first_block);
	EXPECT_EQ(2, m[1].nr_blocks);
	EXPECT_EQ(VDE_REGION_HIDDEN, m[1].flags);
	EXPECT_EQ(14, m[2].first_block);
	EXPECT_EQ(1048562, m[2].nr_blocks);
	EXPECT_EQ(0, m[2].flags);
	ASSERT_EQ(0, vde_image_region_view(&img, "DATA", &first, &n));
	EXPECT_EQ(9578, first);
	EXPECT_EQ(1038998, n);
	ASSERT_EQ(0, vde_image_region_map(&img, first, n, m, VDE_MAX_REGIONS, &nr));
	EXPECT_EQ(1, nr);
	vde_image_close(&img);
}

TEST_F(dir, round_trip_encrypted_data)
{
	struct vde_region_entry m[VDE_MAX_REGIONS];
	struct vde_create_opts o;
	struct vde_image img;
	struct vde_slot s;
	struct vde_diag d;
	unsigned int nr;

	opts(&o, VDE_PROFILE_STANDARD, 1048576, BS);
	o.encrypt_region = "DATA";
	o.key_fingerprint = 0x0123456789abcdefULL;
	ASSERT_EQ(0, vde_image_create(self->path, &o, NULL));
	vde_slot_decode(blk(_metadata, self, 1) + 11 * VDE_SLOT_SIZE, &s);
	EXPECT_EQ(VDE_RF_ACTIVE | VDE_RF_ENCRYPTED, s.flags);
	vde_slot_decode(blk(_metadata, self, 8) + 11 * VDE_SLOT_SIZE, &s);
	EXPECT_EQ(VDE_RF_ACTIVE | VDE_RF_ENCRYPTED, s.flags);
	ASSERT_EQ(0, vde_image_open(self->path, O_RDONLY, &img, &d)) TH_LOG("%s", d.msg);
	EXPECT_EQ(VDE_INCOMPAT_ENCRYPTION, img.sb.incompat);
	EXPECT_EQ(VDE_ENC_ALGO_AES256_XTS, img.sb.encryption_algo);
	EXPECT_EQ(0x0123456789abcdefULL, img.sb.key_fingerprint);
	ASSERT_EQ(0, vde_image_region_map(&img, 0, img.nr_blocks, m,
					  VDE_MAX_REGIONS, &nr));
	ASSERT_EQ(4, nr);
	EXPECT_EQ(VDE_REGION_HIDDEN, m[1].flags);
	EXPECT_EQ(14, m[2].first_block);
	EXPECT_EQ(9564, m[2].nr_blocks);
	EXPECT_EQ(0, m[2].flags);
	EXPECT_EQ(9578, m[3].first_block);
	EXPECT_EQ(1038998, m[3].nr_blocks);
	EXPECT_EQ(VDE_REGION_ENCRYPTED, m[3].flags);
	vde_image_close(&img);
}

TEST_F(dir, encrypt_only_unwritten_regions)
{
	struct vde_create_opts o;
	struct vde_layout l;

	opts(&o, VDE_PROFILE_STANDARD, 1048576, BS);
	o.encrypt_region = "INOD";
	EXPECT_EQ(-EINVAL, vde_layout_compute(&o, &l));
	o.encrypt_region = "ENCR";
	EXPECT_EQ(-EINVAL, vde_layout_compute(&o, &l));
	o.encrypt_region = "STRE";	/* no such region in Standard */
	EXPECT_EQ(-EINVAL, vde_layout_compute(&o, &l));
	o.encrypt_region = "polv";
	ASSERT_EQ(0, vde_layout_compute(&o, &l));
	EXPECT_EQ(VDE_RF_ACTIVE | VDE_RF_ENCRYPTED, l.regions[3].slot.flags);
	EXPECT_EQ(-EINVAL, vde_image_create(self->path, &(struct vde_create_opts){
		.block_size = BS, .total_blocks = 1000, .encrypt_region = "X" }, NULL));
	EXPECT_EQ(-1, access(self->path, F_OK));
}

TEST_F(dir, quirk_image_grows_past_total_blocks)
{
	struct vde_create_opts o;
	struct vde_layout l;
	struct vde_image img;
	struct vde_diag d;
	struct stat st;

	opts(&o, VDE_PROFILE_MINIMAL, 1024, BS);
	ASSERT_EQ(0, vde_image_create(self->path, &o, &l));
	EXPECT_EQ(1036, l.file_blocks);
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_EQ(1036 * BS, st.st_size);
	ASSERT_EQ(0, vde_image_open(self->path, O_RDONLY, &img, &d)) TH_LOG("%s", d.msg);
	EXPECT_EQ(1024, img.nr_blocks);
	EXPECT_EQ(0, img.sb.free_blocks);
	EXPECT_EQ(1099, img.sb.total_allocated_blocks);
	EXPECT_EQ(1024 * BS, img.sb.expected_file_size);
	EXPECT_EQ(0, img.regions[3].notes);
	EXPECT_EQ(VDE_RN_PAST_DEVICE, img.regions[4].notes);
	EXPECT_EQ(VDE_RN_PAST_DEVICE | VDE_RN_PAST_EOF, img.regions[5].notes);
	vde_image_close(&img);
}

TEST_F(dir, same_options_same_bytes)
{
	struct vde_create_opts o;
	uint8_t a[BS], b[BS];
	int fa, fb;
	uint64_t i;

	opts(&o, VDE_PROFILE_STANDARD, 20000, BS);
	ASSERT_EQ(0, vde_image_create(self->path, &o, NULL));
	ASSERT_EQ(0, vde_image_create(self->path2, &o, NULL));
	fa = open(self->path, O_RDONLY);
	fb = open(self->path2, O_RDONLY);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	for (i = 0; i < 20000; i++) {
		ASSERT_EQ(BS, pread(fa, a, BS, (off_t)(i * BS)));
		ASSERT_EQ(BS, pread(fb, b, BS, (off_t)(i * BS)));
		ASSERT_EQ(0, memcmp(a, b, BS)) TH_LOG("block %llu", (unsigned long long)i);
	}
	close(fa);
	close(fb);
}

TEST_F(dir, large_blocks_round_trip)
{
	static const uint32_t sizes[] = { 8192, 16384, 32768, 65536 };
	struct vde_create_opts o;
	struct vde_image img;
	struct vde_diag d;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		opts(&o, VDE_PROFILE_STANDARD, 4096, sizes[i]);
		ASSERT_EQ(0, vde_image_create(self->path, &o, NULL));
		ASSERT_EQ(0, vde_image_open(self->path, O_RDONLY, &img, &d))
			TH_LOG("%u: %s", sizes[i], d.msg);
		EXPECT_EQ(sizes[i], img.block_size);
		EXPECT_EQ(4096, img.nr_blocks);
		EXPECT_EQ(12, img.nr_regions);
		vde_image_close(&img);
	}
}

TEST_F(dir, existing_file_eexist_unless_forced)
{
	struct vde_create_opts o;
	struct stat st;
	int fd;

	fd = open(self->path, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5, write(fd, "hello", 5));
	close(fd);
	opts(&o, VDE_PROFILE_MINIMAL, 2048, BS);
	o.force = false;
	EXPECT_EQ(-EEXIST, vde_image_create(self->path, &o, NULL));
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_EQ(5, st.st_size);
	o.force = true;
	EXPECT_EQ(0, vde_image_create(self->path, &o, NULL));
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_EQ(2048 * BS, st.st_size);
	/* Never over something that is not a regular file. */
	EXPECT_EQ(-EINVAL, vde_image_create(self->dir, &o, NULL));
	EXPECT_EQ(-ENOENT, vde_image_create("/nonexistent/dir/x.vde", &o, NULL));
}

TEST_HARNESS_MAIN
