// SPDX-License-Identifier: GPL-2.0
/*
 * libvde: check every piece of metadata of a VDE v2 image, fsck-style.
 *
 * Unlike vde_image_open(), which stops at the first reason to refuse an
 * image, the check goes on and reports every problem once, graded: a
 * note (tolerated), an error (the image is still usable) or fatal (the
 * image is refused).  It never writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define MAX_GROUP_PROBLEMS	(VDE_GROUP_BLOCKS + 2)

struct checker {
	const char *path;
	int fd;
	uint64_t file_size;
	uint64_t base;
	uint32_t bs;
	uint64_t nr_blocks;
	struct vde_superblock sb;
	vde_check_fn fn;
	void *arg;
	struct vde_check_result *res;
};

/* How far a superblock group got before it failed. */
enum group_depth {
	GROUP_UNREAD,		/* its first block cannot be read */
	GROUP_NO_MAGIC,
	GROUP_BAD_BLOCK_SIZE,	/* unsupported, or not the one it was read at */
	GROUP_BAD_BLOCKS,	/* a block is missing or its trailer fails */
};

/* The state of one superblock group (blocks 0-3 or 4-7). */
struct group {
	bool usable;
	uint32_t bs;
	enum group_depth depth;
	unsigned int nr;
	struct vde_diag problems[MAX_GROUP_PROBLEMS];
	uint8_t *buf;
};

static void report(struct checker *c, enum vde_severity sev,
		   const struct vde_diag *d)
{
	switch (sev) {
	case VDE_SEV_NOTE:
		c->res->notes++;
		break;
	case VDE_SEV_ERROR:
		c->res->errors++;
		break;
	case VDE_SEV_FATAL:
		c->res->fatal++;
		break;
	}
	if (c->fn)
		c->fn(sev, d, c->arg);
}

static void problem(struct checker *c, enum vde_severity sev, int err,
		    int64_t block, const char *role, int slot,
		    const char *field, const char *value, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));

static void problem(struct checker *c, enum vde_severity sev, int err,
		    int64_t block, const char *role, int slot,
		    const char *field, const char *value, const char *fmt, ...)
{
	struct vde_diag d;
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (!role)
		role = vde_block_role(block);
	vde_diag_set_role(&d, err, block, role, slot, field, value, "%s",
			  reason);
	report(c, sev, &d);
}

#define VAL_LEN VDE_VAL_LEN
#define dec vde_val_dec
#define hex vde_val_hex
#define hex16 vde_val_hex16

static int read_block(struct checker *c, uint64_t block, uint8_t *buf)
{
	return vde_pread_exact(c->fd, buf, c->bs, c->base + block * c->bs);
}

/* ---- superblock groups ------------------------------------------------- */

