/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libvde: the EncryptionHeader (ENCR) region, which holds the key slots of
 * an image with encrypted regions (format §5.2, §10), and raw key files
 * for images without one.
 *
 * The region has two blocks, each ending in the universal trailer with
 * tag ENCR and generation 1:
 *
 *   block 0: 0 ActiveSlotIndex u8 (first Active slot, 0xFF for none),
 *            1 TotalActiveSlots u8, 2 RotationEventCount u16,
 *            4-7 reserved, then slots 0..k-1 from byte 8, where
 *            k = min(63, (BlockSize - 16 - 8) / 124);
 *   block 1: slots k..62 from byte 0, then RotationEventCount 12-byte
 *            rotation events.
 *
 * vde writes no rotation events; those already on disk are kept as they
 * are.  A region whose two blocks are all zeros, as creation leaves it,
 * reads as one without slots.
 *
 * Master keys live in vde_secure_alloc() memory; nothing here keeps a
 * copy.  Functions return 0 or a non-negative result on success and a
 * negative errno on failure; they never rely on the global errno.
 */
#ifndef VDE_ENCR_H
#define VDE_ENCR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "format.h"
#include "keyslot.h"

/** Blocks of the EncryptionHeader region. */
#define VDE_ENCR_BLOCKS			2
/** Key slots of the region (the SDK's FormatConstants.MaxKeySlots). */
#define VDE_ENCR_MAX_SLOTS		63
/** Bytes of block 0 before its first slot. */
#define VDE_ENCR_HEADER_SIZE		8
/** ActiveSlotIndex when no slot is active. */
#define VDE_ENCR_NO_SLOT		0xff
/** GenerationNumber of the trailers vde writes. */
#define VDE_ENCR_GENERATION		1
/** Size of one rotation event, in bytes. */
#define VDE_ENCR_EVENT_SIZE		12

/* Byte offsets in block 0 (little-endian). */
#define VDE_ENCR_OFF_ACTIVE_INDEX	0	/* u8 */
#define VDE_ENCR_OFF_TOTAL_ACTIVE	1	/* u8 */
#define VDE_ENCR_OFF_EVENT_COUNT	2	/* u16 */

/**
 * struct vde_kdf - how a new key slot derives its key-encryption key
 * @algorithm: VDE_KDF_ARGON2ID or VDE_KDF_PBKDF2_SHA256
 * @iterations: Argon2id time cost, or PBKDF2 iterations
 * @log2_mem_kib: Argon2id memory cost as log2 KiB; 0 for PBKDF2
 */
struct vde_kdf {
	uint16_t algorithm;
	uint32_t iterations;
	uint16_t log2_mem_kib;
};

/**
 * struct vde_encr - the decoded EncryptionHeader region of an image
 * @start: image block of the region's block 0
 * @block_size: BlockSize of the image
 * @blank: both blocks were all zeros (never written)
 * @active_index: ActiveSlotIndex as read
 * @total_active: TotalActiveSlots as read
 * @event_count: RotationEventCount as read (and written back)
 * @slots: the 63 slots; an Empty slot is all zeros on disk
 * @raw: the two blocks as last read or written; bytes vde does not
 *	interpret (reserved bytes, rotation events) are written back from it
 *
 * Release with vde_encr_release().
 */
struct vde_encr {
	uint64_t start;
	uint32_t block_size;
	bool blank;
	uint8_t active_index;
	uint8_t total_active;
	uint16_t event_count;
	struct vde_keyslot slots[VDE_ENCR_MAX_SLOTS];
	uint8_t *raw;
};

/**
 * vde_kdf_default() - the default KDF of new key slots
 * @kdf: set to Argon2id with time cost %VDE_KDF_ARGON2_DEFAULT_T and
 *	memory 2^%VDE_KDF_ARGON2_DEFAULT_LOG2_MEM KiB
 */
void vde_kdf_default(struct vde_kdf *kdf);

