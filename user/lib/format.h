/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libvde: the VDE v2 ("DWVD") image format.
 *
 * Reading and validating an image (format.c), the tables of names
 * (format-names.c), checking an image fsck-style (format-check.c) and
 * creating one as the DataWarehouse SDK's VdeCreator does (layout.c).
 * Documentation/vde-format.rst describes the format and the rules applied.
 *
 * Every on-disk integer is little-endian.  Block N of an image is at byte
 * base + N * BlockSize of the file, where base is 0 or the VdeOffset of a
 * bootable preamble.
 *
 * Functions return 0 or a non-negative result on success and a negative
 * errno on failure; they never rely on the global errno.  The errors of
 * vde_image_open() are:
 *
 * -EINVAL      a malformed field (magic, BlockSize, TotalBlocks, a region's
 *              extent, a preamble offset), or a file that is neither a
 *              regular file nor a block device;
 * -EPROTO      a checksum mismatch (block trailer, Region Directory header
 *              hash, preamble header checksum);
 * -EOPNOTSUPP  a version, incompatible feature or cipher this library does
 *              not support (including format v1 images);
 * -EUCLEAN     metadata that contradicts itself: Region Pointer Table and
 *              Region Directory disagree, active regions overlap, an
 *              Encrypted region without the EncryptionEnabled feature;
 * -ENODATA     the file ends before a block that must be there (fixed
 *              metadata blocks, or any block of the device);
 * -ENOMEM      no memory for the scratch buffers;
 * anything open(2), fstat(2) or pread(2) return (-ENOENT, -EACCES, -EIO...).
 */
#ifndef VDE_FORMAT_H
#define VDE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vde.h>

/* Format constants */
#define VDE_FMT_MAJOR		2	/* magic byte 4 */
#define VDE_FMT_MINOR		0	/* magic byte 5 written by the SDK */
#define VDE_FMT_REVISION	1	/* magic bytes 6-7 written by the SDK */
#define VDE_FMT_READER_VERSION	2	/* highest MinReaderVersion accepted */
#define VDE_MIN_BLOCK_SIZE	4096
#define VDE_MAX_BLOCK_SIZE	65536
#define VDE_TRAILER_SIZE	16	/* universal block trailer */
#define VDE_NR_SLOTS		127	/* slots in the RPT and the RD */
#define VDE_SLOT_SIZE		32

/* Fixed block numbers */
#define VDE_BLK_SUPERBLOCK	0
#define VDE_BLK_RPT		1
#define VDE_BLK_EXMD		2
#define VDE_BLK_IANT		3
#define VDE_BLK_MIRROR		4	/* blocks 4-7 mirror blocks 0-3 */
#define VDE_BLK_RD		8	/* Region Directory slots */
#define VDE_BLK_RD_HEADER	9	/* Region Directory header */
#define VDE_GROUP_BLOCKS	4
#define VDE_FIXED_BLOCKS	10

/* Bootable preamble */
#define VDE_PREAMBLE_MAGIC	"DWVD-BOO"
#define VDE_PREAMBLE_SIZE	64
#define VDE_PREAMBLE_ALIGN	4096

/* Region Directory header (block 9) */
#define VDE_RD_VERSION		1

/* .NET ticks (100 ns since 0001-01-01 UTC) of the Unix epoch */
#define VDE_TICKS_UNIX_EPOCH	621355968000000000LL
#define VDE_TICKS_PER_SEC	10000000LL

/**
 * VDE_TAG() - a block type tag from its four characters
 * @a: first character
 * @b: second character
 * @c: third character
 * @d: fourth character
 *
 * Tags are four ASCII characters packed big-endian into a u32 and stored
 * little-endian, so on disk the characters appear reversed.
 */
#define VDE_TAG(a, b, c, d) \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

#define VDE_TAG_SUPB	VDE_TAG('S', 'U', 'P', 'B')	/* superblock */
#define VDE_TAG_RMAP	VDE_TAG('R', 'M', 'A', 'P')	/* RPT, Region Directory */
#define VDE_TAG_EXMD	VDE_TAG('E', 'X', 'M', 'D')	/* extended metadata */
#define VDE_TAG_IANT	VDE_TAG('I', 'A', 'N', 'T')	/* integrity anchor */
#define VDE_TAG_POLV	VDE_TAG('P', 'O', 'L', 'V')	/* policy vault */
#define VDE_TAG_ENCR	VDE_TAG('E', 'N', 'C', 'R')	/* key slots */
#define VDE_TAG_BMAP	VDE_TAG('B', 'M', 'A', 'P')	/* allocation bitmap */
#define VDE_TAG_INOD	VDE_TAG('I', 'N', 'O', 'D')	/* inode table */
#define VDE_TAG_MWAL	VDE_TAG('M', 'W', 'A', 'L')	/* metadata WAL */
#define VDE_TAG_DWAL	VDE_TAG('D', 'W', 'A', 'L')	/* data WAL */
#define VDE_TAG_STRE	VDE_TAG('S', 'T', 'R', 'E')	/* streaming append */
#define VDE_TAG_DATA	VDE_TAG('D', 'A', 'T', 'A')	/* data region */