static void group_problem(struct group *g, int err, int64_t block,
			  const char *field, const char *value,
			  const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void group_problem(struct group *g, int err, int64_t block,
			  const char *field, const char *value,
			  const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	if (g->nr == MAX_GROUP_PROBLEMS)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	vde_diag_set(&g->problems[g->nr++], err, block, -1, field, value, "%s",
		     reason);
}

/* A bad magic, reported as vde_image_open() does: with the bytes found. */
static void magic_problem(struct group *g, unsigned int first)
{
	const char *why = "";
	char v[64];
	int err = vde_magic_problem(g->buf, v, &why);

	group_problem(g, err, first, "Magic", v, "%s", why);
}

/*
 * Every problem of one group: magic, BlockSize, each failing trailer.
 * @want_bs is the primary's BlockSize or, if @probe, a block size the
 * group is looked for at.
 */
static void scan_group(struct checker *c, unsigned int first, uint32_t want_bs,
		       bool probe, struct group *g)
{
	char v[VAL_LEN], w[VAL_LEN];
	uint64_t off = (uint64_t)first * want_bs;
	unsigned int i;
	int64_t bs;
	int ret;

	g->usable = false;
	g->nr = 0;
	g->bs = 0;
	g->depth = GROUP_UNREAD;
	ret = vde_pread_exact(c->fd, g->buf, VDE_MIN_BLOCK_SIZE, c->base + off);
	if (ret < 0) {
		group_problem(g, ret, first, "file size",
			      dec(v, (int64_t)c->file_size), "%s",
			      ret == -ENODATA ? "the file ends before this block" :
			      strerror(-ret));
		return;
	}
	g->depth = GROUP_NO_MAGIC;
	if (!vde_magic_ok(g->buf)) {
		magic_problem(g, first);
		return;
	}
	g->depth = GROUP_BAD_BLOCK_SIZE;
	bs = (int32_t)vde_get_le32(g->buf + 0x34);
	if (!vde_block_size_ok(bs)) {
		group_problem(g, -EINVAL, first, "BlockSize", dec(v, bs),
			      "not a power of two between %d and %d",
			      VDE_MIN_BLOCK_SIZE, VDE_MAX_BLOCK_SIZE);
		return;
	}
	g->bs = (uint32_t)bs;
	if (want_bs && bs != want_bs) {
		group_problem(g, -EINVAL, first, "BlockSize", dec(v, bs), probe ?
			      "differs from %u, the block size it was read at" :
			      "differs from the primary's %u", want_bs);
		return;
	}
	g->depth = GROUP_BAD_BLOCKS;
	g->usable = true;
	for (i = 0; i < VDE_GROUP_BLOCKS; i++) {
		uint8_t *b = g->buf + (size_t)i * bs;

		ret = vde_pread_exact(c->fd, b, (size_t)bs,
				      c->base + (uint64_t)(first + i) * bs);
		if (ret < 0) {
			group_problem(g, ret, first + i, "file size",
				      dec(v, (int64_t)c->file_size), "%s",
				      ret == -ENODATA ? "the file ends before this block" :
				      strerror(-ret));
			g->usable = false;
			return;
		}
		c->res->blocks_checked++;
		if (!vde_trailer_ok(b, (uint32_t)bs)) {
			group_problem(g, -EPROTO, first + i, "trailer checksum",
				      hex16(v, vde_get_le64(b + bs - 8)),
				      "does not match the block (XXH64 %s)",
				      hex16(w, vde_block_hash(b, (uint32_t)bs)));
			g->usable = false;
		}
	}
}

static void report_group(struct checker *c, const struct group *g,
			 enum vde_severity sev)
{
	struct vde_diag d;
	unsigned int i;

	for (i = 0; i < g->nr; i++) {
		d = g->problems[i];
		/* Only what vde_image_open() refuses carries its errno. */
		if (sev != VDE_SEV_FATAL)
			d.err = 0;
		report(c, sev, &d);
	}
}

/* Choose blocks 0-3 or 4-7 as the SDK does and grade what is wrong. */
static int check_groups(struct checker *c, struct group *p, struct group *m)
{
	uint32_t bs;
	size_t k, i;

	scan_group(c, VDE_BLK_SUPERBLOCK, 0, false, p);
	/*
	 * The mirror at the primary's block size, else, if the primary is
	 * unusable too, at any other one.  Without the primary's block
	 * size, the look at the mirror that got furthest tells what is
	 * wrong with it.
	 */
	if (p->bs)
		scan_group(c, VDE_BLK_MIRROR, p->bs, false, m);
	if (!m->usable && !p->usable) {
		struct group found = *m;

		for (bs = VDE_MIN_BLOCK_SIZE; bs <= VDE_MAX_BLOCK_SIZE; bs <<= 1) {
			if (bs == p->bs)
				continue;
			scan_group(c, VDE_BLK_MIRROR, bs, true, m);
			if (m->usable)
				break;
			if (!p->bs && (!found.nr || m->depth > found.depth))
				found = *m;
		}
		if (!m->usable)
			*m = found;
	}

	if (!p->usable && !m->usable) {
		report_group(c, p, VDE_SEV_FATAL);
		report_group(c, m, VDE_SEV_FATAL);
		return -1;
	}
	if (!p->usable && p->bs && p->bs != m->bs) {
		/* Read at the wrong size, every block of the group fails. */
		char v[VAL_LEN];

		p->nr = 0;
		group_problem(p, -EINVAL, VDE_BLK_SUPERBLOCK, "BlockSize",
			      dec(v, p->bs), "differs from the mirror's %u",
			      m->bs);
	}
	report_group(c, p, VDE_SEV_ERROR);
	report_group(c, m, VDE_SEV_ERROR);
	if (!p->usable) {
		problem(c, VDE_SEV_NOTE, 0, VDE_BLK_SUPERBLOCK, NULL, -1,
			"superblock group", "",
			"blocks 0-3 are damaged; blocks 4-7 (the mirror) are used");
		c->bs = m->bs;
		vde_sb_decode(m->buf, &c->sb);
		return 1;
	}
	c->bs = p->bs;
	vde_sb_decode(p->buf, &c->sb);
	if (!m->usable)
		return 0;
	for (k = 0; k < VDE_GROUP_BLOCKS; k++) {
		const uint8_t *a = p->buf + k * c->bs, *b = m->buf + k * c->bs;

		for (i = 0; i < c->bs && a[i] == b[i]; i++)
			;
		if (i < c->bs)
			problem(c, VDE_SEV_ERROR, 0, (int64_t)(VDE_BLK_MIRROR + k),
				NULL, -1, "mirror", "",
				"differs from block %zu at byte %zu", k, i);
	}
	return 0;
}

/* ---- the superblock ---------------------------------------------------- */

static int check_sb(struct checker *c)
{
	const struct vde_superblock *sb = &c->sb;
	char v[VAL_LEN], names[160];
	int fatal = 0;
	uint32_t bits;
	uint64_t max;

	if (sb->major != VDE_FMT_MAJOR) {
		problem(c, VDE_SEV_FATAL, -EOPNOTSUPP, 0, NULL, -1,
			"MajorVersion", dec(v, sb->major),
			"only version %d is supported", VDE_FMT_MAJOR);
		fatal = 1;
	}
	if (sb->min_reader > VDE_FMT_READER_VERSION) {
		problem(c, VDE_SEV_FATAL, -EOPNOTSUPP, 0, NULL, -1,
			"MinReaderVersion", dec(v, sb->min_reader),
			"needs a reader newer than version %d",
			VDE_FMT_READER_VERSION);
		fatal = 1;
	}
	if (sb->min_writer > VDE_FMT_READER_VERSION)
		problem(c, VDE_SEV_NOTE, 0, 0, NULL, -1, "MinWriterVersion",
			dec(v, sb->min_writer),
			"needs a writer newer than version %d",
			VDE_FMT_READER_VERSION);
	bits = sb->incompat & ~(uint32_t)VDE_INCOMPAT_SUPPORTED;
	if (bits) {
		vde_flags_describe(VDE_FLAGS_INCOMPAT, bits, names, sizeof(names));
		problem(c, VDE_SEV_FATAL, -EOPNOTSUPP, 0, NULL, -1,
			"IncompatibleFeatures", hex(v, sb->incompat),
			"unsupported feature %s", names);
	}
	bits = sb->ro_compat & ~(uint32_t)VDE_ROCOMPAT_KNOWN;
	if (bits)
		problem(c, VDE_SEV_NOTE, 0, 0, NULL, -1,
			"ReadOnlyCompatibleFeatures", hex(v, sb->ro_compat),
			"unknown bits 0x%x: the image may only be used read-only",
			bits);
	bits = sb->compat & ~(uint32_t)VDE_COMPAT_KNOWN;
	if (bits)
		problem(c, VDE_SEV_NOTE, 0, 0, NULL, -1, "CompatibleFeatures",
			hex(v, sb->compat), "unknown bits 0x%x (ignored)", bits);
	if ((sb->incompat & VDE_INCOMPAT_ENCRYPTION) &&
	    sb->encryption_algo != VDE_ENC_ALGO_AES256_XTS)
		problem(c, VDE_SEV_FATAL, -EOPNOTSUPP, 0, NULL, -1,
			"DefaultEncryptionAlgo", dec(v, sb->encryption_algo),
			"only %d (AES-256-XTS) is supported",
			VDE_ENC_ALGO_AES256_XTS);
	max = ((uint64_t)INT64_MAX - c->base) / c->bs;
	if (sb->total_blocks <= 0 || (uint64_t)sb->total_blocks > max) {
		problem(c, VDE_SEV_FATAL, -EINVAL, 0, NULL, -1, "TotalBlocks",
			dec(v, sb->total_blocks), "not between 1 and %" PRIu64,
			max);
		return -1;
	}
	c->nr_blocks = (uint64_t)sb->total_blocks;
	if ((uint64_t)sb->expected_file_size != c->file_size - c->base)
		problem(c, VDE_SEV_NOTE, 0, 0, NULL, -1, "ExpectedFileSize",
			dec(v, sb->expected_file_size),
			"the image is %" PRIu64 " bytes long (the SDK calls this tampering)",
			c->file_size - c->base);
	/* Another major version may lay out everything else differently. */
	return fatal ? -1 : 0;
}

/* ---- the Region Directory and the regions ------------------------------ */

static int check_rd(struct checker *c, uint8_t *rd)
{
	const uint8_t *hdr = rd + c->bs;
	char v[VAL_LEN], w[VAL_LEN];
	unsigned int i, active = 0;
	int ret, bad = 0;
	struct vde_slot s;

	for (i = 0; i < 2; i++) {
		uint8_t *b = rd + (size_t)i * c->bs;

		ret = read_block(c, VDE_BLK_RD + i, b);
		if (ret < 0) {
			problem(c, VDE_SEV_FATAL, ret, VDE_BLK_RD + i, NULL, -1,
				"file size", dec(v, (int64_t)c->file_size),
				"%s", ret == -ENODATA ?
				"the file ends before this block" : strerror(-ret));
			return -1;
		}
		c->res->blocks_checked++;
		if (!vde_trailer_ok(b, c->bs)) {
			problem(c, VDE_SEV_FATAL, -EPROTO, VDE_BLK_RD + i, NULL,
				-1, "trailer checksum",
				hex16(v, vde_get_le64(b + c->bs - 8)),
				"does not match the block (XXH64 %s)",
				hex16(w, vde_block_hash(b, c->bs)));
			bad = 1;
		}
	}
	if (vde_get_le16(hdr) != VDE_RD_VERSION) {
		problem(c, VDE_SEV_FATAL, -EOPNOTSUPP, VDE_BLK_RD_HEADER, NULL, -1,
			"Version", dec(v, vde_get_le16(hdr)),
			"only version %d is supported", VDE_RD_VERSION);
		bad = 1;
	}
	if (vde_get_le64(hdr + 8) != vde_block_hash(rd, c->bs)) {
		problem(c, VDE_SEV_FATAL, -EPROTO, VDE_BLK_RD_HEADER, NULL, -1,
			"Block0Hash", hex16(v, vde_get_le64(hdr + 8)),
			"does not match block %d (XXH64 %s)", VDE_BLK_RD,
			hex16(w, vde_block_hash(rd, c->bs)));
		bad = 1;
	}
	if (vde_get_le16(hdr + 2) != VDE_NR_SLOTS)
		problem(c, VDE_SEV_NOTE, 0, VDE_BLK_RD_HEADER, NULL, -1,
			"SlotCount", dec(v, vde_get_le16(hdr + 2)),
			"the format has %d slots", VDE_NR_SLOTS);
	for (i = 0; i < VDE_NR_SLOTS; i++) {
		vde_slot_decode(rd + i * VDE_SLOT_SIZE, &s);
		active += !!(s.flags & VDE_RF_ACTIVE);
	}
	if (vde_get_le16(hdr + 4) != active)
		problem(c, VDE_SEV_ERROR, 0, VDE_BLK_RD_HEADER, NULL, -1,
			"ActiveCount", dec(v, vde_get_le16(hdr + 4)),
			"block %d has %u active slots", VDE_BLK_RD, active);
	return bad ? -1 : 0;
}

static void compare_tables(struct checker *c, const uint8_t *rpt,
			   const uint8_t *rd)
{
	struct vde_slot a, b;
	char v[VAL_LEN], n1[5], n2[5];
	unsigned int i;

	for (i = 0; i < VDE_NR_SLOTS; i++) {
		vde_slot_decode(rpt + i * VDE_SLOT_SIZE, &a);
		vde_slot_decode(rd + i * VDE_SLOT_SIZE, &b);
		if (!((a.flags | b.flags) & VDE_RF_ACTIVE))
			continue;
		if (a.flags != b.flags)
			problem(c, VDE_SEV_FATAL, -EUCLEAN, VDE_BLK_RD, NULL,
				(int)i, "Flags", hex(v, b.flags),
				"the region pointer table (block %d) says 0x%x",
				VDE_BLK_RPT, a.flags);
		else if (a.tag != b.tag)
			problem(c, VDE_SEV_FATAL, -EUCLEAN, VDE_BLK_RD, NULL,
				(int)i, "RegionTypeId", vde_tag_name(b.tag, n1),
				"the region pointer table (block %d) says %s",
				VDE_BLK_RPT, vde_tag_name(a.tag, n2));
		else if (a.start != b.start)
			problem(c, VDE_SEV_FATAL, -EUCLEAN, VDE_BLK_RD, NULL,
				(int)i, "StartBlock", dec(v, b.start),
				"the region pointer table (block %d) says %" PRId64,
				VDE_BLK_RPT, a.start);
		else if (a.count != b.count)
			problem(c, VDE_SEV_FATAL, -EUCLEAN, VDE_BLK_RD, NULL,
				(int)i, "BlockCount", dec(v, b.count),
				"the region pointer table (block %d) says %" PRId64,
				VDE_BLK_RPT, a.count);
	}
}

/* Decode the RD's active regions; report bad extents. */
static unsigned int load_regions(struct checker *c, const uint8_t *rd,
				 struct vde_region *r)
{
	uint64_t max = ((uint64_t)INT64_MAX - c->base) / c->bs;
	unsigned int i, n = 0;
	struct vde_slot s;
	char v[VAL_LEN];

	for (i = 0; i < VDE_NR_SLOTS; i++) {
		vde_slot_decode(rd + i * VDE_SLOT_SIZE, &s);
		if (!(s.flags & VDE_RF_ACTIVE))
			continue;
		if (s.start < 0 || (uint64_t)s.start > max) {
			problem(c, VDE_SEV_FATAL, -EINVAL, VDE_BLK_RD, NULL,
				(int)i, "StartBlock", dec(v, s.start),
				"not between 0 and %" PRIu64, max);
			continue;
		}
		if (s.count < 0 || (uint64_t)s.count > max - (uint64_t)s.start) {
			problem(c, VDE_SEV_FATAL, -EINVAL, VDE_BLK_RD, NULL,
				(int)i, "BlockCount", dec(v, s.count),
				"not between 0 and %" PRIu64,
				max - (uint64_t)s.start);
			continue;
		}
		if (s.flags & ~(uint32_t)0x3f)
			problem(c, VDE_SEV_NOTE, 0, VDE_BLK_RD, NULL, (int)i,
				"Flags", hex(v, s.flags),
				"unknown region flags 0x%x (ignored)",
				s.flags & ~(uint32_t)0x3f);
		memset(&r[n], 0, sizeof(r[n]));
		r[n].slot = i;
		r[n].tag = s.tag;
		vde_tag_name(s.tag, r[n].name);
		r[n].flags = s.flags;
		r[n].start = (uint64_t)s.start;
		r[n].count = (uint64_t)s.count;
		n++;
	}
	return n;
}

static void check_regions(struct checker *c, const struct vde_region *r,
			  unsigned int n)
{
	uint64_t file_blocks = (c->file_size - c->base) / c->bs;
	bool reported_eof = false;
	unsigned int i, j;
	char v[VAL_LEN];

	for (j = 0; j < n; j++) {
		const struct vde_region *b = &r[j];
		uint64_t end = b->start + b->count;

		for (i = 0; i < j; i++) {
			const struct vde_region *a = &r[i];

			if (!a->count || !b->count ||
			    a->start >= end || b->start >= a->start + a->count)
				continue;
			problem(c, VDE_SEV_FATAL, -EUCLEAN, VDE_BLK_RD, NULL,
				(int)b->slot, "StartBlock",
				dec(v, (int64_t)b->start),
				"%s blocks %" PRIu64 "-%" PRIu64 " overlap slot %u (%s) blocks %" PRIu64 "-%" PRIu64,
				b->name, b->start, end - 1, a->slot, a->name,
				a->start, a->start + a->count - 1);
		}
		if ((b->flags & VDE_RF_ENCRYPTED) &&
		    !(c->sb.incompat & VDE_INCOMPAT_ENCRYPTION))
			problem(c, VDE_SEV_FATAL, -EUCLEAN, VDE_BLK_RD, NULL,
				(int)b->slot, "Flags", hex(v, b->flags),
				"%s is Encrypted but IncompatibleFeatures lacks EncryptionEnabled",
				b->name);
		if (end > file_blocks && b->start < c->nr_blocks &&
		    file_blocks < c->nr_blocks) {
			problem(c, VDE_SEV_FATAL, -ENODATA, VDE_BLK_RD, NULL,
				(int)b->slot, "BlockCount",
				dec(v, (int64_t)b->count),
				"%s blocks %" PRIu64 "-%" PRIu64 " are in the device but the file ends at block %" PRIu64,
				b->name, b->start, end - 1, file_blocks);
			reported_eof = true;
		} else if (end > c->nr_blocks) {
			problem(c, VDE_SEV_NOTE, 0, VDE_BLK_RD, NULL,
				(int)b->slot, "BlockCount",
				dec(v, (int64_t)b->count),
				"%s blocks %" PRIu64 "-%" PRIu64 " end past TotalBlocks %" PRIu64 "%s (an SDK quirk of small images)",
				b->name, b->start, end - 1, c->nr_blocks,
				end > file_blocks ? " and past the end of the file" : "");
		}
	}
	if (file_blocks < c->nr_blocks && !reported_eof)
		problem(c, VDE_SEV_FATAL, -ENODATA, VDE_BLK_SUPERBLOCK, NULL, -1,
			"TotalBlocks", dec(v, (int64_t)c->nr_blocks),
			"the file holds only %" PRIu64 " blocks", file_blocks);
}

/* ---- trailers of the blocks VdeCreator writes -------------------------- */

/* Region tags whose first block carries a trailer in a fresh image. */
static bool has_header_block(uint32_t tag)
{
	static const uint32_t tags[] = {
		VDE_TAG_INOD, VDE_TAG_MWAL, VDE_TAG_DWAL,
		VDE_TAG('T', 'A', 'G', 'I'), VDE_TAG('M', 'T', 'R', 'K'),
		VDE_TAG('S', 'N', 'A', 'P'), VDE_TAG('B', 'T', 'R', 'E'),
		VDE_TAG('R', 'E', 'P', 'L'), VDE_TAG('R', 'A', 'I', 'D'),
		VDE_TAG('D', 'I', 'C', 'T'), VDE_TAG('I', 'N', 'T', 'E'),
		VDE_TAG('X', 'R', 'E', 'F'), VDE_TAG('C', 'O', 'D', 'E'),
		VDE_TAG('C', 'L', 'O', 'G'), VDE_TAG('C', 'M', 'V', 'T'),
		VDE_TAG('A', 'L', 'O', 'G'), VDE_TAG('A', 'N', 'O', 'N'),
		VDE_TAG('M', 'L', 'O', 'G'),
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tags); i++)
		if (tags[i] == tag)
			return true;
	return false;
}

