// SPDX-License-Identifier: GPL-2.0
/*
 * libvde: read and validate VDE v2 images, and build the kernel's region
 * map.  The rules are those of Documentation/vde-format.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>
#include <xxhash.h>

#include "crypto.h"
#include "format.h"

/* Superblock field offsets (block 0) */
#define SB_MIN_READER		0x10
#define SB_MIN_WRITER		0x12
#define SB_INCOMPAT		0x14
#define SB_RO_COMPAT		0x18
#define SB_COMPAT		0x1c
#define SB_MANIFEST		0x20
#define SB_MODULE_CONFIG	0x24
#define SB_MODULE_CONFIG_EXT	0x2c
#define SB_BLOCK_SIZE		0x34
#define SB_TOTAL_BLOCKS		0x38
#define SB_FREE_BLOCKS		0x40
#define SB_EXPECTED_SIZE	0x48
#define SB_ALLOCATED_BLOCKS	0x50
#define SB_UUID			0x58
#define SB_CLUSTER_NODE		0x68
#define SB_COMPRESSION_ALGO	0x78
#define SB_ENCRYPTION_ALGO	0x79
#define SB_CHECKSUM_ALGO	0x7a
#define SB_INODE_SIZE		0x7c
#define SB_SOVEREIGNTY_ZONE	0x7e
#define SB_POLICY_VERSION	0x80
#define SB_REPLICATION_EPOCH	0x84
#define SB_WORM_HWM		0x88
#define SB_KEY_FINGERPRINT	0x90
#define SB_LABEL		0x98
#define SB_CREATED		0xd8
#define SB_MODIFIED		0xe0
#define SB_LAST_SCRUB		0xe8
#define SB_CHECKPOINT_SEQ	0xf0
#define SB_ERROR_MAP_BLOCKS	0xf8
#define SB_WRITER_SESSION	0x100
#define SB_WRITER_TIME		0x110
#define SB_WRITER_NODE		0x118
#define SB_PHYS_ALLOCATED	0x128

static const uint8_t vde_magic_lo[4] = { 0x44, 0x57, 0x56, 0x44 };	/* DWVD */
static const uint8_t vde_magic_hi[8] = { 'd', 'w', ':', '/', '/', 0, 0, 0 };
/* Format v1 (VirtualDiskEngine containers) writes the magic little-endian. */
static const uint8_t vde_v1_magic[4] = { 0x44, 0x56, 0x57, 0x44 };	/* DVWD */

/* ---- diagnostics ------------------------------------------------------- */

static int vde_diag_vset(struct vde_diag *d, int err, int64_t block,
			 const char *role, int slot, const char *field,
			 const char *value, const char *fmt, va_list ap)
{
	char where[64], reason[256], slotname[24] = "";

	if (!d)
		return err;
	memset(d, 0, sizeof(*d));
	d->err = err;
	d->block = block;
	d->slot = slot;
	snprintf(d->field, sizeof(d->field), "%s", field);
	snprintf(d->value, sizeof(d->value), "%s", value);
	vsnprintf(reason, sizeof(reason), fmt, ap);

	if (block < 0)
		snprintf(where, sizeof(where), "%s", vde_block_role(block));
	else if (role)
		snprintf(where, sizeof(where), "block %" PRId64 " (%s)", block,
			 role);
	else
		snprintf(where, sizeof(where), "block %" PRId64, block);
	if (slot >= 0)
		snprintf(slotname, sizeof(slotname), "slot %d ", slot);
	if (value[0])
		snprintf(d->msg, sizeof(d->msg), "%s: %s%s = %s: %s", where,
			 slotname, field, value, reason);
	else
		snprintf(d->msg, sizeof(d->msg), "%s: %s%s: %s", where,
			 slotname, field, reason);
	return err;
}

int vde_diag_set(struct vde_diag *diag, int err, int64_t block, int slot,
		 const char *field, const char *value, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = vde_diag_vset(diag, err, block, vde_block_role(block), slot,
			    field, value, fmt, ap);
	va_end(ap);
	return err;
}

int vde_diag_set_role(struct vde_diag *diag, int err, int64_t block,
		      const char *role, int slot, const char *field,
		      const char *value, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = vde_diag_vset(diag, err, block, role, slot, field, value, fmt, ap);
	va_end(ap);
	return err;
}

/* Value strings for diagnostics (format-names.c). */
#define VAL_LEN VDE_VAL_LEN
#define dec vde_val_dec
#define hex vde_val_hex
#define hex16 vde_val_hex16

/* ---- blocks, trailers, fields ------------------------------------------- */

uint64_t vde_block_hash(const void *block, uint32_t block_size)
{
	return XXH64(block, block_size - VDE_TRAILER_SIZE, 0);
}

bool vde_trailer_ok(const void *block, uint32_t block_size)
{
	const uint8_t *b = block;

	return vde_get_le64(b + block_size - 8) ==
	       vde_block_hash(block, block_size);
}

void vde_trailer_seal(void *block, uint32_t block_size, uint32_t tag,
		      uint32_t generation)
{
	uint8_t *t = (uint8_t *)block + block_size - VDE_TRAILER_SIZE;

	vde_put_le32(t, tag);
	vde_put_le32(t + 4, generation);
	vde_put_le64(t + 8, vde_block_hash(block, block_size));
}

