// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of libvde's EncryptionHeader (ENCR) region: the byte layout of its
 * two blocks, reading and writing, adding, removing and replacing key
 * slots without ever losing the master key, refusing damaged blocks; key
 * files; and an XTS round trip through a block of an encrypted region.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "encr.h"
#include "format.h"
#include "keyslot.h"
#include "secret.h"
#include "kselftest_harness.h"

#define BS		4096
#define BLOCKS		20000
#define ENCR_START	12	/* of the Standard profile */
#define TICKS		638355968000000000LL
/* Small Argon2id costs that keep the tests fast. */
#define FAST_T		1
#define FAST_LOG2_MEM	10

#define PASS_A		"first passphrase"
#define PASS_B		"second passphrase"
#define PASS_C		"third passphrase"

static const struct vde_kdf fast_kdf = {
	.algorithm = VDE_KDF_ARGON2ID,
	.iterations = FAST_T,
	.log2_mem_kib = FAST_LOG2_MEM,
};

static bool zero(const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* Create an image whose DATA region is encrypted under @master. */
static int create_image(const char *path, enum vde_profile profile,
			uint32_t bs, const uint8_t *master)
{
	struct vde_create_opts o;
	int ret;

	ret = vde_create_opts_init(&o, profile);
	if (ret)
		return ret;
	o.block_size = bs;
	o.total_blocks = BLOCKS;
	o.timestamp = TICKS;
	o.force = true;
	o.encrypt_region = "DATA";
	ret = vde_key_fingerprint(master, &o.key_fingerprint);
	return ret ? ret : vde_image_create(path, &o, NULL);
}

static size_t pass_len(const char *p)
{
	return strlen(p);
}

/* ---- layout constants --------------------------------------------------- */

TEST(slot_positions)
{
	size_t off;

	EXPECT_EQ(32, vde_encr_slots_in_block0(4096));
	EXPECT_EQ(63, vde_encr_slots_in_block0(8192));
	EXPECT_EQ(63, vde_encr_slots_in_block0(65536));
	EXPECT_EQ(0, vde_encr_slot_pos(4096, 0, &off));
	EXPECT_EQ(8, off);
	EXPECT_EQ(0, vde_encr_slot_pos(4096, 31, &off));
	EXPECT_EQ(8 + 31 * 124, off);
	EXPECT_EQ(1, vde_encr_slot_pos(4096, 32, &off));
	EXPECT_EQ(0, off);
	EXPECT_EQ(1, vde_encr_slot_pos(4096, 62, &off));
	EXPECT_EQ(30 * 124, off);
	EXPECT_EQ(0, vde_encr_slot_pos(8192, 62, &off));
	EXPECT_EQ(8 + 62 * 124, off);
}

TEST(kdf_default)
{
	struct vde_kdf k;

	vde_kdf_default(&k);
	EXPECT_EQ(VDE_KDF_ARGON2ID, k.algorithm);
	EXPECT_EQ(VDE_KDF_ARGON2_DEFAULT_T, k.iterations);
	EXPECT_EQ(VDE_KDF_ARGON2_DEFAULT_LOG2_MEM, k.log2_mem_kib);
}

/* ---- an encrypted Standard image ----------------------------------------- */

FIXTURE(img) {
	char dir[64];
	char path[96];
	struct vde_image img;
	struct vde_encr e;
	uint8_t *master;
	uint8_t raw[2 * BS];
};

FIXTURE_SETUP(img)
{
	struct vde_diag d;

	strcpy(self->dir, "/tmp/vde-test-encr.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/a.vde", self->dir);
	self->img.fd = -1;
	memset(&self->e, 0, sizeof(self->e));
	self->master = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	ASSERT_NE(NULL, self->master);
	ASSERT_EQ(0, vde_random_bytes(self->master, VDE_XTS_KEY_SIZE));
	ASSERT_EQ(0, create_image(self->path, VDE_PROFILE_STANDARD, BS,
				  self->master));
	ASSERT_EQ(0, vde_image_open(self->path, O_RDWR, &self->img, &d))
		TH_LOG("%s", d.msg);
	ASSERT_EQ(0, vde_encr_read(&self->img, &self->e, &d)) TH_LOG("%s", d.msg);
}

FIXTURE_TEARDOWN(img)
{
	vde_encr_release(&self->e);
	vde_image_close(&self->img);
	vde_secure_free(self->master, VDE_XTS_KEY_SIZE);
	unlink(self->path);
	rmdir(self->dir);
}

/* The two ENCR blocks as stored in the file. */
static const uint8_t *disk(struct __test_metadata *_metadata,
			   FIXTURE_DATA(img) *self)
{
	EXPECT_EQ(2 * BS, pread(self->img.fd, self->raw, 2 * BS,
				ENCR_START * BS));
	return self->raw;
}

/*
 * Read the region afresh from the file and open it with @pass; on success
 * the key must be the master key.  Returns the slot or the error.
 */
static int unlock_from_disk(struct __test_metadata *_metadata,
			    FIXTURE_DATA(img) *self, const char *pass)
{
	struct vde_encr e = { 0 };
	struct vde_diag d;
	uint8_t *key;
	uint64_t fp;
	int ret;

	key = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	if (!key)
		return -ENOMEM;
	ret = vde_encr_read(&self->img, &e, &d);
	EXPECT_EQ(0, ret) TH_LOG("%s", d.msg);
	if (!ret)
		ret = vde_encr_unlock(&e, pass, pass_len(pass),
				      self->img.sb.key_fingerprint, key);
	if (ret >= 0) {
		EXPECT_EQ(0, memcmp(key, self->master, VDE_XTS_KEY_SIZE));
		EXPECT_EQ(0, vde_key_fingerprint(key, &fp));
		EXPECT_EQ(self->img.sb.key_fingerprint, fp);
	}
	vde_encr_release(&e);
	vde_secure_free(key, VDE_XTS_KEY_SIZE);
	return ret;
}

TEST_F(img, fresh_region_is_blank)
{
	uint8_t *key = vde_secure_alloc(VDE_XTS_KEY_SIZE);

	ASSERT_NE(NULL, key);
	EXPECT_TRUE(self->e.blank);
	EXPECT_EQ(ENCR_START, self->e.start);
	EXPECT_EQ(VDE_ENCR_NO_SLOT, self->e.active_index);
	EXPECT_EQ(0, self->e.total_active);
	EXPECT_EQ(0, vde_encr_active_slots(&self->e));
	EXPECT_EQ(-ENOKEY, vde_encr_unlock(&self->e, PASS_A, pass_len(PASS_A),
					   self->img.sb.key_fingerprint, key));
	EXPECT_TRUE(zero(disk(_metadata, self), 2 * BS));
	vde_secure_free(key, VDE_XTS_KEY_SIZE);
}

TEST_F(img, block_layout_byte_exact)
{
	uint8_t slot[VDE_KEYSLOT_SIZE];
	const uint8_t *b0, *b1;
	struct vde_keyslot *s;

	ASSERT_EQ(0, vde_encr_add(&self->img, &self->e, self->master, PASS_A,
				  pass_len(PASS_A), &fast_kdf, TICKS));
	/* Slot 32, the first of block 1, holds another passphrase. */
	s = &self->e.slots[32];
	s->slot_index = 32;
	s->created_ticks = TICKS + 1;
	ASSERT_EQ(0, vde_keyslot_wrap(s, self->master, PASS_B, pass_len(PASS_B),
				      VDE_KDF_ARGON2ID, FAST_T, FAST_LOG2_MEM));
	ASSERT_EQ(0, vde_encr_write(&self->img, &self->e));

	b0 = disk(_metadata, self);
	b1 = b0 + BS;
	EXPECT_EQ(0, b0[0]);		/* ActiveSlotIndex */
	EXPECT_EQ(2, b0[1]);		/* TotalActiveSlots */
	EXPECT_TRUE(zero(b0 + 2, 6));	/* RotationEventCount, reserved */
	vde_keyslot_encode(&self->e.slots[0], slot);
	EXPECT_EQ(0, memcmp(b0 + 8, slot, VDE_KEYSLOT_SIZE));
	EXPECT_EQ(0, b0[8]);		/* SlotIndex */
	EXPECT_EQ(VDE_KEYSLOT_ACTIVE, b0[9]);
	EXPECT_EQ(VDE_KEYSLOT_ALG_AES256_XTS, vde_get_le16(b0 + 10));
	EXPECT_EQ(FAST_T, vde_get_le32(b0 + 8 + 100));
	EXPECT_EQ(VDE_KDF_ARGON2ID, vde_get_le16(b0 + 8 + 104));
	EXPECT_EQ(FAST_LOG2_MEM, vde_get_le16(b0 + 8 + 106));
	EXPECT_EQ(TICKS, (int64_t)vde_get_le64(b0 + 8 + 108));
	EXPECT_TRUE(zero(b0 + 8 + 124, BS - 16 - 8 - 124));
	vde_keyslot_encode(&self->e.slots[32], slot);
	EXPECT_EQ(0, memcmp(b1, slot, VDE_KEYSLOT_SIZE));
	EXPECT_EQ(32, b1[0]);
	EXPECT_EQ(VDE_KEYSLOT_ACTIVE, b1[1]);
	EXPECT_TRUE(zero(b1 + 124, BS - 16 - 124));
	/* Trailers: tag ENCR (stored reversed), generation 1, XXH64. */
	EXPECT_EQ(0, memcmp(b0 + BS - 16, "RCNE\x01\x00\x00\x00", 8));
	EXPECT_EQ(0, memcmp(b1 + BS - 16, "RCNE\x01\x00\x00\x00", 8));
	EXPECT_EQ(VDE_TAG_ENCR, vde_get_le32(b0 + BS - 16));
	EXPECT_TRUE(vde_trailer_ok(b0, BS));
	EXPECT_TRUE(vde_trailer_ok(b1, BS));

	/* Without slot 0 the first active slot is 32. */
	ASSERT_EQ(0, vde_encr_remove(&self->img, &self->e, 0));
	b0 = disk(_metadata, self);
	EXPECT_EQ(32, b0[0]);
	EXPECT_EQ(1, b0[1]);
	EXPECT_TRUE(zero(b0 + 2, BS - 16 - 2));
	EXPECT_TRUE(vde_trailer_ok(b0, BS));
	EXPECT_EQ(32, unlock_from_disk(_metadata, self, PASS_B));
}

TEST_F(img, read_write_round_trip)
{
	uint8_t a[VDE_KEYSLOT_SIZE], b[VDE_KEYSLOT_SIZE];
	struct vde_encr r = { 0 };
	uint8_t *enc = malloc(2 * BS);
	struct vde_diag d;
	unsigned int i;

	ASSERT_NE(NULL, enc);
	ASSERT_EQ(0, vde_encr_add(&self->img, &self->e, self->master, PASS_A,
				  pass_len(PASS_A), &fast_kdf, TICKS));
	ASSERT_EQ(1, vde_encr_add(&self->img, &self->e, self->master, PASS_B,
				  pass_len(PASS_B), &fast_kdf, TICKS + 7));
	self->e.slots[40] = self->e.slots[1];
	self->e.slots[40].slot_index = 40;
	self->e.slots[40].status = VDE_KEYSLOT_RETIRED;
	self->e.slots[40].retired_ticks = TICKS + 9;
	ASSERT_EQ(0, vde_encr_write(&self->img, &self->e));

	ASSERT_EQ(0, vde_encr_read(&self->img, &r, &d)) TH_LOG("%s", d.msg);
	EXPECT_FALSE(r.blank);
	EXPECT_EQ(ENCR_START, r.start);
	EXPECT_EQ(BS, r.block_size);
	EXPECT_EQ(0, r.active_index);
	EXPECT_EQ(2, r.total_active);	/* Retired slots do not count */
	EXPECT_EQ(0, r.event_count);
	EXPECT_EQ(2, vde_encr_active_slots(&r));
	for (i = 0; i < VDE_ENCR_MAX_SLOTS; i++) {
		vde_keyslot_encode(&self->e.slots[i], a);
		vde_keyslot_encode(&r.slots[i], b);
		EXPECT_EQ(0, memcmp(a, b, sizeof(a))) TH_LOG("slot %u", i);
	}
	EXPECT_EQ(TICKS + 7, r.slots[1].created_ticks);
	EXPECT_EQ(VDE_KEYSLOT_RETIRED, r.slots[40].status);
	EXPECT_EQ(TICKS + 9, r.slots[40].retired_ticks);
	/* Encoding what was read gives the bytes on disk. */
	vde_encr_encode(&r, enc);
	EXPECT_EQ(0, memcmp(enc, disk(_metadata, self), 2 * BS));
	/* Decoding in memory gives the same. */
	vde_encr_release(&r);
	ASSERT_EQ(0, vde_encr_decode(enc, BS, ENCR_START, &r, &d));
	EXPECT_EQ(2, r.total_active);
	EXPECT_EQ(VDE_KEYSLOT_RETIRED, r.slots[40].status);
	vde_encr_release(&r);
	free(enc);
}

TEST_F(img, add_remove_passwd_keep_master)
{
	ASSERT_EQ(0, vde_encr_add(&self->img, &self->e, self->master, PASS_A,
				  pass_len(PASS_A), &fast_kdf, TICKS));
	EXPECT_EQ(0, unlock_from_disk(_metadata, self, PASS_A));
	EXPECT_EQ(-EKEYREJECTED, unlock_from_disk(_metadata, self, PASS_B));

	ASSERT_EQ(1, vde_encr_add(&self->img, &self->e, self->master, PASS_B,
				  pass_len(PASS_B), &fast_kdf, TICKS));
	EXPECT_EQ(0, unlock_from_disk(_metadata, self, PASS_A));
	EXPECT_EQ(1, unlock_from_disk(_metadata, self, PASS_B));

	/* passwd: B in slot 1 becomes C in the first empty slot, 2. */
	ASSERT_EQ(2, vde_encr_change(&self->img, &self->e, self->master, 1,
				     PASS_C, pass_len(PASS_C), &fast_kdf, TICKS));
	EXPECT_EQ(VDE_KEYSLOT_EMPTY, self->e.slots[1].status);
	EXPECT_EQ(2, vde_encr_active_slots(&self->e));
	EXPECT_EQ(2, unlock_from_disk(_metadata, self, PASS_C));
	EXPECT_EQ(-EKEYREJECTED, unlock_from_disk(_metadata, self, PASS_B));
	EXPECT_EQ(0, unlock_from_disk(_metadata, self, PASS_A));

	ASSERT_EQ(0, vde_encr_remove(&self->img, &self->e, 0));
	EXPECT_EQ(-EKEYREJECTED, unlock_from_disk(_metadata, self, PASS_A));
	EXPECT_EQ(2, unlock_from_disk(_metadata, self, PASS_C));
	/* A removed slot is all zeros, salt and wrapped key included. */
	EXPECT_TRUE(zero(disk(_metadata, self) + 8, 2 * VDE_KEYSLOT_SIZE));

	/* The freed slot 0 is taken first again. */
	ASSERT_EQ(0, vde_encr_add(&self->img, &self->e, self->master, PASS_A,
				  pass_len(PASS_A), &fast_kdf, TICKS));
	EXPECT_EQ(0, unlock_from_disk(_metadata, self, PASS_A));
	/* Replacing a slot that is not active changes nothing. */
	EXPECT_EQ(-ENOENT, vde_encr_change(&self->img, &self->e, self->master, 1,
					   PASS_B, pass_len(PASS_B), &fast_kdf,
					   TICKS));
	EXPECT_EQ(2, vde_encr_active_slots(&self->e));
}

TEST_F(img, last_slot_cannot_be_removed)
{
	uint8_t before[2 * BS];

	ASSERT_EQ(0, vde_encr_add(&self->img, &self->e, self->master, PASS_A,
				  pass_len(PASS_A), &fast_kdf, TICKS));
	memcpy(before, disk(_metadata, self), sizeof(before));
	EXPECT_EQ(-EBUSY, vde_encr_remove(&self->img, &self->e, 0));
	EXPECT_EQ(-ENOENT, vde_encr_remove(&self->img, &self->e, 5));
	EXPECT_EQ(-EINVAL, vde_encr_remove(&self->img, &self->e, 63));
	EXPECT_EQ(0, memcmp(before, disk(_metadata, self), sizeof(before)));
	EXPECT_EQ(VDE_KEYSLOT_ACTIVE, self->e.slots[0].status);
	EXPECT_EQ(0, unlock_from_disk(_metadata, self, PASS_A));

	/* A retired slot may go even when only one slot is active. */
	self->e.slots[3] = self->e.slots[0];
	self->e.slots[3].slot_index = 3;
	self->e.slots[3].status = VDE_KEYSLOT_RETIRED;
	ASSERT_EQ(0, vde_encr_write(&self->img, &self->e));
	EXPECT_EQ(0, vde_encr_remove(&self->img, &self->e, 3));
	EXPECT_EQ(-EBUSY, vde_encr_remove(&self->img, &self->e, 0));
}

TEST_F(img, add_refuses_another_key)
{
	uint8_t *other = vde_secure_alloc(VDE_XTS_KEY_SIZE);

	ASSERT_NE(NULL, other);
	ASSERT_EQ(0, vde_random_bytes(other, VDE_XTS_KEY_SIZE));
	EXPECT_EQ(-EKEYREJECTED, vde_encr_add(&self->img, &self->e, other, PASS_A,
					      pass_len(PASS_A), &fast_kdf, TICKS));
	EXPECT_TRUE(zero(disk(_metadata, self), 2 * BS));
	EXPECT_EQ(0, vde_encr_active_slots(&self->e));
	/* Bad KDF parameters write nothing either. */
	EXPECT_EQ(-EINVAL, vde_encr_add(&self->img, &self->e, self->master,
					PASS_A, pass_len(PASS_A),
					&(struct vde_kdf){ VDE_KDF_PBKDF2_SHA256, 1, 0 },
					TICKS));
	EXPECT_TRUE(zero(disk(_metadata, self), 2 * BS));
	vde_secure_free(other, VDE_XTS_KEY_SIZE);
}

TEST_F(img, full_region_enospc)
{
	unsigned int i;

	ASSERT_EQ(0, vde_encr_add(&self->img, &self->e, self->master, PASS_A,
				  pass_len(PASS_A), &fast_kdf, TICKS));
	for (i = 1; i < VDE_ENCR_MAX_SLOTS; i++) {
		self->e.slots[i] = self->e.slots[0];
		self->e.slots[i].slot_index = (uint8_t)i;
	}
	ASSERT_EQ(0, vde_encr_write(&self->img, &self->e));
	EXPECT_EQ(63, disk(_metadata, self)[1]);
	EXPECT_EQ(-ENOSPC, vde_encr_add(&self->img, &self->e, self->master,
					PASS_B, pass_len(PASS_B), &fast_kdf,
					TICKS));
	/* Slot 62 is the last of block 1: 30 slots after its first. */
	EXPECT_EQ(62, disk(_metadata, self)[BS + 30 * 124]);
	EXPECT_EQ(-EKEYREJECTED, unlock_from_disk(_metadata, self, "no"));
	EXPECT_EQ(0, unlock_from_disk(_metadata, self, PASS_A));
}

TEST_F(img, bad_trailer_refused)
{
	struct vde_encr r = { 0 };
	uint8_t b[BS];
	struct vde_diag d;

	ASSERT_EQ(0, vde_encr_add(&self->img, &self->e, self->master, PASS_A,
				  pass_len(PASS_A), &fast_kdf, TICKS));
	/* A flipped byte in block 1's payload. */
	ASSERT_EQ(BS, pread(self->img.fd, b, BS, (ENCR_START + 1) * BS));
	b[500] ^= 1;
	ASSERT_EQ(BS, pwrite(self->img.fd, b, BS, (ENCR_START + 1) * BS));
	EXPECT_EQ(-EPROTO, vde_encr_read(&self->img, &r, &d));
	EXPECT_EQ(ENCR_START + 1, d.block);
	EXPECT_STREQ("trailer checksum", d.field);
	EXPECT_EQ(0, strncmp(d.msg, "block 13 (encryption header block 1): trailer checksum = 0x", 59))
		TH_LOG("%s", d.msg);
	b[500] ^= 1;
	ASSERT_EQ(BS, pwrite(self->img.fd, b, BS, (ENCR_START + 1) * BS));
	ASSERT_EQ(0, vde_encr_read(&self->img, &r, &d)) TH_LOG("%s", d.msg);

	/* A flipped byte in block 0's header. */
	ASSERT_EQ(BS, pread(self->img.fd, b, BS, ENCR_START * BS));
	b[1] ^= 4;
	ASSERT_EQ(BS, pwrite(self->img.fd, b, BS, ENCR_START * BS));
	EXPECT_EQ(-EPROTO, vde_encr_read(&self->img, &r, &d));
	EXPECT_EQ(ENCR_START, d.block);
	EXPECT_EQ(0, strncmp(d.msg, "block 12 (encryption header block 0): trailer checksum", 54))
		TH_LOG("%s", d.msg);

	/* A valid checksum under another tag. */
	b[1] ^= 4;
	vde_trailer_seal(b, BS, VDE_TAG_BMAP, 1);
	ASSERT_EQ(BS, pwrite(self->img.fd, b, BS, ENCR_START * BS));
	EXPECT_EQ(-EPROTO, vde_encr_read(&self->img, &r, &d));
	EXPECT_STREQ("trailer tag", d.field);
	EXPECT_STREQ("BMAP", d.value);

	/* One block zero, the other not: not a blank region. */
	memset(b, 0, BS);
	ASSERT_EQ(BS, pwrite(self->img.fd, b, BS, ENCR_START * BS));
	EXPECT_EQ(-EPROTO, vde_encr_read(&self->img, &r, &d));
	EXPECT_EQ(ENCR_START, d.block);
	vde_encr_release(&r);
}

TEST_F(img, rotation_events_are_kept)
{
	static const uint8_t event[VDE_ENCR_EVENT_SIZE] = {
		1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 3, 0,
	};
	uint8_t blocks[2 * BS];
	struct vde_diag d;
	const uint8_t *p;

	/* An SDK-written header with slot 0 and one rotation event. */
	ASSERT_EQ(0, vde_encr_add(&self->img, &self->e, self->master, PASS_A,
				  pass_len(PASS_A), &fast_kdf, TICKS));
	memcpy(blocks, disk(_metadata, self), sizeof(blocks));
	vde_put_le16(blocks + 2, 1);
	memcpy(blocks + BS + 31 * 124, event, sizeof(event));
	vde_trailer_seal(blocks, BS, VDE_TAG_ENCR, 1);
	vde_trailer_seal(blocks + BS, BS, VDE_TAG_ENCR, 1);
	ASSERT_EQ(sizeof(blocks), pwrite(self->img.fd, blocks, sizeof(blocks),
					 ENCR_START * BS));
	ASSERT_EQ(0, vde_encr_read(&self->img, &self->e, &d)) TH_LOG("%s", d.msg);
	EXPECT_EQ(1, self->e.event_count);

	ASSERT_EQ(1, vde_encr_add(&self->img, &self->e, self->master, PASS_B,
				  pass_len(PASS_B), &fast_kdf, TICKS));
	p = disk(_metadata, self);
	EXPECT_EQ(1, vde_get_le16(p + 2));
	EXPECT_EQ(0, memcmp(p + BS + 31 * 124, event, sizeof(event)));
	EXPECT_EQ(1, unlock_from_disk(_metadata, self, PASS_B));

	/* More events than fit are refused. */
	memcpy(blocks, p, sizeof(blocks));
	vde_put_le16(blocks + 2, 20);
	vde_trailer_seal(blocks, BS, VDE_TAG_ENCR, 1);
	ASSERT_EQ(sizeof(blocks), pwrite(self->img.fd, blocks, sizeof(blocks),
					 ENCR_START * BS));
	EXPECT_EQ(-EUCLEAN, vde_encr_read(&self->img, &self->e, &d));
	EXPECT_STREQ("RotationEventCount", d.field);
}

/* ---- other block sizes, key files, the cipher ----------------------------- */

FIXTURE(dir) {
	char dir[64];
	char path[96];
	char key[96];
	uint8_t *master;
};

FIXTURE_SETUP(dir)
{
	strcpy(self->dir, "/tmp/vde-test-encr.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/a.vde", self->dir);
	snprintf(self->key, sizeof(self->key), "%s/a.key", self->dir);
	self->master = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	ASSERT_NE(NULL, self->master);
	ASSERT_EQ(0, vde_random_bytes(self->master, VDE_XTS_KEY_SIZE));
}

FIXTURE_TEARDOWN(dir)
{
	vde_secure_free(self->master, VDE_XTS_KEY_SIZE);
	unlink(self->path);
	unlink(self->key);
	rmdir(self->dir);
}

TEST_F(dir, block_size_8192_keeps_every_slot_in_block_0)
{
	const uint32_t bs = 8192;
	struct vde_encr e = { 0 };
	struct vde_image img;
	struct vde_diag d;
	uint8_t *b, *key, slot[VDE_KEYSLOT_SIZE];

	b = malloc(2 * bs);
	ASSERT_NE(NULL, b);
	key = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	ASSERT_NE(NULL, key);
	ASSERT_EQ(0, create_image(self->path, VDE_PROFILE_STANDARD, bs,
				  self->master));
	ASSERT_EQ(0, vde_image_open(self->path, O_RDWR, &img, &d)) TH_LOG("%s", d.msg);
	ASSERT_EQ(0, vde_encr_read(&img, &e, &d)) TH_LOG("%s", d.msg);
	ASSERT_EQ(0, vde_encr_add(&img, &e, self->master, PASS_A, pass_len(PASS_A),
				  &fast_kdf, TICKS));
	e.slots[62] = e.slots[0];
	e.slots[62].slot_index = 62;
	ASSERT_EQ(0, vde_encr_write(&img, &e));
	ASSERT_EQ(2 * bs, pread(img.fd, b, 2 * bs, ENCR_START * bs));
	EXPECT_EQ(0, b[0]);
	EXPECT_EQ(2, b[1]);
	vde_keyslot_encode(&e.slots[62], slot);
	EXPECT_EQ(0, memcmp(b + 8 + 62 * 124, slot, sizeof(slot)));
	EXPECT_TRUE(zero(b + bs, bs - 16));
	EXPECT_TRUE(vde_trailer_ok(b, bs));
	EXPECT_TRUE(vde_trailer_ok(b + bs, bs));
	EXPECT_EQ(VDE_TAG_ENCR, vde_get_le32(b + 2 * bs - 16));
	EXPECT_EQ(1, vde_get_le32(b + 2 * bs - 12));
	/* Slot 62 opens too: every slot is usable in block 0. */
	EXPECT_EQ(0, vde_encr_remove(&img, &e, 0));
	EXPECT_EQ(62, vde_encr_unlock(&e, PASS_A, pass_len(PASS_A),
				      img.sb.key_fingerprint, key));
	EXPECT_EQ(0, memcmp(key, self->master, VDE_XTS_KEY_SIZE));
	vde_secure_free(key, VDE_XTS_KEY_SIZE);
	vde_encr_release(&e);
	vde_image_close(&img);
	free(b);
}

TEST_F(dir, minimal_image_has_no_key_slots)
{
	struct vde_encr e = { 0 };
	struct vde_image img;
	struct vde_diag d;

	ASSERT_EQ(0, create_image(self->path, VDE_PROFILE_MINIMAL, BS,
				  self->master));
	ASSERT_EQ(0, vde_image_open(self->path, O_RDONLY, &img, &d)) TH_LOG("%s", d.msg);
	EXPECT_EQ(-ENOENT, vde_encr_read(&img, &e, &d));
	EXPECT_STREQ("RegionTypeId", d.field);
	vde_image_close(&img);
}

TEST_F(dir, key_file_is_new_0600_and_64_bytes)
{
	uint8_t *back = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	mode_t old = umask(0);
	struct stat st;

	ASSERT_NE(NULL, back);
	EXPECT_EQ(0, vde_key_file_write(self->key, self->master));
	umask(old);
	ASSERT_EQ(0, stat(self->key, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(64, st.st_size);
	EXPECT_EQ(0, vde_read_key_file(self->key, back));
	EXPECT_EQ(0, memcmp(back, self->master, VDE_XTS_KEY_SIZE));
	/* Never overwritten. */
	EXPECT_EQ(-EEXIST, vde_key_file_write(self->key, back));
	EXPECT_EQ(0, vde_read_key_file(self->key, back));
	EXPECT_EQ(0, memcmp(back, self->master, VDE_XTS_KEY_SIZE));
	vde_secure_free(back, VDE_XTS_KEY_SIZE);
}

TEST_F(dir, xts_round_trip_in_data_region)
{
	uint8_t tweak[VDE_XTS_TWEAK_SIZE];
	uint8_t *key, *pt, *ct, *ref, *back;
	const struct vde_region *data;
	struct vde_xts *x;
	struct vde_image img;
	struct vde_diag d;
	uint64_t off, fp;
	size_t i;

	/* As create --encrypt --key-file does for an image without ENCR. */
	ASSERT_EQ(0, vde_key_file_write(self->key, self->master));
	ASSERT_EQ(0, create_image(self->path, VDE_PROFILE_MINIMAL, BS,
				  self->master));
	key = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	ASSERT_NE(NULL, key);
	ASSERT_EQ(0, vde_read_key_file(self->key, key));
	ASSERT_EQ(0, vde_image_open(self->path, O_RDWR, &img, &d)) TH_LOG("%s", d.msg);
	ASSERT_EQ(0, vde_key_fingerprint(key, &fp));
	EXPECT_EQ(img.sb.key_fingerprint, fp);
	data = vde_image_find_region(&img, "DATA");
	ASSERT_NE(NULL, data);
	EXPECT_TRUE(data->flags & VDE_RF_ENCRYPTED);

	pt = malloc(4 * VDE_XTS_UNIT_SIZE);
	ASSERT_NE(NULL, pt);
	ct = pt + VDE_XTS_UNIT_SIZE;
	ref = ct + VDE_XTS_UNIT_SIZE;
	back = ref + VDE_XTS_UNIT_SIZE;
	for (i = 0; i < VDE_XTS_UNIT_SIZE; i++)
		pt[i] = (uint8_t)(i * 7 + 1);
	ASSERT_EQ(0, vde_xts_new(key, &x));

	/* The second block of DATA, at its VDE byte offset. */
	off = (data->start + 1) * BS;
	ASSERT_EQ(0, vde_xts_encrypt(x, off, pt, ct, VDE_XTS_UNIT_SIZE));
	EXPECT_NE(0, memcmp(pt, ct, VDE_XTS_UNIT_SIZE));
	/* The same unit with the tweak spelled out: offset / 4096, LE. */
	vde_xts_tweak(off, tweak);
	EXPECT_EQ(data->start + 1, vde_get_le64(tweak));
	EXPECT_EQ(0, vde_get_le64(tweak + 8));
	ASSERT_EQ(0, vde_xts_crypt_unit(x, tweak, pt, ref, VDE_XTS_UNIT_SIZE, true));
	EXPECT_EQ(0, memcmp(ct, ref, VDE_XTS_UNIT_SIZE));
	/* Another offset, another ciphertext. */
	ASSERT_EQ(0, vde_xts_encrypt(x, off + VDE_XTS_UNIT_SIZE, pt, ref,
				     VDE_XTS_UNIT_SIZE));
	EXPECT_NE(0, memcmp(ct, ref, VDE_XTS_UNIT_SIZE));

	/* Through the image file and back. */
	ASSERT_EQ(VDE_XTS_UNIT_SIZE, pwrite(img.fd, ct, VDE_XTS_UNIT_SIZE, off));
	ASSERT_EQ(0, vde_image_read_block(&img, data->start + 1, back));
	ASSERT_EQ(0, vde_xts_decrypt(x, off, back, back, VDE_XTS_UNIT_SIZE));
	EXPECT_EQ(0, memcmp(pt, back, VDE_XTS_UNIT_SIZE));
	/* The wrong offset does not decrypt. */
	ASSERT_EQ(0, vde_image_read_block(&img, data->start + 1, back));
	ASSERT_EQ(0, vde_xts_decrypt(x, off - BS, back, back, VDE_XTS_UNIT_SIZE));
	EXPECT_NE(0, memcmp(pt, back, VDE_XTS_UNIT_SIZE));

	vde_xts_free(x);
	free(pt);
	vde_image_close(&img);
	vde_secure_free(key, VDE_XTS_KEY_SIZE);
}

TEST_HARNESS_MAIN