static bool all_zero(const uint8_t *b, size_t len)
{
	return !b[0] && !memcmp(b, b + 1, len - 1);
}

static void check_trailer(struct checker *c, const struct vde_region *r,
			  uint64_t block, uint8_t *buf)
{
	const char *role = vde_tag_describe(r->tag);
	char v[VAL_LEN], w[VAL_LEN], n1[5], n2[5];
	uint32_t tag;
	int ret;

	ret = read_block(c, block, buf);
	if (ret < 0) {
		problem(c, VDE_SEV_ERROR, 0, (int64_t)block, role, (int)r->slot,
			"file size", dec(v, (int64_t)c->file_size), "%s",
			ret == -ENODATA ? "the file ends before this block" :
			strerror(-ret));
		return;
	}
	c->res->blocks_checked++;
	if (!vde_trailer_ok(buf, c->bs)) {
		problem(c, VDE_SEV_ERROR, 0, (int64_t)block, role, (int)r->slot,
			"trailer checksum",
			hex16(v, vde_get_le64(buf + c->bs - 8)),
			"does not match the block (XXH64 %s)",
			hex16(w, vde_block_hash(buf, c->bs)));
		return;
	}
	tag = vde_get_le32(buf + c->bs - VDE_TRAILER_SIZE);
	if (tag != r->tag)
		problem(c, VDE_SEV_ERROR, 0, (int64_t)block, role, (int)r->slot,
			"trailer tag", vde_tag_name(tag, n1),
			"the region is %s", vde_tag_name(r->tag, n2));
}