/* RegionFlags, slot offset 4 */
#define VDE_RF_ACTIVE		0x01
#define VDE_RF_ENCRYPTED	0x02
#define VDE_RF_COMPRESSED	0x04
#define VDE_RF_WORM		0x08
#define VDE_RF_READ_ONLY	0x10
#define VDE_RF_MIGRATING	0x20

/* IncompatibleFeatures (superblock 0x14) */
#define VDE_INCOMPAT_ENCRYPTION		0x001	/* EncryptionEnabled */
#define VDE_INCOMPAT_WORM		0x002
#define VDE_INCOMPAT_RAID		0x004
#define VDE_INCOMPAT_COMPUTE_CACHE	0x008
#define VDE_INCOMPAT_FABRIC_LINKS	0x010
#define VDE_INCOMPAT_CONSENSUS_LOG	0x020
#define VDE_INCOMPAT_HAS_PREAMBLE	0x100
/* The incompatible features this library serves. */
#define VDE_INCOMPAT_SUPPORTED \
	(VDE_INCOMPAT_ENCRYPTION | VDE_INCOMPAT_HAS_PREAMBLE)

/* ReadOnlyCompatibleFeatures (0x18): the bits the SDK defines. */
#define VDE_ROCOMPAT_KNOWN	0x1f
/* CompatibleFeatures (0x1C): the bits the SDK defines. */
#define VDE_COMPAT_KNOWN	0x7f

/* DefaultEncryptionAlgo (0x79) of vde's encrypted regions: AES-256-XTS */
#define VDE_ENC_ALGO_AES256_XTS	3

/**
 * vde_get_le16() - load a little-endian u16
 * @p: the bytes
 *
 * Return: the value.
 */
static inline uint16_t vde_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/**
 * vde_get_le32() - load a little-endian u32
 * @p: the bytes
 *
 * Return: the value.
 */
static inline uint32_t vde_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/**
 * vde_get_le64() - load a little-endian u64
 * @p: the bytes
 *
 * Return: the value.
 */
static inline uint64_t vde_get_le64(const uint8_t *p)
{
	return (uint64_t)vde_get_le32(p) | (uint64_t)vde_get_le32(p + 4) << 32;
}

/**
 * vde_put_le16() - store a little-endian u16
 * @p: destination
 * @v: value
 */
static inline void vde_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/**
 * vde_put_le32() - store a little-endian u32
 * @p: destination
 * @v: value
 */
static inline void vde_put_le32(uint8_t *p, uint32_t v)
{
	vde_put_le16(p, (uint16_t)v);
	vde_put_le16(p + 2, (uint16_t)(v >> 16));
}

/**
 * vde_put_le64() - store a little-endian u64
 * @p: destination
 * @v: value
 */
static inline void vde_put_le64(uint8_t *p, uint64_t v)
{
	vde_put_le32(p, (uint32_t)v);
	vde_put_le32(p + 4, (uint32_t)(v >> 32));
}

/** VDE_DIAG_FILE - &vde_diag.block of a problem of the file as a whole */
#define VDE_DIAG_FILE		(-1LL)
/** VDE_DIAG_PREAMBLE - &vde_diag.block of a problem in the preamble header */
#define VDE_DIAG_PREAMBLE	(-2LL)

/**
 * struct vde_diag - why an image was refused (or a copy was not used)
 * @err: the negative errno returned, 0 if nothing was diagnosed
 * @block: image block the problem is in, %VDE_DIAG_PREAMBLE for the
 *	preamble header or %VDE_DIAG_FILE for the file as a whole
 * @slot: region slot (0-126) the problem is about, or -1
 * @field: name of the field, as the format documentation spells it
 * @value: the value found, as text
 * @msg: the whole message, e.g. "block 0 (superblock): BlockSize = 1000:
 *	not a power of two between 4096 and 65536"
 */
struct vde_diag {
	int err;
	int64_t block;
	int slot;
	char field[32];
	char value[96];
	char msg[384];
};

/**
 * struct vde_preamble - decoded DWVD-BOO preamble header (bytes 0-63)
 * @version: PreambleVersion (1)
 * @flags: Flags
 * @content_hash_offset: ContentHashOffset
 * @total_size: PreambleTotalSize
 * @vde_offset: VdeOffset, byte offset of VDE block 0
 * @kernel_offset: KernelOffset
 * @kernel_size: KernelSize
 * @spdk_offset: SpdkOffset
 * @spdk_size: SpdkSize
 * @runtime_offset: RuntimeOffset
 * @runtime_size: RuntimeSize
 * @checksum: HeaderChecksum
 */
struct vde_preamble {
	uint16_t version;
	uint16_t flags;
	uint32_t content_hash_offset;
	uint64_t total_size;
	uint64_t vde_offset;
	uint32_t kernel_offset;
	uint32_t kernel_size;
	uint32_t spdk_offset;
	uint32_t spdk_size;
	uint32_t runtime_offset;
	uint32_t runtime_size;
	uint64_t checksum;
};

