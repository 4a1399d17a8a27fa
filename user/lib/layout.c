// SPDX-License-Identifier: GPL-2.0
/*
 * libvde: create VDE v2 images exactly as the DataWarehouse SDK's
 * VdeCreator does (region order and sizes, every block it writes), so that
 * the SDK and vde read the same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "format.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define INODE_CORE_SIZE		304	/* InodeLayoutDescriptor.CoreFieldsEnd */
#define INODE_ALIGN		64
#define INODE_TABLE_MIN		1024	/* blocks */
#define INODE_TABLE_DIVISOR	256
#define MODULE_REGION_BLOCKS	64
#define MWAL_MIN_BLOCKS		64
#define DWAL_MIN_BLOCKS		128
#define STREAM_MIN_BLOCKS	128
#define WAL_HEADER_SIZE		83
#define GENERATION		1	/* of everything VdeCreator writes */

#define MOD_SECURITY		0
#define MOD_STREAMING		6
/* Modules of format 2.0 (bits 0-18), the ones this creator knows. */
#define NR_MODULES		19

/*
 * The SDK's ModuleRegistry for bits 0-18: the regions each module needs,
 * in order, and the inode bytes it adds.
 */
static const struct {
	const char *regions[2];
	uint16_t inode_bytes;
} vde_modules[NR_MODULES] = {
	[0] = { { "PolicyVault", "EncryptionHeader" }, 24 },
	[1] = { { "ComplianceVault", "ComplianceAuditLog" }, 12 },
	[2] = { { "IntelligenceCache" }, 12 },
	[3] = { { "TagIndexRegion" }, 136 },
	[4] = { { "ReplicationState" }, 8 },
	[5] = { { "RAIDMetadata" }, 4 },
	[6] = { { "StreamingAppend", "DataWAL" }, 8 },
	[7] = { { "ComputeCodeCache" }, 0 },
	[8] = { { "CrossVDEReferenceTable" }, 0 },
	[9] = { { "ConsensusLogRegion" }, 0 },
	[10] = { { "DictionaryRegion" }, 4 },
	[11] = { { "IntegrityTree" }, 0 },
	[12] = { { "SnapshotTable" }, 0 },
	[13] = { { "BTreeIndexForest" }, 4 },
	[14] = { { "AnonymizationTable" }, 2 },
	[15] = { { NULL }, 4 },
	[16] = { { NULL }, 1 },
	[17] = { { "MetricsLogRegion" }, 0 },
	[18] = { { "AuditLogRegion" }, 0 },
};

/* VdeCreator.ResolveBlockTypeTag: any other name gets DATA. */
static const struct {
	const char *name;
	uint32_t tag;
} vde_region_tags[] = {
	{ "PrimarySuperblock", VDE_TAG_SUPB },
	{ "MirrorSuperblock", VDE_TAG_SUPB },
	{ "RegionDirectory", VDE_TAG_RMAP },
	{ "PolicyVault", VDE_TAG_POLV },
	{ "EncryptionHeader", VDE_TAG_ENCR },
	{ "AllocationBitmap", VDE_TAG_BMAP },
	{ "InodeTable", VDE_TAG_INOD },
	{ "MetadataWAL", VDE_TAG_MWAL },
	{ "DataWAL", VDE_TAG_DWAL },
	{ "DataRegion", VDE_TAG_DATA },
	{ "TagIndexRegion", VDE_TAG('T', 'A', 'G', 'I') },
	{ "IntegrityTree", VDE_TAG('M', 'T', 'R', 'K') },
	{ "SnapshotTable", VDE_TAG('S', 'N', 'A', 'P') },
	{ "BTreeIndexForest", VDE_TAG('B', 'T', 'R', 'E') },
	{ "ReplicationState", VDE_TAG('R', 'E', 'P', 'L') },
	{ "RAIDMetadata", VDE_TAG('R', 'A', 'I', 'D') },
	{ "DictionaryRegion", VDE_TAG('D', 'I', 'C', 'T') },
	{ "IntelligenceCache", VDE_TAG('I', 'N', 'T', 'E') },
	{ "StreamingAppend", VDE_TAG_STRE },
	{ "CrossVDEReferenceTable", VDE_TAG('X', 'R', 'E', 'F') },
	{ "ComputeCodeCache", VDE_TAG('C', 'O', 'D', 'E') },
	{ "ConsensusLogRegion", VDE_TAG('C', 'L', 'O', 'G') },
	{ "ComplianceVault", VDE_TAG('C', 'M', 'V', 'T') },
	{ "AuditLog", VDE_TAG('A', 'L', 'O', 'G') },
	{ "AuditLogRegion", VDE_TAG('A', 'L', 'O', 'G') },
	{ "AnonymizationTable", VDE_TAG('A', 'N', 'O', 'N') },
	{ "MetricsLogRegion", VDE_TAG('M', 'L', 'O', 'G') },
};