static void check_region_blocks(struct checker *c, const struct vde_region *r,
				unsigned int n, uint8_t *buf)
{
	uint64_t file_blocks = (c->file_size - c->base) / c->bs, b, end;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!r[i].count || r[i].start < VDE_FIXED_BLOCKS)
			continue;
		end = r[i].start + r[i].count;
		if (r[i].tag == VDE_TAG_BMAP) {
			end = end < file_blocks ? end : file_blocks;
			for (b = r[i].start; b < end; b++)
				check_trailer(c, &r[i], b, buf);
		} else if (has_header_block(r[i].tag)) {
			check_trailer(c, &r[i], r[i].start, buf);
		} else if (r[i].tag == VDE_TAG_ENCR) {
			/* Key slots carry trailers once vde wrote them. */
			end = end < file_blocks ? end : file_blocks;
			for (b = r[i].start; b < end; b++) {
				if (read_block(c, b, buf) < 0 ||
				    all_zero(buf, c->bs))
					continue;
				check_trailer(c, &r[i], b, buf);
			}
		}
	}
}

/* ---- the whole check ---------------------------------------------------- */

static int check_preamble(struct checker *c)
{
	uint8_t hdr[VDE_PREAMBLE_SIZE];
	struct vde_preamble pre;
	struct vde_diag d;
	int ret;

	if (c->file_size < VDE_PREAMBLE_SIZE)
		return 0;
	ret = vde_pread_exact(c->fd, hdr, sizeof(hdr), 0);
	if (ret < 0)
		return ret;
	if (memcmp(hdr, VDE_PREAMBLE_MAGIC, 8))
		return 0;
	ret = vde_preamble_decode(hdr, c->file_size, &pre, &d);
	if (ret < 0) {
		report(c, VDE_SEV_FATAL, &d);
		return 1;
	}
	c->base = pre.vde_offset;
	return 0;
}