/** VDE_LABEL_SIZE - bytes of VolumeLabel (UTF-8, NUL-padded) */
#define VDE_LABEL_SIZE		64

/**
 * struct vde_superblock - the fields of a SuperblockV2 (block 0)
 * @major: magic byte 4, format major version
 * @minor: magic byte 5
 * @revision: magic bytes 6-7, spec revision
 * @min_reader: MinReaderVersion (0x10)
 * @min_writer: MinWriterVersion (0x12)
 * @incompat: IncompatibleFeatures (0x14)
 * @ro_compat: ReadOnlyCompatibleFeatures (0x18)
 * @compat: CompatibleFeatures (0x1C)
 * @manifest: ModuleManifest (0x20)
 * @module_config: ModuleConfig (0x24)
 * @module_config_ext: ModuleConfigExt (0x2C)
 * @block_size: BlockSize (0x34)
 * @total_blocks: TotalBlocks (0x38), the device size in blocks
 * @free_blocks: FreeBlocks (0x40)
 * @expected_file_size: ExpectedFileSize (0x48)
 * @total_allocated_blocks: TotalAllocatedBlocks (0x50)
 * @uuid: VolumeUuid (0x58), the 16 bytes as stored
 * @cluster_node_id: ClusterNodeId (0x68)
 * @compression_algo: DefaultCompressionAlgo (0x78)
 * @encryption_algo: DefaultEncryptionAlgo (0x79)
 * @checksum_algo: DefaultChecksumAlgo (0x7A)
 * @inode_size: InodeSize (0x7C)
 * @sovereignty_zone: SovereigntyZoneId (0x7E)
 * @policy_version: PolicyVersion (0x80)
 * @replication_epoch: ReplicationEpoch (0x84)
 * @worm_high_water_mark: WormHighWaterMark (0x88)
 * @key_fingerprint: EncryptionKeyFingerprint (0x90)
 * @label: VolumeLabel (0x98), NUL-terminated here
 * @created: CreatedTimestampUtc (0xD8), .NET ticks
 * @modified: ModifiedTimestampUtc (0xE0), .NET ticks
 * @last_scrub: LastScrubTimestamp (0xE8), .NET ticks
 * @checkpoint_seq: CheckpointSequence (0xF0)
 * @error_map_blocks: ErrorMapBlockCount (0xF8)
 * @last_writer_session: LastWriterSessionId (0x100)
 * @last_writer_time: LastWriterTimestamp (0x110), .NET ticks
 * @last_writer_node: LastWriterNodeId (0x118)
 * @physical_allocated_blocks: PhysicalAllocatedBlocks (0x128)
 */
struct vde_superblock {
	uint8_t major;
	uint8_t minor;
	uint16_t revision;
	uint16_t min_reader;
	uint16_t min_writer;
	uint32_t incompat;
	uint32_t ro_compat;
	uint32_t compat;
	uint32_t manifest;
	uint64_t module_config;
	uint64_t module_config_ext;
	int32_t block_size;
	int64_t total_blocks;
	int64_t free_blocks;
	int64_t expected_file_size;
	int64_t total_allocated_blocks;
	uint8_t uuid[16];
	uint8_t cluster_node_id[16];
	uint8_t compression_algo;
	uint8_t encryption_algo;
	uint8_t checksum_algo;
	uint16_t inode_size;
	uint16_t sovereignty_zone;
	uint32_t policy_version;
	uint32_t replication_epoch;
	int64_t worm_high_water_mark;
	uint64_t key_fingerprint;
	char label[VDE_LABEL_SIZE + 1];
	int64_t created;
	int64_t modified;
	int64_t last_scrub;
	int64_t checkpoint_seq;
	int64_t error_map_blocks;
	uint8_t last_writer_session[16];
	int64_t last_writer_time;
	uint8_t last_writer_node[16];
	int64_t physical_allocated_blocks;
};

/**
 * struct vde_slot - one 32-byte slot of the RPT or the Region Directory
 * @tag: RegionTypeId, a block type tag
 * @flags: RegionFlags (%VDE_RF_*)
 * @start: StartBlock
 * @count: BlockCount
 * @used: UsedBlocks
 */
struct vde_slot {
	uint32_t tag;
	uint32_t flags;
	int64_t start;
	int64_t count;
	int64_t used;
};

/*
 * Notes on a region (&vde_region.notes): tolerated, but worth reporting.
 */
#define VDE_RN_PAST_DEVICE	0x1	/* ends past TotalBlocks (SDK quirk) */
#define VDE_RN_PAST_EOF		0x2	/* ends past the end of the file */

/**
 * struct vde_region - an active region of the Region Directory
 * @slot: slot index, 0-126
 * @tag: RegionTypeId
 * @name: the tag as four characters ('?' for unprintable ones)
 * @flags: RegionFlags (%VDE_RF_*)
 * @start: first block
 * @count: number of blocks (may be 0)
 * @used: UsedBlocks as stored (not used by vde)
 * @notes: %VDE_RN_* bits
 */
struct vde_region {
	unsigned int slot;
	uint32_t tag;
	char name[5];
	uint32_t flags;
	uint64_t start;
	uint64_t count;
	uint64_t used;
	unsigned int notes;
};