void vde_slot_decode(const uint8_t *p, struct vde_slot *slot)
{
	slot->tag = vde_get_le32(p);
	slot->flags = vde_get_le32(p + 4);
	slot->start = (int64_t)vde_get_le64(p + 8);
	slot->count = (int64_t)vde_get_le64(p + 16);
	slot->used = (int64_t)vde_get_le64(p + 24);
}

void vde_slot_encode(const struct vde_slot *slot, uint8_t *p)
{
	vde_put_le32(p, slot->tag);
	vde_put_le32(p + 4, slot->flags);
	vde_put_le64(p + 8, (uint64_t)slot->start);
	vde_put_le64(p + 16, (uint64_t)slot->count);
	vde_put_le64(p + 24, (uint64_t)slot->used);
}

bool vde_magic_ok(const uint8_t *block)
{
	return !memcmp(block, vde_magic_lo, sizeof(vde_magic_lo)) &&
	       !memcmp(block + 8, vde_magic_hi, sizeof(vde_magic_hi));
}

bool vde_block_size_ok(int64_t bs)
{
	return bs >= VDE_MIN_BLOCK_SIZE && bs <= VDE_MAX_BLOCK_SIZE &&
	       !(bs & (bs - 1));
}

void vde_sb_decode(const uint8_t *b, struct vde_superblock *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->major = b[4];
	sb->minor = b[5];
	sb->revision = vde_get_le16(b + 6);
	sb->min_reader = vde_get_le16(b + SB_MIN_READER);
	sb->min_writer = vde_get_le16(b + SB_MIN_WRITER);
	sb->incompat = vde_get_le32(b + SB_INCOMPAT);
	sb->ro_compat = vde_get_le32(b + SB_RO_COMPAT);
	sb->compat = vde_get_le32(b + SB_COMPAT);
	sb->manifest = vde_get_le32(b + SB_MANIFEST);
	sb->module_config = vde_get_le64(b + SB_MODULE_CONFIG);
	sb->module_config_ext = vde_get_le64(b + SB_MODULE_CONFIG_EXT);
	sb->block_size = (int32_t)vde_get_le32(b + SB_BLOCK_SIZE);
	sb->total_blocks = (int64_t)vde_get_le64(b + SB_TOTAL_BLOCKS);
	sb->free_blocks = (int64_t)vde_get_le64(b + SB_FREE_BLOCKS);
	sb->expected_file_size = (int64_t)vde_get_le64(b + SB_EXPECTED_SIZE);
	sb->total_allocated_blocks =
		(int64_t)vde_get_le64(b + SB_ALLOCATED_BLOCKS);
	memcpy(sb->uuid, b + SB_UUID, 16);
	memcpy(sb->cluster_node_id, b + SB_CLUSTER_NODE, 16);
	sb->compression_algo = b[SB_COMPRESSION_ALGO];
	sb->encryption_algo = b[SB_ENCRYPTION_ALGO];
	sb->checksum_algo = b[SB_CHECKSUM_ALGO];
	sb->inode_size = vde_get_le16(b + SB_INODE_SIZE);
	sb->sovereignty_zone = vde_get_le16(b + SB_SOVEREIGNTY_ZONE);
	sb->policy_version = vde_get_le32(b + SB_POLICY_VERSION);
	sb->replication_epoch = vde_get_le32(b + SB_REPLICATION_EPOCH);
	sb->worm_high_water_mark = (int64_t)vde_get_le64(b + SB_WORM_HWM);
	sb->key_fingerprint = vde_get_le64(b + SB_KEY_FINGERPRINT);
	memcpy(sb->label, b + SB_LABEL, VDE_LABEL_SIZE);
	sb->label[VDE_LABEL_SIZE] = '\0';
	sb->created = (int64_t)vde_get_le64(b + SB_CREATED);
	sb->modified = (int64_t)vde_get_le64(b + SB_MODIFIED);
	sb->last_scrub = (int64_t)vde_get_le64(b + SB_LAST_SCRUB);
	sb->checkpoint_seq = (int64_t)vde_get_le64(b + SB_CHECKPOINT_SEQ);
	sb->error_map_blocks = (int64_t)vde_get_le64(b + SB_ERROR_MAP_BLOCKS);
	memcpy(sb->last_writer_session, b + SB_WRITER_SESSION, 16);
	sb->last_writer_time = (int64_t)vde_get_le64(b + SB_WRITER_TIME);
	memcpy(sb->last_writer_node, b + SB_WRITER_NODE, 16);
	sb->physical_allocated_blocks =
		(int64_t)vde_get_le64(b + SB_PHYS_ALLOCATED);
}