static void check_metadata(struct checker *c, uint8_t *rd,
			   const uint8_t *rpt)
{
	struct vde_region *r;
	unsigned int n;

	if (check_rd(c, rd) < 0)
		return;
	compare_tables(c, rpt, rd);
	r = calloc(VDE_NR_SLOTS, sizeof(*r));
	if (!r)
		return;
	n = load_regions(c, rd, r);
	check_regions(c, r, n);
	check_region_blocks(c, r, n, rd);
	free(r);
}

/* What vde_image_open() refuses must have been reported as fatal. */
static void cross_check(struct checker *c)
{
	struct vde_image img;
	struct vde_diag d;

	if (vde_image_open(c->path, O_RDONLY, &img, &d) < 0) {
		if (!c->res->fatal)
			report(c, VDE_SEV_FATAL, &d);
		return;
	}
	vde_image_close(&img);
}

int vde_image_check(const char *path, vde_check_fn fn, void *arg,
		    struct vde_check_result *res)
{
	struct checker c = { .path = path, .fn = fn, .arg = arg, .res = res };
	size_t group_size = (size_t)VDE_GROUP_BLOCKS * VDE_MAX_BLOCK_SIZE;
	struct group p = { 0 }, m = { 0 };
	struct vde_diag d;
	uint8_t *rd = NULL;
	int ret, sel;

	memset(res, 0, sizeof(*res));
	c.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c.fd < 0)
		return -errno;
	ret = vde_file_size(c.fd, &c.file_size, &d);
	if (ret == -EINVAL) {
		report(&c, VDE_SEV_FATAL, &d);
		ret = 0;
		goto out_close;
	}
	if (ret < 0)
		goto out_close;
	ret = check_preamble(&c);
	if (ret)
		goto out_close;

	p.buf = malloc(group_size);
	m.buf = malloc(group_size);
	rd = malloc(2 * VDE_MAX_BLOCK_SIZE);
	if (!p.buf || !m.buf || !rd) {
		ret = -ENOMEM;
		goto out_free;
	}
	sel = check_groups(&c, &p, &m);
	if (sel >= 0 && check_sb(&c) == 0)
		check_metadata(&c, rd, (sel ? m.buf : p.buf) + c.bs);
	cross_check(&c);
	ret = 0;
out_free:
	free(rd);
	free(m.buf);
	free(p.buf);
out_close:
	close(c.fd);
	return ret < 0 ? ret : 0;
}