/**
 * enum vde_sb_copy - which superblock group an image was read from
 * @VDE_SB_PRIMARY: blocks 0-3
 * @VDE_SB_MIRROR: blocks 4-7, because blocks 0-3 did not verify
 */
enum vde_sb_copy {
	VDE_SB_PRIMARY = 0,
	VDE_SB_MIRROR = 1,
};

/**
 * struct vde_image - an open, validated image
 * @fd: the image file, opened close-on-exec with the caller's access mode
 * @file_size: size of the file (or block device) in bytes
 * @base: byte offset of VDE block 0 (the preamble's VdeOffset, or 0)
 * @has_preamble: the file starts with a DWVD-BOO preamble
 * @preamble: the preamble header, if @has_preamble
 * @block_size: BlockSize
 * @nr_blocks: TotalBlocks: the device size in blocks (not the file size)
 * @sb: the superblock of the copy used
 * @sb_copy: which copy that is
 * @primary_diag: if @sb_copy is %VDE_SB_MIRROR, why blocks 0-3 were not used
 * @read_only_forced: ReadOnlyCompatibleFeatures has bits this library does
 *	not know: the image may be read but must not be written
 * @rd_generation: generation in the Region Directory's block 8 trailer
 * @rd_active_count: ActiveCount of the Region Directory header
 * @nr_regions: entries in @regions
 * @regions: the active regions of the Region Directory, in slot order
 */
struct vde_image {
	int fd;
	uint64_t file_size;
	uint64_t base;
	bool has_preamble;
	struct vde_preamble preamble;
	uint32_t block_size;
	uint64_t nr_blocks;
	struct vde_superblock sb;
	enum vde_sb_copy sb_copy;
	struct vde_diag primary_diag;
	bool read_only_forced;
	uint32_t rd_generation;
	uint16_t rd_active_count;
	unsigned int nr_regions;
	struct vde_region regions[VDE_NR_SLOTS];
};

/* ---- blocks and trailers (format.c) ---------------------------------- */

/**
 * vde_block_hash() - the trailer checksum a block should carry
 * @block: the block
 * @block_size: its size
 *
 * Return: XXH64 (seed 0) of bytes [0, @block_size - 16).
 */
uint64_t vde_block_hash(const void *block, uint32_t block_size);

/**
 * vde_trailer_ok() - does a block's trailer checksum verify
 * @block: the block
 * @block_size: its size
 *
 * Only the checksum is compared; like the SDK, the tag and the generation
 * are not checked.
 *
 * Return: true if the stored checksum equals vde_block_hash().
 */
bool vde_trailer_ok(const void *block, uint32_t block_size);

/**
 * vde_trailer_seal() - write a block's universal trailer
 * @block: the block, payload already in place
 * @block_size: its size
 * @tag: BlockTypeTag
 * @generation: GenerationNumber
 */
void vde_trailer_seal(void *block, uint32_t block_size, uint32_t tag,
		      uint32_t generation);

/**
 * vde_slot_decode() - decode a 32-byte region slot
 * @p: the slot's bytes
 * @slot: filled
 */
void vde_slot_decode(const uint8_t *p, struct vde_slot *slot);

/**
 * vde_slot_encode() - encode a 32-byte region slot
 * @slot: the slot
 * @p: 32 bytes to fill
 */
void vde_slot_encode(const struct vde_slot *slot, uint8_t *p);

/**
 * vde_sb_decode() - decode a superblock
 * @block: block 0 (or 4); at least 0x130 bytes
 * @sb: filled
 */
void vde_sb_decode(const uint8_t *block, struct vde_superblock *sb);

/**
 * vde_sb_encode() - encode a superblock into a zeroed block
 * @sb: the superblock
 * @block: a block of @sb->block_size bytes, zeroed by the caller; the
 *	magic, every field and nothing else is written (no trailer)
 */
void vde_sb_encode(const struct vde_superblock *sb, uint8_t *block);

/**
 * vde_magic_ok() - do bytes 0-3 and 8-15 hold the v2 magic
 * @block: at least 16 bytes of block 0
 *
 * Like the SDK, the version bytes 4-7 are not part of the check.
 *
 * Return: true for "DWVD" and "dw://\0\0\0".
 */
bool vde_magic_ok(const uint8_t *block);

/**
 * vde_magic_problem() - what is wrong with a block's magic, if anything
 * @b: the first 16 bytes of the block
 * @value: 64 bytes; filled with the bytes found, as diagnostics show them
 * @why: set to the reason
 *
 * Return: 0 for a VDE v2 magic; -EOPNOTSUPP for a format v1 container;
 * -EINVAL for anything else.
 */
int vde_magic_problem(const uint8_t *b, char value[64], const char **why);

/** VDE_VAL_LEN - size of the buffers of vde_val_dec() and friends */
#define VDE_VAL_LEN 32

/**
 * vde_val_dec() - a value as decimal text, for diagnostics
 * @buf: %VDE_VAL_LEN bytes
 * @v: the value
 *
 * Return: @buf.
 */