/* Regions placed by the creator itself rather than as module regions. */
static const char *const vde_fixed_regions[] = {
	"PrimarySuperblock", "MirrorSuperblock", "RegionDirectory",
	"PolicyVault", "EncryptionHeader", "AllocationBitmap", "InodeTable",
	"MetadataWAL", "DataWAL", "DataRegion", "StreamingAppend",
};

static uint32_t region_tag(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vde_region_tags); i++)
		if (!strcmp(vde_region_tags[i].name, name))
			return vde_region_tags[i].tag;
	return VDE_TAG_DATA;
}

/* VdeCreator.IsModuleRegion: a region whose first block gets a header. */
static bool is_module_region(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vde_fixed_regions); i++)
		if (!strcmp(vde_fixed_regions[i], name))
			return false;
	return true;
}

/* Regions that creation leaves entirely unwritten. */
static bool is_unwritten_region(const char *name)
{
	return !strcmp(name, "PolicyVault") || !strcmp(name, "StreamingAppend") ||
	       !strcmp(name, "DataRegion");
}

int vde_profile_parse(const char *name, enum vde_profile *profile)
{
	if (!strcmp(name, "minimal"))
		*profile = VDE_PROFILE_MINIMAL;
	else if (!strcmp(name, "standard"))
		*profile = VDE_PROFILE_STANDARD;
	else
		return -EINVAL;
	return 0;
}