void vde_sb_encode(const struct vde_superblock *sb, uint8_t *b)
{
	memcpy(b, vde_magic_lo, sizeof(vde_magic_lo));
	b[4] = sb->major;
	b[5] = sb->minor;
	vde_put_le16(b + 6, sb->revision);
	memcpy(b + 8, vde_magic_hi, sizeof(vde_magic_hi));
	vde_put_le16(b + SB_MIN_READER, sb->min_reader);
	vde_put_le16(b + SB_MIN_WRITER, sb->min_writer);
	vde_put_le32(b + SB_INCOMPAT, sb->incompat);
	vde_put_le32(b + SB_RO_COMPAT, sb->ro_compat);
	vde_put_le32(b + SB_COMPAT, sb->compat);
	vde_put_le32(b + SB_MANIFEST, sb->manifest);
	vde_put_le64(b + SB_MODULE_CONFIG, sb->module_config);
	vde_put_le64(b + SB_MODULE_CONFIG_EXT, sb->module_config_ext);
	vde_put_le32(b + SB_BLOCK_SIZE, (uint32_t)sb->block_size);
	vde_put_le64(b + SB_TOTAL_BLOCKS, (uint64_t)sb->total_blocks);
	vde_put_le64(b + SB_FREE_BLOCKS, (uint64_t)sb->free_blocks);
	vde_put_le64(b + SB_EXPECTED_SIZE, (uint64_t)sb->expected_file_size);
	vde_put_le64(b + SB_ALLOCATED_BLOCKS,
		     (uint64_t)sb->total_allocated_blocks);
	memcpy(b + SB_UUID, sb->uuid, 16);
	memcpy(b + SB_CLUSTER_NODE, sb->cluster_node_id, 16);
	b[SB_COMPRESSION_ALGO] = sb->compression_algo;
	b[SB_ENCRYPTION_ALGO] = sb->encryption_algo;
	b[SB_CHECKSUM_ALGO] = sb->checksum_algo;
	vde_put_le16(b + SB_INODE_SIZE, sb->inode_size);
	vde_put_le16(b + SB_SOVEREIGNTY_ZONE, sb->sovereignty_zone);
	vde_put_le32(b + SB_POLICY_VERSION, sb->policy_version);
	vde_put_le32(b + SB_REPLICATION_EPOCH, sb->replication_epoch);
	vde_put_le64(b + SB_WORM_HWM, (uint64_t)sb->worm_high_water_mark);
	vde_put_le64(b + SB_KEY_FINGERPRINT, sb->key_fingerprint);
	memcpy(b + SB_LABEL, sb->label, strnlen(sb->label, VDE_LABEL_SIZE));
	vde_put_le64(b + SB_CREATED, (uint64_t)sb->created);
	vde_put_le64(b + SB_MODIFIED, (uint64_t)sb->modified);
	vde_put_le64(b + SB_LAST_SCRUB, (uint64_t)sb->last_scrub);
	vde_put_le64(b + SB_CHECKPOINT_SEQ, (uint64_t)sb->checkpoint_seq);
	vde_put_le64(b + SB_ERROR_MAP_BLOCKS, (uint64_t)sb->error_map_blocks);
	memcpy(b + SB_WRITER_SESSION, sb->last_writer_session, 16);
	vde_put_le64(b + SB_WRITER_TIME, (uint64_t)sb->last_writer_time);
	memcpy(b + SB_WRITER_NODE, sb->last_writer_node, 16);
	vde_put_le64(b + SB_PHYS_ALLOCATED,
		     (uint64_t)sb->physical_allocated_blocks);
}