const char *vde_val_dec(char *buf, int64_t v);

/**
 * vde_val_hex() - a value as 0x-prefixed hex text, for diagnostics
 * @buf: %VDE_VAL_LEN bytes
 * @v: the value
 *
 * Return: @buf.
 */
const char *vde_val_hex(char *buf, uint64_t v);

/**
 * vde_val_hex16() - a value as 16 hex digits after 0x, for diagnostics
 * @buf: %VDE_VAL_LEN bytes
 * @v: the value
 *
 * Return: @buf.
 */
const char *vde_val_hex16(char *buf, uint64_t v);

/**
 * vde_block_size_ok() - is a BlockSize one this library supports
 * @bs: the value of the BlockSize field
 *
 * Return: true for a power of two from 4096 to 65536.
 */
bool vde_block_size_ok(int64_t bs);

/**
 * vde_preamble_decode() - decode and check a DWVD-BOO preamble header
 * @hdr: the first 64 bytes of the file, starting with "DWVD-BOO"
 * @file_size: size of the file
 * @pre: filled
 * @diag: filled on failure
 *
 * Checks the HeaderChecksum (first 8 bytes of SHA-256 over bytes 0-55),
 * PreambleVersion 1, and that VdeOffset is a multiple of 4096, at least
 * PreambleTotalSize and inside the file.
 *
 * Return: 0; -EPROTO for a checksum mismatch; -EOPNOTSUPP for another
 * version; -EINVAL for a bad VdeOffset; or the error of vde_sha256().
 */
int vde_preamble_decode(const uint8_t *hdr, uint64_t file_size,
			struct vde_preamble *pre, struct vde_diag *diag);

/* ---- opening an image (format.c) -------------------------------------- */

/**
 * vde_image_open() - open, read and validate an image
 * @path: the image file (or block device)
 * @open_flags: O_RDONLY or O_RDWR; O_CLOEXEC is allowed and always added
 * @img: filled on success; on failure img->fd is -1
 * @diag: on failure, where and why; may be NULL
 *
 * Applies every rule of Documentation/vde-format.rst: preamble, magic and
 * version, BlockSize, superblock trailers with the choice between the
 * primary (blocks 0-3) and the mirror (blocks 4-7), feature bits, the
 * Region Pointer Table and the Region Directory (trailers, header, hash,
 * agreement), region extents and overlaps, encrypted regions, and that the
 * file holds every block of the device.  Regions that end past TotalBlocks
 * are tolerated (an SDK quirk) and noted in &vde_region.notes.
 *
 * Unknown read-only-compatible features do not fail the open; they set
 * &vde_image.read_only_forced, and a caller that writes must check it.
 *
 * Return: 0, or a negative errno as listed at the top of this header.
 */
int vde_image_open(const char *path, int open_flags, struct vde_image *img,
		   struct vde_diag *diag);

/**
 * vde_image_close() - close an image opened by vde_image_open()
 * @img: the image; its fd is closed and set to -1.  Safe to call twice.
 */
void vde_image_close(struct vde_image *img);

/**
 * vde_image_read_block() - read one whole image block
 * @img: the image
 * @block: image block number
 * @buf: &vde_image.block_size bytes
 *
 * Return: 0; -ENODATA if the file ends before the block ends; -ERANGE for a
 * block whose offset does not fit; or the error of pread(2).
 */
int vde_image_read_block(const struct vde_image *img, uint64_t block,
			 void *buf);

/**
 * vde_image_region_for_block() - the region a block belongs to
 * @img: the image
 * @block: image block number
 *
 * The first active Region Directory slot, in slot order, whose extent
 * holds @block (the SDK's rule).
 *
 * Return: the region, or NULL if no active region holds @block.
 */
const struct vde_region *vde_image_region_for_block(const struct vde_image *img,
						    uint64_t block);

/**
 * vde_image_find_region() - the first active region with a given tag
 * @img: the image
 * @name: four-character tag name, e.g. "DATA" (case-insensitive)
 *
 * Return: the region in the lowest slot with that tag, or NULL.
 */
const struct vde_region *vde_image_find_region(const struct vde_image *img,
					       const char *name);

/**
 * vde_image_region_view() - the part of the device a region covers
 * @img: the image
 * @name: four-character tag name of the region (see vde_image_find_region())
 * @first_block: set to the region's first block
 * @nr_blocks: set to its block count, clipped to TotalBlocks
 *
 * Return: 0; -ENOENT if there is no such region; -ERANGE if it lies
 * entirely past TotalBlocks or is empty.
 */
int vde_image_region_view(const struct vde_image *img, const char *name,
			  uint64_t *first_block, uint64_t *nr_blocks);