/**
 * vde_encr_slots_in_block0() - how many key slots block 0 holds
 * @block_size: BlockSize
 *
 * Return: min(63, (@block_size - 16 - 8) / 124); 32 for 4096-byte blocks,
 * 63 from 8192 bytes on.
 */
unsigned int vde_encr_slots_in_block0(uint32_t block_size);

/**
 * vde_encr_slot_pos() - where a key slot is stored
 * @block_size: BlockSize
 * @slot: slot index, 0-62
 * @offset: set to the byte offset of the slot in its block
 *
 * Return: the region block (0 or 1) that holds @slot.
 */
unsigned int vde_encr_slot_pos(uint32_t block_size, unsigned int slot,
			       size_t *offset);

/**
 * vde_encr_decode() - decode the two blocks of the region
 * @blocks: 2 * @block_size bytes
 * @block_size: BlockSize
 * @first_block: image block of @blocks' block 0, for messages
 * @e: filled on success; @e->raw must be NULL or 2 * @block_size bytes
 *	from a previous call, and is (re)allocated and filled with @blocks
 * @diag: on failure, the block and the reason; may be NULL
 *
 * Two all-zero blocks decode as a blank region without slots.  Otherwise
 * both trailers must verify (XXH64) and carry the tag ENCR, and
 * RotationEventCount events must fit in block 1 after its slots.
 *
 * Return: 0; -EPROTO for a trailer whose checksum or tag is wrong;
 * -EUCLEAN for too many rotation events; -EINVAL for a bad @block_size;
 * -ENOMEM.
 */
int vde_encr_decode(const uint8_t *blocks, uint32_t block_size,
		    uint64_t first_block, struct vde_encr *e,
		    struct vde_diag *diag);

/**
 * vde_encr_encode() - encode the region into its two blocks
 * @e: the region; @e->raw supplies the bytes vde does not interpret
 * @blocks: 2 * @e->block_size bytes to fill (may be @e->raw)
 *
 * Writes ActiveSlotIndex and TotalActiveSlots computed from @e->slots,
 * RotationEventCount from @e->event_count, every slot (Empty slots as
 * zeros) and both trailers (tag ENCR, generation 1).
 */
void vde_encr_encode(const struct vde_encr *e, uint8_t *blocks);

/**
 * vde_encr_read() - read and decode the region of an image
 * @img: the image
 * @e: filled on success, as by vde_encr_decode(); start with it zeroed
 * @diag: on failure, the block and the reason; may be NULL
 *
 * Return: 0; -ENOENT if the image has no ENCR region; -EINVAL if the
 * region has fewer than two blocks; an error of vde_encr_decode() or of
 * reading the blocks.
 */
int vde_encr_read(const struct vde_image *img, struct vde_encr *e,
		  struct vde_diag *diag);

/**
 * vde_encr_write() - encode the region and write it to the image
 * @img: the image, opened read-write
 * @e: the region, from vde_encr_read(); @e->raw is updated to the bytes
 *	written
 *
 * Both blocks are written with one pwrite(2) and made durable with
 * fdatasync(2) before this returns.
 *
 * Return: 0; -EROFS if the image may only be read
 * (&vde_image.read_only_forced); or the error of pwrite(2) or
 * fdatasync(2).
 */
int vde_encr_write(const struct vde_image *img, struct vde_encr *e);

/**
 * vde_encr_release() - free what vde_encr_decode() allocated
 * @e: the region; may be released twice
 */
void vde_encr_release(struct vde_encr *e);

/**
 * vde_encr_active_slots() - the number of Active slots
 * @e: the region
 *
 * Return: the count, 0 to 63.
 */
unsigned int vde_encr_active_slots(const struct vde_encr *e);

/**
 * vde_encr_unlock() - find the slot a passphrase opens
 * @e: the region
 * @pass: passphrase
 * @passlen: size of @pass
 * @fingerprint: the superblock's EncryptionKeyFingerprint
 * @master: receives the 64-byte master key on success; pass
 *	vde_secure_alloc() memory
 *
 * Tries every Active slot in slot order.
 *
 * Context: runs the KDF of each slot tried; may take long.
 * Return: the index of the slot that opened; -ENOKEY if no slot is
 * Active; -EKEYREJECTED if none opens with @pass; -ENOMEM or -EIO.
 */