int vde_create_opts_init(struct vde_create_opts *o, enum vde_profile profile)
{
	struct timespec ts;
	ssize_t n;

	memset(o, 0, sizeof(*o));
	o->block_size = VDE_MIN_BLOCK_SIZE;
	o->total_blocks = VDE_DEFAULT_TOTAL_BLOCKS;
	if (profile == VDE_PROFILE_STANDARD) {
		/* Security 2, Compression 2, Integrity 2, Snapshot 1 */
		o->manifest = 0x00001C01;
		o->module_config = 0x0001220000000002ULL;
	}
	do {
		n = getrandom(o->uuid, sizeof(o->uuid), 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != sizeof(o->uuid))
		return -EIO;
	/* Version 4 as .NET's Guid.NewGuid() stores it (Data3 is LE). */
	o->uuid[7] = (uint8_t)((o->uuid[7] & 0x0f) | 0x40);
	o->uuid[8] = (uint8_t)((o->uuid[8] & 0x3f) | 0x80);
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return -errno;
	o->timestamp = VDE_TICKS_UNIX_EPOCH + (int64_t)ts.tv_sec * VDE_TICKS_PER_SEC +
		       ts.tv_nsec / 100;
	return 0;
}

/* ---- the layout -------------------------------------------------------- */

/* (long)Math.Ceiling(total * factor), in the same double arithmetic. */
static uint64_t ceil_mul(uint64_t total, double factor)
{
	double x = (double)total * factor;
	uint64_t n = (uint64_t)x;

	return (double)n < x ? n + 1 : n;
}

static int add(struct vde_layout *l, const char *name, uint64_t start,
	       uint64_t count)
{
	struct vde_slot *s;

	if (l->nr_regions == VDE_NR_SLOTS)
		return -EINVAL;
	l->regions[l->nr_regions].name = name;
	s = &l->regions[l->nr_regions].slot;
	memset(s, 0, sizeof(*s));
	s->tag = region_tag(name);
	s->flags = VDE_RF_ACTIVE;
	s->start = (int64_t)start;
	s->count = (int64_t)count;
	l->nr_regions++;
	return 0;
}

static void inode_layout(uint32_t manifest, struct vde_layout *l)
{
	unsigned int bit, raw = INODE_CORE_SIZE, aligned;

	l->nr_inode_fields = 0;
	for (bit = 0; bit < NR_MODULES; bit++) {
		uint16_t size = vde_modules[bit].inode_bytes;

		if (!(manifest & (1U << bit)) || !size)
			continue;
		l->inode_fields[l->nr_inode_fields].module = (uint8_t)bit;
		l->inode_fields[l->nr_inode_fields].offset = (uint16_t)raw;
		l->inode_fields[l->nr_inode_fields].size = size;
		l->nr_inode_fields++;
		raw += size;
	}
	aligned = (raw + INODE_ALIGN - 1) / INODE_ALIGN * INODE_ALIGN;
	l->inode_size = (uint16_t)aligned;
	l->inode_padding = (uint8_t)(aligned - raw);
}

static int apply_encryption(const struct vde_create_opts *o,
			    struct vde_layout *l)
{
	unsigned int i;
	uint32_t tag;

	if (!o->encrypt_region)
		return 0;
	if (vde_tag_parse(o->encrypt_region, &tag) < 0 || tag == VDE_TAG_ENCR)
		return -EINVAL;
	for (i = 0; i < l->nr_regions; i++) {
		if (l->regions[i].slot.tag != tag ||
		    !is_unwritten_region(l->regions[i].name))
			continue;
		l->regions[i].slot.flags |= VDE_RF_ENCRYPTED;
		return 0;
	}
	return -EINVAL;
}

int vde_layout_compute(const struct vde_create_opts *o, struct vde_layout *l)
{
	uint64_t total = o->total_blocks, bs = o->block_size, next, n;
	bool streaming = o->manifest & (1U << MOD_STREAMING);
	unsigned int bit, k;
	int ret = 0;

	memset(l, 0, sizeof(*l));
	if (!vde_block_size_ok(bs) || total < VDE_MIN_TOTAL_BLOCKS ||
	    total > (uint64_t)INT64_MAX / bs / 2)
		return -EINVAL;
	if (o->manifest >> NR_MODULES)
		return -EINVAL;
	l->block_size = (uint32_t)bs;
	l->total_blocks = total;

	ret |= add(l, "PrimarySuperblock", VDE_BLK_SUPERBLOCK, VDE_GROUP_BLOCKS);
	ret |= add(l, "MirrorSuperblock", VDE_BLK_MIRROR, VDE_GROUP_BLOCKS);
	ret |= add(l, "RegionDirectory", VDE_BLK_RD, 2);
	next = VDE_FIXED_BLOCKS;
	if (o->manifest & (1U << MOD_SECURITY)) {
		ret |= add(l, "PolicyVault", next, 2);
		ret |= add(l, "EncryptionHeader", next + 2, 2);
		next += 4;
	}
	/* One bit per block in each bitmap block's payload. */
	n = (total + (bs - VDE_TRAILER_SIZE) * 8 - 1) / ((bs - VDE_TRAILER_SIZE) * 8);
	n = n ? n : 1;
	ret |= add(l, "AllocationBitmap", next, n);
	next += n;
	n = total / INODE_TABLE_DIVISOR;
	n = n > INODE_TABLE_MIN ? n : INODE_TABLE_MIN;
	ret |= add(l, "InodeTable", next, n);
	next += n;
	/* WalHeader.CalculateMetadataWalBlocks: double arithmetic. */
	n = ceil_mul(total, 0.005);
	n = n > MWAL_MIN_BLOCKS ? n : MWAL_MIN_BLOCKS;
	ret |= add(l, "MetadataWAL", next, n);
	next += n;
	if (streaming) {
		n = ceil_mul(total, 0.01);
		n = n > DWAL_MIN_BLOCKS ? n : DWAL_MIN_BLOCKS;
		ret |= add(l, "DataWAL", next, n);
		next += n;
	}
	for (bit = 0; bit < NR_MODULES; bit++) {
		if (!(o->manifest & (1U << bit)))
			continue;
		for (k = 0; k < 2; k++) {
			const char *name = vde_modules[bit].regions[k];

			if (!name || !is_module_region(name))
				continue;
			ret |= add(l, name, next, MODULE_REGION_BLOCKS);
			next += MODULE_REGION_BLOCKS;
		}
	}
	if (streaming) {
		n = total / 100;
		n = n > STREAM_MIN_BLOCKS ? n : STREAM_MIN_BLOCKS;
		ret |= add(l, "StreamingAppend", next, n);
		next += n;
	}
	if (next < total) {
		l->data_blocks = total - next;
		ret |= add(l, "DataRegion", next, total - next);
	}
	if (ret)
		return -EINVAL;
	l->metadata_blocks = next;
	inode_layout(o->manifest, l);
	return apply_encryption(o, l);
}

/* ---- writing ------------------------------------------------------------ */

static int pwrite_exact(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

struct writer {
	int fd;
	uint32_t bs;
	uint64_t end;		/* blocks the file holds */
	uint8_t *buf;		/* one block */
};

static int write_block(struct writer *w, uint64_t block, const void *buf)
{
	int ret = pwrite_exact(w->fd, buf, w->bs, block * w->bs);

	if (!ret && block + 1 > w->end)
		w->end = block + 1;
	return ret;
}

static void fill_superblock(const struct vde_create_opts *o,
			    const struct vde_layout *l, struct vde_superblock *sb)
{
	bool encrypted = false;
	unsigned int i;

	for (i = 0; i < l->nr_regions; i++)
		encrypted |= l->regions[i].slot.flags & VDE_RF_ENCRYPTED;
	memset(sb, 0, sizeof(*sb));
	sb->major = VDE_FMT_MAJOR;
	sb->minor = VDE_FMT_MINOR;
	sb->revision = VDE_FMT_REVISION;
	sb->min_reader = VDE_FMT_MAJOR;
	sb->min_writer = VDE_FMT_MAJOR;
	sb->manifest = o->manifest;
	sb->module_config = o->module_config;
	sb->module_config_ext = o->module_config_ext;
	sb->block_size = (int32_t)l->block_size;
	sb->total_blocks = (int64_t)l->total_blocks;
	sb->free_blocks = (int64_t)l->data_blocks;
	sb->expected_file_size = (int64_t)(l->total_blocks * l->block_size);
	sb->total_allocated_blocks = (int64_t)l->metadata_blocks;
	memcpy(sb->uuid, o->uuid, sizeof(sb->uuid));
	sb->checksum_algo = 1;		/* XxHash64 */
	sb->inode_size = l->inode_size;
	sb->policy_version = 1;
	memcpy(sb->label, o->label, VDE_LABEL_SIZE);
	sb->created = o->timestamp;
	sb->modified = o->timestamp;
	sb->checkpoint_seq = 1;
	sb->last_writer_time = o->timestamp;
	if (encrypted) {
		sb->incompat |= VDE_INCOMPAT_ENCRYPTION;
		sb->encryption_algo = VDE_ENC_ALGO_AES256_XTS;
		sb->key_fingerprint = o->key_fingerprint;
	}
}

/* Blocks 0-9: superblock group, its mirror, the Region Directory. */
static int write_fixed(struct writer *w, const struct vde_create_opts *o,
		       const struct vde_layout *l)
{
	static const uint32_t group_tags[VDE_GROUP_BLOCKS] = {
		VDE_TAG_SUPB, VDE_TAG_RMAP, VDE_TAG_EXMD, VDE_TAG_IANT,
	};
	size_t bs = w->bs;
	struct vde_superblock sb;
	uint8_t *fixed, *rd;
	unsigned int i;
	int ret;

	fixed = calloc(VDE_FIXED_BLOCKS, bs);
	if (!fixed)
		return -ENOMEM;
	fill_superblock(o, l, &sb);
	vde_sb_encode(&sb, fixed);
	for (i = 0; i < l->nr_regions; i++) {
		/* RPT block 1 and RD block 8 hold the same slots. */
		vde_slot_encode(&l->regions[i].slot, fixed + bs + i * VDE_SLOT_SIZE);
		vde_slot_encode(&l->regions[i].slot,
				fixed + VDE_BLK_RD * bs + i * VDE_SLOT_SIZE);
	}
	for (i = 0; i < VDE_GROUP_BLOCKS; i++)
		vde_trailer_seal(fixed + i * bs, w->bs, group_tags[i],
				 (uint32_t)sb.checkpoint_seq);
	memcpy(fixed + VDE_BLK_MIRROR * bs, fixed, VDE_GROUP_BLOCKS * bs);

	rd = fixed + VDE_BLK_RD * bs;
	vde_trailer_seal(rd, w->bs, VDE_TAG_RMAP, GENERATION);
	vde_put_le16(rd + bs, VDE_RD_VERSION);
	vde_put_le16(rd + bs + 2, VDE_NR_SLOTS);
	vde_put_le16(rd + bs + 4, (uint16_t)l->nr_regions);
	vde_put_le64(rd + bs + 8, vde_block_hash(rd, w->bs));
	vde_trailer_seal(rd + bs, w->bs, VDE_TAG_RMAP, GENERATION);

	ret = pwrite_exact(w->fd, fixed, VDE_FIXED_BLOCKS * bs, 0);
	free(fixed);
	if (!ret && w->end < VDE_FIXED_BLOCKS)
		w->end = VDE_FIXED_BLOCKS;
	return ret;
}

/* Every bitmap block; the first marks the metadata blocks allocated. */
static int write_bitmap(struct writer *w, const struct vde_slot *s,
			uint64_t metadata_blocks)
{
	uint64_t payload_bits = (uint64_t)(w->bs - VDE_TRAILER_SIZE) * 8;
	uint64_t bits = metadata_blocks < payload_bits ? metadata_blocks : payload_bits;
	uint64_t i;
	int ret;

	memset(w->buf, 0, w->bs);
	memset(w->buf, 0xff, bits / 8);
	if (bits % 8)
		w->buf[bits / 8] = (uint8_t)((1U << (bits % 8)) - 1);
	vde_trailer_seal(w->buf, w->bs, VDE_TAG_BMAP, GENERATION);
	ret = write_block(w, (uint64_t)s->start, w->buf);
	if (ret < 0 || s->count < 2)
		return ret;
	memset(w->buf, 0, w->bs);
	vde_trailer_seal(w->buf, w->bs, VDE_TAG_BMAP, GENERATION);
	for (i = 1; i < (uint64_t)s->count && !ret; i++)
		ret = write_block(w, (uint64_t)s->start + i, w->buf);
	return ret;
}

/* The InodeLayoutDescriptor in the first inode table block. */
static int write_inode_header(struct writer *w, const struct vde_slot *s,
			      const struct vde_layout *l)
{
	uint8_t *b = w->buf;
	unsigned int i;

	memset(b, 0, w->bs);
	vde_put_le16(b, l->inode_size);
	vde_put_le16(b + 2, INODE_CORE_SIZE);
	b[4] = (uint8_t)l->nr_inode_fields;
	b[5] = l->inode_padding;
	for (i = 0; i < l->nr_inode_fields; i++) {
		uint8_t *e = b + 8 + 7 * i;

		e[0] = l->inode_fields[i].module;
		vde_put_le16(e + 1, l->inode_fields[i].offset);
		vde_put_le16(e + 3, l->inode_fields[i].size);
		e[5] = 1;	/* FieldVersion */
		e[6] = 1;	/* Flags: ACTIVE */
	}
	vde_trailer_seal(b, w->bs, VDE_TAG_INOD, GENERATION);
	return write_block(w, (uint64_t)s->start, b);
}

/* The 83-byte WalHeader of a fresh metadata (0) or data (1) WAL. */
static int write_wal_header(struct writer *w, const struct vde_slot *s,
			    int64_t ticks)
{
	bool data = s->tag == VDE_TAG_DWAL;
	uint8_t *b = w->buf;

	memset(b, 0, w->bs);
	b[0] = data;			/* Type */
	vde_put_le32(b + 2, 1);		/* Version */
	vde_put_le64(b + 46, (uint64_t)s->count);	/* MaxBlocks */
	vde_put_le64(b + 54, 1);	/* UsedBlocks: the header itself */
	vde_put_le64(b + 62, (uint64_t)ticks);	/* CreatedTimestampUtc */
	vde_put_le32(b + 78, data ? 4096 : 1024);	/* CheckpointInterval */
	b[WAL_HEADER_SIZE - 1] = 1;	/* IsClean */
	vde_trailer_seal(b, w->bs, s->tag, GENERATION);
	return write_block(w, (uint64_t)s->start, b);
}

static int write_module_header(struct writer *w, const struct vde_slot *s)
{
	memset(w->buf, 0, w->bs);
	vde_trailer_seal(w->buf, w->bs, s->tag, GENERATION);
	return write_block(w, (uint64_t)s->start, w->buf);
}

static int write_image(struct writer *w, const struct vde_create_opts *o,
		       const struct vde_layout *l)
{
	unsigned int i;
	int ret;

	ret = write_fixed(w, o, l);
	for (i = 0; i < l->nr_regions && !ret; i++) {
		const char *name = l->regions[i].name;
		const struct vde_slot *s = &l->regions[i].slot;

		if (!strcmp(name, "AllocationBitmap"))
			ret = write_bitmap(w, s, l->metadata_blocks);
		else if (!strcmp(name, "InodeTable"))
			ret = write_inode_header(w, s, l);
	}
	/* VdeCreator writes the WAL headers next, then the module regions. */
	for (i = 0; i < l->nr_regions && !ret; i++)
		if (!strcmp(l->regions[i].name, "MetadataWAL") ||
		    !strcmp(l->regions[i].name, "DataWAL"))
			ret = write_wal_header(w, &l->regions[i].slot, o->timestamp);
	for (i = 0; i < l->nr_regions && !ret; i++)
		if (is_module_region(l->regions[i].name))
			ret = write_module_header(w, &l->regions[i].slot);
	return ret;
}

static int open_new(const char *path, bool force, int *fd)
{
	struct stat st;

	if (force && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return -EINVAL;
	*fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC |
		   (force ? O_TRUNC : O_EXCL), 0644);
	return *fd < 0 ? -errno : 0;
}

int vde_image_create(const char *path, const struct vde_create_opts *o,
		     struct vde_layout *layout)
{
	struct vde_layout l;
	struct writer w;
	int ret;

	ret = vde_layout_compute(o, &l);
	if (ret < 0)
		return ret;
	ret = open_new(path, o->force, &w.fd);
	if (ret < 0)
		return ret;
	w.bs = l.block_size;
	w.end = 0;
	w.buf = malloc(w.bs);
	if (!w.buf) {
		ret = -ENOMEM;
		goto out_unlink;
	}
	/* A sparse file of TotalBlocks; metadata past it extends the file. */
	if (ftruncate(w.fd, (off_t)(l.total_blocks * l.block_size)) < 0) {
		ret = -errno;
		goto out_free;
	}
	ret = write_image(&w, o, &l);
	if (!ret && fsync(w.fd) < 0)
		ret = -errno;
	l.file_blocks = w.end > l.total_blocks ? w.end : l.total_blocks;
out_free:
	free(w.buf);
out_unlink:
	if (close(w.fd) < 0 && !ret)
		ret = -errno;
	if (ret < 0) {
		unlink(path);
		return ret;
	}
	if (layout)
		*layout = l;
	return 0;
}