/**
 * vde_image_region_map() - the kernel's region map of a view of the device
 * @img: the image (only &vde_image.nr_blocks and the regions are used)
 * @first_block: first image block of the view
 * @nr_blocks: blocks in the view (at least 1)
 * @map: output array of @max entries; may be NULL if @max is 0, to learn
 *	the size
 * @max: capacity of @map (%VDE_MAX_REGIONS is always enough)
 * @nr: set to the number of entries the map needs, also on -E2BIG
 *
 * For every block of [@first_block, @first_block + @nr_blocks) the first
 * active slot (in slot order) that holds it decides: the region tagged ENCR
 * is %VDE_REGION_HIDDEN; a region flagged Encrypted is
 * %VDE_REGION_ENCRYPTED; anything else, and blocks in no region, are plain.
 * The entries are sorted, tile [0, @nr_blocks) exactly with block numbers
 * relative to @first_block, and adjacent entries with identical flags are
 * merged.
 *
 * Return: 0; -EINVAL for an empty view or no @map; -ERANGE if the view
 * ends past TotalBlocks; -E2BIG if the map needs more than @max entries.
 */
int vde_image_region_map(const struct vde_image *img, uint64_t first_block,
			 uint64_t nr_blocks, struct vde_region_entry *map,
			 unsigned int max, unsigned int *nr);

/* ---- names (format-names.c) ------------------------------------------ */

/**
 * vde_tag_name() - a tag as four characters
 * @tag: the tag
 * @buf: 5 bytes; filled with the characters ('?' for unprintable ones) and
 *	a NUL
 *
 * Return: @buf.
 */
const char *vde_tag_name(uint32_t tag, char buf[5]);

/**
 * vde_tag_parse() - the tag of a four-character name
 * @name: e.g. "DATA"; letters are upper-cased
 * @tag: set on success
 *
 * Return: 0, or -EINVAL if @name is not four printable ASCII characters.
 */
int vde_tag_parse(const char *name, uint32_t *tag);

/**
 * vde_tag_describe() - what a known block type tag is for
 * @tag: the tag
 *
 * Return: a static description ("allocation bitmap"), or NULL for a tag
 * the SDK does not define.
 */
const char *vde_tag_describe(uint32_t tag);

/**
 * enum vde_flag_set - a set of named bits
 * @VDE_FLAGS_INCOMPAT: IncompatibleFeatures
 * @VDE_FLAGS_ROCOMPAT: ReadOnlyCompatibleFeatures
 * @VDE_FLAGS_COMPAT: CompatibleFeatures
 * @VDE_FLAGS_REGION: RegionFlags
 * @VDE_FLAGS_MODULES: ModuleManifest (module names)
 */
enum vde_flag_set {
	VDE_FLAGS_INCOMPAT,
	VDE_FLAGS_ROCOMPAT,
	VDE_FLAGS_COMPAT,
	VDE_FLAGS_REGION,
	VDE_FLAGS_MODULES,
};

/**
 * vde_flag_name() - the SDK's name of one bit
 * @set: which set
 * @bit: bit number, 0-31
 *
 * Return: a static name such as "EncryptionEnabled", or NULL for a bit the
 * SDK does not define.
 */
const char *vde_flag_name(enum vde_flag_set set, unsigned int bit);

/**
 * vde_flags_describe() - bits as a space-separated list of names
 * @set: which set
 * @flags: the bits
 * @buf: output
 * @len: size of @buf
 *
 * Unknown bits are written as "bitN"; no bits give "".
 *
 * Return: the length of the full description, or -ENOSPC if @len is too
 * small (the output is truncated but terminated).
 */
int vde_flags_describe(enum vde_flag_set set, uint32_t flags, char *buf,
		       size_t len);

/**
 * vde_block_role() - what a fixed block of the format is
 * @block: image block number
 *
 * Return: "superblock", "region pointer table", ..., "region directory
 * header" for blocks 0-9, "preamble" and "file" for %VDE_DIAG_PREAMBLE and
 * %VDE_DIAG_FILE, NULL for other blocks.
 */
const char *vde_block_role(int64_t block);

/**
 * vde_uuid_format() - 16 bytes as 32 lower-case hex digits, in stored order
 * @uuid: the bytes
 * @buf: 33 bytes
 *
 * Return: @buf.
 */
const char *vde_uuid_format(const uint8_t uuid[16], char buf[33]);

/**
 * vde_guid_format() - 16 bytes in .NET's Guid string form
 * @uuid: the bytes as Guid.TryWriteBytes stores them
 * @buf: 37 bytes
 *
 * The first three groups are little-endian, so this matches what the SDK
 * prints for the same volume.
 *
 * Return: @buf.
 */
const char *vde_guid_format(const uint8_t uuid[16], char buf[37]);

/**
 * vde_uuid_parse() - 32 hex digits into 16 bytes, in the order given
 * @s: the digits; '-' separators are ignored
 * @uuid: filled on success
 *
 * Return: 0, or -EINVAL unless @s has exactly 32 hex digits.
 */
int vde_uuid_parse(const char *s, uint8_t uuid[16]);

/**
 * vde_ticks_format() - .NET ticks as an ISO 8601 UTC time
 * @ticks: 100 ns units since 0001-01-01 UTC
 * @buf: output
 * @len: size of @buf (32 is enough)
 *
 * Return: @buf, holding e.g. "2024-05-01T12:00:00.0000000Z", or "-" for 0
 * (never set).
 */
const char *vde_ticks_format(int64_t ticks, char *buf, size_t len);