int vde_encr_unlock(const struct vde_encr *e, const void *pass, size_t passlen,
		    uint64_t fingerprint, uint8_t master[VDE_XTS_KEY_SIZE]);

/**
 * vde_encr_add() - store the master key in a new slot under a passphrase
 * @img: the image, opened read-write
 * @e: its region, from vde_encr_read(); updated to what is on disk
 * @master: the 64-byte master key
 * @pass: the new passphrase
 * @passlen: size of @pass
 * @kdf: KDF of the new slot
 * @ticks: CreatedUtcTicks of the new slot (.NET ticks)
 *
 * Takes the first Empty slot, wraps @master into it with a new salt,
 * writes the region, reads it back and checks that the slot read opens
 * with @pass to @master (and the image's fingerprint).  If it does not,
 * the previous contents are written back.
 *
 * Context: runs the KDF twice; may take long.
 * Return: the index of the new slot; -EKEYREJECTED if @master does not
 * have the image's fingerprint (nothing is written); -ENOSPC if no slot is
 * Empty; -EINVAL for bad @kdf parameters; -EIO if the slot read back does
 * not open; an error of vde_encr_write() or vde_encr_read().
 */
int vde_encr_add(const struct vde_image *img, struct vde_encr *e,
		 const uint8_t master[VDE_XTS_KEY_SIZE], const void *pass,
		 size_t passlen, const struct vde_kdf *kdf, int64_t ticks);

/**
 * vde_encr_remove() - empty a key slot
 * @img: the image, opened read-write
 * @e: its region, from vde_encr_read(); updated
 * @slot: slot index, 0-62
 *
 * The slot is overwritten with zeros, salt and wrapped key included.  The
 * last Active slot is never removed, so that the master key stays
 * reachable.
 *
 * Return: 0; -EINVAL if @slot is out of range; -ENOENT if it is Empty;
 * -EBUSY if it is the last Active slot; an error of vde_encr_write().
 */
int vde_encr_remove(const struct vde_image *img, struct vde_encr *e,
		    unsigned int slot);

/**
 * vde_encr_change() - replace a slot's passphrase
 * @img: the image, opened read-write
 * @e: its region, from vde_encr_read(); updated
 * @master: the 64-byte master key, as unlocked from @old_slot
 * @old_slot: the slot to replace
 * @pass: the new passphrase
 * @passlen: size of @pass
 * @kdf: KDF of the new slot
 * @ticks: CreatedUtcTicks of the new slot
 *
 * vde_encr_add() of the new passphrase (written and verified), then
 * vde_encr_remove() of @old_slot.  At every moment on disk, one of the
 * two slots opens the master key.
 *
 * Return: the index of the new slot; -ENOENT if @old_slot is not Active;
 * an error of vde_encr_add() (nothing changed) or of vde_encr_remove()
 * (both slots are then Active).
 */
int vde_encr_change(const struct vde_image *img, struct vde_encr *e,
		    const uint8_t master[VDE_XTS_KEY_SIZE], unsigned int old_slot,
		    const void *pass, size_t passlen, const struct vde_kdf *kdf,
		    int64_t ticks);

/**
 * vde_key_file_write() - store a master key in a new key file
 * @path: the file; it must not exist
 * @key: the 64-byte key
 *
 * Creates @path with O_EXCL and mode 0600 (whatever the umask), writes the
 * 64 bytes and syncs it.  On failure a file this call created is removed.
 *
 * Return: 0; -EEXIST if @path exists; or the error of open(2), write(2),
 * fchmod(2) or fsync(2).
 */
int vde_key_file_write(const char *path, const uint8_t key[VDE_XTS_KEY_SIZE]);

#endif /* VDE_ENCR_H */