int vde_pread_exact(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return -ERANGE;
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* ---- the preamble -------------------------------------------------------- */

int vde_preamble_decode(const uint8_t *h, uint64_t file_size,
			struct vde_preamble *pre, struct vde_diag *diag)
{
	uint8_t digest[VDE_SHA256_SIZE];
	char v[VAL_LEN];
	int ret;

	memset(pre, 0, sizeof(*pre));
	pre->version = vde_get_le16(h + 8);
	pre->flags = vde_get_le16(h + 10);
	pre->content_hash_offset = vde_get_le32(h + 12);
	pre->total_size = vde_get_le64(h + 16);
	pre->vde_offset = vde_get_le64(h + 24);
	pre->kernel_offset = vde_get_le32(h + 32);
	pre->kernel_size = vde_get_le32(h + 36);
	pre->spdk_offset = vde_get_le32(h + 40);
	pre->spdk_size = vde_get_le32(h + 44);
	pre->runtime_offset = vde_get_le32(h + 48);
	pre->runtime_size = vde_get_le32(h + 52);
	pre->checksum = vde_get_le64(h + 56);

	ret = vde_sha256(h, 56, digest);
	if (ret < 0)
		return vde_diag_set(diag, ret, VDE_DIAG_PREAMBLE, -1,
				    "HeaderChecksum", "", "SHA-256 failed");
	if (vde_get_le64(digest) != pre->checksum)
		return vde_diag_set(diag, -EPROTO, VDE_DIAG_PREAMBLE, -1,
				    "HeaderChecksum", hex16(v, pre->checksum),
				    "does not match the header (SHA-256 gives 0x%016" PRIx64 ")",
				    vde_get_le64(digest));
	if (pre->version != 1)
		return vde_diag_set(diag, -EOPNOTSUPP, VDE_DIAG_PREAMBLE, -1,
				    "PreambleVersion", dec(v, pre->version),
				    "only version 1 is supported");
	if (pre->vde_offset % VDE_PREAMBLE_ALIGN)
		return vde_diag_set(diag, -EINVAL, VDE_DIAG_PREAMBLE, -1,
				    "VdeOffset", dec(v, (int64_t)pre->vde_offset),
				    "not a multiple of %d", VDE_PREAMBLE_ALIGN);
	if (pre->vde_offset < pre->total_size)
		return vde_diag_set(diag, -EINVAL, VDE_DIAG_PREAMBLE, -1,
				    "VdeOffset", dec(v, (int64_t)pre->vde_offset),
				    "inside the preamble (PreambleTotalSize %" PRIu64 ")",
				    pre->total_size);
	if (pre->vde_offset >= file_size || pre->vde_offset > INT64_MAX)
		return vde_diag_set(diag, -EINVAL, VDE_DIAG_PREAMBLE, -1,
				    "VdeOffset", dec(v, (int64_t)pre->vde_offset),
				    "past the end of the file (%" PRIu64 " bytes)",
				    file_size);
	return 0;
}

/* ---- opening: the superblock groups ------------------------------------- */

/* Scratch space of an open: one superblock group and the RD. */
struct vde_scratch {
	uint8_t group[VDE_GROUP_BLOCKS * VDE_MAX_BLOCK_SIZE];
	uint8_t rd[2 * VDE_MAX_BLOCK_SIZE];
};

static int read_blocks(const struct vde_image *img, uint32_t bs,
		       uint64_t block, unsigned int n, uint8_t *buf,
		       struct vde_diag *diag)
{
	unsigned int i;
	char v[VAL_LEN];
	int ret;

	for (i = 0; i < n; i++) {
		ret = vde_pread_exact(img->fd, buf + (size_t)i * bs, bs,
				      img->base + (block + i) * bs);
		if (ret == -ENODATA)
			return vde_diag_set(diag, ret, (int64_t)(block + i), -1,
					    "file size",
					    dec(v, (int64_t)img->file_size),
					    "the file ends before this block");
		if (ret < 0)
			return vde_diag_set(diag, ret, (int64_t)(block + i), -1,
					    "read", "", "%s", strerror(-ret));
	}
	return 0;
}

int vde_magic_problem(const uint8_t *b, char value[64], const char **why)
{
	if (vde_magic_ok(b))
		return 0;
	snprintf(value, 64,
		 "%02x %02x %02x %02x .. %02x %02x %02x %02x %02x %02x %02x %02x",
		 b[0], b[1], b[2], b[3], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
	if (!memcmp(b, vde_v1_magic, sizeof(vde_v1_magic)) &&
	    vde_get_le16(b + 4) == 1) {
		*why = "a format v1 container, not a VDE v2 image";
		return -EOPNOTSUPP;
	}
	*why = "not a VDE v2 image (DWVD ... dw://)";
	return -EINVAL;
}

static int check_magic(const uint8_t *b, int64_t block, struct vde_diag *diag)
{
	const char *why;
	char v[64];
	int err = vde_magic_problem(b, v, &why);

	if (!err)
		return 0;
	return vde_diag_set(diag, err, block, -1, "Magic", v, "%s", why);
}

/* How far a superblock group got before it failed. */
enum group_depth {
	GROUP_UNREAD,		/* its first block cannot be read */
	GROUP_NO_MAGIC,
	GROUP_BAD_BLOCK_SIZE,	/* unsupported, or not the one it was read at */
	GROUP_BAD_BLOCKS,	/* a block is missing or its trailer fails */
};

/* What check_group() found of a superblock group. */
struct group_found {
	uint32_t bs;			/* its BlockSize if supported, else 0 */
	enum group_depth depth;
};

/*
 * A superblock group is usable if its first block has the magic and a
 * supported BlockSize (equal to @want_bs unless that is 0) and all four
 * trailers verify.  @want_bs is the primary's BlockSize or, if @probe, a
 * block size the group is looked for at.
 */
static int check_group(const struct vde_image *img, unsigned int first,
		       uint32_t want_bs, bool probe, uint8_t *buf,
		       struct group_found *found, struct vde_diag *diag)
{
	uint64_t off = first ? (uint64_t)first * want_bs : 0;
	char v[VAL_LEN], w[VAL_LEN];
	unsigned int i;
	int64_t bs;
	int ret;

	found->bs = 0;
	found->depth = GROUP_UNREAD;
	ret = vde_pread_exact(img->fd, buf, VDE_MIN_BLOCK_SIZE, img->base + off);
	if (ret == -ENODATA)
		return vde_diag_set(diag, ret, first, -1, "file size",
				    dec(v, (int64_t)img->file_size),
				    "the file ends before this block");
	if (ret < 0)
		return vde_diag_set(diag, ret, first, -1, "read", "", "%s",
				    strerror(-ret));
	found->depth = GROUP_NO_MAGIC;
	ret = check_magic(buf, first, diag);
	if (ret < 0)
		return ret;
	found->depth = GROUP_BAD_BLOCK_SIZE;
	bs = (int32_t)vde_get_le32(buf + SB_BLOCK_SIZE);
	if (!vde_block_size_ok(bs))
		return vde_diag_set(diag, -EINVAL, first, -1, "BlockSize",
				    dec(v, bs),
				    "not a power of two between %d and %d",
				    VDE_MIN_BLOCK_SIZE, VDE_MAX_BLOCK_SIZE);
	found->bs = (uint32_t)bs;
	if (want_bs && bs != want_bs)
		return vde_diag_set(diag, -EINVAL, first, -1, "BlockSize",
				    dec(v, bs), probe ?
				    "differs from %u, the block size it was read at" :
				    "differs from the primary's %u", want_bs);
	found->depth = GROUP_BAD_BLOCKS;
	ret = read_blocks(img, (uint32_t)bs, first, VDE_GROUP_BLOCKS, buf, diag);
	if (ret < 0)
		return ret;
	for (i = 0; i < VDE_GROUP_BLOCKS; i++) {
		const uint8_t *b = buf + (size_t)i * bs;

		if (!vde_trailer_ok(b, (uint32_t)bs))
			return vde_diag_set(diag, -EPROTO, first + i, -1,
					    "trailer checksum",
					    hex16(v, vde_get_le64(b + bs - 8)),
					    "does not match the block (XXH64 %s)",
					    hex16(w, vde_block_hash(b, (uint32_t)bs)));
	}
	return 0;
}

static void diag_append(struct vde_diag *d, const char *what,
			const struct vde_diag *other)
{
	size_t len = strlen(d->msg);

	snprintf(d->msg + len, sizeof(d->msg) - len, "; %s: %s", what,
		 other->msg);
}

/* Choose the superblock group as the SDK does: primary, else mirror. */
static int select_group(struct vde_image *img, uint8_t *group,
			struct vde_diag *diag)
{
	struct vde_diag pd, md = { 0 }, probe;
	struct group_found pf, mf = { 0 }, f;
	uint32_t bs, mbs;
	int ret, mret = -EINVAL;

	ret = check_group(img, VDE_BLK_SUPERBLOCK, 0, false, group, &pf, &pd);
	if (!ret) {
		img->block_size = pf.bs;
		img->sb_copy = VDE_SB_PRIMARY;
		return 0;
	}
	/*
	 * The mirror at the primary's block size, else at any other one.
	 * Without the primary's block size, the look at the mirror that got
	 * furthest tells what is wrong with it.
	 */
	bs = pf.bs;
	if (bs)
		mret = check_group(img, VDE_BLK_MIRROR, bs, false, group, &mf,
				   &md);
	for (mbs = VDE_MIN_BLOCK_SIZE; mret && mbs <= VDE_MAX_BLOCK_SIZE;
	     mbs <<= 1) {
		if (mbs == pf.bs)
			continue;
		if (!check_group(img, VDE_BLK_MIRROR, mbs, true, group, &f,
				 &probe)) {
			mret = 0;
			bs = mbs;
		} else if (!pf.bs && (!md.err || f.depth > mf.depth)) {
			mf = f;
			md = probe;
		}
	}
	if (mret) {
		if (diag) {
			*diag = pd;
			diag_append(diag, "mirror", &md);
		}
		return ret;
	}
	img->block_size = bs;
	img->sb_copy = VDE_SB_MIRROR;
	img->primary_diag = pd;
	return 0;
}

static int check_superblock(struct vde_image *img, struct vde_diag *diag)
{
	const struct vde_superblock *sb = &img->sb;
	uint64_t max_blocks;
	char v[VAL_LEN], names[128];
	uint32_t bad;

	if (sb->major != VDE_FMT_MAJOR)
		return vde_diag_set(diag, -EOPNOTSUPP, 0, -1, "MajorVersion",
				    dec(v, sb->major), "only version %d is supported",
				    VDE_FMT_MAJOR);
	if (sb->min_reader > VDE_FMT_READER_VERSION)
		return vde_diag_set(diag, -EOPNOTSUPP, 0, -1, "MinReaderVersion",
				    dec(v, sb->min_reader),
				    "needs a reader newer than version %d",
				    VDE_FMT_READER_VERSION);
	bad = sb->incompat & ~(uint32_t)VDE_INCOMPAT_SUPPORTED;
	if (bad) {
		vde_flags_describe(VDE_FLAGS_INCOMPAT, bad, names, sizeof(names));
		return vde_diag_set(diag, -EOPNOTSUPP, 0, -1,
				    "IncompatibleFeatures", hex(v, sb->incompat),
				    "unsupported feature %s", names);
	}
	if ((sb->incompat & VDE_INCOMPAT_ENCRYPTION) &&
	    sb->encryption_algo != VDE_ENC_ALGO_AES256_XTS)
		return vde_diag_set(diag, -EOPNOTSUPP, 0, -1,
				    "DefaultEncryptionAlgo",
				    dec(v, sb->encryption_algo),
				    "only %d (AES-256-XTS) is supported",
				    VDE_ENC_ALGO_AES256_XTS);
	max_blocks = ((uint64_t)INT64_MAX - img->base) / img->block_size;
	if (sb->total_blocks <= 0 || (uint64_t)sb->total_blocks > max_blocks)
		return vde_diag_set(diag, -EINVAL, 0, -1, "TotalBlocks",
				    dec(v, sb->total_blocks),
				    "not between 1 and %" PRIu64, max_blocks);
	img->nr_blocks = (uint64_t)sb->total_blocks;
	img->read_only_forced = sb->ro_compat & ~(uint32_t)VDE_ROCOMPAT_KNOWN;
	return 0;
}

/* ---- opening: the Region Directory and the regions --------------------- */

static int check_rd(struct vde_image *img, const uint8_t *rd,
		    struct vde_diag *diag)
{
	uint32_t bs = img->block_size;
	const uint8_t *hdr = rd + bs;
	char v[VAL_LEN], w[VAL_LEN];
	unsigned int i;
	uint16_t version;

	for (i = 0; i < 2; i++) {
		const uint8_t *b = rd + (size_t)i * bs;

		if (!vde_trailer_ok(b, bs))
			return vde_diag_set(diag, -EPROTO, VDE_BLK_RD + i, -1,
					    "trailer checksum",
					    hex16(v, vde_get_le64(b + bs - 8)),
					    "does not match the block (XXH64 %s)",
					    hex16(w, vde_block_hash(b, bs)));
	}
	version = vde_get_le16(hdr);
	if (version != VDE_RD_VERSION)
		return vde_diag_set(diag, -EOPNOTSUPP, VDE_BLK_RD_HEADER, -1,
				    "Version", dec(v, version),
				    "only version %d is supported",
				    VDE_RD_VERSION);
	if (vde_get_le64(hdr + 8) != vde_block_hash(rd, bs))
		return vde_diag_set(diag, -EPROTO, VDE_BLK_RD_HEADER, -1,
				    "Block0Hash", hex16(v, vde_get_le64(hdr + 8)),
				    "does not match block %d (XXH64 %s)",
				    VDE_BLK_RD, hex16(w, vde_block_hash(rd, bs)));
	img->rd_active_count = vde_get_le16(hdr + 4);
	img->rd_generation = vde_get_le32(rd + bs - 12);
	return 0;
}

/* RPT and RD must agree about every slot that either marks active. */
static int compare_slot(unsigned int i, const struct vde_slot *rpt,
			const struct vde_slot *rd, struct vde_diag *diag)
{
	char v[VAL_LEN], a[5], b[5];
	const char *field;
	int64_t got, want;

	if ((rpt->flags ^ rd->flags) & VDE_RF_ACTIVE)
		return vde_diag_set(diag, -EUCLEAN, VDE_BLK_RD, (int)i, "Flags",
				    hex(v, rd->flags),
				    "the region pointer table (block %d) has 0x%x: they disagree about whether the slot is active",
				    VDE_BLK_RPT, rpt->flags);
	if (!(rd->flags & VDE_RF_ACTIVE))
		return 0;
	if (rpt->tag != rd->tag)
		return vde_diag_set(diag, -EUCLEAN, VDE_BLK_RD, (int)i,
				    "RegionTypeId", vde_tag_name(rd->tag, a),
				    "the region pointer table (block %d) says %s",
				    VDE_BLK_RPT, vde_tag_name(rpt->tag, b));
	if (rpt->flags != rd->flags)
		return vde_diag_set(diag, -EUCLEAN, VDE_BLK_RD, (int)i, "Flags",
				    hex(v, rd->flags),
				    "the region pointer table (block %d) says 0x%x",
				    VDE_BLK_RPT, rpt->flags);
	if (rpt->start != rd->start) {
		field = "StartBlock";
		got = rd->start;
		want = rpt->start;
	} else if (rpt->count != rd->count) {
		field = "BlockCount";
		got = rd->count;
		want = rpt->count;
	} else {
		return 0;
	}
	return vde_diag_set(diag, -EUCLEAN, VDE_BLK_RD, (int)i, field,
			    dec(v, got),
			    "the region pointer table (block %d) says %" PRId64,
			    VDE_BLK_RPT, want);
}

static int add_region(struct vde_image *img, unsigned int i,
		      const struct vde_slot *s, struct vde_diag *diag)
{
	uint64_t max_blocks = ((uint64_t)INT64_MAX - img->base) / img->block_size;
	struct vde_region *r = &img->regions[img->nr_regions];
	char v[VAL_LEN];

	if (s->start < 0 || (uint64_t)s->start > max_blocks)
		return vde_diag_set(diag, -EINVAL, VDE_BLK_RD, (int)i,
				    "StartBlock", dec(v, s->start),
				    "not between 0 and %" PRIu64, max_blocks);
	if (s->count < 0 || (uint64_t)s->count > max_blocks - (uint64_t)s->start)
		return vde_diag_set(diag, -EINVAL, VDE_BLK_RD, (int)i,
				    "BlockCount", dec(v, s->count),
				    "not between 0 and %" PRIu64,
				    max_blocks - (uint64_t)s->start);
	memset(r, 0, sizeof(*r));
	r->slot = i;
	r->tag = s->tag;
	vde_tag_name(s->tag, r->name);
	r->flags = s->flags;
	r->start = (uint64_t)s->start;
	r->count = (uint64_t)s->count;
	r->used = (uint64_t)s->used;
	img->nr_regions++;
	return 0;
}

static int check_overlaps(const struct vde_image *img, struct vde_diag *diag)
{
	unsigned int i, j;
	char v[VAL_LEN];

	for (j = 1; j < img->nr_regions; j++) {
		const struct vde_region *b = &img->regions[j];

		for (i = 0; i < j; i++) {
			const struct vde_region *a = &img->regions[i];

			if (!a->count || !b->count ||
			    a->start >= b->start + b->count ||
			    b->start >= a->start + a->count)
				continue;
			return vde_diag_set(diag, -EUCLEAN, VDE_BLK_RD,
					    (int)b->slot, "StartBlock",
					    dec(v, (int64_t)b->start),
					    "%s blocks %" PRIu64 "-%" PRIu64 " overlap slot %u (%s) blocks %" PRIu64 "-%" PRIu64,
					    b->name, b->start,
					    b->start + b->count - 1, a->slot,
					    a->name, a->start,
					    a->start + a->count - 1);
		}
	}
	return 0;
}

/* The file must hold every block of the device; past it, nothing matters. */
static int check_extents(struct vde_image *img, struct vde_diag *diag)
{
	uint64_t file_blocks = (img->file_size - img->base) / img->block_size;
	char v[VAL_LEN];
	unsigned int i;

	for (i = 0; i < img->nr_regions; i++) {
		struct vde_region *r = &img->regions[i];
		uint64_t end = r->start + r->count;

		if ((r->flags & VDE_RF_ENCRYPTED) &&
		    !(img->sb.incompat & VDE_INCOMPAT_ENCRYPTION))
			return vde_diag_set(diag, -EUCLEAN, VDE_BLK_RD,
					    (int)r->slot, "Flags",
					    hex(v, r->flags),
					    "%s is Encrypted but IncompatibleFeatures lacks EncryptionEnabled",
					    r->name);
		if (end > img->nr_blocks)
			r->notes |= VDE_RN_PAST_DEVICE;
		if (end <= file_blocks)
			continue;
		r->notes |= VDE_RN_PAST_EOF;
		if (r->start < img->nr_blocks && file_blocks < img->nr_blocks)
			return vde_diag_set(diag, -ENODATA, VDE_BLK_RD,
					    (int)r->slot, "BlockCount",
					    dec(v, (int64_t)r->count),
					    "%s blocks %" PRIu64 "-%" PRIu64 " are in the device but the file ends at block %" PRIu64,
					    r->name, r->start, end - 1,
					    file_blocks);
	}
	if (file_blocks < img->nr_blocks)
		return vde_diag_set(diag, -ENODATA, VDE_BLK_SUPERBLOCK, -1,
				    "TotalBlocks", dec(v, (int64_t)img->nr_blocks),
				    "the file holds only %" PRIu64 " blocks",
				    file_blocks);
	return 0;
}

static int load_regions(struct vde_image *img, const uint8_t *rpt,
			const uint8_t *rd, struct vde_diag *diag)
{
	struct vde_slot ps, ds;
	unsigned int i;
	int ret;

	img->nr_regions = 0;
	for (i = 0; i < VDE_NR_SLOTS; i++) {
		vde_slot_decode(rpt + i * VDE_SLOT_SIZE, &ps);
		vde_slot_decode(rd + i * VDE_SLOT_SIZE, &ds);
		ret = compare_slot(i, &ps, &ds, diag);
		if (ret < 0)
			return ret;
		if (!(ds.flags & VDE_RF_ACTIVE))
			continue;
		ret = add_region(img, i, &ds, diag);
		if (ret < 0)
			return ret;
	}
	ret = check_overlaps(img, diag);
	if (ret < 0)
		return ret;
	return check_extents(img, diag);
}

/* ---- opening ---------------------------------------------------------- */

int vde_file_size(int fd, uint64_t *size, struct vde_diag *diag)
{
	struct stat st;
	uint64_t bytes;

	if (fstat(fd, &st) < 0)
		return vde_diag_set(diag, -errno, VDE_DIAG_FILE, -1, "stat", "",
				    "%s", strerror(errno));
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
			return vde_diag_set(diag, -errno, VDE_DIAG_FILE, -1,
					    "BLKGETSIZE64", "", "%s",
					    strerror(errno));
		*size = bytes;
		return 0;
	}
	return vde_diag_set(diag, -EINVAL, VDE_DIAG_FILE, -1, "type", "",
			    "neither a regular file nor a block device");
}

static int read_preamble(struct vde_image *img, struct vde_diag *diag)
{
	uint8_t hdr[VDE_PREAMBLE_SIZE];
	int ret;

	if (img->file_size < VDE_PREAMBLE_SIZE)
		return 0;
	ret = vde_pread_exact(img->fd, hdr, sizeof(hdr), 0);
	if (ret < 0)
		return vde_diag_set(diag, ret, VDE_DIAG_PREAMBLE, -1, "read", "",
				    "%s", strerror(-ret));
	if (memcmp(hdr, VDE_PREAMBLE_MAGIC, 8))
		return 0;
	ret = vde_preamble_decode(hdr, img->file_size, &img->preamble, diag);
	if (ret < 0)
		return ret;
	img->has_preamble = true;
	img->base = img->preamble.vde_offset;
	return 0;
}

static int vde_image_load(struct vde_image *img, struct vde_scratch *s,
			  struct vde_diag *diag)
{
	uint32_t bs;
	int ret;

	ret = vde_file_size(img->fd, &img->file_size, diag);
	if (ret < 0)
		return ret;
	ret = read_preamble(img, diag);
	if (ret < 0)
		return ret;
	ret = select_group(img, s->group, diag);
	if (ret < 0)
		return ret;
	bs = img->block_size;
	vde_sb_decode(s->group, &img->sb);
	ret = check_superblock(img, diag);
	if (ret < 0)
		return ret;
	ret = read_blocks(img, bs, VDE_BLK_RD, 2, s->rd, diag);
	if (ret < 0)
		return ret;
	ret = check_rd(img, s->rd, diag);
	if (ret < 0)
		return ret;
	return load_regions(img, s->group + bs, s->rd, diag);
}

int vde_image_open(const char *path, int open_flags, struct vde_image *img,
		   struct vde_diag *diag)
{
	struct vde_scratch *s;
	int ret;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	if (diag)
		memset(diag, 0, sizeof(*diag));
	if (open_flags & ~(O_ACCMODE | O_CLOEXEC))
		return vde_diag_set(diag, -EINVAL, VDE_DIAG_FILE, -1,
				    "open flags", "",
				    "only O_RDONLY or O_RDWR, and O_CLOEXEC");
	img->fd = open(path, open_flags | O_CLOEXEC);
	if (img->fd < 0) {
		ret = -errno;
		return vde_diag_set(diag, ret, VDE_DIAG_FILE, -1, "open", "",
				    "%s", strerror(-ret));
	}
	s = malloc(sizeof(*s));
	if (!s) {
		ret = vde_diag_set(diag, -ENOMEM, VDE_DIAG_FILE, -1, "memory",
				   "", "out of memory");
		goto out_close;
	}
	ret = vde_image_load(img, s, diag);
	free(s);
	if (!ret)
		return 0;
out_close:
	close(img->fd);
	img->fd = -1;
	return ret;
}

void vde_image_close(struct vde_image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

int vde_image_read_block(const struct vde_image *img, uint64_t block,
			 void *buf)
{
	uint64_t bs = img->block_size;

	if (block > ((uint64_t)INT64_MAX - img->base) / bs - 1)
		return -ERANGE;
	return vde_pread_exact(img->fd, buf, bs, img->base + block * bs);
}

/* ---- regions and the region map ----------------------------------------- */

const struct vde_region *vde_image_region_for_block(const struct vde_image *img,
						    uint64_t block)
{
	unsigned int i;

	for (i = 0; i < img->nr_regions; i++) {
		const struct vde_region *r = &img->regions[i];

		if (block >= r->start && block - r->start < r->count)
			return r;
	}
	return NULL;
}

const struct vde_region *vde_image_find_region(const struct vde_image *img,
					       const char *name)
{
	unsigned int i;
	uint32_t tag;

	if (vde_tag_parse(name, &tag) < 0)
		return NULL;
	for (i = 0; i < img->nr_regions; i++)
		if (img->regions[i].tag == tag)
			return &img->regions[i];
	return NULL;
}

int vde_image_region_view(const struct vde_image *img, const char *name,
			  uint64_t *first_block, uint64_t *nr_blocks)
{
	const struct vde_region *r = vde_image_find_region(img, name);
	uint64_t end;

	if (!r)
		return -ENOENT;
	if (!r->count || r->start >= img->nr_blocks)
		return -ERANGE;
	end = r->start + r->count;
	if (end > img->nr_blocks)
		end = img->nr_blocks;
	*first_block = r->start;
	*nr_blocks = end - r->start;
	return 0;
}

static uint32_t map_flags(const struct vde_region *r)
{
	if (!r)
		return 0;
	if (r->tag == VDE_TAG_ENCR)
		return VDE_REGION_HIDDEN;
	if (r->flags & VDE_RF_ENCRYPTED)
		return VDE_REGION_ENCRYPTED;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int vde_image_region_map(const struct vde_image *img, uint64_t first_block,
			 uint64_t nr_blocks, struct vde_region_entry *map,
			 unsigned int max, unsigned int *nr)
{
	/* Every region adds at most two boundaries inside the view. */
	uint64_t cut[2 * VDE_NR_SLOTS + 2];
	uint64_t end = first_block + nr_blocks;
	unsigned int i, ncut = 0, n = 0;
	uint32_t flags, last = 0;

	*nr = 0;
	if (!nr_blocks || (!map && max))
		return -EINVAL;
	if (first_block > img->nr_blocks || nr_blocks > img->nr_blocks - first_block)
		return -ERANGE;

	cut[ncut++] = first_block;
	cut[ncut++] = end;
	for (i = 0; i < img->nr_regions && i < VDE_NR_SLOTS; i++) {
		const struct vde_region *r = &img->regions[i];
		uint64_t rend = r->start + r->count;

		if (!r->count || rend <= first_block || r->start >= end)
			continue;
		if (r->start > first_block)
			cut[ncut++] = r->start;
		if (rend < end)
			cut[ncut++] = rend;
	}
	qsort(cut, ncut, sizeof(cut[0]), cmp_u64);

	/*
	 * Between two consecutive cuts the set of regions holding a block
	 * does not change, so the first block decides for the whole piece.
	 */
	for (i = 0; i + 1 < ncut; i++) {
		if (cut[i] == cut[i + 1])
			continue;
		flags = map_flags(vde_image_region_for_block(img, cut[i]));
		if (n && flags == last) {
			if (n <= max)
				map[n - 1].nr_blocks += cut[i + 1] - cut[i];
			continue;
		}
		if (n < max) {
			map[n].first_block = cut[i] - first_block;
			map[n].nr_blocks = cut[i + 1] - cut[i];
			map[n].flags = flags;
			map[n].reserved = 0;
		}
		last = flags;
		n++;
	}
	*nr = n;
	return n > max ? -E2BIG : 0;
}