/* ---- checking an image (format-check.c) ------------------------------- */

/**
 * enum vde_severity - how bad a problem found by vde_image_check() is
 * @VDE_SEV_NOTE: tolerated; reported for information (e.g. an SDK quirk)
 * @VDE_SEV_ERROR: a fault, but the image can still be used (e.g. the
 *	primary superblock is damaged and the mirror is good)
 * @VDE_SEV_FATAL: the image cannot be used: vde_image_open() refuses it
 */
enum vde_severity {
	VDE_SEV_NOTE = 0,
	VDE_SEV_ERROR = 1,
	VDE_SEV_FATAL = 2,
};

/**
 * typedef vde_check_fn - called once for every problem found
 * @sev: its severity
 * @diag: where and what (&vde_diag.err is 0 for notes and errors that
 *	vde_image_open() does not refuse)
 * @arg: the caller's argument
 */
typedef void (*vde_check_fn)(enum vde_severity sev,
			     const struct vde_diag *diag, void *arg);

/**
 * struct vde_check_result - summary of vde_image_check()
 * @notes: problems of severity %VDE_SEV_NOTE
 * @errors: problems of severity %VDE_SEV_ERROR
 * @fatal: problems of severity %VDE_SEV_FATAL
 * @blocks_checked: metadata blocks whose trailer was verified
 */
struct vde_check_result {
	unsigned int notes;
	unsigned int errors;
	unsigned int fatal;
	unsigned int blocks_checked;
};

/**
 * vde_image_check() - check every piece of metadata of an image
 * @path: the image
 * @fn: called once per problem, may be NULL
 * @arg: passed to @fn
 * @res: the counts
 *
 * Verifies the preamble, both superblock groups (trailers of blocks 0-7,
 * the mirror byte for byte), the superblock's versions and feature bits,
 * the Region Directory (trailers, header, hash, ActiveCount), RPT/RD
 * agreement, region extents, overlaps and encrypted regions, the trailers
 * of every allocation bitmap block and of the first block of the inode
 * table, the WALs and every module region, and that the file holds the
 * whole device.  Each problem is reported once.  The image is opened
 * read-only and never written.
 *
 * Return: 0 when the check ran (whatever it found); a negative errno if
 * the image could not be opened or read.
 */
int vde_image_check(const char *path, vde_check_fn fn, void *arg,
		    struct vde_check_result *res);

/* ---- creating an image (layout.c) ------------------------------------- */

/**
 * enum vde_profile - the VdeCreator profiles vde can create
 * @VDE_PROFILE_MINIMAL: no modules (manifest 0)
 * @VDE_PROFILE_STANDARD: Security, Compression, Integrity, Snapshot
 *	(manifest 0x00001C01, ModuleConfig 0x0001220000000002)
 */
enum vde_profile {
	VDE_PROFILE_MINIMAL,
	VDE_PROFILE_STANDARD,
};

/** VDE_MIN_TOTAL_BLOCKS - fewest blocks VdeCreator accepts */
#define VDE_MIN_TOTAL_BLOCKS	64

/** VDE_DEFAULT_TOTAL_BLOCKS - the SDK CLI's default size in blocks */
#define VDE_DEFAULT_TOTAL_BLOCKS	1048576

/**
 * struct vde_create_opts - what to create
 * @block_size: BlockSize, a power of two from 4096 to 65536
 * @total_blocks: TotalBlocks, at least %VDE_MIN_TOTAL_BLOCKS
 * @manifest: ModuleManifest (set by vde_create_opts_init())
 * @module_config: ModuleConfig (set by vde_create_opts_init())
 * @module_config_ext: ModuleConfigExt
 * @uuid: VolumeUuid, stored as given
 * @timestamp: .NET ticks for every timestamp written
 * @label: VolumeLabel bytes, NUL-padded
 * @encrypt_region: tag name of a region to flag Encrypted (in the RPT and
 *	the RD), or NULL.  The region must be one that creation leaves
 *	unwritten (DATA, POLV, STRE).  Sets EncryptionEnabled,
 *	DefaultEncryptionAlgo 3 and @key_fingerprint.
 * @key_fingerprint: EncryptionKeyFingerprint when @encrypt_region is set
 * @force: replace an existing file
 */
struct vde_create_opts {
	uint32_t block_size;
	uint64_t total_blocks;
	uint32_t manifest;
	uint64_t module_config;
	uint64_t module_config_ext;
	uint8_t uuid[16];
	int64_t timestamp;
	uint8_t label[VDE_LABEL_SIZE];
	const char *encrypt_region;
	uint64_t key_fingerprint;
	bool force;
};

/**
 * vde_profile_parse() - a profile from its name
 * @name: "minimal" or "standard"
 * @profile: set on success
 *
 * Return: 0, or -EINVAL for another name.
 */
int vde_profile_parse(const char *name, enum vde_profile *profile);

/**
 * vde_create_opts_init() - defaults for a profile
 * @opts: filled: the profile's manifest and module config, 4096-byte
 *	blocks, %VDE_DEFAULT_TOTAL_BLOCKS, a random version-4 UUID, the
 *	current time, an empty label, no encryption
 * @profile: the profile
 *
 * Return: 0, or the error of getrandom(2) or clock_gettime(2).
 */
int vde_create_opts_init(struct vde_create_opts *opts, enum vde_profile profile);

/** VDE_MAX_INODE_FIELDS - module field entries of an inode layout */
#define VDE_MAX_INODE_FIELDS	32

/**
 * struct vde_layout - where VdeCreator puts everything
 * @block_size: BlockSize
 * @total_blocks: TotalBlocks
 * @nr_regions: regions, also the number of used slots
 * @regions: slot i's region: @regions[i].name is the SDK's region name
 *	("AllocationBitmap"), the rest as in &struct vde_slot
 * @metadata_blocks: first block after the metadata (TotalAllocatedBlocks)
 * @data_blocks: size of the DataRegion (FreeBlocks), 0 if there is none
 * @file_blocks: blocks the file holds: TotalBlocks, or more when the
 *	metadata runs past it (SDK quirk)
 * @inode_size: InodeSize, a multiple of 64
 * @inode_padding: padding bytes at the end of an inode
 * @nr_inode_fields: entries in @inode_fields
 * @inode_fields: module fields of the inode: module bit, offset, size
 */
struct vde_layout {
	uint32_t block_size;
	uint64_t total_blocks;
	unsigned int nr_regions;
	struct {
		const char *name;
		struct vde_slot slot;
	} regions[VDE_NR_SLOTS];
	uint64_t metadata_blocks;
	uint64_t data_blocks;
	uint64_t file_blocks;
	uint16_t inode_size;
	uint8_t inode_padding;
	unsigned int nr_inode_fields;
	struct {
		uint8_t module;
		uint16_t offset;
		uint16_t size;
	} inode_fields[VDE_MAX_INODE_FIELDS];
};

/**
 * vde_layout_compute() - compute VdeCreator's layout
 * @opts: what to create
 * @layout: filled
 *
 * Return: 0; -EINVAL for a bad block size, too few or too many blocks, a
 * manifest with modules whose regions are unknown, or a bad
 * @opts->encrypt_region.
 */
int vde_layout_compute(const struct vde_create_opts *opts,
		       struct vde_layout *layout);

/**
 * vde_image_create() - create a new image file
 * @path: the file to create
 * @opts: what to create
 * @layout: if not NULL, set to the layout written
 *
 * Creates a sparse file of TotalBlocks * BlockSize bytes and writes every
 * block VdeCreator writes (superblock group and mirror, Region Directory,
 * bitmap, inode layout descriptor, WAL headers, module region headers).
 * The file is synced before returning; on failure a file this call
 * created is removed.
 *
 * Return: 0; -EEXIST if @path exists and @opts->force is not set; -EINVAL
 * as vde_layout_compute(), or if @path is not a regular file; -EFBIG if the
 * size does not fit; or the error of open(2), ftruncate(2), pwrite(2),
 * fsync(2).
 */
int vde_image_create(const char *path, const struct vde_create_opts *opts,
		     struct vde_layout *layout);

/* ---- helpers shared inside libvde ------------------------------------- */

/**
 * vde_diag_set() - fill a diagnosis and return its error
 * @diag: filled if not NULL
 * @err: negative errno
 * @block: image block, %VDE_DIAG_PREAMBLE or %VDE_DIAG_FILE
 * @slot: region slot, or -1
 * @field: field name
 * @value: the value found, as text (may be "")
 * @fmt: printf format of the reason
 *
 * The message reads "<where>: [slot N ]<field> = <value>: <reason>",
 * where <where> is "file", "preamble", "block N (<vde_block_role()>)" or
 * "block N".
 *
 * Return: @err.
 */
int vde_diag_set(struct vde_diag *diag, int err, int64_t block, int slot,
		 const char *field, const char *value, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/**
 * vde_diag_set_role() - vde_diag_set() naming what the block is
 * @diag: filled if not NULL
 * @err: negative errno
 * @block: image block
 * @role: what the block is ("inode table"), or NULL
 * @slot: region slot, or -1
 * @field: field name
 * @value: the value found, as text
 * @fmt: printf format of the reason
 *
 * Return: @err.
 */
int vde_diag_set_role(struct vde_diag *diag, int err, int64_t block,
		      const char *role, int slot, const char *field,
		      const char *value, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

/**
 * vde_file_size() - the size of an image file or block device
 * @fd: the open image
 * @size: set to its size in bytes
 * @diag: filled on failure, may be NULL
 *
 * Return: 0; -EINVAL if @fd is neither a regular file nor a block device;
 * or the error of fstat(2) or the BLKGETSIZE64 ioctl.
 */
int vde_file_size(int fd, uint64_t *size, struct vde_diag *diag);

/**
 * vde_pread_exact() - read exactly len bytes at an offset
 * @fd: file
 * @buf: destination
 * @len: bytes
 * @off: file offset
 *
 * Return: 0; -ENODATA at end of file; or the error of pread(2).
 */
int vde_pread_exact(int fd, void *buf, size_t len, uint64_t off);

#endif /* VDE_FORMAT_H */
